"""
What the worker thread does with one synchronized set, and the stream operations of services.

`TrackingPipeline` owns the tracker's `Stream` and is called from the worker thread only:
`handle` builds a `Frame` from a `SyncedSet`, tracks it and publishes every output stamped with
the RGB header; `add_target`, `remove_target`, `reset` and `list_targets` are what the
services hand to the worker. Inputs that do not fit the frame (a depth image of another size,
an event image of another size) are dropped from that frame, counted and reported, and the
frame is tracked on the rest.
"""

import collections
from dataclasses import dataclass
import threading
import time
from typing import Any, Callable, Optional

import numpy as np
from sata_ros.data.modality_encoding import depth_to_metres
from sata_ros.data.sequence import Camera, Frame
from sata_ros.ros import outputs
from sata_ros.ros.params import NodeSettings
from sata_ros.ros.sync import SyncedSet
from sata_ros.tracking.prompts import Prompt
from sata_ros.tracking.results import FrameResult, InstanceResult
from sata_ros.tracking.stream import Stream
from std_msgs.msg import Header

# Prompt modalities whose pixels are the RGB pixels (registered to RGB).
_RGB_GRID = ('rgb', 'depth', 'events', 'event_image')


@dataclass(frozen=True)
class RgbInput:
    """The RGB part of a synchronized set: its header, H x W x 3 uint8 RGB, camera (or None)."""

    header: Header
    rgb: np.ndarray
    camera: Optional[Camera]


class TrackingPipeline:
    """
    Track synchronized sets and publish the results (worker thread only).

    Args:
        stream: the tracker stream (not thread-safe: only the worker calls this object).
        settings: the node's validated settings.
        publish: publish(output name, message); names 'detections', 'instance_mask',
            'label_info', 'detections_3d', 'targets', 'debug_image'.
        wants_debug: whether someone subscribes to the debug image now.
        clock_ns: the node's clock (ROS time, sim time aware), integer ns.
        on_problem: on_problem(input name, text) for inputs dropped from a frame.

    """

    def __init__(self, stream: Stream, settings: NodeSettings,
                 publish: Callable[[str, Any], None], wants_debug: Callable[[], bool],
                 clock_ns: Callable[[], int], on_problem: Callable[[str, str], None]) -> None:
        self.stream = stream
        self.settings = settings
        self._publish = publish
        self._wants_debug = wants_debug
        self._clock_ns = clock_ns
        self._on_problem = on_problem
        self.book = outputs.TargetBook()
        self._header = Header()
        self._frames = 0
        self._thermal_size: Optional[tuple[int, int]] = None
        self._size: Optional[tuple[int, int]] = None  # (height, width) of the last frame
        self._labels: Optional[tuple] = None  # (id, label) pairs of the last label_info
        self._lock = threading.Lock()  # guards the statistics read by the diagnostics timer
        self._latency_ms: collections.deque = collections.deque(maxlen=200)
        self._model_ms: collections.deque = collections.deque(maxlen=200)
        self._overhead_ms: collections.deque = collections.deque(maxlen=200)
        self._live = 0
        self._last: dict = {'aux_modality': None, 'missing': (), 'stale': ()}
        self._counts = collections.Counter()

    # ------------------------------------------------------------------ frames

    def handle(self, synced: SyncedSet) -> None:
        """Track one synchronized set and publish its outputs."""
        start = time.perf_counter()
        rgb_in: RgbInput = synced.rgb
        frame = self._frame(synced, rgb_in)
        try:
            result = self.stream.track(frame)
        except ValueError as exc:
            self._count('frames_rejected')
            self._on_problem('rgb', f'frame {synced.stamp_ns} ns not tracked: {exc}')
            return
        self._frames += 1
        self.book.update(result)
        self._header = rgb_in.header
        self._size = rgb_in.rgb.shape[:2]
        self._publish_result(result, frame, rgb_in)
        done = time.perf_counter()
        with self._lock:
            model_ms = result.timing_ms.get('total', 0.0)
            self._model_ms.append(model_ms)
            self._overhead_ms.append(1000.0 * (done - start) - model_ms)
            now = self._clock_ns()
            if now > 0:
                self._latency_ms.append((now - synced.stamp_ns) / 1e6)
            self._live = len(result.instances)
            self._last = {'aux_modality': result.aux_modality, 'missing': synced.missing,
                          'stale': synced.stale}

    def _frame(self, synced: SyncedSet, rgb_in: RgbInput) -> Frame:
        height, width = rgb_in.rgb.shape[:2]
        extra: dict = {}
        for name, (stamp_ns, payload) in synced.others.items():
            if name == 'thermal':
                extra['thermal'], extra['thermal_stamp_ns'] = payload, stamp_ns
                self._thermal_size = payload.shape[:2]
            elif payload.shape[:2] != (height, width):
                self._count(f'{name}_size_mismatch')
                self._on_problem(name, f'{name} image is {payload.shape[1]} x '
                                 f'{payload.shape[0]} but rgb is {width} x {height}; it must be '
                                 'registered to rgb (same size): dropped from this frame')
            else:
                extra[name] = payload
        if synced.events is not None and 'events' not in synced.missing:
            events = synced.events
            inside = (events['x'] < width) & (events['y'] < height)
            if not inside.all():
                self._count('events_outside_rgb', int((~inside).sum()))
                events = events[inside]
            extra['events'] = events
        return Frame(self._frames, synced.stamp_ns, rgb_in.rgb, **extra)

    def _publish_result(self, result: FrameResult, frame: Frame, rgb_in: RgbInput) -> None:
        header = rgb_in.header
        self._publish('detections', outputs.detections_2d(result, header))
        self._publish('instance_mask', outputs.instance_mask(result, header))
        labels = tuple((inst.target_id, inst.label) for inst in result.instances)
        if labels != self._labels:  # latched (transient local): only when it changes
            self._labels = labels
            self._publish('label_info', outputs.label_info(labels, header))
        if frame.depth is not None and rgb_in.camera is not None:
            camera = rgb_in.camera
            if (camera.height, camera.width) == frame.depth.shape:
                metres, valid = depth_to_metres(frame.depth)
                metres = np.where(valid, metres, np.float32(np.nan))
                cfg = self.settings.tracker
                self._publish('detections_3d', outputs.detections_3d(
                    result, header, metres, camera, cfg.depth_min_m, cfg.depth_max_m))
            else:
                self._count('camera_info_size_mismatch')
                self._on_problem('rgb_info', f'camera_info is {camera.width} x {camera.height} '
                                 f'but the depth image is {frame.depth.shape[1]} x '
                                 f'{frame.depth.shape[0]}: no 3D detections')
        self._publish('targets', self.book.states(header))
        if self._wants_debug():
            self._publish('debug_image', outputs.array_to_image(
                outputs.debug_overlay(rgb_in.rgb, result), 'rgb8', header))

    # ------------------------------------------------------------------ service operations

    def add_target(self, prompt: Prompt, target_id: Optional[int], label: Optional[str],
                   stamp_ns: Optional[int], modality: str) -> InstanceResult:
        """
        Add (or correct) a target; coordinates in `modality`'s pixels.

        Raises:
            ValueError: the prompt, id, stamp or modality is not acceptable (stream unchanged).

        """
        prompt = self._to_rgb_pixels(prompt, modality)
        inst = self.stream.add_target(prompt, target_id, label, stamp_ns)
        held = self.stream.held_stamps
        self.book.added(inst, stamp_ns or (held[-1] if held else 0))
        with self._lock:
            self._live = len(self.stream.target_ids)
        return inst

    def remove_target(self, target_id: int) -> None:
        """Stop tracking one instance (ValueError for an unknown id)."""
        self.stream.remove_target(target_id)
        self.book.remove(target_id)
        with self._lock:
            self._live = len(self.stream.target_ids)

    def reset(self) -> None:
        """Forget every target and held frame (ids are not reused)."""
        self.stream.reset()
        self.book.clear()
        with self._lock:
            self._live = 0

    def list_targets(self) -> tuple[Header, list]:
        """Return the latest RGB header and every live target's TargetState."""
        return self._header, list(self.book.states(self._header).targets)

    def target_ids(self) -> list[int]:
        """Ids of the live targets."""
        return self.stream.target_ids

    def _to_rgb_pixels(self, prompt: Prompt, modality: str) -> Prompt:
        if modality in _RGB_GRID:
            return prompt
        if modality != 'thermal':
            raise ValueError(f'unknown prompt modality {modality!r}; expected rgb (or empty), '
                             'depth, thermal or events')
        if self._thermal_size is None or self._size is None:
            raise ValueError('prompt modality is thermal but no thermal image has been tracked '
                             'yet; give the prompt in rgb pixels')
        (th, tw), (height, width) = self._thermal_size, self._size
        sx, sy = width / tw, height / th
        if prompt.mask is not None:
            mask = np.asarray(prompt.mask)
            if mask.shape != (th, tw):
                raise ValueError(f'thermal mask must be {th} x {tw} (the thermal image size), '
                                 f'got shape {mask.shape}')
            rows = np.minimum((np.arange(height) / sy).astype(int), th - 1)
            cols = np.minimum((np.arange(width) / sx).astype(int), tw - 1)
            return Prompt(mask=mask[rows][:, cols])
        box = None if prompt.box is None else (prompt.box[0] * sx, prompt.box[1] * sy,
                                               prompt.box[2] * sx, prompt.box[3] * sy)
        points = None if prompt.points is None else np.asarray(prompt.points) * [sx, sy]
        return Prompt(box=box, points=points, point_labels=prompt.point_labels)

    # ------------------------------------------------------------------ statistics

    def _count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[key] += amount

    def stats(self) -> dict:
        """Return frames, live targets, latency percentiles (ms) and problem counters."""
        with self._lock:
            return {
                'frames': self._frames, 'live_targets': self._live,
                'latency_ms': _percentiles(self._latency_ms),
                'model_ms': _percentiles(self._model_ms),
                'overhead_ms': _percentiles(self._overhead_ms),
                'counts': dict(self._counts), **self._last}


def _percentiles(values: collections.deque) -> dict:
    if not values:
        return {}
    arr = np.asarray(values, np.float64)
    p50, p95 = np.percentile(arr, [50.0, 95.0])
    return {'p50': float(p50), 'p95': float(p95), 'last': float(arr[-1])}
