"""FCOS-style assignment (level, centre region, smallest box) and the detection loss terms."""

import math

import pytest
from sata_ros.model.detection_head import grid_points
from sata_ros.train.detection_targets import assign, BACKGROUND, detection_loss
from sata_ros.train.losses import sigmoid_focal_loss
import torch

STRIDES = (8, 16, 32)
RANGES = ((0.0, 64.0), (64.0, 128.0), (128.0, math.inf))


def _points(size: int = 256) -> list:
    return [grid_points(size // s, size // s, s) for s in STRIDES]


def _level_of(index: int, size: int = 256) -> int:
    counts = [(size // s) ** 2 for s in STRIDES]
    for level, count in enumerate(counts):
        if index < count:
            return level
        index -= count
    raise IndexError(index)


@pytest.mark.parametrize('box, level', [((100.0, 100.0, 150.0, 140.0), 0),
                                        ((40.0, 40.0, 200.0, 200.0), 1),
                                        ((0.0, 0.0, 256.0, 256.0), 2)])
def test_positives_inside_the_box_at_the_right_level(box, level):
    points = _points()
    gt = torch.tensor([box])
    out = assign(points, STRIDES, gt, torch.tensor([3]))
    locs = torch.cat(points)
    positive = out.labels != BACKGROUND
    assert positive.sum() > 0
    assert (out.labels[positive] == 3).all() and (out.matched[positive] == 0).all()
    assert {_level_of(int(i)) for i in torch.nonzero(positive).squeeze(1)} == {level}
    x1, y1, x2, y2 = box
    px, py = locs[:, 0], locs[:, 1]
    inside = (px > x1) & (px < x2) & (py > y1) & (py < y2)
    assert not (positive & ~inside).any()
    # Centre sampling: within 1.5 strides of the box centre.
    stride = STRIDES[level]
    assert ((px[positive] - (x1 + x2) / 2).abs() < 1.5 * stride).all()
    assert ((py[positive] - (y1 + y2) / 2).abs() < 1.5 * stride).all()
    # Each positive's largest side distance lies in its level's range.
    reach = out.ltrb[positive].amax(dim=1)
    assert (reach > RANGES[level][0]).all() and (reach <= RANGES[level][1]).all()
    # Negatives carry zero targets; positives the box and its distances.
    assert (out.boxes[~positive] == 0).all() and (out.centerness[~positive] == 0).all()
    assert torch.equal(out.boxes[positive], gt.expand(int(positive.sum()), 4))
    expected_ltrb = torch.stack((px - x1, py - y1, x2 - px, y2 - py), dim=1)[positive]
    torch.testing.assert_close(out.ltrb[positive], expected_ltrb)


def test_without_center_sampling_every_inside_location_in_range_is_positive():
    points = _points()
    box = (100.0, 100.0, 150.0, 140.0)
    out = assign(points, STRIDES, torch.tensor([box]), torch.tensor([0]), center_radius=0.0)
    level0 = points[0]
    px, py = level0[:, 0], level0[:, 1]
    inside = (px > 100) & (px < 150) & (py > 100) & (py < 140)
    n0 = len(level0)
    assert torch.equal(out.labels[:n0] == 0, inside)
    assert (out.labels[n0:] == BACKGROUND).all()


def test_centerness_values():
    points = _points()
    # Centred on point (84, 84) of the stride-8 level (column and row 10).
    box = torch.tensor([[64.0, 64.0, 104.0, 104.0]])
    out = assign(points, STRIDES, box, torch.tensor([0]))
    centre = 10 * 32 + 10
    assert out.centerness[centre].item() == pytest.approx(1.0)
    # Point (92, 84): l = 28, r = 12, t = b = 20.
    assert out.centerness[centre + 1].item() == pytest.approx(math.sqrt(12 / 28))
    positive = out.labels != BACKGROUND
    assert (out.centerness[positive] > 0).all() and (out.centerness[positive] <= 1).all()


def test_overlapping_boxes_take_the_smallest():
    points = _points()
    boxes = torch.tensor([[50.0, 50.0, 130.0, 130.0], [80.0, 80.0, 120.0, 120.0]])
    out = assign(points, STRIDES, boxes, torch.tensor([5, 7]))
    alone = [assign(points, STRIDES, boxes[i:i + 1], torch.tensor([0])).labels == 0
             for i in range(2)]
    both = alone[0] & alone[1]
    assert both.sum() > 0 and (alone[0] & ~alone[1]).sum() > 0
    # Box 1 (area 1600) beats box 0 (area 6400) wherever both could claim the location.
    assert (out.matched[both] == 1).all() and (out.labels[both] == 7).all()
    assert (out.matched[alone[0] & ~alone[1]] == 0).all()
    assert (out.labels[alone[0] & ~alone[1]] == 5).all()
    assert torch.equal(out.labels != BACKGROUND, alone[0] | alone[1])


def test_no_boxes_means_all_background():
    out = assign(_points(), STRIDES, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert out.labels.shape == (1344,) and (out.labels == BACKGROUND).all()
    assert (out.matched == -1).all() and (out.boxes == 0).all() and (out.centerness == 0).all()
    with pytest.raises(ValueError):
        assign(_points(), STRIDES[:2], torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))


def _outputs_from_targets(size: int, box: torch.Tensor, num_classes: int = 2) -> dict:
    """Return head-like outputs whose distances equal the assigned targets everywhere."""
    points = _points(size)
    out = assign(points, STRIDES, box, torch.tensor([1]))
    cls, ltrb, quality = [], [], []
    start = 0
    gen = torch.Generator().manual_seed(0)
    for s in STRIDES:
        side = size // s
        n = side * side
        level_ltrb = out.ltrb[start:start + n].clamp(min=1.0)
        ltrb.append(level_ltrb.t().reshape(1, 4, side, side).clone().requires_grad_())
        cls.append(torch.randn(1, num_classes, side, side, generator=gen).requires_grad_())
        quality.append(torch.randn(1, 1, side, side, generator=gen).requires_grad_())
        start += n
    return {'cls_logits': cls, 'box_ltrb': ltrb, 'quality': quality, 'points': points,
            'strides': list(STRIDES)}, out


def test_loss_terms_match_their_definitions():
    box = torch.tensor([[100.0, 100.0, 150.0, 140.0]])
    outputs, assigned = _outputs_from_targets(256, box)
    targets = [{'boxes': box, 'labels': torch.tensor([1])}]
    losses = detection_loss(outputs, targets)
    assert set(losses) == {'cls', 'box', 'quality'}
    # Exact distances: GIoU loss and L1 both vanish.
    assert losses['box'].item() == pytest.approx(0.0, abs=1e-5)
    positive = assigned.labels != BACKGROUND
    num_pos = int(positive.sum())
    logits = torch.cat([t.flatten(2).transpose(1, 2)[0] for t in outputs['cls_logits']])
    one_hot = torch.zeros_like(logits)
    one_hot[positive, 1] = 1.0
    expected = sigmoid_focal_loss(logits, one_hot, reduction='sum') / num_pos
    assert losses['cls'].item() == pytest.approx(expected.item(), rel=1e-5)
    quality = torch.cat([t.flatten() for t in outputs['quality']])[positive]
    expected_q = torch.nn.functional.binary_cross_entropy_with_logits(
        quality, assigned.centerness[positive])
    assert losses['quality'].item() == pytest.approx(expected_q.item(), rel=1e-5)
    # Distances off by one stride-8 unit raise the box term.
    with torch.no_grad():
        outputs['box_ltrb'][0].add_(8.0)
    assert detection_loss(outputs, targets)['box'].item() > 0.1


def test_loss_without_positives_and_bad_labels():
    outputs, _ = _outputs_from_targets(256, torch.tensor([[0.0, 0.0, 10.0, 10.0]]))
    losses = detection_loss(outputs, [{'boxes': torch.zeros(0, 4),
                                       'labels': torch.zeros(0, dtype=torch.long)}])
    assert losses['box'].item() == 0.0 and losses['quality'].item() == 0.0
    assert losses['cls'].item() > 0.0
    sum(losses.values()).backward()
    assert outputs['cls_logits'][0].grad.abs().sum() > 0
    with pytest.raises(ValueError):
        detection_loss(outputs, [{'boxes': torch.tensor([[100.0, 100.0, 150.0, 140.0]]),
                                  'labels': torch.tensor([2])}])
    with pytest.raises(ValueError):
        detection_loss(outputs, [])
