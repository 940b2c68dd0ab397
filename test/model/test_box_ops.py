"""Box utilities: hand-computed IoUs, greedy NMS semantics, boxes of masks and clipping."""

import pytest
from sata_ros.model.box_ops import (
    batched_nms, box_area, box_iou, clip_boxes, masks_to_boxes, nms)
import torch


def _boxes(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def _reference_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list:
    """Greedy NMS written out one pair at a time."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    kept = []
    for i in order:
        if all(float(box_iou(boxes[i:i + 1], boxes[k:k + 1])) <= threshold for k in kept):
            kept.append(i)
    return kept


# --------------------------------------------------------------------------- IoU


def test_box_iou_hand_computed_values():
    a = _boxes([[0, 0, 2, 2], [0, 0, 4, 4]])
    b = _boxes([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    # Unit overlap of two 2x2 boxes: 1 / (4 + 4 - 1).
    assert iou[0, 0].item() == pytest.approx(1 / 7)
    assert iou[0, 1].item() == pytest.approx(1.0)
    assert iou[0, 2].item() == 0.0
    # 2x2 inside 4x4: 4 / 16.
    assert iou[1, 0].item() == pytest.approx(0.25)
    assert iou[1, 1].item() == pytest.approx(0.25)


def test_box_iou_zero_area_boxes_give_zero_not_nan():
    degenerate = _boxes([[1, 1, 1, 3], [2, 2, 2, 2], [4, 4, 3, 3]])
    normal = _boxes([[0, 0, 4, 4]])
    assert torch.equal(box_iou(degenerate, degenerate), torch.zeros(3, 3))
    assert torch.equal(box_iou(degenerate, normal), torch.zeros(3, 1))


def test_box_iou_empty_and_area():
    assert box_iou(_boxes([]), _boxes([[0, 0, 1, 1]] * 3)).shape == (0, 3)
    assert box_area(_boxes([[0, 0, 2, 3], [2, 2, 1, 5]])).tolist() == [6.0, 0.0]
    with pytest.raises(ValueError):
        box_iou(torch.zeros(2, 5), torch.zeros(2, 4))


# --------------------------------------------------------------------------- NMS


def test_nms_suppresses_overlap_and_orders_by_score():
    boxes = _boxes([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    scores = torch.tensor([0.9, 0.8, 0.95])
    # IoU(0, 1) = 81 / 119 = 0.68: suppressed at 0.5, kept at 0.7.
    keep = nms(boxes, scores, 0.5)
    assert keep.dtype == torch.int64
    assert keep.tolist() == [2, 0]
    assert nms(boxes, scores, 0.7).tolist() == [2, 0, 1]


def test_nms_is_greedy_suppressed_boxes_suppress_nothing():
    # IoU(A, B) = IoU(B, C) = 1/3, IoU(A, C) = 0: B goes, so C stays.
    boxes = _boxes([[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.3).tolist() == [0, 2]


def test_nms_threshold_is_strict():
    # IoU exactly 0.5: not above the threshold, both stay.
    boxes = _boxes([[0, 0, 2, 1], [0, 0, 1, 1]])
    assert nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]


def test_nms_ties_go_to_the_lower_index():
    boxes = _boxes([[0, 0, 1, 1], [5, 5, 6, 6], [0, 0, 1, 1], [9, 9, 10, 10]])
    scores = torch.tensor([0.5, 0.7, 0.5, 0.5])
    # Box 2 duplicates box 0 with the same score: the lower index survives.
    assert nms(boxes, scores, 0.5).tolist() == [1, 0, 3]


def test_nms_empty_input():
    keep = nms(_boxes([]), torch.zeros(0), 0.5)
    assert keep.shape == (0,) and keep.dtype == torch.int64


def test_nms_matches_reference_on_random_boxes():
    gen = torch.Generator().manual_seed(0)
    corners = torch.rand(60, 2, generator=gen) * 50
    sizes = torch.rand(60, 2, generator=gen) * 20 + 1
    boxes = torch.cat([corners, corners + sizes], dim=1)
    scores = torch.rand(60, generator=gen)
    for threshold in (0.1, 0.3, 0.6):
        assert nms(boxes, scores, threshold).tolist() == _reference_nms(boxes, scores, threshold)


def test_batched_nms_classes_are_independent():
    boxes = _boxes([[0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 11, 10], [30, 30, 40, 40]])
    scores = torch.tensor([0.6, 0.9, 0.8, 0.7])
    labels = torch.tensor([0, 1, 1, 0])
    keep = batched_nms(boxes, scores, labels, 0.5)
    # Box 0 overlaps box 1 exactly but has another label; box 2 loses to box 1 (same label).
    assert keep.tolist() == [1, 3, 0]
    assert keep.dtype == torch.int64
    same = batched_nms(boxes, scores, torch.zeros(4, dtype=torch.long), 0.5)
    assert same.tolist() == nms(boxes, scores, 0.5).tolist() == [1, 3]
    assert batched_nms(_boxes([]), torch.zeros(0), torch.zeros(0, dtype=torch.long),
                       0.5).shape == (0,)


# --------------------------------------------------------------------------- masks, clipping


def test_masks_to_boxes_exact_pixel_edges():
    masks = torch.zeros(3, 8, 10, dtype=torch.bool)
    masks[0, 2:5, 3:8] = True  # rows 2..4, columns 3..7
    masks[1, 6, 0] = True  # one pixel
    masks[1, 0, 9] = True  # and a far corner: the box spans both
    masks[2, 7, 9] = True
    boxes, valid = masks_to_boxes(masks)
    assert boxes.dtype == torch.float32 and valid.dtype == torch.bool
    assert boxes.tolist() == [[3, 2, 8, 5], [0, 0, 10, 7], [9, 7, 10, 8]]
    assert valid.tolist() == [True, True, True]


def test_masks_to_boxes_empty_mask_and_float_threshold():
    masks = torch.zeros(2, 6, 6)
    masks[0, 1, 1] = 0.4  # below 0.5: not in the mask
    masks[0, 3:5, 2] = 0.6
    boxes, valid = masks_to_boxes(masks)
    assert boxes.tolist() == [[2, 3, 3, 5], [0, 0, 0, 0]]
    assert valid.tolist() == [True, False]
    boxes, valid = masks_to_boxes(torch.zeros(0, 4, 4, dtype=torch.bool))
    assert boxes.shape == (0, 4) and valid.shape == (0,)


def test_clip_boxes():
    boxes = _boxes([[-5, -1, 20, 8], [3, 4, 5, 6]])
    clipped = clip_boxes(boxes, width=10, height=7)
    assert clipped.tolist() == [[0, 0, 10, 7], [3, 4, 5, 6]]
    assert boxes[0, 0].item() == -5  # input untouched
