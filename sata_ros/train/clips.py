"""
Training clips from synthetic scenes: task and modality sampling, consistent augmentation.

Every draw is a function of (run seed, step), never of what was drawn before, so a resumed run
gets exactly the clips the uninterrupted run would have had, and so does another process of a
distributed run (the rank enters the seed). Scenes come from a sliding window over the
training seeds and are kept in a bounded cache (rendering one takes seconds).

Recorded data (`data.bags`: bags written by `sata synth` or `sata import`) takes the scenes'
place chunk by chunk (recorded.py); a clip's modality is then drawn among those its chunk has,
and objects the bag has no mask for (box-only datasets) are marked in `ClipTensors.has_mask`.

A clip is `clip_length` frames of one scene at a random stride, carrying RGB plus at most one
auxiliary modality, with the same flip applied to every modality and to the labels, and an
optional darkening of the RGB only (the other sensors do not depend on visible light). Clips
are turned into model inputs by the tracker's own `prepare_frame`, so training sees exactly
what inference sees.
"""

from collections import OrderedDict
import dataclasses
from typing import NamedTuple, Optional

import numpy as np
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.data.sequence import Frame, hold_thermal, keep_aux, ObjectTruth
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.preprocess import prepare_frame
from sata_ros.train.config import DataSection
from sata_ros.train.recorded import Chunk, load_chunk, plan_chunks
import torch
import torch.nn.functional as F

# Objects smaller than this (visible pixels) are not used as prompted targets: a 3-pixel
# sliver is not something a user would click on.
MIN_TARGET_PIXELS = 48


class Prompt(NamedTuple):
    """A training prompt in model-input pixels: SAM point coordinates (P, 2) and labels (P,)."""

    coords: np.ndarray
    labels: np.ndarray


@dataclasses.dataclass
class Clip:
    """
    A sampled training clip.

    Attributes:
        frames: the clip's frames (RGB plus the chosen auxiliary modality only).
        task: 'prompted' (SOT/VOS) or 'detected' (MOT/MOTS).
        modality: 'rgb' (RGB alone) or the auxiliary modality ('depth', 'thermal', 'events').
        target_ids: prompted targets (visible on the first frame); empty for 'detected'.
        prompts: one Prompt per target, on the first frame, in the frames' pixels.
        scene_seed: seed of the scene the clip comes from (recorded data: its chunk's index).

    """

    frames: list[Frame]
    task: str
    modality: str
    target_ids: list[int]
    prompts: list[Prompt]
    scene_seed: int


class ClipTensors(NamedTuple):
    """
    A clip as model inputs and labels (T frames, S = model input side).

    Attributes:
        rgb: (T, 3, S, S) float32 ImageNet-normalised RGB.
        aux: (T, 3, S, S) float32 encoded auxiliary modality, or None (RGB only).
        aux_group: (T,) int64 DeMoE groups of `aux`, or None.
        masks: (T, N, S, S) bool visible masks of the clip's N objects at model resolution
            (an object the data has no mask for: its box's rectangle, see has_mask).
        ids: (N,) int64 object ids (column order of `masks` and `boxes`).
        boxes: (T, N, 4) float32 visible boxes x1, y1, x2, y2 in model pixels (0 if absent).
        visible: (T, N) bool: the object is visible in the frame.
        prompt_rows: (K,) int64 columns of the prompted targets ('prompted' clips).
        point_coords: (K, P, 2) float32 prompt points in model pixels.
        point_labels: (K, P) int32 SAM labels (1 fg, 0 bg, 2/3 box corners, -1 padding).
        task: 'prompted' or 'detected'.
        modality: as Clip.modality.
        has_mask: (T, N) bool: `masks` is the object's true mask (False: box-only ground
            truth, trained from the box alone).

    """

    rgb: torch.Tensor
    aux: Optional[torch.Tensor]
    aux_group: Optional[torch.Tensor]
    masks: torch.Tensor
    ids: torch.Tensor
    boxes: torch.Tensor
    visible: torch.Tensor
    prompt_rows: torch.Tensor
    point_coords: torch.Tensor
    point_labels: torch.Tensor
    task: str
    modality: str
    has_mask: Optional[torch.Tensor] = None


class ClipSampler:
    """
    Draws clips for training steps and the fixed validation clips.

    Args:
        data: the data section of the training config.
        seed: the run seed.
        rank: process rank in a distributed run (different ranks draw different clips).

    """

    def __init__(self, data: DataSection, seed: int = 0, rank: int = 0) -> None:
        self.data = data
        self.seed = seed
        self.rank = rank
        self._cache: OrderedDict[int, list[Frame]] = OrderedDict()
        self.capacity = data.scene_window + 1  # the window plus the seed sliding in
        shortest = (data.clip_length - 1) * data.max_stride + 1
        # Recorded data: scene keys are indices into these chunks instead of scene seeds.
        self.chunks: Optional[list[Chunk]] = (
            plan_chunks(data.bags, data.num_frames, shortest) if data.bags else None)
        self.val_chunks: Optional[list[Chunk]] = (
            plan_chunks(data.val_bags, data.num_frames, shortest) if data.val_bags else None)
        names = [m for m, w in sorted(data.modality_weights.items()) if w > 0]
        weights = np.array([data.modality_weights[m] for m in names], float)
        self._modalities, self._weights = names, weights / weights.sum()

    # ------------------------------------------------------------------ scenes

    def scene_config(self, seed: int) -> SceneConfig:
        """Return the SceneConfig of scene `seed` (object counts drawn from the seed)."""
        d = self.data
        rng = np.random.default_rng([seed, 7])
        return SceneConfig(seed=seed, num_frames=d.num_frames, width=d.width, height=d.height,
                           num_objects=int(rng.integers(d.num_objects[0], d.num_objects[1] + 1)),
                           num_distractors=int(rng.integers(d.num_distractors[0],
                                                            d.num_distractors[1] + 1)))

    def scene(self, seed: int) -> list[Frame]:
        """
        Return scene `seed`'s frames (thermal held between its ticks), cached.

        With recorded data `seed` is a chunk index and the chunk's frames come back.
        """
        if seed in self._cache:
            self._cache.move_to_end(seed)
            return self._cache[seed]
        # The thermal camera runs slower; a synchronizer pairs each RGB frame with the latest
        # thermal image, so training does the same.
        if self.chunks is not None:
            frames = load_chunk(self.chunks[seed])
        else:
            frames = list(hold_thermal(generate_scene(self.scene_config(seed))))
        self._cache[seed] = frames
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return frames

    def window(self, step: int) -> list[int]:
        """Return the scene seeds (recorded data: chunk indices) in use at `step`."""
        start, stop = (0, len(self.chunks)) if self.chunks is not None else self.data.train_seeds
        count = stop - start
        first = step // self.data.window_step
        return [start + (first + i) % count for i in range(min(self.data.scene_window, count))]

    # ------------------------------------------------------------------ clips

    def sample(self, step: int, micro: int = 0) -> Clip:
        """Return the clip of optimiser step `step`, micro-batch `micro`."""
        rng = np.random.default_rng([self.seed, step, micro, self.rank])
        seed = int(rng.choice(self.window(step)))
        return self._draw(rng, seed, self.scene(seed))

    def validation(self, count: int) -> list[Clip]:
        """Return `count` fixed clips from the validation seeds (or `val_bags`' chunks)."""
        clips = []
        loaded: dict[int, list[Frame]] = {}
        for i in range(count):
            rng = np.random.default_rng([self.seed, 1_000_003, i])
            if self.val_chunks is not None:
                key = i % len(self.val_chunks)
                if key not in loaded:
                    loaded[key] = load_chunk(self.val_chunks[key])
                clips.append(self._draw(rng, key, loaded[key], augment=False))
            else:
                start, stop = self.data.val_seeds
                seed = start + i % (stop - start)
                clips.append(self._draw(rng, seed, self.scene(seed), augment=False))
        return clips

    def _modality(self, rng: np.random.Generator, frames: list[Frame], seed: int) -> str:
        """Draw the clip's modality among those of `modality_weights` the frames carry."""
        have = {'rgb': True, 'depth': any(f.depth is not None for f in frames),
                'thermal': any(f.thermal is not None for f in frames),
                'events': any(f.events is not None or f.event_image is not None
                              for f in frames)}
        names = [m for m in self._modalities if have[m]]
        if names == self._modalities:
            return str(rng.choice(names, p=self._weights))
        if not names:
            raise ValueError(f'scene or chunk {seed} carries none of the modalities of '
                             f'data.modality_weights {self._modalities}')
        weights = np.array([self._weights[self._modalities.index(m)] for m in names])
        return str(rng.choice(names, p=weights / weights.sum()))

    def _draw(self, rng: np.random.Generator, seed: int, frames: list[Frame],
              augment: bool = True) -> Clip:
        d = self.data
        task = 'prompted' if rng.random() < d.prompted_ratio else 'detected'
        modality = self._modality(rng, frames, seed)
        stride = int(rng.integers(1, d.max_stride + 1))
        span = (d.clip_length - 1) * stride
        for _ in range(20):
            start = int(rng.integers(0, len(frames) - span))
            picked = [frames[start + i * stride] for i in range(d.clip_length)]
            candidates = [o for o in picked[0].objects if _area(o) >= MIN_TARGET_PIXELS]
            if task == 'detected' or candidates:
                break
        else:
            task, candidates = 'detected', []
        picked = [keep_aux(f, modality) for f in picked]
        if augment and rng.random() < d.flip:
            picked = [flip_frame(f) for f in picked]
            candidates = [_flip_truth(o, picked[0].rgb.shape[1]) for o in candidates]
        if augment and rng.random() < d.dark:
            exposure = float(rng.uniform(*d.dark_exposure))
            picked = [darken(f, exposure, rng) for f in picked]
        target_ids, prompts = [], []
        if task == 'prompted':
            count = min(len(candidates), int(rng.integers(1, d.max_targets + 1)))
            for obj in rng.permutation(np.array(candidates, dtype=object))[:count]:
                target_ids.append(obj.target_id)
                prompts.append(self._prompt(obj, rng))
        return Clip(picked, task, modality, target_ids, prompts, seed)

    def _prompt(self, obj: ObjectTruth, rng: np.random.Generator) -> Prompt:
        """Return a jittered box (corners labelled 2, 3) or 1 to 3 clicks on the mask."""
        # Clicks need a mask to land on; a box-only object is always prompted by its box.
        if rng.random() < self.data.point_prompts and obj.mask is not None:
            ys, xs = np.nonzero(obj.mask)
            pick = rng.choice(len(xs), size=int(rng.integers(1, 4)), replace=False)
            coords = np.stack([xs[pick] + 0.5, ys[pick] + 0.5], axis=1)
            return Prompt(coords.astype(np.float32), np.ones(len(pick), np.int32))
        x, y, w, h = obj.box
        jitter = self.data.box_jitter * np.array([w, h, w, h]) * rng.uniform(-1, 1, 4)
        box = np.array([x, y, x + w, y + h]) + jitter
        return Prompt(box.reshape(2, 2).astype(np.float32), np.array([2, 3], np.int32))


def _area(obj: ObjectTruth) -> float:
    """Visible pixels of an object: its mask's, or its box's for box-only ground truth."""
    if not obj.visible:
        return 0.0
    return float(obj.mask.sum()) if obj.mask is not None else obj.box[2] * obj.box[3]


# ---------------------------------------------------------------------- augmentation


def _flip_truth(obj: ObjectTruth, width: int) -> ObjectTruth:
    x, y, w, h = obj.box
    box = (float(width - x - w), y, w, h) if w > 0 else obj.box
    full = obj.full_box
    if full is not None:
        full = (float(width - full[0] - full[2]), full[1], full[2], full[3])
    return dataclasses.replace(
        obj, box=box, full_box=full,
        mask=None if obj.mask is None else obj.mask[:, ::-1].copy(),
        full_mask=None if obj.full_mask is None else obj.full_mask[:, ::-1].copy())


def flip_frame(frame: Frame) -> Frame:
    """Mirror a frame left-right: every image, the events' x and the ground truth."""
    width = frame.rgb.shape[1]
    events = frame.events
    if events is not None:
        events = events.copy()
        events['x'] = width - 1 - events['x']

    def mirror(image: Optional[np.ndarray]) -> Optional[np.ndarray]:
        return None if image is None else image[:, ::-1].copy()

    return dataclasses.replace(
        frame, rgb=mirror(frame.rgb), depth=mirror(frame.depth), thermal=mirror(frame.thermal),
        event_image=mirror(frame.event_image), events=events,
        objects=[_flip_truth(o, width) for o in frame.objects])


def darken(frame: Frame, exposure: float, rng: np.random.Generator) -> Frame:
    """
    Darken the RGB image as a lower exposure would (other modalities unchanged).

    Scales linear light by `exposure` (pixel values by exposure ** (1 / 2.2), the sRGB-like
    gamma of the scenes) and adds read noise of 2 grey levels, as the scene renderer does.
    """
    value = frame.rgb.astype(np.float64) * exposure ** (1 / 2.2)
    value += rng.normal(0.0, 2.0, value.shape)
    return dataclasses.replace(frame, rgb=np.clip(np.round(value), 0, 255).astype(np.uint8))


# ---------------------------------------------------------------------- tensors


def to_tensors(clip: Clip, image_size: int,
               tracker_config: Optional[TrackerConfig] = None) -> ClipTensors:
    """
    Turn a clip into model inputs and labels at the model's square input size.

    Args:
        clip: from ClipSampler.
        image_size: the model's input side S, pixels.
        tracker_config: encodings of the auxiliary modalities (the tracker's defaults).

    """
    config = tracker_config or TrackerConfig()
    inputs = [prepare_frame(f, image_size, config) for f in clip.frames]
    rgb = torch.cat([i.rgb for i in inputs])
    aux = None
    aux_group = None
    if all(i.aux is not None for i in inputs):
        aux = torch.cat([i.aux for i in inputs])
        aux_group = torch.cat([i.aux_group for i in inputs])
    height, width = clip.frames[0].rgb.shape[:2]
    ids = sorted({o.target_id for f in clip.frames for o in f.objects})
    column = {tid: n for n, tid in enumerate(ids)}
    t, n = len(clip.frames), len(ids)
    masks = np.zeros((t, n, height, width), bool)
    boxes = np.zeros((t, n, 4), np.float32)
    visible = np.zeros((t, n), bool)
    has_mask = np.ones((t, n), bool)
    for k, frame in enumerate(clip.frames):
        for obj in frame.objects:
            col = column[obj.target_id]
            if not obj.visible:
                continue
            x, y, w, h = obj.box
            boxes[k, col] = (x, y, x + w, y + h)
            visible[k, col] = True
            if obj.mask is not None:
                masks[k, col] = obj.mask
            else:
                # Box-only truth: the rectangle stands in where a mask is needed (instance
                # order, teacher-forced prompts); the mask losses use the box itself.
                masks[k, col, int(np.floor(y)):int(np.ceil(y + h)),
                      int(np.floor(x)):int(np.ceil(x + w))] = True
                has_mask[k, col] = False
    scale = np.array([image_size / width, image_size / height] * 2, np.float32)
    masks_t = torch.from_numpy(masks).reshape(t * n, 1, height, width).float()
    masks_t = F.interpolate(masks_t, size=(image_size, image_size), mode='nearest')
    masks_t = masks_t.reshape(t, n, image_size, image_size) > 0.5
    rows = [column[tid] for tid in clip.target_ids]
    points = max((len(p.coords) for p in clip.prompts), default=0)
    coords = np.zeros((len(rows), points, 2), np.float32)
    labels = np.full((len(rows), points), -1, np.int32)
    for k, prompt in enumerate(clip.prompts):
        coords[k, :len(prompt.coords)] = prompt.coords * scale[:2]
        labels[k, :len(prompt.labels)] = prompt.labels
    return ClipTensors(rgb, aux, aux_group, masks_t, torch.tensor(ids, dtype=torch.long),
                       torch.from_numpy(boxes * scale), torch.from_numpy(visible),
                       torch.tensor(rows, dtype=torch.long), torch.from_numpy(coords),
                       torch.from_numpy(labels), clip.task, clip.modality,
                       torch.from_numpy(has_mask))


__all__ = ['Clip', 'ClipSampler', 'ClipTensors', 'MIN_TARGET_PIXELS', 'Prompt', 'darken',
           'flip_frame', 'to_tensors']
