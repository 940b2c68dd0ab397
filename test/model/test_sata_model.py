"""
The SATA model on SAM 2.1: zero-init equivalence, gradient coverage, streams, checkpoints.

Equivalence is checked against the `sam2` package's own model built from the same config with
the same weights (max abs difference < 1e-4, as the model issue requires).
"""

import pytest
from sata_ros.model.checkpoint import (CheckpointError, load_checkpoint, load_checkpoint_into,
                                       load_sam2_weights, sam2_to_sata_keys, save_checkpoint)
from sata_ros.model.config import get_config, SataConfig
from sata_ros.model.demoe import GROUPS, Routing
from sata_ros.model.encoder import group_index
from sata_ros.model.sata import build_sam2_base, build_sata
import torch


def _shared_state(sam2_model):
    return sam2_to_sata_keys(sam2_model.state_dict())


@pytest.fixture(scope='module')
def nano_pair():
    torch.manual_seed(0)
    reference = build_sam2_base(get_config('sata_nano'))
    model = build_sata('sata_nano')
    missing, unexpected = model.sam.load_state_dict(_shared_state(reference), strict=False)
    assert unexpected == [] and all('.mlp.' in k for k in missing)
    return reference, model


def _max_diff(a, b):
    keys = ('vision_features',)
    diffs = [(a[k] - b[k]).abs().max().item() for k in keys]
    diffs += [(x - y).abs().max().item() for x, y in zip(a['backbone_fpn'], b['backbone_fpn'])]
    return max(diffs)


@pytest.mark.parametrize('rgb_only', ['duplicate', 'single'])
def test_untrained_sata_equals_sam21_on_rgb(nano_pair, rgb_only):
    reference, model = nano_pair
    model.encoder.rgb_only = rgb_only
    x = torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        assert _max_diff(reference.forward_image(x), model.encode(x)) < 1e-4
    model.encoder.rgb_only = 'duplicate'


def test_untrained_sata_t_trunk_equals_sam21_hiera_t():
    # Hiera-T at a small input (its position embedding interpolates): same weights, same output.
    torch.manual_seed(1)
    reference = build_sam2_base(get_config('sata_t'))
    model = build_sata('sata_t')
    model.sam.load_state_dict(_shared_state(reference), strict=False)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert _max_diff(reference.forward_image(x), model.encode(x)) < 1e-4


def test_every_expert_and_router_gets_a_gradient_shared_experts_none():
    model = build_sata('sata_nano').train()
    for layer in model.demoe_layers():
        # Zero-init output layers pass no gradient inward (as a LoRA's zero B); a trained model
        # has non-zero ones, which this stands in for.
        layer.reset_outputs(std=0.02)
    b = len(GROUPS)
    rgb, aux = torch.randn(b, 3, 256, 256), torch.randn(b, 3, 256, 256)
    groups = torch.arange(b)  # one sample of every modality group
    routing = Routing(batch=b, two_streams=True, collect=True)
    out = model.encode(rgb, aux, groups, collect=routing)
    router_ce = sum(torch.nn.functional.cross_entropy(lg, groups)
                    for lg in routing.router_logits)
    loss = out['vision_features'].square().mean() + router_ce
    loss.backward()
    for i, layer in enumerate(model.demoe_layers()):
        for name, p in layer.named_parameters():
            if name.startswith('shared.'):
                assert p.grad is None, f'block {i}: frozen shared expert {name} got a gradient'
            elif name.endswith('b1'):
                continue  # biases of the hidden layer: covered by w1
            else:
                assert p.grad is not None and p.grad.abs().sum() > 0, f'block {i}: {name}'
        for g, experts in enumerate(layer.specific):
            # Every expert of every group, not just the group as a whole.
            assert (experts.w1.grad.abs().sum(dim=(1, 2)) > 0).all(), f'block {i} group {g}'
        assert (layer.common.w2.grad.abs().sum(dim=(1, 2)) > 0).all()
    trunk_attention = model.encoder.trunk.blocks[0].attn.qkv.weight
    assert trunk_attention.grad is None, 'the frozen trunk attention got a gradient'


def test_rgb_plus_aux_changes_the_embedding_once_trained():
    model = build_sata('sata_nano')
    for layer in model.demoe_layers():
        layer.reset_outputs(std=0.05)
    rgb = torch.randn(1, 3, 256, 256)
    thermal = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        a = model.encode(rgb, thermal, torch.tensor([group_index('thermal')]))
        b = model.encode(rgb, thermal, torch.tensor([group_index('depth')]))
        c = model.encode(rgb)
    assert a['vision_features'].shape == (1, 256, 16, 16)
    assert not torch.allclose(a['vision_features'], b['vision_features'])
    assert not torch.allclose(a['vision_features'], c['vision_features'])
    with pytest.raises(ValueError, match='aux must match rgb'):
        model.encode(rgb, torch.randn(1, 3, 128, 128))
    with pytest.raises(ValueError, match="unknown modality 'lidar'"):
        group_index('lidar')


def test_checkpoint_round_trip_is_exact(tmp_path):
    model = build_sata('sata_nano')
    for layer in model.demoe_layers():
        layer.reset_outputs(std=0.05)
    path = tmp_path / 'nano.pt'
    save_checkpoint(model, path, extra={'step': 7})
    again = load_checkpoint(path)
    assert again.config == model.config and not again.training
    x, aux = torch.randn(1, 3, 256, 256), torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        a = model.eval().encode(x, aux, torch.tensor([1]))
        b = again.encode(x, aux, torch.tensor([1]))
    assert torch.equal(a['vision_features'], b['vision_features'])
    with pytest.raises(CheckpointError, match='checkpoint is for sata_nano'):
        build_sata(SataConfig(**{**model.config.to_dict(), 'overrides': model.config.overrides,
                                 'rgb_only': 'single'}), checkpoint=path)
    # Dense prompts need no other weights, yet change what the model computes: only a training
    # run (initialise) may start a model with the other setting from the checkpoint.
    flipped = not model.config.dense_prompts
    dense = build_sata(SataConfig(**{**model.config.to_dict(), 'overrides': model.config.overrides,
                                     'dense_prompts': flipped}))
    with pytest.raises(CheckpointError, match='dense_prompts'):
        load_checkpoint_into(dense, path)
    load_checkpoint_into(dense, path, initialise=True)
    assert all(torch.equal(a, b) for a, b in zip(dense.state_dict().values(),
                                                 model.state_dict().values()))
    # Built by variant name, a model follows the checkpoint's setting (the shipped default may
    # be a dense one); built from an explicit config, it must match.
    save_checkpoint(dense, path)
    by_name = build_sata('sata_nano', checkpoint=path)
    assert by_name.config.dense_prompts == flipped
    assert by_name.sam.use_mask_input_as_output_without_sam == (not flipped)
    with pytest.raises(CheckpointError, match='dense_prompts'):
        build_sata(model.config, checkpoint=path)


def test_half_checkpoint_is_half_the_size_and_rounds_only_to_float16(tmp_path):
    import dataclasses
    model = build_sata(dataclasses.replace(get_config('sata_nano'), freeze_trunk=False))
    for layer in model.demoe_layers():
        layer.reset_outputs(std=0.05)
    full, half = tmp_path / 'full.pt', tmp_path / 'half.pt'
    save_checkpoint(model, full)
    save_checkpoint(model, half, half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    # The training-only field freeze_trunk differs from the variant's; the weights still load.
    again = build_sata('sata_nano', checkpoint=half)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert b.dtype == a.dtype, name
        if a.is_floating_point():
            assert torch.equal(b, a.half().to(a.dtype)), name
        else:
            assert torch.equal(a, b), name


def test_load_official_sam21_file_into_shared_parts(tmp_path):
    torch.manual_seed(2)
    reference = build_sam2_base(get_config('sata_nano'))
    path = tmp_path / 'sam2.1_nano.pt'
    torch.save({'model': reference.state_dict()}, path)
    model = build_sata('sata_nano')
    report = load_sam2_weights(model, path)
    assert report.missing == [] and report.unexpected == []
    assert report.loaded == len(reference.state_dict())
    demoe = [k for k in report.new if k.startswith('image_encoder.') and '.mlp.' in k
             and '.shared.' not in k]
    heads = [k for k in report.new if k.startswith(('detector.', 'mem.'))]
    assert demoe and heads and len(demoe) + len(heads) == len(report.new)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert _max_diff(reference.forward_image(x), model.encode(x)) < 1e-4


def test_wrong_or_broken_sam21_files_fail_clearly(tmp_path):
    model = build_sata('sata_nano')
    wrong = tmp_path / 'sam2.1_hiera_t.pt'
    torch.save({'model': build_sam2_base(get_config('sata_t')).state_dict()}, wrong)
    message = (r'image_encoder\.trunk\.\S+ has shape \[.*96.*\] in the file but .* in '
               r'sata_nano.*sata_t or sata_s')
    with pytest.raises(CheckpointError, match=message):
        load_sam2_weights(model, wrong)
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a zip file at all')
    with pytest.raises(CheckpointError, match='corrupt.pt: not a readable torch checkpoint'):
        load_sam2_weights(model, corrupt)
    no_model = tmp_path / 'other.pt'
    torch.save({'state_dict': {}}, no_model)
    with pytest.raises(CheckpointError, match="expected a dict with key 'model'"):
        load_sam2_weights(model, no_model)
    with pytest.raises(CheckpointError, match='a SAM 2.1 file: use load_sam2_weights'):
        load_checkpoint(wrong)
    with pytest.raises(CheckpointError, match='no such checkpoint file'):
        load_checkpoint(tmp_path / 'missing.pt')
