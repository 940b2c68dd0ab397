"""
Box utilities in plain torch: IoU, greedy NMS, boxes of masks and clipping.

torchvision's compiled operators are not importable on every machine this package runs on, so
the few box operations the detection head and the tracker need are written here with torch
primitives. They run on any device; NMS does its sequential part on the CPU.

Conventions shared by every function:
- Boxes are (x1, y1, x2, y2) corners in pixels, x right, y down, with the origin at the
  top-left corner of the top-left pixel; pixel column j spans [j, j + 1).
- A box with x2 <= x1 or y2 <= y1 has zero area (never a negative one).
"""

import torch
from torch import Tensor


def box_area(boxes: Tensor) -> Tensor:
    """
    Return the area of each box; inverted boxes have area 0.

    Args:
        boxes: (..., 4) float xyxy pixels.

    Returns:
        (...) areas in square pixels, dtype of `boxes`.

    """
    width = (boxes[..., 2] - boxes[..., 0]).clamp(min=0)
    height = (boxes[..., 3] - boxes[..., 1]).clamp(min=0)
    return width * height


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """
    Return the IoU of every pair of boxes from two sets.

    IoU = |A and B| / |A or B|. A pair whose union is zero (two zero-area boxes) has IoU 0, not
    NaN, so a degenerate box never suppresses or matches anything.

    Args:
        a: (N, 4) float xyxy pixels.
        b: (M, 4) float xyxy pixels.

    Returns:
        (N, M) IoU in [0, 1], dtype of `a`.

    """
    if a.dim() != 2 or a.shape[1] != 4 or b.dim() != 2 or b.shape[1] != 4:
        raise ValueError(f'box_iou takes (N, 4) and (M, 4) boxes, got {tuple(a.shape)} and '
                         f'{tuple(b.shape)}')
    b = b.to(a.dtype)
    area_a = box_area(a)
    area_b = box_area(b)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    size = (bottom_right - top_left).clamp(min=0)
    inter = size[..., 0] * size[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    # Dividing by a clamped union and then masking keeps both the value and its gradient
    # finite where the union is zero.
    iou = inter / union.clamp(min=torch.finfo(union.dtype).tiny)
    return torch.where(union > 0, iou, torch.zeros_like(iou))


def _descending_order(scores: Tensor) -> Tensor:
    # A stable sort keeps equal scores in index order, so ties go to the lower index.
    return torch.sort(scores, descending=True, stable=True).indices


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """
    Greedy non-maximum suppression.

    Boxes are visited in descending score; a box is kept unless a kept box overlaps it with
    IoU > `iou_threshold`. The pairwise IoUs are computed at once on the boxes' device; the
    greedy pass runs on the CPU (it is sequential, and one row per kept box is cheap).

    Args:
        boxes: (N, 4) float xyxy pixels.
        scores: (N,) float scores.
        iou_threshold: IoU above which the lower-scored box of a pair is suppressed.

    Returns:
        (K,) int64 indices into `boxes` of the kept boxes, by descending score (equal scores:
        lower index first), on the device of `boxes`. (0,) for N = 0.

    """
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f'boxes must be (N, 4), got {tuple(boxes.shape)}')
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f'scores must be (N,) = ({boxes.shape[0]},), got {tuple(scores.shape)}')
    count = boxes.shape[0]
    if count == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = _descending_order(scores)
    ranked = boxes[order]
    # over[i, j]: box of rank i suppresses box of rank j (only later ranks can be suppressed).
    over = (box_iou(ranked, ranked) > iou_threshold).triu_(diagonal=1).cpu()
    removed = torch.zeros(count, dtype=torch.bool)
    kept = []
    for rank in range(count):
        if not removed[rank]:
            kept.append(rank)
            removed |= over[rank]
    kept_ranks = torch.tensor(kept, dtype=torch.long, device=boxes.device)
    return order[kept_ranks]


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """
    Run `nms` independently for each label: boxes of different labels never suppress each other.

    One `nms` per distinct label (rather than offsetting each label's boxes far apart), so the
    IoUs are exactly those of the boxes, whatever their coordinates.

    Args:
        boxes: (N, 4) float xyxy pixels.
        scores: (N,) float scores.
        labels: (N,) integer class labels.
        iou_threshold: as in `nms`.

    Returns:
        (K,) int64 indices of the kept boxes over all labels, by descending score (equal scores:
        lower index first).

    """
    if labels.shape != scores.shape:
        raise ValueError(f'labels must have the shape of scores {tuple(scores.shape)}, got '
                         f'{tuple(labels.shape)}')
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    kept = []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).squeeze(1)
        kept.append(members[nms(boxes[members], scores[members], iou_threshold)])
    # Index order first, then a stable sort by score: ties across labels go to the lower index.
    kept_all = torch.sort(torch.cat(kept)).values
    return kept_all[_descending_order(scores[kept_all])]


def masks_to_boxes(masks: Tensor) -> tuple[Tensor, Tensor]:
    """
    Return the tight box of every mask, in pixel edges.

    A pixel (row i, column j) is in the mask when masks[k, i, j] is True (bool masks) or > 0.5
    (any other dtype: probabilities or {0, 1}). The box spans the pixels' outer edges:
    x1 = min column, x2 = max column + 1, y1 = min row, y2 = max row + 1, so a one-pixel mask
    at (i, j) gives (j, i, j + 1, i + 1).

    Args:
        masks: (K, H, W) bool, integer or float masks.

    Returns:
        boxes: (K, 4) float32 xyxy pixels; all zeros for an empty mask.
        valid: (K,) bool, False for an empty mask.

    """
    if masks.dim() != 3:
        raise ValueError(f'masks must be (K, H, W), got {tuple(masks.shape)}')
    count, height, width = masks.shape
    inside = masks if masks.dtype == torch.bool else masks > 0.5
    if count == 0:
        return (torch.zeros(0, 4, dtype=torch.float32, device=masks.device),
                torch.zeros(0, dtype=torch.bool, device=masks.device))
    cols = inside.any(dim=1)  # (K, W): columns holding a mask pixel
    rows = inside.any(dim=2)  # (K, H)
    valid = cols.any(dim=1)
    col_index = torch.arange(width, device=masks.device)
    row_index = torch.arange(height, device=masks.device)
    # Absent columns/rows are pushed past the ends so that min/max ignore them.
    x1 = torch.where(cols, col_index, width).amin(dim=1)
    x2 = torch.where(cols, col_index, -1).amax(dim=1) + 1
    y1 = torch.where(rows, row_index, height).amin(dim=1)
    y2 = torch.where(rows, row_index, -1).amax(dim=1) + 1
    boxes = torch.stack((x1, y1, x2, y2), dim=1).to(torch.float32)
    boxes = torch.where(valid[:, None], boxes, torch.zeros_like(boxes))
    return boxes, valid


def clip_boxes(boxes: Tensor, width: float, height: float) -> Tensor:
    """
    Clip boxes to the image [0, width] x [0, height].

    Args:
        boxes: (..., 4) float xyxy pixels.
        width: image width, pixels.
        height: image height, pixels.

    Returns:
        (..., 4) clipped boxes, a new tensor of the dtype of `boxes`.

    """
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x[..., 0], y[..., 0], x[..., 1], y[..., 1]), dim=-1)


__all__ = ['batched_nms', 'box_area', 'box_iou', 'clip_boxes', 'masks_to_boxes', 'nms']
