"""
MOT/MOTS detection head of SATA's candidate generation module (CGM): a Dynamic Head detector.

The SATA paper: "take the multi-scale unified embeddings (1/4 to 1/32) and fuse them with
deformable convolution, run 4 Dynamic Head blocks (scale-, spatial- and task-aware attention),
then a classification predictor and a box regressor". The pieces follow Dynamic Head (Dai et
al., "Dynamic Head: Unifying Object Detection Heads with Attentions", CVPR 2021) on an
anchor-free, FCOS-style output (one prediction per feature location):

1. Pyramid: the SAM 2.1 FPN levels (strides 4, 8, 16) that the head uses are projected to
   `channels` by 1x1 convs; levels coarser than the inputs (stride 32) come from stride-2 3x3
   convs, the first on the coarsest input. The stride-4 input is skipped by default: at
   256 x 256 feature cells per 1024-pixel image it would cost 4x the stride-8 level in every
   block, for objects smaller than the 64-pixel range the stride-8 level already covers.
2. Blocks: each level becomes the mean of the spatial-aware convolution (a modulated
   deformable 3x3 conv, DCNv2) of itself, of its finer neighbour (stride 2) and of its coarser
   neighbour (bilinearly upsampled), each scaled by the scale-aware attention; the task-aware
   attention (dynamic ReLU) follows.
3. Predictors, shared by all levels: class logits, box distances (l, t, r, b) to the four sides
   from the location, and a centerness (quality) logit. The detection score is
   sqrt(sigmoid(class) * sigmoid(quality)).

Coordinates are input-image pixels (the image the FPN was computed on), x right, y down, origin
at the top-left corner of the top-left pixel; feature cell (i, j) of a stride-s level has its
centre at ((j + 0.5) s, (i + 0.5) s).
"""

import math
from typing import NamedTuple, Optional, Sequence

from sata_ros.model.box_ops import batched_nms, clip_boxes
import torch
from torch import nn, Tensor
import torch.nn.functional as F

# Dynamic ReLU coefficient ranges (DyHead): a in 1 +- LAMBDA_A (first branch) and +- LAMBDA_A
# (second branch), b in +- LAMBDA_B.
LAMBDA_A = 1.0
LAMBDA_B = 0.5


class Detections(NamedTuple):
    """
    Detections of one image.

    Attributes:
        boxes: (N, 4) float32 xyxy pixels, clipped to the image.
        scores: (N,) float32 in [0, 1], descending.
        labels: (N,) int64 class indices in [0, num_classes).

    """

    boxes: Tensor
    scores: Tensor
    labels: Tensor


def modulated_deform_conv2d(x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
                            bias: Optional[Tensor] = None, stride: int = 1, padding: int = 1,
                            dilation: int = 1) -> Tensor:
    """
    Modulated deformable convolution (DCNv2, Zhu et al. CVPR 2019) with torch primitives.

    Output (o, y, x) = bias[o] + sum over input channels c and kernel taps k = (i, j) of
    weight[o, c, i, j] * mask[k, y, x] * x_in[c](p_y, p_x), where the tap reads the input at

        p_y = y * stride - padding + i * dilation + offset[2 k, y, x],
        p_x = x * stride - padding + j * dilation + offset[2 k + 1, y, x]

    in input pixel indices (pixel index p has its centre at p), by bilinear interpolation with
    zeros outside the input, as conv2d's zero padding. With zero offsets and unit masks this is
    F.conv2d(x, weight, bias, stride, padding, dilation).

    All taps are read by one `grid_sample`; the weights are then applied as one matmul over the
    (C * k * k) stack of samples.

    Args:
        x: (B, C, H, W) float input.
        offset: (B, 2 * kh * kw, Ho, Wo) offsets in input pixels, (dy, dx) per tap, taps in
            row-major kernel order (the torchvision layout).
        mask: (B, kh * kw, Ho, Wo) modulation of each tap (any real value).
        weight: (O, C, kh, kw) kernel (no groups).
        bias: optional (O,).
        stride: output stride, pixels.
        padding: zero padding, pixels.
        dilation: kernel dilation.

    Returns:
        (B, O, Ho, Wo) output, dtype of `x`, Ho = (H + 2 padding - dilation (kh - 1) - 1)
        // stride + 1 (Wo alike).

    """
    batch, channels, height, width = x.shape
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    if in_channels != channels:
        raise ValueError(f'weight expects {in_channels} input channels, x has {channels}')
    taps = kernel_h * kernel_w
    out_h = (height + 2 * padding - dilation * (kernel_h - 1) - 1) // stride + 1
    out_w = (width + 2 * padding - dilation * (kernel_w - 1) - 1) // stride + 1
    if offset.shape != (batch, 2 * taps, out_h, out_w):
        raise ValueError(f'offset must be {(batch, 2 * taps, out_h, out_w)}, '
                         f'got {tuple(offset.shape)}')
    if mask.shape != (batch, taps, out_h, out_w):
        raise ValueError(f'mask must be {(batch, taps, out_h, out_w)}, got {tuple(mask.shape)}')
    device, dtype = x.device, x.dtype
    tap_y = torch.arange(kernel_h, device=device, dtype=dtype).repeat_interleave(kernel_w)
    tap_x = torch.arange(kernel_w, device=device, dtype=dtype).repeat(kernel_h)
    out_y = torch.arange(out_h, device=device, dtype=dtype) * stride - padding
    out_x = torch.arange(out_w, device=device, dtype=dtype) * stride - padding
    base_y = out_y[None, :, None] + dilation * tap_y[:, None, None]  # (taps, Ho, 1)
    base_x = out_x[None, None, :] + dilation * tap_x[:, None, None]  # (taps, 1, Wo)
    offset = offset.to(dtype).reshape(batch, taps, 2, out_h, out_w)
    pos_y = base_y + offset[:, :, 0]  # (B, taps, Ho, Wo)
    pos_x = base_x + offset[:, :, 1]
    # grid_sample(align_corners=False) puts the centre of pixel index p at (2 p + 1) / size - 1
    # in its [-1, 1] coordinates.
    grid = torch.stack(((2 * pos_x + 1) / width - 1, (2 * pos_y + 1) / height - 1), dim=-1)
    samples = F.grid_sample(x, grid.reshape(batch, taps * out_h, out_w, 2), mode='bilinear',
                            padding_mode='zeros', align_corners=False)
    samples = samples.reshape(batch, channels, taps, out_h, out_w) * mask.to(dtype)[:, None]
    # Column index c * taps + k matches weight.reshape(O, C * kh * kw).
    columns = samples.reshape(batch, channels * taps, out_h * out_w)
    out = torch.matmul(weight.reshape(out_channels, channels * taps), columns)
    if bias is not None:
        out = out + bias[None, :, None]
    return out.reshape(batch, out_channels, out_h, out_w)


class ModulatedDeformConv2d(nn.Module):
    """
    DCNv2 layer: a k x k conv whose taps move and are weighted per location.

    A plain k x k conv (same stride, padding and dilation) on the input predicts 2 k^2 offsets
    (dy, dx per tap, input pixels) and k^2 modulation logits; the modulation is
    2 * sigmoid(logit), in (0, 2). The predictor starts at zero, so offsets start at 0 and the
    modulation at exactly 1: the layer starts as exactly a plain conv with `weight` and `bias`
    (DCNv2's sigmoid alone would start every tap at 0.5, halving the output of a pretrained or
    freshly initialised kernel).

    Args:
        in_channels: input channels C.
        out_channels: output channels O.
        kernel_size: k (odd); padding is dilation * (k - 1) / 2, so stride 1 keeps the size.
        stride: output stride.
        dilation: kernel dilation.
        bias: whether the layer has a bias.

    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, dilation: int = 1, bias: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.stride = stride
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1) // 2
        self.taps = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.offset_conv = nn.Conv2d(in_channels, 3 * self.taps, kernel_size, stride,
                                     self.padding, dilation)
        # The usual conv initialisation (as nn.Conv2d's), then a zero offset predictor.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        """
        Apply the layer.

        Args:
            x: (B, C, H, W) float input.

        Returns:
            (B, O, Ho, Wo) output; Ho = ceil(H / stride), Wo = ceil(W / stride).

        """
        offset, logits = self.offset_conv(x).split([2 * self.taps, self.taps], dim=1)
        mask = 2 * torch.sigmoid(logits)
        return modulated_deform_conv2d(x, offset, mask, self.weight, self.bias, self.stride,
                                       self.padding, self.dilation)


def _group_count(channels: int, max_groups: int = 16) -> int:
    # GroupNorm with DyHead's 16 groups when they divide the channels, else the largest divisor.
    return max(g for g in range(1, max_groups + 1) if channels % g == 0)


class _SpatialConv(nn.Module):
    """Spatial-aware attention: a 3x3 DCNv2 followed by GroupNorm (DyHead's Conv3x3Norm)."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.conv = ModulatedDeformConv2d(channels, channels, 3, stride=stride, bias=False)
        self.norm = nn.GroupNorm(_group_count(channels), channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.conv(x))


class DynamicReLU(nn.Module):
    """
    Task-aware attention of DyHead: a dynamic ReLU with per-channel coefficients.

    y_c = max(a1_c x_c + b1_c, a2_c x_c + b2_c), where (a1, b1, a2, b2) come from the global
    average pool of x through an MLP: theta = 2 * hardsigmoid(MLP(pool)) - 1 in [-1, 1]^4C,
    a1 = 1 + LAMBDA_A theta_1, b1 = LAMBDA_B theta_2, a2 = LAMBDA_A theta_3, b2 = LAMBDA_B theta_4.
    theta = 0 is exactly ReLU. The MLP's last layer starts with zero bias and small weights
    (std 0.01), so the layer starts within about 1% of ReLU; exactly zero weights would give it
    exactly ReLU but no gradient to the MLP's first layer until the last one has moved.

    Args:
        channels: channels C.
        reduction: hidden width of the MLP is max(C // reduction, 4).

    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, 4 * channels)
        nn.init.normal_(self.fc2.weight, std=0.01)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        """
        Apply the dynamic ReLU.

        Args:
            x: (B, C, H, W) float features.

        Returns:
            (B, C, H, W), dtype of `x`.

        """
        batch, channels = x.shape[:2]
        theta = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3)))))
        theta = 2 * F.hardsigmoid(theta) - 1
        a1, b1, a2, b2 = theta.reshape(batch, 4, channels, 1, 1).unbind(dim=1)
        return torch.maximum(x * (1 + LAMBDA_A * a1) + LAMBDA_B * b1,
                             x * (LAMBDA_A * a2) + LAMBDA_B * b2)


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    # Neighbouring levels are exactly 2x apart for even sizes; odd sizes can differ by a cell.
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


class DyHeadBlock(nn.Module):
    """
    One Dynamic Head block over L levels of the same channel count.

    For level l: parts = [S_mid(x_l), S_down(x_{l-1}) (stride 2), up(S_up(x_{l+1}))], the
    neighbours existing; each part P is scaled by the scale-aware attention
    hardsigmoid(conv1x1(mean_hw(P))) (one scalar per image and part, the 1x1 conv shared by all
    levels); the parts are averaged and go through the task-aware dynamic ReLU. S_* are the
    spatial-aware DCNv2 convs (each with its own offset predictor, run on its own input).

    Args:
        channels: channels of every level.

    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.spatial_mid = _SpatialConv(channels, stride=1)
        self.spatial_down = _SpatialConv(channels, stride=2)
        self.spatial_up = _SpatialConv(channels, stride=1)
        self.scale_attn = nn.Conv2d(channels, 1, 1)
        nn.init.normal_(self.scale_attn.weight, std=0.01)
        nn.init.zeros_(self.scale_attn.bias)
        self.task_attn = DynamicReLU(channels)

    def forward(self, levels: list[Tensor]) -> list[Tensor]:
        """
        Refine every level.

        Args:
            levels: L tensors (B, channels, H_l, W_l), finest first, each level half the size
                of the previous one.

        Returns:
            L tensors of the same shapes.

        """
        out = []
        for index, x in enumerate(levels):
            size = x.shape[-2:]
            parts = [self.spatial_mid(x)]
            if index > 0:
                parts.append(_resize(self.spatial_down(levels[index - 1]), size))
            if index + 1 < len(levels):
                coarse = self.spatial_up(levels[index + 1])
                parts.append(F.interpolate(coarse, size=tuple(size), mode='bilinear',
                                           align_corners=False))
            scaled = [p * F.hardsigmoid(self.scale_attn(p.mean(dim=(2, 3), keepdim=True)))
                      for p in parts]
            out.append(self.task_attn(torch.stack(scaled).mean(dim=0)))
        return out


def grid_points(height: int, width: int, stride: int, device: Optional[torch.device] = None,
                dtype: torch.dtype = torch.float32) -> Tensor:
    """
    Return the input-pixel centres of a stride-`stride` feature map's cells.

    Args:
        height: rows H of the feature map.
        width: columns W.
        stride: input pixels per cell.
        device: device of the result.
        dtype: float dtype of the result.

    Returns:
        (H * W, 2) xy pixels ((ix + 0.5) stride, (iy + 0.5) stride), row-major (the order of
        a (H, W) map flattened).

    """
    xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) * stride
    ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) * stride
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack((grid_x, grid_y), dim=-1).reshape(-1, 2)


class DetectionHead(nn.Module):
    """
    DyHead-style anchor-free detection head on multi-scale features.

    Args:
        in_channels: channels of every input level (SAM 2.1's FPN: 256).
        channels: width of the head.
        num_classes: object classes (one sigmoid logit each).
        num_blocks: Dynamic Head blocks (SATA: 4).
        in_strides: strides of the input levels, finest first (SAM 2.1's FPN: 4, 8, 16).
        strides: strides of the head's levels, finest first, each twice the previous. A stride
            in `in_strides` is a projected input level; strides beyond the coarsest input
            continue it by stride-2 convs. Inputs at other strides are not read (by default the
            stride-4 level, for cost: see the module docstring).
        prior_prob: initial foreground probability of every class logit (focal-loss prior).

    """

    def __init__(self, in_channels: int = 256, channels: int = 128, num_classes: int = 1,
                 num_blocks: int = 4, in_strides: Sequence[int] = (4, 8, 16),
                 strides: Sequence[int] = (8, 16, 32), prior_prob: float = 0.01) -> None:
        super().__init__()
        in_strides, strides = tuple(in_strides), tuple(strides)
        if list(in_strides) != sorted(set(in_strides)):
            raise ValueError(f'in_strides must be increasing, got {in_strides}')
        if not strides or any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(f'strides must double from level to level, got {strides}')
        coarsest = in_strides[-1]
        for stride in strides:
            if stride not in in_strides and stride < coarsest:
                raise ValueError(f'stride {stride} is finer than the coarsest input '
                                 f'({coarsest}) but not an input stride {in_strides}')
        extra_strides = [s for s in strides if s > coarsest]
        if extra_strides and extra_strides[0] != 2 * coarsest:
            raise ValueError(f'the first stride beyond the inputs must be {2 * coarsest} (one '
                             f'stride-2 conv on the coarsest input), got {extra_strides[0]}')
        if not 0.0 < prior_prob < 1.0:
            raise ValueError(f'prior_prob must be in (0, 1), got {prior_prob}')
        self.in_channels = in_channels
        self.channels = channels
        self.num_classes = num_classes
        self.in_strides = in_strides
        self.strides = strides
        # Input index of each projected level, in head order.
        self.input_index = [in_strides.index(s) for s in strides if s in in_strides]
        self.input_proj = nn.ModuleList(
            nn.Conv2d(in_channels, channels, 1) for _ in self.input_index)
        num_extra = len(extra_strides)
        # RetinaNet-style extra levels: the first from the raw coarsest input, the next ones
        # from the ReLU of the previous extra level.
        self.extra = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else channels, channels, 3, stride=2, padding=1)
            for i in range(num_extra))
        self.blocks = nn.ModuleList(DyHeadBlock(channels) for _ in range(num_blocks))
        self.cls_pred = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.box_pred = nn.Conv2d(channels, 4, 3, padding=1)
        self.quality_pred = nn.Conv2d(channels, 1, 3, padding=1)
        # Per-level factor on the box logits (FCOS's Scale), so levels can adapt their range.
        self.box_scales = nn.Parameter(torch.ones(len(strides)))
        for conv in (self.cls_pred, self.box_pred, self.quality_pred):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)
        # Every location starts at foreground probability prior_prob, so the focal loss of the
        # many background locations does not swamp the first steps.
        nn.init.constant_(self.cls_pred.bias, -math.log((1 - prior_prob) / prior_prob))

    def _pyramid(self, levels: list[Tensor]) -> list[Tensor]:
        feats = [proj(levels[i]) for proj, i in zip(self.input_proj, self.input_index)]
        source = levels[-1]
        for index, conv in enumerate(self.extra):
            source = conv(source if index == 0 else F.relu(source))
            feats.append(source)
        return feats

    def forward(self, levels: list[Tensor]) -> dict[str, list]:
        """
        Predict classes, boxes and quality at every location of every head level.

        Args:
            levels: one (B, in_channels, H_l, W_l) float tensor per entry of `in_strides`,
                finest first, H_l = ceil(image height / stride) (W_l alike).

        Returns:
            dict with one entry per head level (finest first) in each list:
            'cls_logits': (B, num_classes, H, W) class logits.
            'box_ltrb': (B, 4, H, W) distances > 0 from the location to the box's left, top,
                right and bottom sides, input pixels.
            'quality': (B, 1, H, W) centerness logits.
            'points': (H * W, 2) xy pixel centres of the locations (see `grid_points`).
            'strides': the level strides (ints), for the loss and target assignment.

        """
        if len(levels) != len(self.in_strides):
            raise ValueError(f'expected {len(self.in_strides)} levels (strides '
                             f'{self.in_strides}), got {len(levels)}')
        for level in levels:
            if level.dim() != 4 or level.shape[1] != self.in_channels:
                raise ValueError(f'levels must be (B, {self.in_channels}, H, W), got '
                                 f'{tuple(level.shape)}')
        feats = self._pyramid(levels)
        for block in self.blocks:
            feats = block(feats)
        outputs = {'cls_logits': [], 'box_ltrb': [], 'quality': [], 'points': [],
                   'strides': list(self.strides)}
        for index, (feat, stride) in enumerate(zip(feats, self.strides)):
            height, width = feat.shape[-2:]
            outputs['cls_logits'].append(self.cls_pred(feat))
            # softplus keeps the distances positive with a gradient everywhere (a ReLU would
            # freeze a location whose raw output went negative).
            raw = self.box_pred(feat) * self.box_scales[index]
            outputs['box_ltrb'].append(F.softplus(raw) * stride)
            outputs['quality'].append(self.quality_pred(feat))
            outputs['points'].append(grid_points(height, width, stride, feat.device,
                                                 feat.dtype))
        return outputs

    @torch.no_grad()
    def decode(self, outputs: dict[str, list], image_size: tuple[int, int],
               score_threshold: float = 0.3, nms_iou: float = 0.7, max_detections: int = 100,
               pre_nms_top_k: int = 1000) -> list[Detections]:
        """
        Turn the head's outputs into scored, class-wise NMS-ed boxes per image.

        Args:
            outputs: the dict `forward` returns.
            image_size: (H, W) of the input image, pixels; boxes are clipped to it.
            score_threshold: keep (location, class) pairs with score above this, where
                score = sqrt(sigmoid(cls) * sigmoid(quality)).
            nms_iou: IoU above which NMS suppresses a box of the same class.
            max_detections: most detections per image, highest scores first.
            pre_nms_top_k: most candidates per level and image before NMS.

        Returns:
            One `Detections` per image of the batch.

        """
        height, width = image_size
        batch = outputs['cls_logits'][0].shape[0]
        results = []
        for image in range(batch):
            boxes, scores, labels = [], [], []
            for cls, ltrb, quality, points in zip(outputs['cls_logits'], outputs['box_ltrb'],
                                                  outputs['quality'], outputs['points']):
                num_classes = cls.shape[1]
                score = torch.sqrt(torch.sigmoid(cls[image].float())
                                   * torch.sigmoid(quality[image].float()))
                # (H * W * num_classes,), index = location * num_classes + class.
                score = score.flatten(1).t().reshape(-1)
                candidates = torch.nonzero(score > score_threshold).squeeze(1)
                cand_scores = score[candidates]
                if len(candidates) > pre_nms_top_k:
                    cand_scores, top = cand_scores.topk(pre_nms_top_k)
                    candidates = candidates[top]
                location = candidates // num_classes
                dist = ltrb[image].float().flatten(1).t()[location]
                centre = points[location].float()
                boxes.append(torch.cat((centre - dist[:, :2], centre + dist[:, 2:]), dim=1))
                scores.append(cand_scores)
                labels.append(candidates % num_classes)
            all_boxes = clip_boxes(torch.cat(boxes), width, height)
            all_scores, all_labels = torch.cat(scores), torch.cat(labels)
            keep = batched_nms(all_boxes, all_scores, all_labels, nms_iou)[:max_detections]
            results.append(Detections(all_boxes[keep], all_scores[keep], all_labels[keep]))
        return results


__all__ = ['Detections', 'DetectionHead', 'DyHeadBlock', 'DynamicReLU',
           'ModulatedDeformConv2d', 'grid_points', 'modulated_deform_conv2d']
