"""
Record the tracker node's outputs by stamp: detections (boxes, ids) and the instance mask.

The live evaluation (ros/live_replay.py) matches outputs to ground truth by header.stamp,
never by arrival order (metrics-and-datasets.md section 3.4). A frame's output is complete when
both its `detections` and its `instance_mask` have arrived; the wall time of the detections'
arrival is kept for the end-to-end latency. At most `capacity` frames are kept (the oldest
stamp goes first, counted in `evicted`).
"""

from dataclasses import dataclass
import threading
import time
from typing import Optional

import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sata_ros.ros.conversions import header_stamp_ns, image_to_array
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray


@dataclass
class FrameOutput:
    """
    The node's output for one stamp.

    Attributes:
        received_s: time.monotonic() when the detections arrived (None before).
        boxes: target id -> (x1, y1, x2, y2) float pixels of each detection.
        labels: H x W uint16 instance mask (pixel = target id, 0 = none), or None before.

    """

    received_s: Optional[float] = None
    boxes: Optional[dict[int, tuple[float, float, float, float]]] = None
    labels: Optional[np.ndarray] = None

    @property
    def complete(self) -> bool:
        """Whether both the detections and the instance mask arrived."""
        return self.boxes is not None and self.labels is not None


def detection_boxes(msg: Detection2DArray) -> dict[int, tuple[float, float, float, float]]:
    """Return target id -> (x1, y1, x2, y2) of a Detection2DArray (ids are decimal strings)."""
    out = {}
    for det in msg.detections:
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        w, h = det.bbox.size_x, det.bbox.size_y
        out[int(det.id)] = (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    return out


class OutputRecorder:
    """
    Subscribe to the node's detections and instance_mask and keep them by stamp.

    Args:
        node: the evaluator's node.
        namespace: the tracker node's namespace ('' = none).
        capacity: frames kept at most.

    """

    def __init__(self, node: Node, namespace: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f'capacity must be >= 1, got {capacity}')
        self.capacity = capacity
        self.evicted = 0
        self._frames: dict[int, FrameOutput] = {}
        self._cond = threading.Condition()
        prefix = '/' + namespace.strip('/') if namespace.strip('/') else ''
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=ReliabilityPolicy.RELIABLE)
        self.topics = {'detections': f'{prefix}/detections',
                       'instance_mask': f'{prefix}/instance_mask'}
        self._subs = [
            node.create_subscription(Detection2DArray, self.topics['detections'],
                                     self._on_detections, qos),
            node.create_subscription(Image, self.topics['instance_mask'], self._on_mask, qos)]

    def _entry(self, stamp_ns: int) -> FrameOutput:
        entry = self._frames.get(stamp_ns)
        if entry is None:
            entry = self._frames[stamp_ns] = FrameOutput()
            while len(self._frames) > self.capacity:
                del self._frames[min(self._frames)]
                self.evicted += 1
        return entry

    def _on_detections(self, msg: Detection2DArray) -> None:
        now = time.monotonic()
        boxes = detection_boxes(msg)
        with self._cond:
            entry = self._entry(header_stamp_ns(msg.header))
            entry.received_s, entry.boxes = now, boxes
            self._cond.notify_all()

    def _on_mask(self, msg: Image) -> None:
        labels = image_to_array(msg)
        with self._cond:
            self._entry(header_stamp_ns(msg.header)).labels = labels
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget every recorded output (before a new pass over the same stamps)."""
        with self._cond:
            self._frames.clear()

    def get(self, stamp_ns: int) -> Optional[FrameOutput]:
        """Return the output of `stamp_ns` (complete or not), or None."""
        with self._cond:
            return self._frames.get(stamp_ns)

    def wait(self, stamp_ns: int, timeout_s: float) -> bool:
        """Wait until the output of `stamp_ns` is complete; return whether it is."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                entry = self._frames.get(stamp_ns)
                if entry is not None and entry.complete:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)

    def stamps(self) -> list[int]:
        """Stamps with a complete output, in order."""
        with self._cond:
            return sorted(s for s, e in self._frames.items() if e.complete)
