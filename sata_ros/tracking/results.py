"""What the tracker returns per frame: one record per instance, the same for every mode."""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

STATES = ('tracked', 'occluded', 'lost')
ORIGINS = ('prompted', 'detected')


@dataclass
class InstanceResult:
    """
    One target or detected instance in one frame.

    Attributes:
        target_id: positive id, unique within the stream, never reused.
        label: class name (the prompt's label, or the detector's class).
        box: (x1, y1, x2, y2) float pixels of the input image, tight around `mask`; all zero
            when the instance is not visible.
        mask: H x W bool mask in input-image pixels (all False when not visible).
        score: confidence in [0, 1]: presence probability times predicted mask IoU (prompted),
            detection score (detected); 0 when not visible.
        state: 'tracked' (seen in this frame), 'occluded' (unseen for fewer than lost_after
            frames) or 'lost'.
        origin: 'prompted' or 'detected'.
        frames_missing: consecutive frames the instance has not been seen (0 when tracked).

    """

    target_id: int
    label: str
    box: tuple[float, float, float, float]
    mask: np.ndarray
    score: float
    state: str
    origin: str
    frames_missing: int = 0

    @property
    def visible(self) -> bool:
        """Whether the instance was seen in this frame."""
        return self.state == 'tracked'


@dataclass
class FrameResult:
    """
    Output of `Stream.track` for one frame.

    Attributes:
        frame_index: 0-based index of the frame in the stream (counts tracked frames).
        stamp_ns: the frame's stamp, integer nanoseconds.
        image_size: (height, width) of the input image, pixels.
        instances: every live instance, ascending id.
        modalities: the inputs this frame carried ('rgb' plus auxiliaries).
        aux_modality: the auxiliary modality the model used, or None (RGB only).
        missing_modalities: auxiliaries seen earlier in the stream but absent from this frame.
        dropped_ids: instances dropped in this frame (lost longer than drop_after).
        timing_ms: wall time per stage in milliseconds ('preprocess', 'encode', 'prompted',
            'detected', 'total').

    """

    frame_index: int
    stamp_ns: int
    image_size: tuple[int, int]
    instances: list[InstanceResult] = field(default_factory=list)
    modalities: tuple[str, ...] = ('rgb',)
    aux_modality: Optional[str] = None
    missing_modalities: tuple[str, ...] = ()
    dropped_ids: list[int] = field(default_factory=list)
    timing_ms: dict[str, float] = field(default_factory=dict)

    def get(self, target_id: int) -> Optional[InstanceResult]:
        """Return the instance with this id, or None."""
        for inst in self.instances:
            if inst.target_id == target_id:
                return inst
        return None

    def instance_mask(self) -> np.ndarray:
        """Return the H x W uint16 label image: pixel = target id, 0 = background."""
        out = np.zeros(self.image_size, np.uint16)
        # Higher-scoring instances are painted last so that they win overlapping pixels.
        for inst in sorted(self.instances, key=lambda i: i.score):
            if inst.visible:
                out[inst.mask] = inst.target_id
        return out
