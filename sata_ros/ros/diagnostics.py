"""
Diagnostics of the tracker node on /diagnostics (diagnostic_msgs/DiagnosticArray).

`build_statuses` turns a snapshot of the node's counters into DiagnosticStatus entries:
one per input (rate, age, stamp anomalies, conversion errors, stale => WARN), one for the
synchronizer (sets emitted, frames dropped, waits that timed out), one for the tracker (frames,
live targets, sets dropped before the worker, errors, latency percentiles, device memory).
`Diagnostics` publishes them periodically: through `diagnostic_updater` where it is importable
(every ROS 2 install), otherwise with its own timer and publisher, the same entries either way.
"""

import resource
from typing import Callable, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sata_ros.ros.optional import load_optional
import torch

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
HARDWARE_ID = 'sata_ros'
_STAMP_PROBLEMS = ('zero', 'future', 'backwards', 'duplicate', 'invalid')


def _kv(values: dict) -> list:
    return [KeyValue(key=str(k), value=_text(v)) for k, v in values.items()]


def _text(value: object) -> str:
    if value is None:
        return 'never'
    if isinstance(value, float):
        return f'{value:.3f}'
    if isinstance(value, (list, tuple)):
        return ', '.join(str(v) for v in value) or 'none'
    return str(value)


def device_memory(device: str) -> dict:
    """Return memory figures of the device the model runs on (bytes)."""
    if device.startswith('cuda') and torch.cuda.is_available():
        dev = torch.device(device)
        return {'gpu_memory_allocated_bytes': torch.cuda.memory_allocated(dev),
                'gpu_memory_reserved_bytes': torch.cuda.memory_reserved(dev)}
    # ru_maxrss is in KiB on Linux.
    return {'process_max_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _input_status(prefix: str, name: str, stats: dict, errors: dict) -> DiagnosticStatus:
    level, notes = OK, []
    if stats.get('stale'):
        level = WARN
        if stats.get('age_s') is None:
            notes.append('no message received yet')
        else:
            notes.append(f'silent for {stats["age_s"]:.1f} s: tracking continues without it'
                         if name != 'rgb' else f'silent for {stats["age_s"]:.1f} s: nothing '
                         'is tracked without rgb')
    anomalies = {k: stats.get(k, 0) for k in _STAMP_PROBLEMS if stats.get(k, 0)}
    if anomalies:
        notes.append('rejected stamps: ' + ', '.join(f'{k} {v}' for k, v in anomalies.items()))
    if errors.get('count'):
        level = WARN if level == OK else level
        notes.append(f'{errors["count"]} conversion errors, last: {errors.get("last", "")}')
    values = {'rate_hz': stats.get('rate_hz'), 'age_s': stats.get('age_s'),
              'conversion_errors': errors.get('count', 0)}
    values.update((k, v) for k, v in stats.items() if k not in values)
    return DiagnosticStatus(level=level, name=f'{prefix}: input {name}',
                            message='; '.join(notes) or 'ok', hardware_id=HARDWARE_ID,
                            values=_kv(values))


def build_statuses(prefix: str, snapshot: dict) -> list:
    """
    Build the DiagnosticStatus list of one snapshot.

    Args:
        prefix: status name prefix (the node's fully qualified name).
        snapshot: {'sync': Synchronizer.stats(), 'slot': LatestSlot.stats(), 'worker':
            Worker.stats(), 'pipeline': TrackingPipeline.stats(), 'conversion': {input:
            {'count', 'last'}}, 'device': str, 'memory': dict, 'state': str, 'warmup_s':
            the last activation's warm-up in seconds or None}; the first four may be missing
            while the node is not active.

    """
    out = []
    sync = snapshot.get('sync')
    conversion = snapshot.get('conversion', {})
    if sync:
        for name, stats in sync.items():
            if name != 'sync':
                out.append(_input_status(prefix, name, stats, conversion.get(name, {})))
        info_errors = conversion.get('rgb_info', {})
        if info_errors.get('count'):
            out.append(_input_status(prefix, 'rgb_info', {}, info_errors))
        rgb = sync.get('rgb', {})
        counts = dict(sync['sync'], timed_out=rgb.get('timed_out', 0),
                      dropped_required=rgb.get('dropped_required', 0),
                      dropped_overflow=rgb.get('dropped_overflow', 0))
        level = WARN if rgb.get('dropped_required') else OK
        out.append(DiagnosticStatus(
            level=level, name=f'{prefix}: sync', hardware_id=HARDWARE_ID,
            message=f'{counts["emitted"]} sets, {counts["dropped"]} rgb frames dropped',
            values=_kv(counts)))
    pipeline = snapshot.get('pipeline')
    values = {'state': snapshot.get('state', 'unknown'), 'device': snapshot.get('device', ''),
              'warmup_s': snapshot.get('warmup_s')}
    level, message = OK, f'node {values["state"]}'
    if pipeline is not None:
        slot, worker = snapshot.get('slot', {}), snapshot.get('worker', {})
        latency = pipeline.get('latency_ms', {})
        values.update({
            'frames': pipeline['frames'], 'live_targets': pipeline['live_targets'],
            'sets_dropped_before_worker': slot.get('dropped', 0),
            'worker_errors': worker.get('errors', 0),
            'latency_ms_p50': latency.get('p50'), 'latency_ms_p95': latency.get('p95'),
            'model_ms_p50': pipeline.get('model_ms', {}).get('p50'),
            'node_overhead_ms_p50': pipeline.get('overhead_ms', {}).get('p50'),
            'aux_modality': pipeline.get('aux_modality') or 'none',
            'missing_modalities': pipeline.get('missing', ()),
            'stale_modalities': pipeline.get('stale', ())})
        values.update((f'count_{k}', v) for k, v in pipeline.get('counts', {}).items())
        message = (f'{pipeline["frames"]} frames, {pipeline["live_targets"]} live targets, '
                   f'{slot.get("dropped", 0)} sets dropped (worker busy)')
        if worker.get('errors'):
            level = WARN
            message += f', {worker["errors"]} frames failed'
    values.update(snapshot.get('memory', {}))
    out.append(DiagnosticStatus(level=level, name=f'{prefix}: tracker', message=message,
                                hardware_id=HARDWARE_ID, values=_kv(values)))
    return out


class Diagnostics:
    """
    Publish `build_statuses(prefix, snapshot())` every `period_s` on /diagnostics.

    Uses diagnostic_updater.Updater when importable (unless `use_updater` is False), else a
    timer of its own and a DiagnosticArray publisher. Create one per node (an Updater declares
    its period parameter once): it reports whatever state the node is in.
    """

    def __init__(self, node: Node, period_s: float, snapshot: Callable[[], dict],
                 callback_group: Optional[CallbackGroup] = None,
                 use_updater: Optional[bool] = None) -> None:
        self._node = node
        self._snapshot = snapshot
        self._prefix = node.get_fully_qualified_name().lstrip('/')
        updater_mod = load_optional('diagnostic_updater') if use_updater is not False else None
        self._updater = None
        self._timer = None
        self._pub = None
        if updater_mod is not None:
            try:
                self._updater = updater_mod.Updater(node, period=period_s)
            except TypeError:  # releases before the period argument: drive it ourselves
                self._updater = updater_mod.Updater(node)
                self._timer = node.create_timer(period_s, self._updater.update,
                                                callback_group=callback_group)
            self._updater.setHardwareID(HARDWARE_ID)
            self._updater.add('status', self._fill)
        else:
            self._pub = node.create_publisher(DiagnosticArray, '/diagnostics',
                                              QoSProfile(depth=10))
            self._timer = node.create_timer(period_s, self.publish_now,
                                            callback_group=callback_group)

    def statuses(self) -> list:
        """Return the current statuses."""
        return build_statuses(self._prefix, self._snapshot())

    def publish_now(self) -> None:
        """Publish one DiagnosticArray (the fallback path)."""
        if self._pub is None:
            self._updater.force_update()
            return
        msg = DiagnosticArray(status=self.statuses())
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(msg)

    def _fill(self, stat: object) -> object:
        """Fill diagnostic_updater's one task with the worst status and every value."""
        statuses = self.statuses()
        worst = max(statuses, key=lambda s: int.from_bytes(s.level, 'little'))
        stat.summary(worst.level, '; '.join(f'{s.name}: {s.message}' for s in statuses))
        for status in statuses:
            for kv in status.values:
                stat.add(f'{status.name.split(": ", 1)[-1]}.{kv.key}', kv.value)
        return stat

    def close(self) -> None:
        """Stop publishing."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None
        if self._pub is not None:
            self._node.destroy_publisher(self._pub)
            self._pub = None
        if self._updater is not None:
            timer = getattr(self._updater, 'timer', None)
            if timer is not None:
                self._node.destroy_timer(timer)
            self._updater = None
