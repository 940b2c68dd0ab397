"""RGB-anchored synchronizer, stamp checks and latest-only handoff, on a fake clock (no rclpy)."""

import threading

import numpy as np
import pytest

from sata_ros.data.sequence import EVENT_DTYPE
from sata_ros.ros.optional import is_available
from sata_ros.ros.sync import (
    EVENTS, LatestSlot, ModalityPolicy, StampCheck, strict_policy_available, SyncedSet,
    Synchronizer)

MS = 1_000_000  # ns
US = 1_000  # ns
SEC = 1_000_000_000  # ns
T0 = 100 * SEC  # a plausible epoch for stamps
RGB_PERIOD = 33_333_333  # 30 Hz


class FakeClock:
    """Integer-ns clock that moves only when told to (thread-safe for the stress test)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self.now

    def move_to(self, now: int) -> None:
        with self._lock:
            self.now = now


def make_sync(clock, policies, max_wait_ns=50 * MS, **kwargs):
    return Synchronizer(policies, event_window_ns=100 * MS, clock=clock, max_wait_ns=max_wait_ns,
                        **kwargs)


def replay(sync, clock, arrivals):
    """Feed (arrival_ns, modality, stamp_ns, payload) in arrival order; poll after each."""
    out = []
    for arrival, modality, stamp, payload in sorted(arrivals, key=lambda a: a[0]):
        clock.move_to(arrival)
        sync.add(modality, stamp, payload)
        out += [(arrival, s) for s in sync.poll()]
    return out


def events_at(*times_us):
    ev = np.zeros(len(times_us), EVENT_DTYPE)
    ev['t'] = times_us
    ev['x'] = np.arange(len(times_us))
    return ev


# ------------------------------------------------------------------------------- matching

def test_nearest_partner_within_each_modalitys_own_tolerance():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 1 * MS, 8, SEC),
                             ModalityPolicy('thermal', 20 * MS, 8, SEC)])
    s = T0 + 10 * MS
    sync.add('thermal', s - 30 * MS, 'th_far')
    sync.add('thermal', s - 15 * MS, 'th_near')
    sync.add('depth', s - 2 * MS, 'd_out')  # outside depth's 1 ms
    sync.add_rgb(s, 'rgb0')
    assert sync.poll() == []  # depth and thermal may still get a nearer message
    sync.add('depth', s + 1 * MS, 'd_edge')  # exactly at the tolerance: in
    assert sync.poll() == []  # thermal undecided
    sync.add('thermal', s + 25 * MS, 'th_late')  # past the stamp: thermal decided
    (out,) = sync.poll()
    assert isinstance(out, SyncedSet)
    assert (out.stamp_ns, out.rgb) == (s, 'rgb0')
    assert out.others == {'depth': (s + 1 * MS, 'd_edge'), 'thermal': (s - 15 * MS, 'th_near')}
    assert out.missing == () and out.stale == ()
    assert out.events is None and out.event_window_us is None


def test_partner_outside_tolerance_is_missing_and_ties_go_to_the_earlier_message():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 1 * MS, 8, SEC),
                             ModalityPolicy('thermal', 10 * MS, 8, SEC)])
    s = T0 + 10 * MS
    sync.add_rgb(s, 'rgb0')
    sync.add('depth', s + 1 * MS + 1, 'd_out')  # 1 ns beyond tolerance
    sync.add('thermal', s - 5 * MS, 'th_before')
    sync.add('thermal', s + 5 * MS, 'th_after')
    (out,) = sync.poll()
    assert out.others == {'thermal': (s - 5 * MS, 'th_before')}
    assert out.missing == ('depth',)
    stats = sync.stats()
    assert stats['depth']['missing'] == 1 and stats['thermal']['matched'] == 1


def test_exact_stamps_with_zero_tolerance():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 0, 4, SEC, required=True)])
    stamps = [T0 + k * RGB_PERIOD for k in range(10)]
    arrivals = []
    for k, s in enumerate(stamps):
        arrivals += [(s + 5 * MS, 'rgb', s, k), (s + 7 * MS, 'depth', s, -k)]
    out = replay(sync, clock, arrivals)
    assert [o.stamp_ns for _, o in out] == stamps
    assert all(o.others['depth'] == (o.stamp_ns, -o.rgb) for _, o in out)
    assert sync.stats()['depth']['dropped'] == 0


def test_half_rate_thermal_is_reused_within_tolerance():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 40 * MS, 4, SEC)])
    arrivals = []
    for k in range(20):
        s = T0 + k * RGB_PERIOD
        arrivals.append((s + 10 * MS, 'rgb', s, k))
        if k % 2 == 0:  # 15 Hz, its own clock 2 ms after the even RGB frames
            arrivals.append((s + 12 * MS, 'thermal', s + 2 * MS, k))
    out = [o for _, o in replay(sync, clock, arrivals)]
    assert len(out) == 19  # the last frame waits for a thermal image that may be nearer
    for o in out:  # every frame carries the nearest thermal image (earlier one on odd frames)
        assert o.others['thermal'] == (T0 + (o.rgb - o.rgb % 2) * RGB_PERIOD + 2 * MS,
                                       o.rgb - o.rgb % 2)
        assert o.missing == ()
    stats = sync.stats()['thermal']
    assert stats['matched'] == 10 and stats['reused'] == 9 and stats['missing'] == 0


def test_half_rate_thermal_with_narrow_tolerance_is_missing_on_odd_frames():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 20 * MS, 4, SEC)])
    arrivals = []
    for k in range(10):
        s = T0 + k * RGB_PERIOD
        arrivals.append((s + 10 * MS, 'rgb', s, k))
        if k % 2 == 0:
            arrivals.append((s + 12 * MS, 'thermal', s + 2 * MS, k))
    out = [o for _, o in replay(sync, clock, arrivals)]
    assert [o.missing for o in out] == [(), ('thermal',)] * 4 + [()]


def test_without_reuse_each_partner_serves_one_frame():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 40 * MS, 4, SEC, reuse=False)])
    arrivals = []
    for k in range(20):
        s = T0 + k * RGB_PERIOD
        arrivals.append((s + 10 * MS, 'rgb', s, k))
        if k % 2 == 0:
            arrivals.append((s + 12 * MS, 'thermal', s + 2 * MS, k))
    out = [o for _, o in replay(sync, clock, arrivals)]
    used = [o.others['thermal'][0] for o in out if 'thermal' in o.others]
    assert len(used) == len(set(used)) >= 9
    assert all(abs(o.others['thermal'][0] - o.stamp_ns) <= 40 * MS
               for o in out if 'thermal' in o.others)
    assert sync.stats()['thermal']['reused'] == 0


def test_min_period_lets_a_frame_go_without_waiting_for_the_next_partner():
    def emit_times(min_period_ns):
        clock = FakeClock()
        sync = make_sync(clock, [ModalityPolicy('thermal', 40 * MS, 4, SEC,
                                                min_period_ns=min_period_ns)])
        arrivals = []
        for k in range(6):
            s = T0 + k * RGB_PERIOD
            arrivals.append((s + 1 * MS, 'rgb', s, k))
            if k % 2 == 0:
                arrivals.append((s + 3 * MS, 'thermal', s + 2 * MS, k))
        return {o.rgb: t - o.stamp_ns for t, o in replay(sync, clock, arrivals)}

    # Odd frames: the earlier thermal image is 31.3 ms before the stamp; with a 65 ms minimum
    # period the next one cannot come before 33.7 ms after it, so the earlier one is final.
    hinted, unhinted = emit_times(65 * MS), emit_times(0)
    assert hinted[1] == hinted[3] == 1 * MS  # decided when the RGB frame arrived
    assert unhinted[1] == unhinted[3] == RGB_PERIOD + 3 * MS  # waited for the next image


# ------------------------------------------------------------------------------- silence

def test_silent_modality_degrades_and_is_reported_stale():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 20 * MS, 4, 200 * MS)],
                     max_wait_ns=50 * MS)
    arrivals = []
    for k in range(60):  # 2 s of RGB; thermal stops after 1 s
        s = T0 + k * RGB_PERIOD
        arrivals.append((s, 'rgb', s, k))
        if k < 30:
            arrivals.append((s + 1 * MS, 'thermal', s, k))
    out = []
    for arrival, modality, stamp, payload in sorted(arrivals, key=lambda a: a[0]):
        for t in range(clock.now, arrival, 5 * MS):  # a poll timer at 200 Hz
            clock.move_to(t)
            out += sync.poll()
        clock.move_to(arrival)
        sync.add(modality, stamp, payload)
        out += sync.poll()
    assert [o.rgb for o in out] == list(range(60))  # nothing lost, in order
    with_thermal = [o for o in out if 'thermal' in o.others]
    assert len(with_thermal) == 30
    after = out[30:]
    assert all(o.missing == ('thermal',) for o in after)
    # First frames wait max_wait for it; once silent for 200 ms, it is stale for the rest.
    flags = [o.stale == ('thermal',) for o in after]
    first_stale = flags.index(True)
    assert 0 < first_stale and all(flags[first_stale:]) and not any(flags[:first_stale])
    stats = sync.stats()
    assert stats['thermal']['stale'] is True
    assert stats['thermal']['age_s'] == pytest.approx((clock.now - (T0 + 29 * RGB_PERIOD
                                                                    + 1 * MS)) / 1e9)
    assert stats['thermal']['missing'] == 30
    assert stats['rgb']['stale'] is False and stats['rgb']['timed_out'] >= 1
    assert stats['rgb']['emitted'] == 60


def test_never_heard_modality_counts_as_silent_from_the_start():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 20 * MS, 4, 100 * MS)],
                     max_wait_ns=SEC)
    clock.move_to(T0 + 50 * MS)
    sync.add_rgb(T0 + 50 * MS, 0)
    assert sync.poll() == []  # still within the timeout: thermal may start
    assert sync.stats()['thermal']['age_s'] is None
    clock.move_to(T0 + 100 * MS + 1)
    (out,) = sync.poll()
    assert out.missing == ('thermal',) and out.stale == ('thermal',)


# ------------------------------------------------------------------------------- required

def test_required_modality_waits_then_drops_the_frame():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 5 * MS, 4, SEC, required=True)],
                     max_wait_ns=30 * MS)
    s = T0 + 10 * MS
    clock.move_to(s)
    sync.add_rgb(s, 'f0')
    sync.add('depth', s - 20 * MS, 'old')  # outside the tolerance
    for dt in (0, 10 * MS, 30 * MS - 1):
        clock.move_to(s + dt)
        assert sync.poll() == []
    clock.move_to(s + 30 * MS)
    assert sync.poll() == []  # dropped, not emitted
    stats = sync.stats()
    assert stats['rgb']['dropped_required'] == 1 and stats['rgb']['dropped'] == 1
    assert stats['depth']['missing'] == 1 and stats['sync']['pending'] == 0
    # The next frame gets its depth image and goes out.
    s1 = s + RGB_PERIOD
    clock.move_to(s1)
    sync.add_rgb(s1, 'f1')
    sync.add('depth', s1 + 1 * MS, 'd1')
    (out,) = sync.poll()
    assert out.rgb == 'f1' and out.others == {'depth': (s1 + 1 * MS, 'd1')}


def test_required_and_stale_drops_at_once_and_a_late_partner_still_matches():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 5 * MS, 4, 100 * MS, required=True)],
                     max_wait_ns=SEC)
    clock.move_to(T0 + 200 * MS)  # depth silent since the start: stale
    sync.add_rgb(T0 + 200 * MS, 'f0')
    assert sync.poll() == []
    assert sync.stats()['rgb']['dropped_required'] == 1
    sync.add_rgb(T0 + 233 * MS, 'f1')
    sync.add('depth', T0 + 234 * MS, 'd1')  # no longer stale
    (out,) = sync.poll()
    assert out.rgb == 'f1' and out.stale == ()


def test_a_waiting_frame_holds_later_frames_in_stamp_order():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 10 * MS, 8, SEC)], max_wait_ns=SEC)
    for k in range(3):
        sync.add_rgb(T0 + k * RGB_PERIOD, k)
    assert sync.poll() == []
    sync.add('thermal', T0 + 2 * RGB_PERIOD + 1 * MS, 't')
    assert [o.rgb for o in sync.poll()] == [0, 1, 2]


# ------------------------------------------------------------------------------- events

def test_events_sliced_to_previous_stamp_with_microsecond_boundaries():
    origin = T0
    clock = FakeClock(origin)
    sync = make_sync(clock, [ModalityPolicy(EVENTS, 0, 16, SEC)], event_origin_ns=origin)
    s1 = origin + 10_000_500  # 10000.5 us -> window end 10000 us
    s2 = origin + 43_333_999  # -> 43333 us
    sync.add_events(origin + 9 * MS, events_at(9_999, 10_000, 10_001))
    sync.add_events(origin + 40 * MS, events_at(43_334, 43_333, 20_000))  # unsorted packet
    clock.move_to(s2)
    sync.add_rgb(s1, 'f1')
    sync.add_rgb(s2, 'f2')
    out1, out2 = sync.poll()
    assert out1.event_window_us == ((s1 - 100 * MS - origin) // 1000, 10_000)
    assert out1.events['t'].tolist() == [9_999, 10_000]
    assert out2.event_window_us == (10_000, 43_333)
    assert out2.events['t'].tolist() == [10_001, 20_000, 43_333]
    assert out2.events.dtype == EVENT_DTYPE and out1.missing == out2.missing == ()
    # A packet for an emitted window is late; the event past it stays for the next frame.
    sync.add_events(origin + 45 * MS, events_at(43_000, 60_000))
    s3 = origin + 76_666_000
    sync.add_events(origin + 77 * MS, events_at(76_667))  # passes s3
    sync.add_rgb(s3, 'f3')
    (out3,) = sync.poll()
    assert out3.event_window_us == (43_333, 76_666)
    assert out3.events['t'].tolist() == [43_334, 60_000]
    stats = sync.stats()[EVENTS]
    assert stats['events_late'] == 1 and stats['events_buffered'] == 1
    assert stats['events_received'] == 9
    assert stats['events_emitted'] == 7


def test_event_window_is_capped_after_a_gap_and_frames_wait_for_the_event_stream():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy(EVENTS, 0, 16, SEC)], max_wait_ns=SEC,
                     event_origin_ns=T0)
    sync.add_rgb(T0 + 10 * MS, 'f0')
    assert sync.poll() == []  # events have not reached 10 ms yet
    sync.add_events(T0 + 5 * MS, events_at(*range(5_000, 600_000, 1_000)))
    (f0,) = sync.poll()
    assert f0.events['t'].tolist() == list(range(5_000, 10_001, 1_000))
    sync.add_rgb(T0 + 500 * MS, 'f1')  # 490 ms after f0: the window is capped at 100 ms
    (f1,) = sync.poll()
    assert f1.event_window_us == (400_000, 500_000)
    assert f1.events['t'].tolist() == list(range(401_000, 500_001, 1_000))


def test_stale_event_stream_is_reported_and_does_not_block():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy(EVENTS, 0, 16, 100 * MS)], event_origin_ns=T0)
    clock.move_to(T0 + 200 * MS)
    sync.add_rgb(T0 + 200 * MS, 'f0')
    (out,) = sync.poll()
    assert out.missing == (EVENTS,) and out.stale == (EVENTS,) and len(out.events) == 0


# ------------------------------------------------------------------------------- stamps

def test_stamp_check_counts_and_rejects_anomalies_without_raising():
    check = StampCheck(future_tolerance_ns=1 * SEC, resync_after=3)
    now = 10 * SEC
    verdicts = [check.check(stamp, now) for stamp in (
        5 * SEC, 0, -1, 5 * SEC, 4 * SEC, 12 * SEC, 11 * SEC, float('nan'), None, 'x', 1.5,
        float('inf'), 6 * SEC)]
    assert verdicts == ['ok', 'zero', 'zero', 'duplicate', 'backwards', 'future', 'ok',
                        'invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'backwards']
    assert check.counts == {'received': 13, 'accepted': 2, 'zero': 2, 'future': 1,
                            'backwards': 2, 'duplicate': 1, 'invalid': 5, 'resyncs': 0}
    assert check.newest_ns == 11 * SEC
    # A restarted timeline is accepted after resync_after backwards stamps in a row.
    assert [check.check(s, now) for s in (SEC, SEC + 1)] == ['backwards', 'resync']
    assert check.newest_ns == SEC + 1 and check.counts['resyncs'] == 1
    # While the clock reads 0 (sim time before /clock) the future check is off.
    assert StampCheck().check(50 * SEC, 0) == 'ok'


def test_synchronizer_counts_bad_stamps_per_input_and_keeps_working():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 5 * MS, 4, SEC),
                             ModalityPolicy(EVENTS, 0, 4, SEC)], event_origin_ns=T0)
    assert sync.add_rgb(0, 'zero') is False
    assert sync.add_rgb(T0 + 5 * SEC, 'future') is False
    assert sync.add_rgb(T0 + 10 * MS, 'ok') is True
    assert sync.add_rgb(T0 + 10 * MS, 'dup') is False
    assert sync.add_rgb(T0 + 5 * MS, 'back') is False
    assert sync.add('depth', float('nan'), 'nan') is False
    assert sync.add('depth', T0 + 11 * MS, 'd') is True
    assert sync.add_events(-5, events_at(1, 2)) is False
    assert sync.add_events(T0 + 20 * MS, events_at(20_000)) is True
    (out,) = sync.poll()
    assert out.rgb == 'ok' and out.others['depth'][1] == 'd' and out.missing == ()
    stats = sync.stats()
    assert {k: stats['rgb'][k] for k in ('received', 'accepted', 'zero', 'future', 'duplicate',
                                         'backwards')} == {
        'received': 5, 'accepted': 1, 'zero': 1, 'future': 1, 'duplicate': 1, 'backwards': 1}
    assert stats['depth']['invalid'] == 1 and stats[EVENTS]['zero'] == 1
    assert stats[EVENTS]['events_dropped'] == 2


def test_bag_loop_resyncs_inputs_and_a_clock_jump_resets():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 5 * MS, 4, SEC)], resync_after=2)

    def play(first_stamp, n):
        out = []
        for k in range(n):
            s = first_stamp + k * RGB_PERIOD
            clock.move_to(max(clock.now, s))
            sync.add_rgb(s, k)
            sync.add('depth', s, k)
            out += sync.poll()
        return out

    assert len(play(T0, 5)) == 5
    looped = play(T0, 5)  # stamps restart but the (wall) clock goes on: resync after 2
    assert [o.rgb for o in looped] == [1, 2, 3, 4]
    stats = sync.stats()
    assert stats['rgb']['resyncs'] == 1 and stats['depth']['resyncs'] == 1
    clock.move_to(T0)  # sim time jumps back: everything is reset at once
    assert [o.rgb for o in play(T0, 3)] == [0, 1, 2]
    assert sync.stats()['sync']['clock_jumps'] == 1


# ------------------------------------------------------------------------------- bounds

@pytest.mark.parametrize('event_packets, max_events', [(7, 1_000), (100, 50)])
def test_buffers_stay_bounded_under_floods(event_packets, max_events):
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('depth', 1 * MS, 5, SEC),
                             ModalityPolicy('thermal', 1 * MS, 3, SEC, required=True),
                             ModalityPolicy(EVENTS, 0, event_packets, SEC)],
                     max_wait_ns=10 * SEC, max_events=max_events, event_origin_ns=T0,
                     rgb_policy=ModalityPolicy('rgb', 0, 4, SEC))
    for k in range(1, 20_001):
        s = T0 + k * US
        sync.add('depth', s, k)
        sync.add_events(s, events_at(*range(k * 10, k * 10 + 10)))
        if k % 10 == 0:
            sync.add_rgb(s, k)  # thermal never comes: frames pile up
        if k % 1000 == 0:
            assert sync.poll() == []
            stats = sync.stats()
            assert stats['depth']['buffered'] <= 5 and stats['rgb']['buffered'] <= 4
            assert stats[EVENTS]['buffered'] <= event_packets
            assert stats[EVENTS]['events_buffered'] <= max_events
            assert stats[EVENTS]['events_buffered'] >= min(max_events - 9, 10 * event_packets)
    stats = sync.stats()
    assert stats['rgb']['dropped_overflow'] == 2_000 - 4
    assert stats['depth']['dropped'] == 20_000 - 5
    ev = stats[EVENTS]
    assert ev['events_received'] == ev['events_buffered'] + ev['events_dropped'] == 200_000


def test_one_packet_larger_than_the_ring_keeps_its_newest_events():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy(EVENTS, 0, 4, SEC)], max_events=100,
                     event_origin_ns=T0)
    sync.add_events(T0 + 1 * MS, events_at(*range(1_000)))
    stats = sync.stats()[EVENTS]
    assert stats['events_buffered'] == 100 and stats['events_dropped'] == 900
    sync.add_rgb(T0 + 1 * MS - 1, 'f')  # window ends at 999 us
    (out,) = sync.poll()
    assert out.events['t'].tolist() == list(range(900, 1_000))


def test_configuration_errors_raise_but_data_errors_do_not():
    with pytest.raises(ValueError):
        ModalityPolicy('depth', -1, 4, SEC)
    with pytest.raises(ValueError):
        ModalityPolicy('depth', 0, 0, SEC)
    with pytest.raises(ValueError):
        make_sync(FakeClock(), [ModalityPolicy('rgb', 0, 4, SEC)])
    sync = make_sync(FakeClock(), [ModalityPolicy('depth', 0, 4, SEC)])
    with pytest.raises(KeyError):
        sync.add('thermal', T0, None)
    with pytest.raises(KeyError):
        sync.add_events(T0, events_at(1))
    with pytest.raises(TypeError):
        make_sync(FakeClock(), [ModalityPolicy(EVENTS, 0, 4, SEC)]).add_events(
            T0, np.zeros(3, np.int64))
    assert strict_policy_available() == is_available('message_filters')


# ------------------------------------------------------------------------------- stats

def test_stats_report_rates_ages_and_counters():
    clock = FakeClock()
    sync = make_sync(clock, [ModalityPolicy('thermal', 40 * MS, 4, 500 * MS, required=True)])
    for k in range(31):
        s = T0 + k * RGB_PERIOD
        clock.move_to(s + 2 * MS)
        sync.add_rgb(s, k)
        if k % 2 == 0:
            sync.add('thermal', s, k)
        sync.poll()
    clock.move_to(T0 + 30 * RGB_PERIOD + 252 * MS)
    stats = sync.stats()
    assert set(stats) == {'rgb', 'thermal', 'sync'}
    rgb, thermal = stats['rgb'], stats['thermal']
    for key in ('received', 'accepted', 'matched', 'missing', 'dropped', 'zero', 'future',
                'backwards', 'duplicate', 'invalid', 'resyncs', 'age_s', 'rate_hz', 'stale',
                'buffered', 'required', 'reused'):
        assert key in rgb and key in thermal
    assert rgb['rate_hz'] == pytest.approx(30.0, rel=1e-6)
    assert thermal['rate_hz'] == pytest.approx(15.0, rel=1e-6)
    assert rgb['age_s'] == pytest.approx(0.25) and thermal['age_s'] == pytest.approx(0.25)
    assert thermal['stale'] is False and thermal['required'] is True
    assert rgb['received'] == 31 and thermal['received'] == 16
    assert stats['sync'] == {'emitted': 31, 'dropped': 0, 'pending': 0, 'clock_jumps': 0}
    clock.move_to(T0 + 30 * RGB_PERIOD + 503 * MS)
    assert sync.stats()['thermal']['stale'] is True


# ------------------------------------------------------------------------------- handoff

def test_latest_slot_keeps_only_the_newest_and_counts_drops():
    slot = LatestSlot()
    assert [slot.put(k) for k in range(3)] == [0, 1, 1]
    assert slot.get(timeout=0) == 2
    assert slot.get(timeout=0) is None
    assert slot.stats() == {'put': 3, 'taken': 1, 'dropped': 2, 'pending': 0, 'capacity': 1}
    deep = LatestSlot(capacity=3)
    for k in range(5):
        deep.put(k)
    assert [deep.get(timeout=0) for _ in range(4)] == [2, 3, 4, None]
    assert deep.dropped == 2
    deep.close()
    assert deep.put(9) == 1 and deep.get() is None
    with pytest.raises(ValueError):
        LatestSlot(capacity=0)


def test_latest_slot_wakes_a_blocked_worker():
    slot = LatestSlot()
    waiting, got = threading.Event(), []

    def worker():
        waiting.set()
        got.append(slot.get(timeout=10))

    thread = threading.Thread(target=worker)
    thread.start()
    assert waiting.wait(timeout=10)
    slot.put('set')
    thread.join(timeout=10)
    assert not thread.is_alive() and got == ['set']
    closer = threading.Thread(target=lambda: got.append(slot.get(timeout=10)))
    closer.start()
    slot.close()  # wakes get() with None whether it is already waiting or not
    closer.join(timeout=10)
    assert not closer.is_alive() and got == ['set', None]


def test_latest_slot_producer_consumer_threads():
    slot, n, got = LatestSlot(capacity=2), 20_000, []
    overflow = []

    def producer():
        for k in range(n):
            slot.put(k)
            if slot.stats()['pending'] > 2:
                overflow.append(k)
        slot.close()

    def consumer():
        while True:
            item = slot.get(timeout=10)
            if item is None:
                return
            got.append(item)

    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert overflow == []
    assert got == sorted(set(got)) and got[-1] == n - 1  # in order, newest always delivered
    stats = slot.stats()
    assert stats['taken'] == len(got) and stats['taken'] + stats['dropped'] == n


def test_callbacks_on_threads_feed_a_worker_through_the_slot():
    n = 2_000
    clock = FakeClock(T0 + n * RGB_PERIOD)  # every stamp in the past: none is 'future'
    sync = make_sync(clock, [ModalityPolicy('depth', 1 * MS, n, 10 * SEC)],
                     max_wait_ns=10 * SEC, rgb_policy=ModalityPolicy('rgb', 0, n, SEC))
    slot, seen, handoff = LatestSlot(), [], threading.Lock()
    stamps = [T0 + k * RGB_PERIOD for k in range(n)]

    def callback(modality):
        for k, s in enumerate(stamps):
            sync.add(modality, s, k)  # convert and enqueue only
            with handoff:  # poll and put as one step, so sets keep their order
                for synced in sync.poll():
                    slot.put(synced)

    def worker():
        while True:
            synced = slot.get(timeout=10)
            if synced is None:
                return
            seen.append(synced.stamp_ns)

    feeders = [threading.Thread(target=callback, args=(m,)) for m in ('rgb', 'depth')]
    consumer = threading.Thread(target=worker)
    for t in [consumer, *feeders]:
        t.start()
    for t in feeders:
        t.join(timeout=30)
    slot.close()
    consumer.join(timeout=30)
    assert not consumer.is_alive() and not any(t.is_alive() for t in feeders)
    stats = sync.stats()
    assert stats['sync']['emitted'] == n and stats['depth']['missing'] == 0
    assert seen == sorted(set(seen)) and len(seen) + slot.dropped == stats['sync']['emitted']
