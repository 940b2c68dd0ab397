"""The clip objective: every trained part gets a gradient, stages freeze the right parts."""

import copy
import dataclasses

import pytest
from sata_ros.model.config import get_config
from sata_ros.model.sata import build_sata
from sata_ros.train.clip_loss import ClipLoss, JITTER_CELLS, jitter_prompt, slice_features
from sata_ros.train.clips import ClipSampler, to_tensors
from sata_ros.train.config import DataSection, LossSection, ModelSection, TrainConfig
from sata_ros.train.trainer import build_model, learning_rate, set_trainable
import torch

DATA = DataSection(train_seeds=(30, 32), val_seeds=(40, 41), num_frames=10, width=96,
                   height=72, scene_window=1, clip_length=2, max_stride=1, flip=0.0, dark=0.0,
                   modality_weights={'thermal': 1.0})


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_model(TrainConfig(model=ModelSection(overrides={'freeze_trunk': False})))


def test_common_experts_start_at_zero_only_without_training_init():
    torch.manual_seed(0)
    fresh = build_sata(dataclasses.replace(get_config('sata_nano'), freeze_trunk=False))
    assert all(bool((layer.common.w2 == 0).all()) for layer in fresh.demoe_layers())
    trained = build_model(TrainConfig(model=ModelSection(common_init_std=0.02)))
    stds = [float(layer.common.w2.detach().std()) for layer in trained.demoe_layers()]
    assert all(0.015 < s < 0.025 for s in stds)


def _clip(task, model):
    data = dataclasses.replace(DATA, prompted_ratio=1.0 if task == 'prompted' else 0.0)
    return to_tensors(ClipSampler(data, seed=0).sample(0), model.image_size)


def _grads(model, clip, stage='full'):
    set_trainable(model, stage)
    model.train()
    model.zero_grad(set_to_none=True)
    out = ClipLoss(model, LossSection())(clip, with_heads=stage != 'detection')
    out.loss.backward()
    got = {n for n, p in model.named_parameters()
           if p.grad is not None and bool(p.grad.abs().sum() > 0)}
    return out, got


def _has(names, prefix):
    return any(n.startswith(prefix) for n in names)


def test_prompted_clip_trains_the_sam_heads_memory_and_demoe(model):
    out, got = _grads(model, _clip('prompted', model))
    assert {'focal', 'dice', 'iou', 'objectness', 'router', 'orthogonality',
            'complementary'} <= set(out.parts)
    for prefix in ('sam.sam_mask_decoder.', 'sam.sam_prompt_encoder.', 'sam.memory_attention.',
                   'sam.memory_encoder.', 'sam.image_encoder.neck.',
                   'sam.image_encoder.trunk.patch_embed.'):
        assert _has(got, prefix), prefix
    # DeMoE: the common experts (through the cross-modal prompt), the thermal group's specific
    # experts and the cross-modal router learn.
    assert any('.mlp.common.w2' in n for n in got) and any('.mlp.proj_aux.' in n for n in got)
    assert any('.mlp.specific.1.w2' in n for n in got)
    assert any('.mlp.modality_router.' in n for n in got)
    assert not _has(got, 'detector.') and not _has(got, 'mem.')
    assert torch.isfinite(out.loss)


def test_detected_clip_trains_detector_mem_and_box_prompted_decoder(model):
    out, got = _grads(model, _clip('detected', model))
    assert {'det_cls', 'det_box', 'det_quality', 'embedding', 'focal'} <= set(out.parts)
    for prefix in ('detector.', 'mem.', 'sam.sam_mask_decoder.'):
        assert _has(got, prefix), prefix
    assert not _has(got, 'sam.memory_attention.')


def test_detection_stage_trains_only_the_detection_head(model):
    _, got = _grads(model, _clip('detected', model), stage='detection')
    assert got and all(n.startswith('detector.') for n in got)


def test_mixture_stage_keeps_attention_and_shared_experts_frozen(model):
    trainable = set_trainable(model, 'mixture')
    assert not any('.attn.' in n for n in trainable)
    assert not any('.mlp.shared.' in n for n in trainable)
    assert any('.mlp.common.' in n for n in trainable) and _has(trainable, 'mem.')
    set_trainable(model, 'full')


def test_slice_features_picks_one_frame(model):
    model.eval()
    clip = _clip('prompted', model)
    with torch.no_grad():
        from sata_ros.model import sam_steps
        both = sam_steps.frame_features(
            model.sam, model.encode(clip.rgb, clip.aux, clip.aux_group))
        alone = sam_steps.frame_features(
            model.sam, model.encode(clip.rgb[1:], clip.aux[1:], clip.aux_group[1:]))
    second = slice_features(both, 1)
    for a, b in zip(second.vision_feats, alone.vision_feats):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    from sata_ros.train.config import OptimSection, RunSection
    cfg = TrainConfig(optim=OptimSection(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1),
                      run=RunSection(steps=110))
    lrs = [learning_rate(cfg, s) for s in range(110)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=1e-2)


def test_dense_prompts_train_the_mask_prompt_encoder():
    torch.manual_seed(0)
    dense = build_model(TrainConfig(model=ModelSection(
        overrides={'freeze_trunk': False, 'dense_prompts': True})))
    for task in ('prompted', 'detected'):
        out, got = _grads(dense, _clip(task, dense))
        assert _has(got, 'sam.sam_prompt_encoder.mask_downscaling.'), task
        assert torch.isfinite(out.loss)
    # Without dense prompts the mask-prompt encoder is never used.
    _, got = _grads(build_model(TrainConfig(model=ModelSection(
        overrides={'freeze_trunk': False}))), _clip('prompted', dense))
    assert not _has(got, 'sam.sam_prompt_encoder.mask_downscaling.')


def test_heads_stage_trains_everything_but_the_image_encoder(model):
    _, got = _grads(model, _clip('prompted', model), stage='heads')
    assert not _has(got, 'sam.image_encoder.')
    for prefix in ('sam.sam_mask_decoder.', 'sam.sam_prompt_encoder.', 'sam.memory_attention.',
                   'sam.memory_encoder.'):
        assert _has(got, prefix), prefix
    _, got = _grads(model, _clip('detected', model), stage='heads')
    assert _has(got, 'detector.') and _has(got, 'mem.') and not _has(got, 'sam.image_encoder.')


def test_jitter_prompt_moves_masks_a_few_cells_and_keeps_them_binary():
    torch.manual_seed(0)
    prompt = torch.zeros(64, 1, 16, 16)
    prompt[:, :, 6:10, 5:9] = 1
    out = jitter_prompt(prompt, cells=2)
    assert out.shape == prompt.shape and set(out.unique().tolist()) <= {0.0, 1.0}
    # A shift of at most 2 cells plus one cell of growth: inside the box grown by 3.
    allowed = torch.zeros(16, 16)
    allowed[3:13, 2:12] = 1
    assert float((out[:, 0] * (1 - allowed)).sum()) == 0
    # A 4 x 4 mask shrunk by one cell is still 2 x 2: nothing vanishes.
    assert bool((out.flatten(1).sum(1) >= 4).all())
    corners = {tuple(o[0].nonzero().min(0).values.tolist()) for o in out}
    sizes = {int(o.sum()) for o in out}
    assert len(corners) > 10 and sizes == {4, 16, 36}


def test_teacher_forcing_prompts_tracked_frames_with_the_jittered_true_mask():
    torch.manual_seed(0)
    dense = build_model(TrainConfig(model=ModelSection(overrides={'dense_prompts': True})))
    truth = torch.zeros(2, 256, 256, dtype=torch.bool)
    truth[0, 64:128, 64:128] = True  # grid cells 16..31 (4 px per cell)
    low = torch.full((2, 1, 64, 64), -5.0)
    low[:, 0, :8, :8] = 5.0  # the model's own masks are elsewhere
    own = (low > 0).float()
    forced = ClipLoss(dense, LossSection(teacher_forcing=1.0))
    dense.train()
    got = forced._previous_prompt(low, truth)
    reach = JITTER_CELLS + 1
    inside = torch.zeros(64, 64)
    inside[16 - reach:32 + reach, 16 - reach:32 + reach] = 1
    assert float(got[0, 0].sum()) >= 14 * 14 and float((got[0, 0] * (1 - inside)).sum()) == 0
    assert float(got[1].sum()) == 0  # the target was not visible: an empty prompt
    dense.eval()
    assert torch.equal(forced._previous_prompt(low, truth), own)  # validation: its own
    dense.train()
    assert torch.equal(ClipLoss(dense, LossSection())._previous_prompt(low, truth), own)


def test_box_only_targets_train_from_their_boxes_and_true_masks_are_unchanged(model):
    model = copy.deepcopy(model)
    # An untrained decoder scores every object absent, and SAM 2 then outputs constant
    # (-1024) masks that no mask loss can move: make it see the objects.
    head = model.sam.sam_mask_decoder.pred_obj_score_head
    last = head.layers[-1] if hasattr(head, 'layers') else head
    torch.nn.init.constant_(last.bias, 10.0)
    clip = _clip('prompted', model)
    set_trainable(model, 'full')
    model.eval()  # no router noise: the three losses below see the same forward pass
    loss_fn = ClipLoss(model, LossSection())
    plain = loss_fn(clip._replace(has_mask=None))
    marked = loss_fn(clip._replace(has_mask=torch.ones_like(clip.visible)))
    assert marked.loss.item() == plain.loss.item() and marked.parts['box'].item() == 0.0
    boxed = loss_fn(clip._replace(has_mask=torch.zeros_like(clip.visible)))
    assert boxed.parts['box'].item() > 0
    assert boxed.parts['focal'].item() == boxed.parts['dice'].item() == 0.0
    assert boxed.parts['iou'].item() == 0.0
    # The box term alone (every other weight 0) reaches the mask decoder.
    only_box = LossSection(focal=0.0, dice=0.0, iou=0.0, objectness=0.0, complementary=0.0,
                           orthogonality=0.0, router=0.0)
    model.zero_grad(set_to_none=True)
    ClipLoss(model, only_box)(clip._replace(has_mask=torch.zeros_like(clip.visible))) \
        .loss.backward()
    got = {n for n, p in model.named_parameters()
           if p.grad is not None and bool(p.grad.abs().sum() > 0)}
    assert _has(got, 'sam.sam_mask_decoder.') and _has(got, 'sam.image_encoder.')
