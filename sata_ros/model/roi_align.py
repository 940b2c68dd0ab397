"""
RoIAlign (Mask R-CNN) written with plain torch indexing, so it runs wherever torch runs.

Definition (He et al., "Mask R-CNN", 2017, as implemented by the common detection libraries):
a box is mapped onto the feature map by `spatial_scale`, split into oh x ow equal bins, each bin
is sampled on a regular g_h x g_w grid of points at the sub-cell centres, every point is read by
bilinear interpolation, and the bin's value is the mean of its points.

Coordinate conventions (box corners in input-image pixels, x right, y down, origin at the
top-left corner of the top-left pixel):
- `aligned=True`: feature cell (i, j) has its centre at continuous coordinate (i + 0.5, j + 0.5)
  in feature pixels, so the box is shifted by -0.5 before sampling; this is the half-pixel
  correct form and the one to use for new models.
- `aligned=False`: the legacy form with no shift, and boxes narrower or lower than one feature
  pixel are widened to one pixel.
- A sample point more than one cell outside the map (y < -1, y > H, x < -1, x > W, in cell-index
  units) reads zero; a point between the border and one cell outside reads the border value.

The implementation gathers the four neighbours of every sample point from the flattened feature
map (one `index_select` per corner) for all boxes of all images at once; it is differentiable
with respect to `features` (not to the box coordinates, as in the reference implementations).
"""

from typing import Union

import torch
from torch import Tensor


def _pair(size: Union[int, tuple[int, int]]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def _axis_samples(start: Tensor, length: Tensor, bins: int, grid: Tensor,
                  max_grid: int, extent: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """
    Bilinear neighbours and weights of the sample points along one axis, for K boxes.

    Args:
        start: (K,) box start along the axis, in feature-cell-index units (after the shift).
        length: (K,) box length along the axis, feature cells.
        bins: number of output bins along the axis.
        grid: (K,) int64 sample points per bin along the axis, per box (may be 0).
        max_grid: max(grid), at least 1; every box gets this many slots, extra ones weigh 0.
        extent: feature-map size along the axis (H or W), cells.

    Returns:
        low, high: (K, bins * max_grid) int64 neighbour indices in [0, extent - 1].
        w_low, w_high: (K, bins * max_grid) weights of the two neighbours; zero for slots beyond
            the box's own grid and for points more than one cell outside the map.

    """
    bin_size = length / bins
    slot = torch.arange(max_grid, device=start.device, dtype=start.dtype)
    bin_index = torch.arange(bins, device=start.device, dtype=start.dtype)
    # Points at the centres of the g equal sub-cells of each bin: (K, bins, max_grid).
    step = (bin_size / grid.clamp(min=1).to(start.dtype))[:, None, None]
    pos = (start[:, None, None] + bin_index[None, :, None] * bin_size[:, None, None]
           + (slot[None, None, :] + 0.5) * step)
    used = slot[None, None, :] < grid[:, None, None].to(start.dtype)
    inside = (pos >= -1.0) & (pos <= extent)
    keep = (used & inside).to(start.dtype).reshape(len(start), -1)
    pos = pos.reshape(len(start), -1)
    # Points within one cell outside the map read the border cell, as in the reference.
    pos = pos.clamp(min=0.0, max=extent - 1)
    low = pos.floor().long().clamp(max=extent - 1)
    high = (low + 1).clamp(max=extent - 1)
    frac = pos - low.to(pos.dtype)
    return low, high, (1.0 - frac) * keep, frac * keep


def roi_align(features: Tensor, boxes: Tensor, output_size: Union[int, tuple[int, int]],
              spatial_scale: float, sampling_ratio: int = 2, aligned: bool = True) -> Tensor:
    """
    Pool a fixed-size feature patch for every box.

    Args:
        features: (B, C, H, W) floating-point feature maps.
        boxes: (K, 5) rows [batch_index, x1, y1, x2, y2]; batch_index is an integer in [0, B)
            stored in the box dtype, corners are in input-image pixels (x1 <= x2, y1 <= y2).
        output_size: oh or (oh, ow), bins per box.
        spatial_scale: feature cells per input-image pixel (1 / stride, e.g. 0.25).
        sampling_ratio: sample points per bin along each axis; <= 0 picks
            ceil(box size / bins) per box and axis (adaptive, as in the reference; memory grows
            with the largest box).
        aligned: half-pixel-correct sampling (see the module docstring).

    Returns:
        (K, C, oh, ow) pooled features, dtype of `features`; (0, C, oh, ow) for K = 0.

    """
    if features.dim() != 4:
        raise ValueError(f'features must be (B, C, H, W), got shape {tuple(features.shape)}')
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(f'boxes must be (K, 5), got shape {tuple(boxes.shape)}')
    out_h, out_w = _pair(output_size)
    batch, channels, height, width = features.shape
    count = boxes.shape[0]
    if count == 0:
        return features.new_zeros((0, channels, out_h, out_w))
    # Coordinates in at least float32: half-precision box arithmetic loses whole cells on
    # large maps.
    coord_dtype = torch.promote_types(features.dtype, torch.float32)
    boxes = boxes.to(device=features.device, dtype=coord_dtype)
    offset = 0.5 if aligned else 0.0
    x1 = boxes[:, 1] * spatial_scale - offset
    y1 = boxes[:, 2] * spatial_scale - offset
    box_w = boxes[:, 3] * spatial_scale - offset - x1
    box_h = boxes[:, 4] * spatial_scale - offset - y1
    if not aligned:
        box_w = box_w.clamp(min=1.0)
        box_h = box_h.clamp(min=1.0)
    if sampling_ratio > 0:
        grid_h = torch.full((count,), sampling_ratio, dtype=torch.long, device=boxes.device)
        grid_w = grid_h
    else:
        grid_h = torch.ceil(box_h / out_h).clamp(min=0).long()
        grid_w = torch.ceil(box_w / out_w).clamp(min=0).long()
    max_h = max(int(grid_h.max()), 1)
    max_w = max(int(grid_w.max()), 1)

    y_lo, y_hi, wy_lo, wy_hi = _axis_samples(y1, box_h, out_h, grid_h, max_h, height)
    x_lo, x_hi, wx_lo, wx_hi = _axis_samples(x1, box_w, out_w, grid_w, max_w, width)
    # Row offset of each box's image in the flattened (B * H * W, C) map.
    base = (boxes[:, 0].long() * (height * width))[:, None, None]
    flat = features.permute(0, 2, 3, 1).reshape(batch * height * width, channels)
    dtype = features.dtype
    pooled = None
    for rows, w_rows in ((y_lo, wy_lo), (y_hi, wy_hi)):
        for cols, w_cols in ((x_lo, wx_lo), (x_hi, wx_hi)):
            index = base + rows[:, :, None] * width + cols[:, None, :]  # (K, Py, Px)
            weight = (w_rows[:, :, None] * w_cols[:, None, :]).to(dtype)
            term = flat.index_select(0, index.reshape(-1)).reshape(*index.shape, channels)
            term = term * weight[..., None]
            pooled = term if pooled is None else pooled + term
    # (K, oh, g_h, ow, g_w, C): average the points of each bin; the divisor is the box's own
    # grid size (at least 1), so empty grids give zeros, as in the reference.
    pooled = pooled.reshape(count, out_h, max_h, out_w, max_w, channels).sum(dim=(2, 4))
    divisor = (grid_h * grid_w).clamp(min=1).to(dtype)[:, None, None, None]
    return (pooled / divisor).permute(0, 3, 1, 2).contiguous()
