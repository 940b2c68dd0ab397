"""DyHead detection head: DCNv2 against conv2d, shapes, gradients, decoding and a short overfit."""

import pytest
from sata_ros.model.box_ops import box_iou
from sata_ros.model.detection_head import (
    DetectionHead, DynamicReLU, grid_points, modulated_deform_conv2d, ModulatedDeformConv2d)
from sata_ros.train.detection_targets import detection_loss
import torch
import torch.nn.functional as F


def _levels(batch: int, size: int, channels: int = 256, seed: int = 0) -> list:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, size // s, size // s, generator=gen) for s in (4, 8, 16)]


def _zero_offsets(x: torch.Tensor, weight: torch.Tensor, stride: int = 1):
    batch, _, height, width = x.shape
    taps = weight.shape[2] * weight.shape[3]
    out_h, out_w = (height - 1) // stride + 1, (width - 1) // stride + 1
    return (x.new_zeros(batch, 2 * taps, out_h, out_w), x.new_ones(batch, taps, out_h, out_w))


# --------------------------------------------------------------------------- DCNv2


@pytest.mark.parametrize('stride', [1, 2])
def test_deform_conv_at_zero_offset_unit_mask_is_conv2d(stride):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 9, 12)
    weight, bias = torch.randn(7, 5, 3, 3), torch.randn(7)
    offset, mask = _zero_offsets(x, weight, stride)
    out = modulated_deform_conv2d(x, offset, mask, weight, bias, stride=stride, padding=1)
    expected = F.conv2d(x, weight, bias, stride=stride, padding=1)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize('stride', [1, 2])
def test_deform_conv_module_starts_as_plain_conv(stride):
    torch.manual_seed(1)
    layer = ModulatedDeformConv2d(6, 4, stride=stride)
    x = torch.randn(2, 6, 11, 8)
    expected = F.conv2d(x, layer.weight, layer.bias, stride=stride, padding=1)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=0)


def test_deform_conv_integer_x_offset_shifts_the_input():
    torch.manual_seed(2)
    x = torch.randn(1, 3, 10, 10)
    weight = torch.randn(4, 3, 3, 3)
    offset, mask = _zero_offsets(x, weight)
    offset[:, 1::2] = 1.0  # dx = +1 pixel on every tap
    out = modulated_deform_conv2d(x, offset, mask, weight, padding=1)
    # Reading one pixel to the right is a conv of the input shifted one pixel to the left.
    shifted = torch.zeros_like(x)
    shifted[..., :-1] = x[..., 1:]
    expected = F.conv2d(shifted, weight, padding=1)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(out[..., :-1], F.conv2d(x, weight, padding=1)[..., 1:],
                               atol=1e-5, rtol=0)


def test_deform_conv_half_pixel_offset_and_mask_are_linear():
    torch.manual_seed(3)
    x = torch.randn(1, 2, 8, 8)
    weight = torch.randn(3, 2, 3, 3)
    offset, mask = _zero_offsets(x, weight)
    offset[:, 0::2] = 0.5  # dy = +0.5: bilinear halfway between two rows
    out = modulated_deform_conv2d(x, offset, 0.5 * mask, weight, padding=1)
    plain = F.conv2d(x, weight, padding=1)
    expected = 0.5 * 0.5 * (plain[..., :-1, :] + plain[..., 1:, :])
    torch.testing.assert_close(out[..., :-1, :], expected, atol=1e-5, rtol=0)


def test_deform_conv_shape_checks():
    x, weight = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    offset, mask = _zero_offsets(x, weight)
    with pytest.raises(ValueError):
        modulated_deform_conv2d(x, offset[:, :-1], mask, weight)
    with pytest.raises(ValueError):
        modulated_deform_conv2d(x, offset, mask, torch.randn(3, 4, 3, 3))


def test_dynamic_relu_with_zero_coefficients_is_relu():
    layer = DynamicReLU(8)
    torch.nn.init.zeros_(layer.fc2.weight)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(layer(x), F.relu(x))
    # As initialised it is close to ReLU.
    fresh = DynamicReLU(8)
    torch.testing.assert_close(fresh(x), F.relu(x), atol=0.05, rtol=0.05)


# --------------------------------------------------------------------------- head


def test_grid_points_are_cell_centres():
    points = grid_points(2, 3, 8)
    assert points.tolist() == [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12]]


def test_head_output_shapes_batch_of_two_at_256():
    torch.manual_seed(0)
    head = DetectionHead()
    with torch.no_grad():
        out = head(_levels(2, 256))
    assert [tuple(t.shape) for t in out['cls_logits']] == [(2, 1, 32, 32), (2, 1, 16, 16),
                                                           (2, 1, 8, 8)]
    assert [tuple(t.shape) for t in out['box_ltrb']] == [(2, 4, 32, 32), (2, 4, 16, 16),
                                                         (2, 4, 8, 8)]
    assert [tuple(t.shape) for t in out['quality']] == [(2, 1, 32, 32), (2, 1, 16, 16),
                                                        (2, 1, 8, 8)]
    assert [tuple(t.shape) for t in out['points']] == [(1024, 2), (256, 2), (64, 2)]
    assert out['strides'] == [8, 16, 32]
    assert out['points'][2][9].tolist() == [48.0, 48.0]
    assert all((t > 0).all() for t in out['box_ltrb'])
    # The class prior: every location starts near prior_prob = 0.01.
    probs = torch.sigmoid(torch.cat([t.flatten() for t in out['cls_logits']]))
    assert probs.min() > 0.005 and probs.max() < 0.02


def test_head_rejects_bad_configuration_and_inputs():
    with pytest.raises(ValueError):
        DetectionHead(strides=(8, 32))
    with pytest.raises(ValueError):
        DetectionHead(strides=(64, 128))
    head = DetectionHead(channels=16, num_blocks=1)
    with pytest.raises(ValueError):
        head(_levels(1, 64)[:2])
    with pytest.raises(ValueError):
        head(_levels(1, 64, channels=8))


def test_head_more_levels_than_inputs():
    head = DetectionHead(channels=16, num_blocks=1, strides=(8, 16, 32, 64))
    with torch.no_grad():
        out = head(_levels(1, 128))
    assert [tuple(t.shape[-2:]) for t in out['cls_logits']] == [(16, 16), (8, 8), (4, 4),
                                                                (2, 2)]


def test_every_parameter_gets_a_gradient_from_the_detection_loss():
    torch.manual_seed(0)
    head = DetectionHead()
    out = head(_levels(1, 256))
    # One box per level: reaches ~25, ~85 and >= 144 pixels.
    target = {'boxes': torch.tensor([[10.0, 20.0, 60.0, 70.0], [20.0, 30.0, 190.0, 200.0],
                                     [0.0, 0.0, 256.0, 256.0]]),
              'labels': torch.tensor([0, 0, 0])}
    losses = detection_loss(out, [target])
    sum(losses.values()).backward()
    missing = [name for name, p in head.named_parameters()
               if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().max() == 0]
    assert missing == []


def _constructed_outputs(num_classes: int = 2) -> dict:
    """Return one stride-8 4x4 level, all background but for chosen locations."""
    cls = torch.full((1, num_classes, 4, 4), -20.0)
    quality = torch.full((1, 1, 4, 4), 20.0)
    ltrb = torch.full((1, 4, 4, 4), 2.0)
    # Location (row 1, col 2) = point (20, 12): box (16, 6, 28, 22), class 1.
    cls[0, 1, 1, 2] = 20.0
    ltrb[0, :, 1, 2] = torch.tensor([4.0, 6.0, 8.0, 10.0])
    # Location (row 1, col 1) = point (12, 12): almost the same box, lower score.
    cls[0, 1, 1, 1] = 1.0
    ltrb[0, :, 1, 1] = torch.tensor([-4.0, 6.0, 16.0, 10.0])
    # Location (row 3, col 3) = point (28, 28): class 0, box past the image edge.
    cls[0, 0, 3, 3] = 3.0
    ltrb[0, :, 3, 3] = torch.tensor([10.0, 10.0, 50.0, 50.0])
    return {'cls_logits': [cls], 'box_ltrb': [ltrb], 'quality': [quality],
            'points': [grid_points(4, 4, 8)], 'strides': [8]}


def test_decode_scores_nms_and_clipping():
    head = DetectionHead(channels=16, num_blocks=1, num_classes=2)
    dets = head.decode(_constructed_outputs(), image_size=(32, 40))
    assert len(dets) == 1
    det = dets[0]
    assert det.labels.dtype == torch.int64
    assert det.labels.tolist() == [1, 0]
    torch.testing.assert_close(det.boxes, torch.tensor([[16.0, 6.0, 28.0, 22.0],
                                                        [18.0, 18.0, 40.0, 32.0]]))
    expected = torch.sqrt(torch.sigmoid(torch.tensor([20.0, 3.0])) * torch.sigmoid(
        torch.tensor(20.0)))
    torch.testing.assert_close(det.scores, expected)
    # Without NMS the duplicate stays; the score threshold and max_detections cut.
    loose = head.decode(_constructed_outputs(), (32, 40), nms_iou=1.0)[0]
    assert len(loose.boxes) == 3
    assert len(head.decode(_constructed_outputs(), (32, 40), score_threshold=0.98)[0].boxes) == 1
    assert len(head.decode(_constructed_outputs(), (32, 40), max_detections=1)[0].boxes) == 1
    assert len(head.decode(_constructed_outputs(), (32, 40), pre_nms_top_k=1)[0].boxes) == 1


def test_decode_with_nothing_above_threshold():
    head = DetectionHead(channels=16, num_blocks=1)
    with torch.no_grad():
        out = head(_levels(2, 64))
    dets = head.decode(out, (64, 64), score_threshold=0.99)
    assert len(dets) == 2
    assert dets[0].boxes.shape == (0, 4) and dets[0].labels.shape == (0,)


def test_short_overfit_finds_the_box():
    torch.manual_seed(0)
    head = DetectionHead(channels=32, num_blocks=1)
    levels = _levels(1, 128, seed=1)
    box = torch.tensor([[30.0, 40.0, 90.0, 100.0]])
    targets = [{'boxes': box, 'labels': torch.tensor([0])}]
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(60):
        losses = detection_loss(head(levels), targets)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    with torch.no_grad():
        det = head.decode(head(levels), image_size=(128, 128))[0]
    assert len(det.boxes) >= 1
    assert box_iou(det.boxes[:1], box).item() > 0.5
