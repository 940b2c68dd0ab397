"""
Frame and sequence types shared by the scene generator, the dataset readers and the bag I/O.

Every producer of multi-modal data (synthetic scenes, benchmark readers, bag readers) yields the
same `Sequence` of `Frame`s, so the tracker, training and evaluation read one type whatever the
source. Arrays are numpy, never torch: this is the bottom layer.

Conventions: pixel coordinates have x to the right and y down, origin at the top-left corner of
the top-left pixel; boxes are (x, y, w, h) in pixels of the RGB image; stamps are integer
nanoseconds; target ids are positive integers.
"""

import bisect
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Optional

import numpy as np

# Structured dtype of event arrays: pixel x, y; time t in microseconds since the bag's first
# stamp (see Sequence.start_ns); polarity p, 1 = ON (brighter), 0 = OFF (darker).
EVENT_DTYPE = np.dtype([('x', '<u2'), ('y', '<u2'), ('t', '<i8'), ('p', 'u1')])


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics and identity of one camera stream."""

    width: int  # pixels
    height: int  # pixels
    fx: float  # focal lengths and principal point, pixels
    fy: float
    cx: float
    cy: float
    frame_id: str  # optical frame of the images (z forward, x right, y down)

    @staticmethod
    def default(width: int, height: int, frame_id: str, hfov_deg: float = 60.0) -> 'Camera':
        """Return a distortion-free camera with horizontal field of view `hfov_deg`."""
        f = 0.5 * width / np.tan(np.deg2rad(hfov_deg) / 2.0)
        return Camera(width, height, float(f), float(f), (width - 1) / 2.0, (height - 1) / 2.0,
                      frame_id)


@dataclass
class ObjectTruth:
    """
    Ground truth of one object in one frame.

    Attributes:
        target_id: positive id, constant over the sequence.
        label: class name.
        box: (x, y, w, h) float pixels, tight around the *visible* part; w = h = 0 when the object
            is not visible in this frame.
        visibility: visible fraction of the object's full extent, in [0, 1] (1 = unoccluded and
            inside the image); NaN when the source does not say.
        full_box: (x, y, w, h) of the whole object, occluded and out-of-image parts included,
            or None when unknown.
        mask: H x W bool visible mask in RGB pixels, or None when the source has no masks.
        full_mask: H x W bool mask of the whole object (amodal, clipped to the image), or None.

    """

    target_id: int
    label: str
    box: tuple[float, float, float, float]
    visibility: float = float('nan')
    full_box: Optional[tuple[float, float, float, float]] = None
    mask: Optional[np.ndarray] = None
    full_mask: Optional[np.ndarray] = None

    @property
    def visible(self) -> bool:
        """Whether any part of the object is visible in this frame."""
        return self.box[2] > 0 and self.box[3] > 0


@dataclass
class Frame:
    """
    One synchronized multi-modal frame and its ground truth.

    Attributes:
        index: 0-based frame index in the sequence.
        stamp_ns: RGB capture time, integer nanoseconds; every modality registered to this frame
            carries it.
        rgb: H x W x 3 uint8, RGB order.
        depth: H x W registered to `rgb`: uint16 millimetres (0 = no return) or float32 metres
            (NaN = no return, +-inf = out of range); None when absent.
        thermal: Ht x Wt uint16 raw radiometric counts or uint8 grey; None when the thermal camera
            produced no image for this frame (it may run at a lower rate).
        thermal_stamp_ns: capture time of `thermal` (its own clock tick), or None.
        events: EVENT_DTYPE array of the events in (previous stamp, stamp_ns], sorted by t, on the
            RGB pixel grid; None when there is no event camera.
        event_image: H x W x 3 uint8 pre-rendered event frame (datasets that ship only those).
        objects: ground truth per object; empty when the source has none.

    """

    index: int
    stamp_ns: int
    rgb: np.ndarray
    depth: Optional[np.ndarray] = None
    thermal: Optional[np.ndarray] = None
    thermal_stamp_ns: Optional[int] = None
    events: Optional[np.ndarray] = None
    event_image: Optional[np.ndarray] = None
    objects: list[ObjectTruth] = field(default_factory=list)

    def find(self, target_id: int) -> Optional[ObjectTruth]:
        """Return the ground truth of object `target_id` on this frame, or None."""
        return next((o for o in self.objects if o.target_id == target_id), None)

    def instance_mask(self) -> np.ndarray:
        """
        Return the H x W uint16 label image of visible masks: pixel = target_id, 0 = none.

        Objects without a mask contribute nothing. Where masks overlap (they should not for
        visible masks), the later object wins.
        """
        out = np.zeros(self.rgb.shape[:2], np.uint16)
        for obj in self.objects:
            if obj.mask is not None:
                out[obj.mask] = obj.target_id
        return out


@dataclass
class Sequence:
    """
    A multi-modal sequence: camera models plus a lazily produced stream of frames.

    Attributes:
        name: sequence name (dataset folder name, or synth_<seed>).
        rgb_camera: camera of `Frame.rgb`; depth and events are registered to it.
        thermal_camera: camera of `Frame.thermal`, or None without thermal.
        modalities: which of 'rgb', 'depth', 'thermal', 'events', 'event_image' frames carry.
        num_frames: number of frames `frames()` yields.
        start_ns: stamp of frame 0; event times count microseconds from it.
        frame_period_ns: nominal RGB frame period.
        metadata: free-form provenance (generator settings, dataset path), JSON-serialisable.
        frames: callable returning a fresh iterator over the frames (so a sequence can be read
            twice without holding every frame in memory).

    """

    name: str
    rgb_camera: Camera
    thermal_camera: Optional[Camera]
    modalities: tuple[str, ...]
    num_frames: int
    start_ns: int
    frame_period_ns: int
    metadata: dict
    frames: 'FrameSource'

    def __iter__(self) -> Iterator[Frame]:
        """Iterate over the frames from the start."""
        return iter(self.frames())


class FrameSource:
    """Protocol of `Sequence.frames`: calling it returns a new iterator over frames."""

    def __call__(self) -> Iterator[Frame]:  # pragma: no cover - protocol
        """Return a fresh iterator over the sequence's frames."""
        raise NotImplementedError


class DataError(ValueError):
    """Bad input data: the message names the file (and line) and what was expected."""


def hold_thermal(frames: Iterable[Frame]) -> Iterator[Frame]:
    """
    Pair every frame with the latest thermal image, as an RGB-anchored synchronizer does.

    A thermal camera slower than the RGB one leaves `thermal` None on the frames between its
    ticks; this yields copies of those frames carrying the previous thermal image and its
    stamp (frames before the first thermal image stay without one).
    """
    thermal, stamp = None, None
    for frame in frames:
        if frame.thermal is not None:
            thermal, stamp = frame.thermal, frame.thermal_stamp_ns
            yield frame
        else:
            yield replace(frame, thermal=thermal, thermal_stamp_ns=stamp)


def pair_thermal(frames: Iterable[Frame], tolerance_ns: int) -> list[Frame]:
    """
    Pair every frame with the thermal image nearest to its RGB stamp, as the node does.

    This is the node's default RGB-anchored rule (sata_ros/ros/sync.py, with reuse): the
    partner is the thermal image with the smallest |thermal stamp - RGB stamp| <= tolerance,
    the earlier one on a tie, and may be later than the RGB frame (a thermal image that arrives
    just after it). `hold_thermal` instead holds the latest earlier image however old.

    Args:
        frames: a sequence's frames in order; a frame's `thermal` is the image captured at
            `thermal_stamp_ns` (None on frames between thermal ticks).
        tolerance_ns: largest |thermal stamp - RGB stamp|, ns.

    Returns:
        Copies of the frames carrying their partner (or no thermal image when none is within
        the tolerance).

    """
    frames = list(frames)
    images: dict[int, np.ndarray] = {}
    for frame in frames:
        if frame.thermal is not None:
            stamp = frame.thermal_stamp_ns if frame.thermal_stamp_ns is not None \
                else frame.stamp_ns
            images.setdefault(stamp, frame.thermal)
    stamps = sorted(images)
    out = []
    for frame in frames:
        best = None
        at = bisect.bisect_left(stamps, frame.stamp_ns)
        for stamp in stamps[max(at - 1, 0):at + 1]:  # the neighbours; the earlier one first
            gap = abs(stamp - frame.stamp_ns)
            if gap <= tolerance_ns and (best is None or gap < abs(best - frame.stamp_ns)):
                best = stamp
        out.append(replace(frame, thermal=None if best is None else images[best],
                           thermal_stamp_ns=best))
    return out


AUX_INPUTS = ('depth', 'thermal', 'events')


def keep_aux(frame: Frame, aux: Optional[str]) -> Frame:
    """
    Return a copy of `frame` with RGB plus the auxiliary input `aux` only.

    `aux` is 'depth', 'thermal' or 'events', or None (or 'rgb') for RGB alone; every other
    auxiliary input becomes None. Pre-rendered event images count as 'events' (datasets such
    as VisEvent ship only those).
    """
    drop = {name: None for name in AUX_INPUTS if name != aux}
    if 'thermal' in drop:
        drop['thermal_stamp_ns'] = None
    if aux != 'events':
        drop['event_image'] = None
    return replace(frame, **drop)
