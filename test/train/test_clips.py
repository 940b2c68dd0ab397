"""Training clips: determinism per step, bounded scene cache, consistent augmentation."""

import dataclasses

import numpy as np
import pytest

from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.train.clips import ClipSampler, darken, flip_frame, MIN_TARGET_PIXELS, to_tensors
from sata_ros.train.config import DataSection

DATA = DataSection(train_seeds=(10, 16), val_seeds=(20, 22), num_frames=12, width=96,
                   height=72, scene_window=2, window_step=3, clip_length=3, max_stride=2)


def _same_clip(a, b):
    assert (a.task, a.modality, a.target_ids, a.scene_seed) == (
        b.task, b.modality, b.target_ids, b.scene_seed)
    for fa, fb in zip(a.frames, b.frames):
        assert np.array_equal(fa.rgb, fb.rgb) and fa.index == fb.index
    for pa, pb in zip(a.prompts, b.prompts):
        assert np.array_equal(pa.coords, pb.coords)


def test_a_step_always_draws_the_same_clip_whatever_came_before():
    first = ClipSampler(DATA, seed=3)
    fresh = ClipSampler(DATA, seed=3)
    for step in range(6):
        first.sample(step)
    _same_clip(first.sample(7), fresh.sample(7))
    other_rank = ClipSampler(DATA, seed=3, rank=1)
    assert other_rank.sample(7).frames[0].rgb.tobytes() != fresh.sample(7).frames[0].rgb.tobytes()


def test_scene_cache_is_bounded_and_the_window_slides():
    sampler = ClipSampler(DATA, seed=0)
    assert sampler.window(0) == [10, 11] and sampler.window(3) == [11, 12]
    assert sampler.window(15) == [15, 10]  # wraps around the training seeds
    for step in range(0, 30, 3):
        sampler.sample(step)
        assert len(sampler._cache) <= sampler.capacity == DATA.scene_window + 1


def test_clips_mix_tasks_and_modalities_and_prompt_visible_targets():
    sampler = ClipSampler(DATA, seed=1)
    clips = [sampler.sample(s) for s in range(40)]
    assert {c.task for c in clips} == {'prompted', 'detected'}
    assert {c.modality for c in clips} == {'rgb', 'depth', 'thermal', 'events'}
    for clip in clips:
        assert len(clip.frames) == DATA.clip_length
        aux = {m for m in ('depth', 'thermal', 'events') if getattr(clip.frames[0], m) is not None}
        assert aux == ({clip.modality} - {'rgb'})
        if clip.task == 'prompted':
            assert 1 <= len(clip.target_ids) <= DATA.max_targets
            truth = {o.target_id: o for o in clip.frames[0].objects}
            assert all(truth[t].mask.sum() >= MIN_TARGET_PIXELS for t in clip.target_ids)


def test_validation_clips_are_fixed_and_from_validation_seeds():
    a, b = ClipSampler(DATA, seed=1).validation(3), ClipSampler(DATA, seed=1).validation(3)
    for ca, cb in zip(a, b):
        _same_clip(ca, cb)
        assert 20 <= ca.scene_seed < 22


def test_flip_mirrors_every_modality_and_the_labels_consistently():
    frame = next(iter(generate_scene(SceneConfig(seed=2, num_frames=2, width=64, height=48))))
    flipped = flip_frame(frame)
    assert np.array_equal(flipped.rgb, frame.rgb[:, ::-1])
    assert np.array_equal(flipped.depth, frame.depth[:, ::-1])
    assert np.array_equal(flipped.events['x'], 63 - frame.events['x'])
    assert np.array_equal(flipped.events['y'], frame.events['y'])
    for before, after in zip(frame.objects, flipped.objects):
        assert np.array_equal(after.mask, before.mask[:, ::-1])
        if before.visible:
            ys, xs = np.nonzero(after.mask)
            assert after.box == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                 ys.max() - ys.min() + 1)
    assert np.array_equal(flip_frame(flipped).rgb, frame.rgb)


def test_darken_touches_rgb_only():
    frame = next(iter(generate_scene(SceneConfig(seed=2, num_frames=1, width=64, height=48))))
    dark = darken(frame, 0.01, np.random.default_rng(0))
    assert dark.rgb.mean() < 0.25 * frame.rgb.mean()
    assert dark.depth is frame.depth and dark.events is frame.events


def test_tensors_have_the_documented_shapes_and_scaled_labels():
    sampler = ClipSampler(dataclasses.replace(DATA, prompted_ratio=1.0, point_prompts=0.0,
                                              box_jitter=0.0, flip=0.0, dark=0.0), seed=4)
    clip = sampler.sample(0)
    batch = to_tensors(clip, 128)
    t, n = len(clip.frames), len(batch.ids)
    assert batch.rgb.shape == (t, 3, 128, 128) and batch.masks.shape == (t, n, 128, 128)
    assert batch.boxes.shape == (t, n, 4) and batch.visible.shape == (t, n)
    assert (batch.aux is None) == (clip.modality == 'rgb')
    col = int(batch.prompt_rows[0])
    x, y, w, h = next(o.box for o in clip.frames[0].objects
                      if o.target_id == clip.target_ids[0])
    expected = np.array([x * 128 / 96, y * 128 / 72, (x + w) * 128 / 96, (y + h) * 128 / 72])
    assert np.allclose(batch.point_coords[0].reshape(-1).numpy(), expected, atol=1e-4)
    assert np.allclose(batch.boxes[0, col].numpy(), expected, atol=1e-4)
    assert batch.point_labels[0].tolist() == [2, 3]


def test_bad_data_settings_are_rejected():
    with pytest.raises(ValueError, match='num_frames must exceed'):
        from sata_ros.train.config import TrainConfig
        TrainConfig(data=dataclasses.replace(DATA, num_frames=4, clip_length=3, max_stride=2))
