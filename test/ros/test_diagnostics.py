"""Diagnostics of the tracker node: statuses from counters, and the diagnostic_updater path."""

import importlib.machinery
import sys
import types

import pytest

diagnostics = pytest.importorskip('sata_ros.ros.diagnostics', reason='rclpy: run make setup')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402, I100

INPUT = {'received': 10, 'accepted': 9, 'zero': 1, 'future': 0, 'backwards': 0,
         'duplicate': 0, 'invalid': 0, 'rate_hz': 30.0, 'age_s': 0.01, 'stale': False}


def _snapshot() -> dict:
    rgb = dict(INPUT, timed_out=2, dropped_required=0, dropped_overflow=0)
    return {
        'state': 'active', 'device': 'cpu', 'memory': {'process_max_rss_bytes': 1},
        'conversion': {'depth': {'count': 3, 'last': "unsupported encoding 'rgb8'"}},
        'sync': {'rgb': rgb, 'depth': dict(INPUT),
                 'thermal': dict(INPUT, stale=True, age_s=4.0),
                 'events': dict(INPUT, stale=True, age_s=None),
                 'sync': {'emitted': 9, 'dropped': 1, 'pending': 0, 'clock_jumps': 0}},
        'slot': {'dropped': 4}, 'worker': {'errors': 0},
        'pipeline': {'frames': 9, 'live_targets': 2, 'latency_ms': {'p50': 40.0, 'p95': 55.0},
                     'model_ms': {'p50': 35.0}, 'overhead_ms': {'p50': 2.0},
                     'aux_modality': 'depth', 'missing': ('thermal',), 'stale': ('thermal',),
                     'counts': {}}}


def test_statuses_say_what_is_wrong_per_input():
    statuses = {s.name: s for s in diagnostics.build_statuses('sata', _snapshot())}
    assert statuses['sata: input rgb'].level == DiagnosticStatus.OK
    assert 'rejected stamps: zero 1' in statuses['sata: input rgb'].message
    thermal = statuses['sata: input thermal']
    assert thermal.level == DiagnosticStatus.WARN and 'silent for 4.0 s' in thermal.message
    assert 'no message received yet' in statuses['sata: input events'].message
    depth = statuses['sata: input depth']
    assert depth.level == DiagnosticStatus.WARN and "'rgb8'" in depth.message
    tracker = statuses['sata: tracker']
    values = {kv.key: kv.value for kv in tracker.values}
    assert values['live_targets'] == '2' and values['sets_dropped_before_worker'] == '4'
    assert values['latency_ms_p50'] == '40.000' and values['stale_modalities'] == 'thermal'
    assert '4 sets dropped' in tracker.message
    assert {kv.key: kv.value for kv in statuses['sata: sync'].values}['timed_out'] == '2'


def test_an_inactive_node_reports_its_state():
    (status,) = diagnostics.build_statuses('sata', {'state': 'unconfigured'})
    assert status.name == 'sata: tracker' and status.message == 'node unconfigured'


class _Stat:
    """diagnostic_updater's DiagnosticStatusWrapper interface."""

    def __init__(self) -> None:
        self.values = {}

    def summary(self, level, message) -> None:
        self.level, self.message = level, message

    def add(self, key, value) -> None:
        self.values[key] = value


def test_diagnostic_updater_is_used_when_installed(participants, monkeypatch):
    made = []

    class Updater:
        """diagnostic_updater.Updater's interface (Humble and later)."""

        def __init__(self, node, period=1.0) -> None:
            self.period, self.tasks, self.hwid = period, [], ''
            made.append(self)

        def setHardwareID(self, hwid) -> None:  # noqa: N802 - diagnostic_updater's name
            self.hwid = hwid

        def add(self, name, function) -> None:
            self.tasks.append((name, function))

    fake = types.ModuleType('diagnostic_updater')
    fake.__spec__ = importlib.machinery.ModuleSpec('diagnostic_updater', None)
    fake.Updater = Updater
    monkeypatch.setitem(sys.modules, 'diagnostic_updater', fake)
    diag = diagnostics.Diagnostics(participants[0].node, 0.5, _snapshot)
    (updater,) = made
    assert (updater.period, updater.hwid) == (0.5, diagnostics.HARDWARE_ID)
    stat = updater.tasks[0][1](_Stat())
    assert stat.level == DiagnosticStatus.WARN and 'silent' in stat.message
    assert stat.values['tracker.live_targets'] == '2'
    diag.close()
