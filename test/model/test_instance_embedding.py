"""MEM: shapes, history padding, permutation equivariance, gradients, batching by frame."""

import pytest
from sata_ros.model.instance_embedding import crop_masks, MemoryEnhancedModule
import torch

SMALL = {'in_channels': 12, 'dim': 32, 'num_queries': 4, 'roi_size': 5, 'history': 6,
         'num_heads': 4, 'num_layers': 2, 'mask_channels': 8}


def _inputs(count, seed=0, length=6, in_channels=12, roi=5, queries=4, dim=32):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(count, in_channels, roi, roi, generator=gen)
    masks = (torch.rand(count, 11, 9, generator=gen) > 0.4).float()
    corners = torch.rand(count, 4, generator=gen)
    boxes = torch.cat([torch.minimum(corners[:, :2], corners[:, 2:]),
                       torch.maximum(corners[:, :2], corners[:, 2:])], dim=1)
    history = torch.randn(count, length, queries, dim, generator=gen)
    # Instance k has min(k, length) filled slots, right-aligned: 0 .. length, all lengths.
    filled = torch.arange(count)[:, None].clamp(max=length)
    padding = torch.arange(length)[None, :] < (length - filled)
    return feats, masks, boxes, history, padding


@pytest.fixture(scope='module')
def mem():
    torch.manual_seed(0)
    return MemoryEnhancedModule(**SMALL).eval()


@pytest.mark.parametrize('count', [0, 1, 5])
def test_output_shapes(mem, count):
    feats, masks, boxes, history, padding = _inputs(count)
    out = mem(feats, masks, boxes, history, padding)
    assert out.embedding.shape == (count, 32) and out.queries.shape == (count, 4, 32)
    assert torch.isfinite(out.embedding).all() and torch.isfinite(out.queries).all()
    no_history = mem(feats, masks, boxes)
    assert no_history.embedding.shape == (count, 32)


def test_default_configuration_shapes():
    mem = MemoryEnhancedModule(in_channels=64).eval()
    assert (mem.dim, mem.num_queries, mem.history) == (256, 8, 15)
    count = 3
    feats = torch.randn(count, 64, 7, 7)
    masks = torch.rand(count, 1, 7, 7)
    boxes = torch.tensor([[0.1, 0.1, 0.3, 0.5], [0.5, 0.2, 0.9, 0.9], [0.0, 0.0, 1.0, 1.0]])
    history = torch.randn(count, 15, 8, 256)
    out = mem(feats, masks, boxes, history, torch.zeros(count, 15, dtype=torch.bool))
    assert out.embedding.shape == (3, 256) and out.queries.shape == (3, 8, 256)
    unit = torch.nn.functional.normalize(out.embedding, dim=1)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(3))


def test_padded_history_values_are_never_read(mem):
    feats, masks, boxes, history, padding = _inputs(7, seed=1)
    ref = mem(feats, masks, boxes, history, padding)
    garbage = history.clone()
    garbage[padding] = torch.randn_like(garbage[padding]) * 1e3
    torch.testing.assert_close(mem(feats, masks, boxes, garbage, padding), ref,
                               rtol=0, atol=0)
    garbage[padding] = float('nan')
    torch.testing.assert_close(mem(feats, masks, boxes, garbage, padding), ref,
                               rtol=0, atol=0)
    # A fully padded history equals no history (up to rounding: the masked keys change the
    # shapes the attention kernels see).
    empty = torch.ones_like(padding)
    torch.testing.assert_close(mem(feats, masks, boxes, history, empty),
                               mem(feats, masks, boxes), rtol=0, atol=1e-6)
    # The real history does matter.
    changed = history.clone()
    changed[~padding] += 1.0
    assert not torch.allclose(mem(feats, masks, boxes, changed, padding).embedding,
                              ref.embedding)


def test_permutation_equivariance(mem):
    feats, masks, boxes, history, padding = _inputs(6, seed=2)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    ref = mem(feats, masks, boxes, history, padding)
    out = mem(feats[perm], masks[perm], boxes[perm], history[perm], padding[perm])
    torch.testing.assert_close(out.embedding, ref.embedding[perm], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.queries, ref.queries[perm], rtol=1e-5, atol=1e-5)


def test_instances_interact_spatially(mem):
    feats, masks, boxes, history, padding = _inputs(4, seed=3)
    together = mem(feats, masks, boxes, history, padding).embedding
    alone = mem(feats[:1], masks[:1], boxes[:1], history[:1], padding[:1]).embedding
    assert not torch.allclose(together[:1], alone, atol=1e-4)


def test_groups_keep_frames_apart(mem):
    a = _inputs(3, seed=4)
    b = _inputs(2, seed=5)
    joint = mem(*(torch.cat([x, y]) for x, y in zip(a, b)),
                groups=torch.tensor([0, 0, 0, 1, 1]))
    torch.testing.assert_close(joint.embedding[:3], mem(*a).embedding, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(joint.embedding[3:], mem(*b).embedding, rtol=1e-5, atol=1e-5)


def test_every_parameter_receives_a_gradient():
    torch.manual_seed(1)
    mem = MemoryEnhancedModule(**SMALL).train()
    feats, masks, boxes, history, padding = _inputs(5, seed=6)
    out = mem(feats.requires_grad_(), masks, boxes, history, padding)
    (out.embedding.square().sum() + out.queries.sum()).backward()
    for name, param in mem.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert feats.grad is not None and feats.grad.abs().sum() > 0


def test_bad_inputs_rejected(mem):
    feats, masks, boxes, history, padding = _inputs(2)
    with pytest.raises(ValueError):
        mem(feats[:, :4], masks, boxes)
    with pytest.raises(ValueError):
        mem(feats, masks, boxes, torch.zeros(2, 7, 4, 32))  # longer than history=6


def test_crop_masks_resamples_each_mask_over_its_box():
    masks = torch.zeros(2, 20, 30)
    # Box 0 plus a one-pixel margin: bilinear sampling near the box edge reads the next pixel.
    masks[0, 3:9, 9:21] = 1.0
    masks[1, :, 15:] = 1.0  # right half of box 1
    boxes = torch.tensor([[10.0, 4.0, 20.0, 8.0], [5.0, 0.0, 25.0, 20.0]])
    crops = crop_masks(masks, boxes, 4)
    assert crops.shape == (2, 1, 4, 4)
    torch.testing.assert_close(crops[0], torch.ones(1, 4, 4))
    torch.testing.assert_close(crops[1, 0, :, 2:], torch.ones(4, 2))
    torch.testing.assert_close(crops[1, 0, :, :2], torch.zeros(4, 2))
