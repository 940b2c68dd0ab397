"""
The decoder stage: a bounded, reproducible pool of encoded frames; a decoder-only loss.

The loss trains only the prompt encoder and mask decoder, from boxes and from jittered masks.
"""

import csv
import dataclasses

import pytest
from sata_ros.model import sam_steps
from sata_ros.train.clip_loss import slice_features
from sata_ros.train.clips import ClipSampler, MIN_TARGET_PIXELS, to_tensors
from sata_ros.train.config import (DataSection, LossSection, ModelSection, OptimSection,
                                   RunSection, TrainConfig)
from sata_ros.train.decoder_loss import DecoderLoss, jitter_boxes, TERMS
from sata_ros.train.feature_pool import FeaturePool, pooled_frames
from sata_ros.train.trainer import build_model, set_trainable, Trainer
import torch

DECODER = ('sam.sam_mask_decoder.', 'sam.sam_prompt_encoder.')
DATA = DataSection(train_seeds=(70, 73), val_seeds=(80, 81), num_frames=10, width=96,
                   height=72, num_objects=(2, 3), num_distractors=(0, 0), scene_window=2,
                   window_step=2, clip_length=2, max_stride=1, max_targets=2, flip=0.0,
                   dark=0.0, modality_weights={'rgb': 1.0, 'thermal': 1.0},
                   feature_pool=6, pool_refill=1)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_model(TrainConfig(model=ModelSection(
        overrides={'freeze_trunk': False, 'dense_prompts': True}, stage='decoder')))


def _encode(model):
    def encode(batch):
        model.eval()
        with torch.no_grad():
            return sam_steps.frame_features(model.sam, model.encode(batch.rgb, batch.aux,
                                                                    batch.aux_group))
    return encode


def _pool(model, data=DATA):
    return FeaturePool(ClipSampler(data, seed=3), data, _encode(model),
                       lambda clip: to_tensors(clip, model.image_size))


def test_pooled_frames_keep_large_visible_objects_largest_first(model):
    clip = to_tensors(ClipSampler(DATA, seed=3).sample(0), model.image_size)
    features = _encode(model)(clip)
    frames = pooled_frames(clip, features, max_objects=1)
    assert 1 <= len(frames) <= clip.rgb.shape[0]
    area = clip.masks.flatten(2).sum(-1)
    for frame in frames:
        t = next(t for t in range(clip.rgb.shape[0])
                 if torch.equal(frame.features.vision_feats[-1],
                                slice_features(features, t).vision_feats[-1]))
        assert frame.masks.shape == (1, model.image_size, model.image_size)
        assert int(frame.masks.sum()) == int(area[t][clip.visible[t]].max())
        assert int(frame.masks.sum()) >= MIN_TARGET_PIXELS
        # A copy: the pooled frame does not keep the clip's batched features alive.
        for kept in (*frame.features.vision_feats, *frame.features.vision_pos):
            assert kept.untyped_storage().nbytes() == kept.nbytes


def test_pool_holds_the_last_clips_and_never_more_than_its_capacity(model):
    pool = _pool(model)
    assert pool.clip_capacity == 3 and pool.warm == 1
    for step in range(8):
        pool.advance(step)
        encoded = pool.clips_by(step)
        assert encoded == 1 + step
        assert pool.clip_indices == list(range(max(0, encoded - 3), encoded))
        assert len(pool) <= DATA.feature_pool
    assert len(pool) > 0
    # The memory held: each frame's own features and labels, and one positional encoding
    # for all of them (no view keeps a whole clip's batch alive).
    frames = pool.frames()
    pos = frames[0].features.vision_pos
    assert all(f.features.vision_pos is pos for f in frames)
    own = sum(t.nbytes for f in frames
              for t in (*f.features.vision_feats, f.masks, f.boxes, f.has_mask))
    assert pool.nbytes() == own + sum(p.nbytes for p in pos)


def test_a_resumed_pool_is_the_uninterrupted_one(model):
    stepped = _pool(model)
    for step in range(6):
        stepped.advance(step)
    fresh = _pool(model)
    fresh.advance(5)
    assert fresh.clip_indices == stepped.clip_indices
    assert len(fresh) == len(stepped)
    for a, b in zip(fresh.frames(), stepped.frames()):
        assert torch.equal(a.masks, b.masks) and torch.equal(a.boxes, b.boxes)
        pairs = zip(a.features.vision_feats, b.features.vision_feats)
        assert all(torch.equal(x, y) for x, y in pairs)


def test_an_empty_pool_says_what_is_missing(model):
    with pytest.raises(ValueError, match=f'no frame with an object of at least '
                                         f'{MIN_TARGET_PIXELS} visible pixels'):
        _pool(model).draw()


def test_jitter_boxes_stays_within_the_fraction_of_the_box():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 40.0], [0.0, 0.0, 8.0, 100.0]])
    size = torch.tensor([[40.0, 20.0, 40.0, 20.0], [8.0, 100.0, 8.0, 100.0]])
    torch.manual_seed(0)
    moved = jitter_boxes(boxes, 0.1)
    assert bool(((moved - boxes).abs() <= 0.1 * size + 1e-5).all())
    assert not torch.equal(moved, boxes)
    assert torch.equal(jitter_boxes(boxes, 0.0), boxes)


def _loss(model, frame, mask_prompts):
    data = dataclasses.replace(DATA, mask_prompts=mask_prompts)
    set_trainable(model, 'decoder')
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(5)
    out = DecoderLoss(model, LossSection(), data)(frame)
    out.loss.backward()
    got = {n for n, p in model.named_parameters()
           if p.grad is not None and bool(p.grad.abs().sum() > 0)}
    return out, got


def test_decoder_loss_trains_only_the_prompt_encoder_and_mask_decoder(model):
    pool = _pool(model)
    pool.advance(0)
    frame = pool.frames()[0]
    boxes_only, got = _loss(model, frame, mask_prompts=0.0)
    assert set(boxes_only.parts) == set(TERMS)  # no presence term: every object is visible
    assert got and all(name.startswith(DECODER) for name in got)
    assert any(n.startswith('sam.sam_mask_decoder.transformer.') for n in got)
    assert any(n.startswith('sam.sam_prompt_encoder.mask_downscaling.') for n in got)
    both, _ = _loss(model, frame, mask_prompts=1.0)
    # Same seed, same box decode: the mask-prompted decode adds its own terms.
    assert float(both.loss.detach()) > float(boxes_only.loss.detach()) > 0
    assert float(both.parts['dice']) > float(boxes_only.parts['dice'])


def _train_config(out_dir, steps=6):
    data = dataclasses.replace(DATA, modality_weights={'rgb': 1.0}, mask_prompts=0.5)
    return TrainConfig(
        model=ModelSection(overrides={'freeze_trunk': False, 'dense_prompts': True},
                           stage='decoder'),
        data=data, optim=OptimSection(lr=1e-3, warmup_steps=2),
        loss=LossSection(complementary=0.0),
        run=RunSection(steps=steps, seed=4, out_dir=str(out_dir), log_every=1,
                       val_every=steps, val_clips=1, ckpt_every=3, threads=0, device='cpu',
                       tensorboard=False))


def _rows(path):
    with open(path, newline='') as f:
        return [{k: float(v) for k, v in row.items() if v != ''} for row in csv.DictReader(f)]


def test_decoder_stage_run_changes_only_the_decoder_and_resumes_exactly(tmp_path):
    straight = Trainer(_train_config(tmp_path / 'a'), progress=False).run()
    assert straight.step == 6
    trained = torch.load(tmp_path / 'a' / 'last.pt', weights_only=True)['model']
    torch.manual_seed(4)
    initial = build_model(_train_config(tmp_path / 'a')).state_dict()
    changed = {k for k in trained if not torch.equal(trained[k], initial[k])}
    assert changed and all(k.startswith(DECODER) for k in changed)
    val = _rows(tmp_path / 'a' / 'val.csv')
    assert [int(r['step']) for r in val] == [6] and val[0]['loss'] > 0
    Trainer(_train_config(tmp_path / 'b'), progress=False, stop_at=3).run()
    Trainer(_train_config(tmp_path / 'b'), resume=True, progress=False).run()
    reference = _rows(tmp_path / 'a' / 'train.csv')
    continued = _rows(tmp_path / 'b' / 'train.csv')
    assert [int(r['step']) for r in continued] == list(range(1, 7))
    for a, b in zip(reference, continued):
        assert a['loss'] == pytest.approx(b['loss'], rel=1e-5, abs=1e-6), (a['step'], a, b)
