"""Helpers for tests of the tracker node: a spun TrackerNode, synthetic input messages."""

from typing import Any, Optional

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from ros_helpers import spin_in_thread, wait_for
from sata_ros.ros.node import TrackerNode
from sata_ros.tracking.tracker import Tracker
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header
import torch

HEIGHT, WIDTH = 96, 128
FRAME_ID = 'camera_color_optical_frame'
RED_BOX = (10.0, 30.0, 35.0, 60.0)
_TRACKERS: dict = {}


def cached_tracker(settings: Any) -> Tracker:
    """
    Return one untrained sata_nano per process whose targets are always visible.

    Building the model takes seconds; the node only opens streams on it, so tests share it.
    The presence head's bias is set as test/tracking/tracking_helpers.py does.
    """
    tracker = _TRACKERS.get(settings.variant)
    if tracker is None:
        torch.manual_seed(0)
        tracker = Tracker.from_variant(settings.variant, config=settings.tracker,
                                       runtime=settings.runtime)
        head = tracker.model.sam.sam_mask_decoder.pred_obj_score_head.layers[-1]
        with torch.no_grad():
            head.weight.zero_()
            head.bias.fill_(10.0)
        _TRACKERS[settings.variant] = tracker
    return tracker


class NodeRunner:
    """A TrackerNode in its own context, spun by a multi-threaded executor on a thread."""

    def __init__(self, name: str = 'sata_tracker', params: Optional[dict] = None,
                 factory: Any = cached_tracker, namespace: str = '') -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        overrides = [Parameter(k, value=v) for k, v in (params or {}).items()]
        self.node = TrackerNode(name, tracker_factory=factory, context=self.context,
                                parameter_overrides=overrides, namespace=namespace)
        self._executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self._executor.add_node(self.node)
        self._thread = spin_in_thread(self._executor, self.context)

    def close(self) -> None:
        """Shut the node down (lifecycle shutdown), stop spinning, destroy it."""
        primary = ('unconfigured', 'inactive', 'active', 'finalized')
        wait_for(lambda: self.node.lifecycle_state in primary, 30.0)  # a transition may run
        if self.node.lifecycle_state != 'finalized':
            self.node.trigger_shutdown()
        self.context.try_shutdown()
        self._thread.join(timeout=10.0)
        self._executor.shutdown()
        self.node.destroy_node()


def stamp_header(stamp_ns: int, frame_id: str = FRAME_ID) -> Header:
    """Return a Header with this stamp (ns) and frame."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = stamp_ns // 10**9, stamp_ns % 10**9
    return header


def image_msg(arr: np.ndarray, encoding: str, stamp_ns: int) -> Image:
    """Return a sensor_msgs/Image of `arr` (little-endian, unpadded)."""
    arr = np.ascontiguousarray(arr)
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    msg = Image(header=stamp_header(stamp_ns), height=arr.shape[0], width=arr.shape[1],
                encoding=encoding, is_bigendian=0, step=arr.shape[1] * channels * arr.itemsize)
    msg.data = arr.tobytes()
    return msg


def rgb_msg(index: int, stamp_ns: int) -> Image:
    """Return frame `index` of a grey scene with a red square moving right, rgb8."""
    rgb = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    x = 10 + 2 * index
    rgb[30:60, x:x + 25] = (200, 60, 60)
    return image_msg(rgb, 'rgb8', stamp_ns)


def depth_msg(stamp_ns: int, millimetres: int = 2000) -> Image:
    """Return a flat 16UC1 depth image (mm) of the RGB size."""
    return image_msg(np.full((HEIGHT, WIDTH), millimetres, np.uint16), '16UC1', stamp_ns)


def thermal_msg(stamp_ns: int) -> Image:
    """Return a half-size mono16 thermal image (raw counts, a warm square)."""
    counts = np.full((HEIGHT // 2, WIDTH // 2), 29315, np.uint16)
    counts[15:30, 5:18] = 31000
    return image_msg(counts, 'mono16', stamp_ns)


def camera_info_msg(stamp_ns: int) -> CameraInfo:
    """Return the CameraInfo of the RGB camera (fx = fy = 100 px, centred)."""
    msg = CameraInfo(header=stamp_header(stamp_ns), height=HEIGHT, width=WIDTH,
                     distortion_model='plumb_bob')
    msg.k = [100.0, 0.0, (WIDTH - 1) / 2.0, 0.0, 100.0, (HEIGHT - 1) / 2.0, 0.0, 0.0, 1.0]
    return msg


def events_msg(stamp_ns: int, count: int = 50, span_us: int = 20_000) -> PointCloud2:
    """Return an event cloud stamped `stamp_ns` with events in the `span_us` before it."""
    rng = np.random.default_rng(stamp_ns % 1000)
    dtype = np.dtype([('x', '<u2'), ('y', '<u2'), ('t', '<i4'), ('p', 'u1')])
    cloud = np.zeros(count, dtype)
    cloud['x'] = rng.integers(0, WIDTH, count)
    cloud['y'] = rng.integers(0, HEIGHT, count)
    cloud['t'] = np.sort(rng.integers(-span_us, 0, count))
    cloud['p'] = rng.integers(0, 2, count)
    fields = [PointField(name='x', offset=0, datatype=PointField.UINT16, count=1),
              PointField(name='y', offset=2, datatype=PointField.UINT16, count=1),
              PointField(name='t', offset=4, datatype=PointField.INT32, count=1),
              PointField(name='p', offset=8, datatype=PointField.UINT8, count=1)]
    msg = PointCloud2(header=stamp_header(stamp_ns), height=1, width=count, fields=fields,
                      is_bigendian=False, point_step=9, row_step=9 * count, is_dense=True)
    msg.data = cloud.tobytes()
    return msg


def stamp_ns_of(header: Header) -> int:
    """Return a header's stamp in ns."""
    return header.stamp.sec * 10**9 + header.stamp.nanosec
