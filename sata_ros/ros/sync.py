"""
RGB-anchored synchronization of RGB, depth, thermal and event inputs, with no rclpy in its logic.

The node's subscription callbacks only convert a message and call `Synchronizer.add_rgb`, `add`
or `add_events`; `Synchronizer.poll` returns the synchronized sets that are ready, and a
`LatestSlot` hands the newest one to the worker thread that runs the tracker (poll and put
from one thread, or under one lock, so sets reach the slot in stamp order). Waits end on the
clock, so the node also calls `poll` from a timer (period <= `max_wait_ns` / 2). Everything here
is plain Python driven by integer-nanosecond stamps and an injected clock, so tests replay it
deterministically and the same code runs under `use_sim_time`.

Semantics (the `rgb_anchored` policy, the default):

- **Anchor.** Every output set belongs to one RGB frame and carries its stamp. Sets come out in
  RGB stamp order; a frame that is still waiting holds the later ones back (for at most
  `max_wait_ns`).
- **Partners.** For each other modality the partner is the buffered message nearest to the RGB
  stamp with |stamp - rgb_stamp| <= `tolerance_ns` (ties go to the earlier message). Accepted
  stamps of one input strictly increase (see stamp checks below), so the choice is final as soon
  as no later message can be nearer: when a message stamped at or after the RGB stamp has
  arrived, or when `min_period_ns` (a lower bound on the input's period, like the C++
  `setInterMessageLowerBound`) proves the next one would be farther or outside the window.
- **Reuse.** A partner message may serve several RGB frames while it is within each frame's
  tolerance (`ModalityPolicy.reuse`, default True). A roboticist setting a 40 ms tolerance on a
  15 Hz thermal camera next to 30 Hz RGB expects every RGB frame to carry the nearest thermal
  image within 40 ms (sample-and-hold, as C++ `LatestTime` does), not a modality that flickers
  on and off every other frame: SATA fuses RGB with one auxiliary stream, and alternating
  between fused and RGB-only features costs more than a 33 ms older thermal image. The
  tolerance is the knob that bounds staleness. `reuse=False` gives use-at-most-once, as
  message_filters does.
- **Waiting.** A frame waits while some partner is undecided, at most `max_wait_ns` on the
  clock after the frame arrived. Then an optional modality is reported in `missing` and the
  best candidate already buffered, if any, is used; a `required` modality without a partner
  drops the frame (counted). A modality silent (no accepted message, by the clock) for longer
  than its `timeout_ns` is stale: frames stop waiting for it and list it in `stale` and
  `missing`, so tracking continues on the rest and `stats()` says so. A modality never heard
  from counts as silent since the synchronizer started (or was reset).
- **Events.** Event packets (EVENT_DTYPE arrays, t in microseconds on the common axis that
  starts at `event_origin_ns`) are buffered in a ring bounded both by message count (the events
  policy's `buffer_size`) and by `max_events`; the oldest packets go first, counted. Each set
  gets the events with t in (start_us, end_us], where end_us = floor((stamp - origin) / 1000)
  and start_us likewise from max(previous emitted RGB stamp, stamp - `event_window_ns`): the
  events since the last emitted set, capped at `event_window_ns` after a gap or at the first
  frame. Set `event_window_ns` >= one RGB period (two is a good value) for seamless windows.
  The events input is decided for a frame once the stream has passed the RGB stamp (an event
  later than end_us or a packet stamped after the frame), or it is stale, or the wait ends.
  Events that arrive for an already emitted window are counted as late and discarded.
  Packets are never given to any ApproximateTime synchronizer (they arrive at ~1 kHz).

Stamp checks (`StampCheck`, one per input; never raise): zero or negative stamps, duplicates
of the newest accepted stamp and stamps older than it (backwards) are counted and rejected.
Stamps later than now + `future_tolerance_ns` are counted and rejected too: accepting a stamp
from the future would make every correctly stamped message after it look backwards and silence
the input. Within the tolerance (clock offset between hosts, sim-time /clock granularity) a
stamp is accepted normally; the future check is skipped while the clock reads <= 0 (sim time
before the first /clock). After `resync_after` consecutive backwards stamps the input is taken
to have restarted (driver restart, bag loop): its buffer is cleared and the new timeline
accepted (counted as a resync). A clock that jumps backwards (`ros2 bag play --loop` with sim
time) resets all buffers, as `reset()` does.

Strict policy notes: when the user selects `sync_policy: strict` and message_filters is
importable (`strict_policy_available()`, via `sata_ros.ros.optional.is_available`), the node
feeds message_filters Subscribers of RGB and the configured image modalities into
`message_filters.ApproximateTimeSynchronizer(filters, queue_size, slop)`. That policy has no
optional inputs (a silent thermal camera stops all output), uses each message at most once,
matches on arrival of any input and holds its lock during the callback, so its callback must
only enqueue; events still go through this module's ring and slicing. Without
message_filters (as in this project's CI) `strict` falls back to `rgb_anchored` with every
modality required and reuse disabled, which is the closest behaviour this module can give.
"""

import collections
from dataclasses import dataclass, field
import threading
from typing import Any, Callable, Deque, Generic, Optional, Sequence, TypeVar

import numpy as np

from sata_ros.data.sequence import EVENT_DTYPE
from sata_ros.ros.optional import is_available

RGB = 'rgb'
EVENTS = 'events'
SYNC_POLICIES = ('rgb_anchored', 'strict')

# StampCheck verdicts; the first two mean accepted.
OK, RESYNC, ZERO, FUTURE, BACKWARDS, DUPLICATE, INVALID = (
    'ok', 'resync', 'zero', 'future', 'backwards', 'duplicate', 'invalid')

T = TypeVar('T')


def strict_policy_available() -> bool:
    """Return whether message_filters (and so the `strict` ApproximateTime policy) is here."""
    return is_available('message_filters')


@dataclass(frozen=True)
class ModalityPolicy:
    """
    How one input is buffered and matched to RGB frames.

    Attributes:
        name: input name ('depth', 'thermal', 'events', ...; 'rgb' for the anchor).
        tolerance_ns: a partner's stamp must lie within +- this of the RGB stamp, ns
            (ignored for 'rgb' and 'events').
        buffer_size: messages kept (>= 1); the oldest is dropped first, counted.
        timeout_ns: silence (no accepted message, by the clock) after which the input is stale.
        required: if True, a frame without this partner is dropped once its wait ends;
            if False (default) the frame goes on with the modality listed in `missing`.
        reuse: whether one message may be the partner of several RGB frames (default True).
        min_period_ns: lower bound on the interval between this input's stamps, ns; lets a
            frame stop waiting as soon as the next message could not be nearer (0 = unknown).

    """

    name: str
    tolerance_ns: int
    buffer_size: int
    timeout_ns: int
    required: bool = False
    reuse: bool = True
    min_period_ns: int = 0

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        if not self.name:
            raise ValueError('a modality needs a name')
        if self.tolerance_ns < 0 or self.min_period_ns < 0:
            raise ValueError(f'{self.name}: tolerance_ns and min_period_ns must be >= 0')
        if self.buffer_size < 1:
            raise ValueError(f'{self.name}: buffer_size must be >= 1, got {self.buffer_size}')
        if self.timeout_ns <= 0:
            raise ValueError(f'{self.name}: timeout_ns must be > 0, got {self.timeout_ns}')


DEFAULT_RGB_POLICY = ModalityPolicy(RGB, 0, buffer_size=8, timeout_ns=1_000_000_000)


class StampCheck:
    """
    Stamp sanity of one input: counts every anomaly, rejects the ones that would corrupt sync.

    Args:
        future_tolerance_ns: stamps later than now + this are rejected as future (None = off).
        resync_after: consecutive backwards stamps after which the new timeline is accepted
            (0 = never).

    """

    def __init__(self, future_tolerance_ns: Optional[int] = 1_000_000_000,
                 resync_after: int = 5) -> None:
        self.future_tolerance_ns = future_tolerance_ns
        self.resync_after = resync_after
        self.newest_ns: Optional[int] = None  # newest accepted stamp
        self.counts = {'received': 0, 'accepted': 0, 'zero': 0, 'future': 0, 'backwards': 0,
                       'duplicate': 0, 'invalid': 0, 'resyncs': 0}
        self._backwards_run = 0

    def check(self, stamp_ns: Any, now_ns: int) -> str:
        """
        Classify `stamp_ns` (integer ns) at clock time `now_ns` and update the counters.

        Returns:
            OK or RESYNC when accepted (RESYNC: the input restarted its timeline), else ZERO,
            FUTURE, BACKWARDS, DUPLICATE or INVALID (not an integer). Never raises.

        """
        self.counts['received'] += 1
        try:
            stamp = int(stamp_ns)
        except (TypeError, ValueError, OverflowError):
            return self._count(INVALID)
        if stamp != stamp_ns:
            return self._count(INVALID)
        if stamp <= 0:
            return self._count(ZERO)
        if self.future_tolerance_ns is not None and now_ns > 0 \
                and stamp > now_ns + self.future_tolerance_ns:
            return self._count(FUTURE)
        verdict = OK
        if self.newest_ns is not None and stamp <= self.newest_ns:
            if stamp == self.newest_ns:
                return self._count(DUPLICATE)
            self._backwards_run += 1
            self.counts[BACKWARDS] += 1
            if not self.resync_after or self._backwards_run < self.resync_after:
                return BACKWARDS
            self.counts['resyncs'] += 1
            verdict = RESYNC
        self._backwards_run = 0
        self.newest_ns = stamp
        self.counts['accepted'] += 1
        return verdict

    def forget(self) -> None:
        """Forget the newest stamp (after a reset); counters stay."""
        self.newest_ns = None
        self._backwards_run = 0

    def _count(self, verdict: str) -> str:
        self.counts[verdict] += 1
        return verdict


@dataclass(frozen=True)
class SyncedSet:
    """
    One RGB frame with its partners, ready for the tracker.

    Attributes:
        stamp_ns: the RGB stamp, integer ns; outputs are stamped with it.
        rgb: the RGB payload as given to `add_rgb`.
        others: modality -> (partner stamp ns, payload), matched partners only.
        events: EVENT_DTYPE array with t in `event_window_us`, sorted by t (a copy); None when
            no events input is configured.
        missing: configured modalities without a partner in this set (policy order; 'events'
            when the event stream had not passed the stamp).
        stale: modalities silent for longer than their timeout (a subset of the input names).
        event_window_us: (start, end] of `events` in microseconds on the event axis, or None.

    """

    stamp_ns: int
    rgb: Any
    others: dict
    events: Optional[np.ndarray]
    missing: tuple
    stale: tuple
    event_window_us: Optional[tuple] = None


@dataclass
class _Msg:
    stamp_ns: int
    payload: Any
    uses: int = 0  # sets this message was the partner of


@dataclass
class _Frame:
    stamp_ns: int
    payload: Any
    arrival_ns: int  # clock time at which add_rgb accepted it


@dataclass
class _Input:
    policy: ModalityPolicy
    check: StampCheck
    last_accept_ns: int  # clock time of the last accepted message (or of the start / reset)
    stamps: Deque[int]  # recent accepted stamps, for the rate estimate
    buffer: Deque[Any] = field(default_factory=collections.deque)
    counts: dict = field(
        default_factory=lambda: {'matched': 0, 'missing': 0, 'dropped': 0, 'reused': 0})
    heard: bool = False


class Synchronizer:
    """
    RGB-anchored synchronizer with bounded buffers (the `rgb_anchored` policy).

    Thread-safe: callbacks may call the `add*` methods from several executor threads while
    another calls `poll`; one lock guards the state and no user code runs under it.

    Args:
        policies: one ModalityPolicy per non-RGB input ('depth', 'thermal', ..., and 'events'
            to enable the event input); names unique, not 'rgb' or 'sync'.
        event_window_ns: longest event window a set gets, ns (see the module docstring).
        clock: returns the current time in integer ns (the node's clock; a fake in tests).
        max_wait_ns: longest time a frame waits for undecided partners, ns on `clock`.
        rgb_policy: buffer_size = RGB frames waiting for partners (the oldest is dropped) and
            timeout_ns for the RGB staleness report.
        event_origin_ns: stamp at which event time t = 0 (the common event axis), ns.
        max_events: events held in the ring in total.
        future_tolerance_ns, resync_after: see StampCheck.
        rate_window: accepted stamps per input over which the rate is estimated.

    """

    def __init__(self, policies: Sequence[ModalityPolicy], event_window_ns: int,
                 clock: Callable[[], int], max_wait_ns: int, *,
                 rgb_policy: ModalityPolicy = DEFAULT_RGB_POLICY, event_origin_ns: int = 0,
                 max_events: int = 2_000_000, future_tolerance_ns: Optional[int] = 1_000_000_000,
                 resync_after: int = 5, rate_window: int = 30) -> None:
        names = [p.name for p in policies]
        if len(set(names)) != len(names) or RGB in names or 'sync' in names:
            raise ValueError(f'modality names must be unique and not rgb/sync, got {names}')
        if event_window_ns <= 0 or max_wait_ns < 0 or max_events < 1 or rate_window < 2:
            raise ValueError('need event_window_ns > 0, max_wait_ns >= 0, max_events >= 1 and '
                             'rate_window >= 2')
        self.event_window_ns = int(event_window_ns)
        self.max_wait_ns = int(max_wait_ns)
        self.event_origin_ns = int(event_origin_ns)
        self.max_events = int(max_events)
        self._clock = clock
        self._lock = threading.Lock()
        now = int(clock())
        self._last_now = now

        def make(policy: ModalityPolicy) -> _Input:
            return _Input(policy, StampCheck(future_tolerance_ns, resync_after), now,
                          collections.deque(maxlen=rate_window))

        self._rgb = make(rgb_policy)
        self._rgb.counts.update(emitted=0, dropped_overflow=0, dropped_required=0,
                                dropped_reset=0, timed_out=0)
        self._inputs = {p.name: make(p) for p in policies}
        self._partners = [inp for name, inp in self._inputs.items() if name != EVENTS]
        self._events = self._inputs.get(EVENTS)
        if self._events is not None:
            self._events.counts.update(events_received=0, events_dropped=0, events_late=0,
                                       events_emitted=0, events_buffered=0)
        self._clock_jumps = 0
        self._events_total = 0  # events held in the ring
        self._events_max_us: Optional[int] = None  # latest event time received, us
        self._prev_emitted_ns: Optional[int] = None  # stamp of the last emitted set
        self._events_done_us: Optional[int] = None  # end of the last emitted event window
        self._reset_state()

    # ----------------------------------------------------------------------------- inputs

    def add_rgb(self, stamp_ns: int, payload: Any) -> bool:
        """Queue an RGB frame stamped `stamp_ns` (ns); return whether its stamp was accepted."""
        with self._lock:
            now = self._now()
            if not self._accept(self._rgb, stamp_ns, now):
                return False
            self._rgb.buffer.append(_Frame(int(stamp_ns), payload, now))
            while len(self._rgb.buffer) > self._rgb.policy.buffer_size:
                self._rgb.buffer.popleft()
                self._rgb.counts['dropped'] += 1
                self._rgb.counts['dropped_overflow'] += 1
            return True

    def add(self, modality: str, stamp_ns: int, payload: Any) -> bool:
        """
        Buffer a message of `modality` stamped `stamp_ns` (ns); return whether it was accepted.

        'rgb' and 'events' are forwarded to `add_rgb` / `add_events`. An unconfigured name is a
        programming error and raises KeyError; bad stamps never raise.
        """
        if modality == RGB:
            return self.add_rgb(stamp_ns, payload)
        if modality == EVENTS:
            return self.add_events(stamp_ns, payload)
        inp = self._inputs[modality]
        with self._lock:
            now = self._now()
            if not self._accept(inp, stamp_ns, now):
                return False
            inp.buffer.append(_Msg(int(stamp_ns), payload))
            while len(inp.buffer) > inp.policy.buffer_size:
                self._discard(inp, inp.buffer.popleft())
            return True

    def add_events(self, stamp_ns: int, events: np.ndarray) -> bool:
        """
        Buffer one event packet; return whether its stamp was accepted.

        Args:
            stamp_ns: the packet's header stamp, ns.
            events: 1-D EVENT_DTYPE array, t in microseconds on the event axis (sorted here
                if it is not). Another dtype is a programming error (TypeError).

        """
        if self._events is None:
            raise KeyError('no events policy configured')
        events = np.asarray(events)
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f'events must have EVENT_DTYPE, got {events.dtype}')
        events = events.reshape(-1)
        inp = self._events
        with self._lock:
            now = self._now()
            inp.counts['events_received'] += len(events)
            if not self._accept(inp, stamp_ns, now):
                inp.counts['events_dropped'] += len(events)
                return False
            if len(events) > 1 and np.any(np.diff(events['t']) < 0):
                events = events[np.argsort(events['t'], kind='stable')]
            if len(events) and (self._events_max_us is None
                                or events['t'][-1] > self._events_max_us):
                self._events_max_us = int(events['t'][-1])
            if self._events_done_us is not None and len(events):
                late = int(np.searchsorted(events['t'], self._events_done_us, 'right'))
                inp.counts['events_late'] += late
                events = events[late:]
            if len(events):
                inp.buffer.append(_Msg(int(stamp_ns), events))
                self._events_total += len(events)
            self._bound_events()
            return True

    # ----------------------------------------------------------------------------- output

    def poll(self) -> list:
        """
        Decide every waiting RGB frame that can be decided now, oldest first.

        Returns:
            list of SyncedSet, in RGB stamp order; dropped frames are only counted.

        """
        out = []
        with self._lock:
            now = self._now()
            while self._rgb.buffer:
                frame = self._rgb.buffer[0]
                decision = self._decide(frame, now)
                if decision is None:
                    break
                self._rgb.buffer.popleft()
                if decision is not False:
                    out.append(decision)
        return out

    def reset(self) -> None:
        """Drop all buffered data and forget newest stamps (counters stay); e.g. on a time jump."""
        with self._lock:
            self._reset_state()

    def stats(self) -> dict:
        """
        Return counters per input for diagnostics.

        Returns:
            {'rgb': {...}, <modality>: {...}, 'sync': {...}}. Every input has received,
            accepted, zero, future, backwards, duplicate, invalid, resyncs (stamp checks),
            matched (sets it was a partner of), missing (frames decided without it), dropped (RGB:
            frames dropped; others: messages discarded unused), reused, buffered, age_s
            (seconds since its last accepted message by the clock, None if never), rate_hz
            (from its recent stamps), stale, required. RGB adds emitted, dropped_overflow,
            dropped_required, dropped_reset, timed_out; events add events_received,
            events_dropped, events_late, events_emitted, events_buffered.

        """
        with self._lock:
            now = self._now()
            out = {RGB: self._input_stats(self._rgb, now)}
            out.update((name, self._input_stats(inp, now)) for name, inp in self._inputs.items())
            out['sync'] = {'emitted': self._rgb.counts['emitted'],
                           'dropped': self._rgb.counts['dropped'],
                           'pending': len(self._rgb.buffer), 'clock_jumps': self._clock_jumps}
            return out

    # ----------------------------------------------------------------------------- internals

    def _reset_state(self) -> None:
        now = self._last_now
        self._rgb.counts['dropped'] += len(self._rgb.buffer)
        self._rgb.counts['dropped_reset'] += len(self._rgb.buffer)
        for inp in [self._rgb, *self._inputs.values()]:
            self._clear(inp)
            inp.check.forget()
            inp.last_accept_ns = now
        self._prev_emitted_ns = None
        self._events_done_us = None

    def _clear(self, inp: _Input) -> None:
        if inp is self._events:
            inp.counts['events_dropped'] += self._events_total
            inp.buffer.clear()
            self._events_total = 0
            self._events_max_us = None
        elif inp is self._rgb:
            inp.buffer.clear()
        else:
            while inp.buffer:
                self._discard(inp, inp.buffer.popleft())

    def _now(self) -> int:
        now = int(self._clock())
        if now < self._last_now:  # time jumped back: bag loop with sim time, clock reset
            self._clock_jumps += 1
            self._last_now = now
            self._reset_state()
        self._last_now = now
        return now

    def _accept(self, inp: _Input, stamp_ns: Any, now: int) -> bool:
        verdict = inp.check.check(stamp_ns, now)
        if verdict not in (OK, RESYNC):
            return False
        if verdict == RESYNC:
            if inp is self._rgb:
                inp.counts['dropped'] += len(inp.buffer)
                inp.counts['dropped_reset'] += len(inp.buffer)
            self._clear(inp)
            if inp is self._rgb or inp is self._events:
                self._prev_emitted_ns = None
                self._events_done_us = None
        inp.last_accept_ns = now
        inp.heard = True
        inp.stamps.append(int(stamp_ns))
        return True

    def _discard(self, inp: _Input, msg: _Msg) -> None:
        if not msg.uses:
            inp.counts['dropped'] += 1

    def _bound_events(self) -> None:
        inp = self._events
        while inp.buffer and (len(inp.buffer) > inp.policy.buffer_size
                              or self._events_total > self.max_events):
            if len(inp.buffer) == 1:  # one packet larger than the ring: keep its newest events
                msg = inp.buffer[0]
                cut = self._events_total - self.max_events
                msg.payload = msg.payload[cut:].copy()
                self._events_total -= cut
                inp.counts['events_dropped'] += cut
                break
            msg = inp.buffer.popleft()
            self._events_total -= len(msg.payload)
            inp.counts['events_dropped'] += len(msg.payload)
            inp.counts['dropped'] += 1

    def _stale(self, inp: _Input, now: int) -> bool:
        return now - inp.last_accept_ns > inp.policy.timeout_ns

    def _nearest(self, inp: _Input, stamp: int) -> Optional[_Msg]:
        tol, best = inp.policy.tolerance_ns, None
        for msg in inp.buffer:
            d = abs(msg.stamp_ns - stamp)
            if d <= tol and (inp.policy.reuse or not msg.uses) \
                    and (best is None or d < abs(best.stamp_ns - stamp)):
                best = msg  # strict < keeps the earlier message on ties
        return best

    def _settled(self, inp: _Input, stamp: int, best: Optional[_Msg]) -> bool:
        """Whether no message of `inp` still to come could beat `best` for `stamp`."""
        newest = inp.check.newest_ns
        if newest is None:
            return False
        upcoming = newest + max(inp.policy.min_period_ns, 1)  # stamps strictly increase
        if upcoming > stamp + inp.policy.tolerance_ns:
            return True
        return best is not None and upcoming - stamp >= abs(best.stamp_ns - stamp)

    def _event_window(self, stamp: int) -> tuple:
        start = stamp - self.event_window_ns
        if self._prev_emitted_ns is not None:
            start = max(start, self._prev_emitted_ns)
        return ((start - self.event_origin_ns) // 1000, (stamp - self.event_origin_ns) // 1000)

    def _events_passed(self, stamp: int) -> bool:
        end_us = (stamp - self.event_origin_ns) // 1000
        newest = self._events.check.newest_ns
        return (self._events_max_us is not None and self._events_max_us > end_us) \
            or (newest is not None and newest > stamp)

    def _decide(self, frame: _Frame, now: int) -> Any:
        """Return a SyncedSet, False (frame dropped) or None (still waiting)."""
        stamp = frame.stamp_ns
        timed_out = now - frame.arrival_ns >= self.max_wait_ns
        stale = {name for name, inp in self._inputs.items() if self._stale(inp, now)}
        best, waiting = {}, False
        for inp in self._partners:
            name = inp.policy.name
            best[name] = self._nearest(inp, stamp)
            if name not in stale and not self._settled(inp, stamp, best[name]):
                waiting = True
        events_ok = self._events is not None and self._events_passed(stamp)
        if self._events is not None and not events_ok and EVENTS not in stale:
            waiting = True
        if waiting and not timed_out:
            return None
        missing = [name for name in self._inputs
                   if (best[name] is None if name != EVENTS else not events_ok)]
        counts = self._rgb.counts
        counts['timed_out'] += waiting
        for name in missing:
            self._inputs[name].counts['missing'] += 1
        if any(self._inputs[name].policy.required for name in missing):
            counts['dropped'] += 1
            counts['dropped_required'] += 1
            self._prune(stamp)
            return False
        others = {}
        for name, msg in best.items():
            if msg is not None:
                inp = self._inputs[name]
                inp.counts['reused' if msg.uses else 'matched'] += 1
                msg.uses += 1
                others[name] = (msg.stamp_ns, msg.payload)
        events, window = None, None
        if self._events is not None:
            window = self._event_window(stamp)
            events = self._take_events(*window)
            self._events.counts['events_emitted'] += len(events)
            self._events.counts['matched'] += events_ok
        counts['emitted'] += 1
        counts['matched'] += 1
        self._prev_emitted_ns = stamp
        self._prune(stamp)
        return SyncedSet(stamp, frame.payload, others, events, tuple(missing),
                         tuple(name for name in self._inputs if name in stale), window)

    def _take_events(self, start_us: int, end_us: int) -> np.ndarray:
        parts = []
        for msg in self._events.buffer:
            t = msg.payload['t']
            lo, hi = np.searchsorted(t, [start_us, end_us], 'right')
            if hi > lo:
                parts.append(msg.payload[lo:hi])
        out = np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)
        if len(out) > 1 and np.any(np.diff(out['t']) < 0):  # packets overlapped in time
            out = out[np.argsort(out['t'], kind='stable')]
        # Events up to end_us can serve no later set: free them and call later ones late.
        kept = collections.deque()
        for msg in self._events.buffer:
            t = msg.payload['t']
            cut = int(np.searchsorted(t, end_us, 'right'))
            self._events_total -= cut
            if cut < len(t):
                msg.payload = msg.payload[cut:].copy() if cut else msg.payload
                kept.append(msg)
        self._events.buffer = kept
        self._events_done_us = end_us
        return out

    def _prune(self, stamp: int) -> None:
        """Discard partner messages that no frame after `stamp` can match (s <= stamp - tol)."""
        for inp in self._partners:
            while inp.buffer and inp.buffer[0].stamp_ns <= stamp - inp.policy.tolerance_ns:
                self._discard(inp, inp.buffer.popleft())

    def _input_stats(self, inp: _Input, now: int) -> dict:
        out = dict(inp.check.counts)
        out.update(inp.counts)
        stamps = inp.stamps
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0
        out.update(
            buffered=len(inp.buffer),
            age_s=(now - inp.last_accept_ns) / 1e9 if inp.heard else None,
            rate_hz=(len(stamps) - 1) * 1e9 / span if span > 0 else 0.0,
            stale=self._stale(inp, now), required=inp.policy.required)
        if inp is self._events:
            out['events_buffered'] = self._events_total
        return out


class LatestSlot(Generic[T]):
    """
    Bounded latest-only handoff from callbacks to the worker thread.

    `put` never blocks: when `capacity` items are pending, the oldest is replaced and counted
    as dropped, so the worker always gets the newest sets and a slow tracker never builds a
    backlog. `get` blocks until an item is pending, the timeout passes or the slot is closed.
    Do not put None (get returns None for "nothing").

    Args:
        capacity: pending items kept (>= 1; 1 = latest only).

    """

    def __init__(self, capacity: int = 1) -> None:
        if capacity < 1:
            raise ValueError(f'capacity must be >= 1, got {capacity}')
        self.capacity = capacity
        self._items: Deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._counts = {'put': 0, 'taken': 0, 'dropped': 0}

    def put(self, item: T) -> int:
        """Offer `item`; return how many items this call dropped (a replaced one, or `item`)."""
        with self._cond:
            self._counts['put'] += 1
            if self._closed:
                self._counts['dropped'] += 1
                return 1
            self._items.append(item)
            dropped = 0
            while len(self._items) > self.capacity:
                self._items.popleft()
                dropped += 1
            self._counts['dropped'] += dropped
            self._cond.notify()
            return dropped

    def get(self, timeout: Optional[float] = None) -> Optional[T]:
        """Return the oldest pending item, waiting up to `timeout` s (None = forever)."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed, timeout)
            if not self._items:
                return None
            self._counts['taken'] += 1
            return self._items.popleft()

    def close(self) -> None:
        """Refuse further items and wake every waiting `get` (pending items can still be got)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def dropped(self) -> int:
        """Items replaced before the worker took them."""
        with self._cond:
            return self._counts['dropped']

    def stats(self) -> dict:
        """Return put, taken, dropped, pending and capacity."""
        with self._cond:
            return dict(self._counts, pending=len(self._items), capacity=self.capacity)
