"""
Turn a tracker `FrameResult` into the node's output messages, all stamped with the RGB header.

- `detections_2d`: vision_msgs/Detection2DArray of the instances visible in the frame;
  `Detection2D.id` = target id as a decimal string, `results[0].hypothesis.class_id` = label,
  `score` = confidence in [0, 1], bbox centre and size in RGB pixels.
- `instance_mask`: sensor_msgs/Image 16UC1, pixel = target id, 0 = background.
- `label_info`: vision_msgs/LabelInfo mapping each mask value (target id) to its label.
- `detections_3d`: vision_msgs/Detection3DArray from a depth image registered to RGB and the
  RGB camera intrinsics: the median valid depth of each mask, the box centre back-projected at
  that depth, the box extent scaled to metres at that depth (x, y) and the 10-90 % spread of
  the mask's depths (z), in the RGB optical frame.
- `TargetBook`: per-target bookkeeping (first / last seen, frames tracked) for
  sata_ros/TargetState messages (`~/targets` and `~/list_targets`).
- `debug_overlay`: the RGB image with each visible mask tinted and its box drawn.
"""

import copy
from dataclasses import dataclass
from typing import Optional

from builtin_interfaces.msg import Time
import numpy as np
from sata_ros.data.sequence import Camera
from sata_ros.msg import TargetState, TargetStateArray
from sata_ros.ros.conversions import array_to_image
from sata_ros.tracking.results import FrameResult, InstanceResult
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray, Detection3D,
                             Detection3DArray, LabelInfo, ObjectHypothesisWithPose, VisionClass)

_STATES = {'tracked': TargetState.STATE_TRACKED, 'occluded': TargetState.STATE_OCCLUDED,
           'lost': TargetState.STATE_LOST}
_ORIGINS = {'prompted': TargetState.ORIGIN_PROMPTED, 'detected': TargetState.ORIGIN_DETECTED}


def bbox_2d(box: tuple) -> BoundingBox2D:
    """Return the vision_msgs box (centre, size in pixels) of an (x1, y1, x2, y2) box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    out = BoundingBox2D(size_x=x2 - x1, size_y=y2 - y1)
    out.center.position.x, out.center.position.y = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return out


def _hypothesis(inst: InstanceResult) -> ObjectHypothesisWithPose:
    hyp = ObjectHypothesisWithPose()
    hyp.hypothesis.class_id = inst.label
    hyp.hypothesis.score = float(inst.score)
    return hyp


def detections_2d(result: FrameResult, header: Header) -> Detection2DArray:
    """Return the Detection2DArray of the instances visible in `result`."""
    out = Detection2DArray(header=copy.deepcopy(header))
    for inst in result.instances:
        if inst.visible:
            out.detections.append(Detection2D(header=copy.deepcopy(header),
                                              results=[_hypothesis(inst)],
                                              bbox=bbox_2d(inst.box), id=str(inst.target_id)))
    return out


def instance_mask(result: FrameResult, header: Header) -> Image:
    """Return the 16UC1 label image of `result` (pixel = target id, 0 = background)."""
    return array_to_image(result.instance_mask(), '16UC1', header)


def label_info(labels: tuple, header: Header) -> LabelInfo:
    """Return the LabelInfo of ((target id, label), ...): 0 = background, id -> label."""
    out = LabelInfo(header=copy.deepcopy(header), threshold=0.0)
    out.class_map = [VisionClass(class_id=0, class_name='background')] + [
        VisionClass(class_id=int(target_id), class_name=label) for target_id, label in labels]
    return out


def detections_3d(result: FrameResult, header: Header, depth_m: np.ndarray,
                  camera: Camera, min_m: float, max_m: float) -> Detection3DArray:
    """
    Return 3D detections of the visible instances that have valid depth under their mask.

    Args:
        result: the frame's tracker output.
        header: the RGB header (the optical frame the 3D boxes are in).
        depth_m: H x W float32 metres registered to RGB, 0 or NaN where invalid.
        camera: intrinsics of the RGB camera (pixel centres at integer coordinates, as in
            sensor_msgs/CameraInfo).
        min_m: depths below this are ignored, metres.
        max_m: depths above this are ignored, metres.

    """
    out = Detection3DArray(header=copy.deepcopy(header))
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth_m) & (depth_m >= min_m) & (depth_m <= max_m)
    for inst in result.instances:
        if not inst.visible:
            continue
        values = depth_m[inst.mask & valid]
        if values.size == 0:
            continue
        z = float(np.median(values))
        x1, y1, x2, y2 = inst.box
        # Box coordinates put pixel centres at +0.5; CameraInfo's K puts them at integers.
        u, v = (x1 + x2) / 2.0 - 0.5, (y1 + y2) / 2.0 - 0.5
        det = Detection3D(header=copy.deepcopy(header), results=[_hypothesis(inst)],
                          id=str(inst.target_id))
        pose = det.bbox.center
        pose.position.x = (u - camera.cx) * z / camera.fx
        pose.position.y = (v - camera.cy) * z / camera.fy
        pose.position.z = z
        pose.orientation.w = 1.0
        det.bbox.size.x = (x2 - x1) * z / camera.fx
        det.bbox.size.y = (y2 - y1) * z / camera.fy
        low, high = np.percentile(values, [10.0, 90.0])
        det.bbox.size.z = float(high - low)
        out.detections.append(det)
    return out


def ns_to_time(stamp_ns: int) -> Time:
    """Return a builtin_interfaces/Time of integer nanoseconds."""
    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


@dataclass
class _Record:
    inst: InstanceResult
    first_seen_ns: int
    last_seen_ns: int
    frames_tracked: int


class TargetBook:
    """
    Per-target history for TargetState messages; updated by the worker thread only.

    first_seen is the stamp of the frame a target was added on (or first detected), last_seen
    the stamp of the last frame it was tracked in; frames_tracked counts those frames.
    """

    def __init__(self) -> None:
        self._records: dict[int, _Record] = {}

    def update(self, result: FrameResult) -> None:
        """Record a tracked frame; instances no longer live are forgotten."""
        live = {inst.target_id for inst in result.instances}
        for target_id in list(self._records):
            if target_id not in live:
                del self._records[target_id]
        for inst in result.instances:
            self._note(inst, result.stamp_ns)

    def added(self, inst: InstanceResult, stamp_ns: int) -> None:
        """Record a new or corrected target on the frame stamped `stamp_ns`."""
        self._note(inst, stamp_ns)

    def remove(self, target_id: int) -> None:
        """Forget one target."""
        self._records.pop(target_id, None)

    def clear(self) -> None:
        """Forget every target."""
        self._records.clear()

    def _note(self, inst: InstanceResult, stamp_ns: int) -> None:
        rec = self._records.get(inst.target_id)
        if rec is None:
            rec = self._records[inst.target_id] = _Record(inst, stamp_ns, stamp_ns, 0)
        if inst.visible:
            rec.last_seen_ns = stamp_ns
            rec.frames_tracked += 1
            rec.inst = inst
        else:
            # Keep the last seen box; take the new state, score and miss count.
            rec.inst = InstanceResult(inst.target_id, inst.label, rec.inst.box, rec.inst.mask,
                                      inst.score, inst.state, inst.origin, inst.frames_missing)

    def states(self, header: Optional[Header] = None) -> TargetStateArray:
        """Return every recorded target's state, ascending id."""
        out = TargetStateArray(header=Header() if header is None else copy.deepcopy(header))
        for target_id in sorted(self._records):
            rec = self._records[target_id]
            inst = rec.inst
            out.targets.append(TargetState(
                id=target_id, label=inst.label, state=_STATES[inst.state],
                origin=_ORIGINS[inst.origin], score=float(inst.score), bbox=bbox_2d(inst.box),
                first_seen=ns_to_time(rec.first_seen_ns), last_seen=ns_to_time(rec.last_seen_ns),
                frames_tracked=rec.frames_tracked, frames_since_seen=inst.frames_missing))
        return out


def _colour(target_id: int) -> np.ndarray:
    """Return a stable, distinct RGB colour for an id (golden-ratio hue steps)."""
    hue = (target_id * 0.618033988749895) % 1.0
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    rgb = 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (55 + 200 * rgb).astype(np.float32)


def debug_overlay(rgb: np.ndarray, result: FrameResult, alpha: float = 0.5) -> np.ndarray:
    """Return an H x W x 3 uint8 copy of `rgb` with visible masks tinted and boxes outlined."""
    out = rgb.astype(np.float32)
    height, width = rgb.shape[:2]
    for inst in result.instances:
        if not inst.visible:
            continue
        colour = _colour(inst.target_id)
        out[inst.mask] = (1.0 - alpha) * out[inst.mask] + alpha * colour
        x1, y1, x2, y2 = (int(round(v)) for v in inst.box)
        x1, x2 = max(0, min(x1, width - 1)), max(0, min(x2 - 1, width - 1))
        y1, y2 = max(0, min(y1, height - 1)), max(0, min(y2 - 1, height - 1))
        out[y1, x1:x2 + 1] = colour
        out[y2, x1:x2 + 1] = colour
        out[y1:y2 + 1, x1] = colour
        out[y1:y2 + 1, x2] = colour
    return np.clip(out, 0, 255).astype(np.uint8)
