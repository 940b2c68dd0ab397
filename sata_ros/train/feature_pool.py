"""
A bounded pool of encoded frames: the data of the decoder stage (model.stage: decoder).

When only the SAM 2.1 prompt encoder and mask decoder train, the image encoder's output does
not change, so a frame encoded once serves many steps and a step costs a decode, not an
encode. The pool keeps the encoded frames of the last `data.feature_pool // clip_length`
clips and encodes one new clip every `data.pool_refill` steps (a third of it is encoded
before the first step), dropping the oldest: memory stays bounded however long the run.

Clip k is `ClipSampler.sample(k)`, so which clips the pool holds at step s is a function of s
alone: a run resumed at step s encodes those clips again and has exactly the pool the
uninterrupted run had.
"""

from collections import deque
from typing import Callable, NamedTuple, Optional

from sata_ros.model.sam_steps import FrameFeatures
from sata_ros.train.clip_loss import slice_features
from sata_ros.train.clips import Clip, ClipSampler, ClipTensors, MIN_TARGET_PIXELS
from sata_ros.train.config import DataSection
import torch
from torch import Tensor

# Encodes a clip's T frames (inputs on the model's device) into batched FrameFeatures.
Encoder = Callable[[ClipTensors], FrameFeatures]


class PooledFrame(NamedTuple):
    """
    One encoded frame and the objects to decode on it (S = model input side).

    Attributes:
        features: the frame's features (batch 1, no gradient).
        masks: (N, S, S) bool visible masks of its N objects (box-only truth: the box's
            rectangle, see has_mask).
        boxes: (N, 4) float32 boxes x1, y1, x2, y2, model pixels.
        has_mask: (N,) bool: `masks` is the object's true mask.

    """

    features: FrameFeatures
    masks: Tensor
    boxes: Tensor
    has_mask: Tensor


def pooled_frames(clip: ClipTensors, features: FrameFeatures,
                  max_objects: int) -> list[PooledFrame]:
    """
    Cut an encoded clip into frames with objects to decode.

    Args:
        clip: the clip's inputs and labels (clips.to_tensors).
        features: its T frames' features (batched, as sam_steps.frame_features returns).
        max_objects: objects kept per frame, the largest first.

    Returns:
        One PooledFrame per frame with at least one visible object of MIN_TARGET_PIXELS or
        more (at model resolution); frames without one are left out.

    """
    area = clip.masks.flatten(2).sum(-1)  # (T, N)
    # The positional encodings depend on the feature sizes alone: one copy serves every frame
    # (they are 5 times the size of the features themselves at SAM 2.1's channel widths).
    pos = [p[:, :1].detach().clone() for p in features.vision_pos]
    out = []
    for t in range(clip.rgb.shape[0]):
        usable = clip.visible[t] & (area[t] >= MIN_TARGET_PIXELS)
        rows = torch.nonzero(usable)[:, 0]
        if len(rows) == 0:
            continue
        rows = rows[torch.argsort(area[t, rows], descending=True, stable=True)][:max_objects]
        has_mask = (clip.has_mask[t, rows] if clip.has_mask is not None
                    else torch.ones(len(rows), dtype=torch.bool, device=rows.device))
        # Clones, not views: a kept frame must not hold its whole clip's storage alive.
        feats = [f.detach().clone() for f in slice_features(features, t).vision_feats]
        # (Indexing by `rows` already copies the labels.)
        out.append(PooledFrame(FrameFeatures(feats, pos, list(features.feat_sizes)),
                               clip.masks[t, rows], clip.boxes[t, rows], has_mask))
    return out


class FeaturePool:
    """
    The encoded frames of the last clips (see the module docstring).

    Args:
        sampler: draws clip k as sampler.sample(k).
        data: the data section (feature_pool, pool_refill, clip_length, max_targets).
        encode: runs the frozen image encoder on a clip (no gradient, eval mode).
        prepare: turns a sampled clip into tensors on the training device.

    """

    def __init__(self, sampler: ClipSampler, data: DataSection, encode: Encoder,
                 prepare: Callable[[Clip], ClipTensors]) -> None:
        self.sampler = sampler
        self.data = data
        self.encode = encode
        self.prepare = prepare
        self.clip_capacity = max(1, data.feature_pool // data.clip_length)
        self.warm = max(1, self.clip_capacity // 3)
        self._clips: deque[tuple[int, list[PooledFrame]]] = deque()
        self._pos: Optional[list[Tensor]] = None  # positional encodings every frame shares

    def clips_by(self, step: int) -> int:
        """Return how many clips have been encoded by the start of step `step` (0-based)."""
        return self.warm + step // self.data.pool_refill

    def advance(self, step: int) -> None:
        """Bring the pool to what it holds at the start of `step` (encoding new clips)."""
        stop = self.clips_by(step)
        first = max(0, stop - self.clip_capacity)
        while self._clips and self._clips[0][0] < first:
            self._clips.popleft()
        start = max(first, self._clips[-1][0] + 1 if self._clips else first)
        for index in range(start, stop):
            self._clips.append((index, self.encode_clip(self.sampler.sample(index))))

    def encode_clip(self, clip: Clip) -> list[PooledFrame]:
        """Encode a clip into pooled frames (not added to the pool: validation uses it too)."""
        batch = self.prepare(clip)
        frames = pooled_frames(batch, self.encode(batch), self.data.max_targets)
        return [self._share_pos(frame) for frame in frames]

    def _share_pos(self, frame: PooledFrame) -> PooledFrame:
        """Point the frame's positional encodings at the pool's one copy of equal ones."""
        pos = frame.features.vision_pos
        held = self._pos
        if held is None or not all(a.shape == b.shape and torch.equal(a, b)
                                   for a, b in zip(held, pos)):
            self._pos = held = pos
        return frame._replace(features=frame.features._replace(vision_pos=held))

    def nbytes(self) -> int:
        """Return the bytes of tensor storage the pool holds (shared storage counted once)."""
        seen: dict[int, int] = {}
        for frame in self.frames():
            for tensor in (*frame.features.vision_feats, *frame.features.vision_pos,
                           frame.masks, frame.boxes, frame.has_mask):
                storage = tensor.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
        return sum(seen.values())

    @property
    def clip_indices(self) -> list[int]:
        """Return the indices of the clips held, oldest first."""
        return [index for index, _ in self._clips]

    def frames(self) -> list[PooledFrame]:
        """Return every frame held, oldest first."""
        return [frame for _, frames in self._clips for frame in frames]

    def __len__(self) -> int:
        """Frames held (at most data.feature_pool)."""
        return sum(len(frames) for _, frames in self._clips)

    def draw(self) -> PooledFrame:
        """Return a frame drawn uniformly with torch's generator (seeded per step)."""
        frames = self.frames()
        if not frames:
            raise ValueError('the feature pool holds no frame with an object of at least '
                             f'{MIN_TARGET_PIXELS} visible pixels: check data.train_seeds or '
                             'data.bags')
        return frames[int(torch.randint(len(frames), ()))]


__all__ = ['Encoder', 'FeaturePool', 'PooledFrame', 'pooled_frames']
