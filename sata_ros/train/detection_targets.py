"""
Training targets and loss of the MOT/MOTS detection head (`sata_ros.model.detection_head`).

The SATA paper gives no assignment rule or loss for its DyHead detector, so both are [R]
reconstructions in the FCOS style (Tian et al., "FCOS: Fully Convolutional One-Stage Object
Detection", ICCV 2019, with its center sampling), which matches the head's anchor-free
(l, t, r, b) + centerness outputs:

- Assignment: a location is a positive of ground-truth box g when it lies inside g's centre
  region (the box centre +- center_radius * stride, clipped to the box) and the largest of its
  four distances to g's sides lies in its level's size range. A location matching several
  boxes takes the smallest-area one. Its quality target is g's centerness at the location.
- Loss: sigmoid focal loss on all locations and classes, normalised by the number of
  positives; GIoU + stride-normalised L1 of the distances on positives; BCE of the quality
  logit against the centerness on positives.

Coordinates are input-image pixels, boxes (x1, y1, x2, y2), as in the head.
"""

import math
from typing import NamedTuple, Sequence

from sata_ros.train.losses import box_l1_loss, giou_loss, sigmoid_focal_loss
import torch
from torch import Tensor
import torch.nn.functional as F

# Label of a background location: assignment does not need the class count, and -1 can never
# be mistaken for a class.
BACKGROUND = -1

# FCOS's ranges of the largest side distance for strides 8, 16, 32 (pixels): objects up to
# about 128 pixels on the stride-8 level, up to 256 on stride 16, larger ones on stride 32.
DEFAULT_SIZE_RANGES = ((0.0, 64.0), (64.0, 128.0), (128.0, math.inf))

# Weight of the L1 term within 'box' [R]: distances / stride reach ~8 on their level, so L1
# would otherwise outweigh GIoU (in [0, 2]).
DEFAULT_L1_WEIGHT = 0.25


class AssignedTargets(NamedTuple):
    """
    Per-location targets of one image, locations of all levels concatenated, finest first.

    Attributes:
        labels: (N,) int64 class of the matched box, BACKGROUND (-1) for negatives.
        boxes: (N, 4) float xyxy pixels of the matched box; zeros for negatives.
        ltrb: (N, 4) float distances (pixels) from the location to the matched box's left, top,
            right and bottom sides; zeros for negatives.
        centerness: (N,) float in [0, 1], the quality target; 0 for negatives.
        matched: (N,) int64 index of the matched box in gt_boxes, -1 for negatives.
        strides: (N,) float stride of each location's level, pixels.

    """

    labels: Tensor
    boxes: Tensor
    ltrb: Tensor
    centerness: Tensor
    matched: Tensor
    strides: Tensor


def assign(points: Sequence[Tensor], strides: Sequence[int], gt_boxes: Tensor,
           gt_labels: Tensor,
           size_ranges: Sequence[tuple[float, float]] = DEFAULT_SIZE_RANGES,
           center_radius: float = 1.5) -> AssignedTargets:
    """
    Assign ground-truth boxes to feature locations, FCOS style with center sampling.

    A location at p on level l is a candidate of box g when
    - p is strictly inside g's centre region: the square of half-side center_radius * stride_l
      around g's centre, clipped to g (center_radius <= 0: all of g), and
    - m = max(l, t, r, b), its largest distance to g's sides, satisfies lo_l < m <= hi_l.
    Among its candidates a location takes the box of smallest area.

    Centerness = sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)), 1 at the box centre.

    Args:
        points: one (N_l, 2) float tensor of xy location centres (pixels) per level, finest
            first (the head's 'points').
        strides: stride of each level, pixels.
        gt_boxes: (G, 4) float xyxy pixels; G may be 0.
        gt_labels: (G,) integer classes in [0, num_classes).
        size_ranges: (lo, hi) per level, pixels.
        center_radius: half-side of the centre region, in strides.

    Returns:
        AssignedTargets over the N = sum N_l locations.

    """
    if not len(points) == len(strides) == len(size_ranges):
        raise ValueError(f'points, strides and size_ranges need one entry per level, got '
                         f'{len(points)}, {len(strides)} and {len(size_ranges)}')
    if gt_boxes.dim() != 2 or gt_boxes.shape[1] != 4:
        raise ValueError(f'gt_boxes must be (G, 4), got {tuple(gt_boxes.shape)}')
    if gt_labels.shape != gt_boxes.shape[:1]:
        raise ValueError(f'gt_labels must be ({gt_boxes.shape[0]},), got '
                         f'{tuple(gt_labels.shape)}')
    locs = torch.cat(list(points)).float()
    device = locs.device
    counts = [len(p) for p in points]
    loc_stride = torch.cat([torch.full((n,), float(s), device=device)
                            for n, s in zip(counts, strides)])
    lows = torch.cat([torch.full((n,), float(r[0]), device=device)
                      for n, r in zip(counts, size_ranges)])
    highs = torch.cat([torch.full((n,), float(r[1]), device=device)
                       for n, r in zip(counts, size_ranges)])
    total = len(locs)
    count = gt_boxes.shape[0]
    if count == 0:
        return AssignedTargets(
            torch.full((total,), BACKGROUND, dtype=torch.long, device=device),
            locs.new_zeros(total, 4), locs.new_zeros(total, 4), locs.new_zeros(total),
            torch.full((total,), -1, dtype=torch.long, device=device), loc_stride)
    gt = gt_boxes.to(device=device, dtype=torch.float32)
    x, y = locs[:, 0:1], locs[:, 1:2]  # (N, 1)
    x1, y1, x2, y2 = (c[None, :] for c in gt.unbind(dim=1))  # (1, G) each
    dist = torch.stack((x - x1, y - y1, x2 - x, y2 - y), dim=-1)  # (N, G, 4)
    if center_radius > 0:
        radius = loc_stride[:, None] * center_radius
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        # The centre region clipped to the box, so candidates are always inside the box.
        left, right = torch.maximum(cx - radius, x1), torch.minimum(cx + radius, x2)
        top, bottom = torch.maximum(cy - radius, y1), torch.minimum(cy + radius, y2)
        inside = (x > left) & (x < right) & (y > top) & (y < bottom)
    else:
        inside = dist.amin(dim=-1) > 0
    reach = dist.amax(dim=-1)
    in_range = (reach > lows[:, None]) & (reach <= highs[:, None])
    area = ((x2 - x1) * (y2 - y1)).expand(total, count)
    cost = torch.where(inside & in_range, area, torch.full_like(area, math.inf))
    best_area, matched = cost.min(dim=1)
    positive = torch.isfinite(best_area)
    matched = torch.where(positive, matched, torch.full_like(matched, -1))
    safe = matched.clamp(min=0)
    labels = torch.where(positive, gt_labels.to(device=device, dtype=torch.long)[safe],
                         torch.full_like(matched, BACKGROUND))
    pos = positive[:, None].float()
    ltrb = dist[torch.arange(total, device=device), safe] * pos
    boxes = gt[safe] * pos
    lr, tb = ltrb[:, 0::2], ltrb[:, 1::2]
    ratio = (lr.amin(dim=1) / lr.amax(dim=1).clamp(min=1e-6)
             * tb.amin(dim=1) / tb.amax(dim=1).clamp(min=1e-6))
    centerness = torch.sqrt(ratio.clamp(min=0)) * pos[:, 0]
    return AssignedTargets(labels, boxes, ltrb, centerness, matched, loc_stride)


def _flatten_levels(maps: Sequence[Tensor]) -> Tensor:
    # L maps (B, K, H, W) -> (B, sum H W, K), locations in the order of `assign`.
    return torch.cat([m.flatten(2).transpose(1, 2) for m in maps], dim=1)


def detection_loss(outputs: dict[str, list], targets: Sequence[dict[str, Tensor]],
                   size_ranges: Sequence[tuple[float, float]] = DEFAULT_SIZE_RANGES,
                   center_radius: float = 1.5, focal_alpha: float = 0.25,
                   focal_gamma: float = 2.0,
                   l1_weight: float = DEFAULT_L1_WEIGHT) -> dict[str, Tensor]:
    """
    Compute the detection head's loss terms for a batch.

    - 'cls': `sigmoid_focal_loss` over all locations and classes (one-hot targets, all zero on
      background), summed and divided by max(1, positives in the batch).
    - 'box': on positives, mean of giou_loss(predicted box, ground-truth box) plus l1_weight
      times the L1 of the (l, t, r, b) distances divided by the location's stride (mean over
      positives and the 4 sides). The predicted box is point -+ predicted distances.
    - 'quality': on positives, mean binary cross-entropy of the quality logit against the
      centerness target.
    Without positives 'box' and 'quality' are 0 (still connected to the graph).

    The total loss is the (weighted) sum of the three terms; it is left to the caller.

    Args:
        outputs: the dict `DetectionHead.forward` returns (uses 'cls_logits', 'box_ltrb',
            'quality', 'points' and 'strides').
        targets: one dict per image with 'boxes' (G, 4) float xyxy pixels and 'labels' (G,)
            integer classes in [0, num_classes).
        size_ranges: per-level size ranges for `assign`.
        center_radius: centre-sampling radius for `assign`, strides.
        focal_alpha: focal loss alpha.
        focal_gamma: focal loss gamma.
        l1_weight: weight of the L1 term inside 'box'.

    Returns:
        dict of 0-dim float tensors 'cls', 'box', 'quality'.

    """
    cls_logits = _flatten_levels(outputs['cls_logits'])  # (B, N, C)
    pred_ltrb = _flatten_levels(outputs['box_ltrb'])  # (B, N, 4)
    quality = _flatten_levels(outputs['quality'])[..., 0]  # (B, N)
    batch, _, num_classes = cls_logits.shape
    if len(targets) != batch:
        raise ValueError(f'need one target per image: {batch} images, {len(targets)} targets')
    assigned = [assign(outputs['points'], outputs['strides'], t['boxes'], t['labels'],
                       size_ranges, center_radius) for t in targets]
    labels = torch.stack([a.labels for a in assigned]).to(cls_logits.device)
    positive = labels >= 0
    if bool((labels >= num_classes).any()):
        raise ValueError(f'target labels must be in [0, {num_classes})')
    one_hot = F.one_hot(labels.clamp(min=0), num_classes).to(cls_logits.dtype)
    one_hot = one_hot * positive[..., None].to(cls_logits.dtype)
    num_pos = int(positive.sum())
    cls_loss = sigmoid_focal_loss(cls_logits, one_hot, alpha=focal_alpha, gamma=focal_gamma,
                                  reduction='sum') / max(num_pos, 1)
    if num_pos == 0:
        # Zero terms that still reach the predictors, so every step has the same graph.
        zero = pred_ltrb.sum() * 0 + quality.sum() * 0
        return {'cls': cls_loss, 'box': zero, 'quality': zero}
    points = torch.cat(list(outputs['points'])).to(pred_ltrb.dtype)
    points = points[None].expand(batch, -1, -1)[positive]  # (P, 2)
    dist = pred_ltrb[positive]  # (P, 4)
    target_ltrb = torch.stack([a.ltrb for a in assigned]).to(dist)[positive]
    target_boxes = torch.stack([a.boxes for a in assigned]).to(dist)[positive]
    strides = torch.stack([a.strides for a in assigned]).to(dist)[positive][:, None]
    pred_boxes = torch.cat((points - dist[:, :2], points + dist[:, 2:]), dim=1)
    box_loss = giou_loss(pred_boxes, target_boxes) + l1_weight * box_l1_loss(
        dist / strides, target_ltrb / strides)
    target_quality = torch.stack([a.centerness for a in assigned]).to(dist)[positive]
    # Soft (centerness) targets: plain BCE on the logit.
    quality_loss = F.binary_cross_entropy_with_logits(quality[positive], target_quality)
    return {'cls': cls_loss, 'box': box_loss, 'quality': quality_loss}


__all__ = ['AssignedTargets', 'BACKGROUND', 'DEFAULT_L1_WEIGHT', 'DEFAULT_SIZE_RANGES', 'assign',
           'detection_loss']
