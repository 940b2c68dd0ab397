"""
SATA's losses as pure functions of tensors.

Task losses (SAM 2 heads of the CGM, the MOT/MOTS detection head, instance embeddings) and the
DeMoE decoupling losses of sata-paper.md §2.4: the complementary loss L_CM, the cross-expert
orthogonal loss L_CE and the router loss L_TASK, combined by `moe_loss`.

Each docstring tags its formula as in sata-paper.md: [S] the SATA paper states it, [R] a
reconstruction from the cited predecessor work or standard practice.

Conventions shared by every function:
- Inputs are floating-point tensors (any float dtype) unless said otherwise; targets given as
  bool or integer tensors are converted to the prediction's dtype.
- Shapes must match exactly (no broadcasting): a mismatch raises ValueError naming both shapes,
  because a silently broadcast loss trains the wrong thing without any error.
- `reduction` is 'mean', 'sum' or 'none'; every loss returns a 0-dim tensor unless 'none'.
- Nothing here reads model objects, configuration or ROS.
"""

from typing import Optional

import torch
import torch.nn.functional as F

# Defaults of `moe_loss` [R]: the paper gives no values for mu, lambda or the L_TASK weight
# (sata-paper.md §2.4, §2.8). L_CM carries the main decoupling signal (it is what trains the
# common experts to be modality-invariant), so it gets the weight of a SAM 2 task term (1.0).
# L_CE (|cos| in [0, 1]) and L_TASK (ln 4 ~ 1.4 at the start) are regularisers that must not
# outweigh the task losses, so they start at 0.1. The training config overrides all three.
DEFAULT_MU = 1.0
DEFAULT_LAMBDA = 0.1
DEFAULT_TASK_WEIGHT = 0.1

# Guards the divisions by an area, a norm or a union that can be zero; small enough not to move
# any non-degenerate value at float32 precision.
EPS = 1e-7

REDUCTIONS = ('mean', 'sum', 'none')
ORTHOGONALITY_FORMS = ('cosine', 'opl')


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')


def _check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f'{name_a} and {name_b} must have the same shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')


def _check_float(name: str, x: torch.Tensor) -> None:
    if not x.is_floating_point():
        raise ValueError(f'{name} must be a floating-point tensor, got {x.dtype}')


def _check_boxes(name: str, boxes: torch.Tensor) -> None:
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f'{name} must have shape (..., 4), got {tuple(boxes.shape)}')


def _as_targets(targets: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    # bool / integer masks are common targets; the losses need them in the logits' dtype.
    return targets.to(dtype=like.dtype)


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    return loss


# --------------------------------------------------------------------------- masks, scores


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor,
                       alpha: Optional[float] = 0.25, gamma: float = 2.0,
                       reduction: str = 'mean') -> torch.Tensor:
    """
    Binary focal loss on logits, per element (mask pixels or one-vs-all class scores).

    Formula [R] (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017; SAM 2 uses it
    for its mask term): with p = sigmoid(x), p_t = p if t = 1 else 1 - p, and
    alpha_t = alpha if t = 1 else 1 - alpha,

        FL = -alpha_t * (1 - p_t) ** gamma * log(p_t).

    Soft targets t in [0, 1] use the same expression with p_t = p t + (1 - p)(1 - t),
    alpha_t = alpha t + (1 - alpha)(1 - t), and log(p_t) replaced by the binary cross-entropy
    -[t log p + (1 - t) log(1 - p)], computed from the logits for numerical stability.

    Args:
        logits: float tensor, any shape.
        targets: same shape; float in [0, 1], bool or integer {0, 1}.
        alpha: weight of the positive class, in [0, 1]; None disables the alpha_t factor.
        gamma: focusing exponent >= 0 (0 with alpha=None gives plain BCE).
        reduction: 'mean' over all elements, 'sum', or 'none' (the per-element loss).

    Returns:
        A 0-dim tensor (or, for 'none', a tensor shaped like `logits`), dtype of `logits`.

    """
    _check_reduction(reduction)
    _check_float('logits', logits)
    _check_same_shape('logits', logits, 'targets', targets)
    if alpha is not None and not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1] or None, got {alpha}')
    if gamma < 0:
        raise ValueError(f'gamma must be >= 0, got {gamma}')
    t = _as_targets(targets, logits)
    bce = F.binary_cross_entropy_with_logits(logits, t, reduction='none')
    p = torch.sigmoid(logits)
    p_t = p * t + (1 - p) * (1 - t)
    loss = bce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    return _reduce(loss, reduction)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, eps: float = 1.0,
              reduction: str = 'mean') -> torch.Tensor:
    """
    Soft Dice loss per instance mask.

    Formula [R] (the form of DETR / SAM 2 mask training): with p = sigmoid(logits) and sums over
    all pixels of instance n,

        L_n = 1 - (2 * sum(p t) + eps) / (sum(p) + sum(t) + eps).

    eps in numerator and denominator makes an empty prediction of an empty target cost 0.

    Args:
        logits: float tensor (N, ...) with at least one dimension after N (e.g. (N, H, W)).
        targets: same shape; float in [0, 1], bool or integer {0, 1}.
        eps: smoothing constant > 0.
        reduction: 'mean' over the N instances, 'sum', or 'none' (shape (N,)).

    Returns:
        A 0-dim tensor (or (N,) for 'none'), dtype of `logits`.

    """
    _check_reduction(reduction)
    _check_float('logits', logits)
    _check_same_shape('logits', logits, 'targets', targets)
    if logits.ndim < 2:
        raise ValueError(f'logits must have shape (N, ...) with at least 2 dims, '
                         f'got {tuple(logits.shape)}')
    if eps <= 0:
        raise ValueError(f'eps must be > 0, got {eps}')
    p = torch.sigmoid(logits).flatten(1)
    t = _as_targets(targets, logits).flatten(1)
    loss = 1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)
    return _reduce(loss, reduction)


def box_projection_loss(logits: torch.Tensor, box_masks: torch.Tensor,
                        reduction: str = 'mean') -> torch.Tensor:
    """
    Train a mask from its box alone: the projection term of BoxInst (Tian et al., CVPR 2021).

    A mask lies tightly in its box exactly when its projections onto the x and y axes (the
    maximum over the other axis) equal the box's. With the Dice loss above on both
    projections, and sigmoid(max(logits)) = max(sigmoid(logits)):

        L_n = Dice(max_y logits_n, max_y b_n) + Dice(max_x logits_n, max_x b_n).

    It says nothing about the shape inside the box (a filled box scores 0); box-only data
    (LaSOT-style single-object datasets) still teaches where the object is and how large.

    Args:
        logits: float (N, H, W) mask logits.
        box_masks: (N, H, W) bool (or {0, 1}) filled box rectangles on the same grid.
        reduction: 'mean' over the N masks, 'sum', or 'none' (shape (N,)).

    Returns:
        A 0-dim tensor (or (N,) for 'none'), dtype of `logits`; in [0, 2] per mask.

    """
    _check_reduction(reduction)
    _check_float('logits', logits)
    _check_same_shape('logits', logits, 'box_masks', box_masks)
    if logits.ndim != 3:
        raise ValueError(f'logits must be (N, H, W), got {tuple(logits.shape)}')
    boxes = _as_targets(box_masks, logits)
    loss = (dice_loss(logits.amax(dim=1), boxes.amax(dim=1), reduction='none')
            + dice_loss(logits.amax(dim=2), boxes.amax(dim=2), reduction='none'))
    return _reduce(loss, reduction)


def iou_prediction_loss(pred_iou: torch.Tensor, pred_masks_logits: torch.Tensor,
                        gt_masks: torch.Tensor, reduction: str = 'mean') -> torch.Tensor:
    """
    L1 between the predicted mask IoU and the IoU the thresholded predicted mask really has.

    Formula [S] (SATA trains the CGM's IoU prediction with L1, as SAM 2 does): with
    M = (pred_masks_logits > 0) and G = (gt_masks > 0.5),

        L = |pred_iou - |M and G| / |M or G||,

    where the actual IoU is a target only: no gradient flows into `pred_masks_logits`. When both
    M and G are empty the actual IoU is 1 [R]: the empty prediction is exactly right (SAM 2's
    training code would give 0 there).

    Args:
        pred_iou: float tensor (...), e.g. (N,) or (N, K) for K candidate masks per prompt.
        pred_masks_logits: float tensor (..., H, W) whose leading dims equal pred_iou's.
        gt_masks: same shape as pred_masks_logits; bool, integer {0, 1} or float in [0, 1].
        reduction: 'mean' over the masks, 'sum', or 'none' (shape of pred_iou).

    Returns:
        A 0-dim tensor (or pred_iou's shape for 'none'), dtype of `pred_iou`.

    """
    _check_reduction(reduction)
    _check_float('pred_iou', pred_iou)
    _check_same_shape('pred_masks_logits', pred_masks_logits, 'gt_masks', gt_masks)
    if pred_masks_logits.ndim < 2 or pred_masks_logits.shape[:-2] != pred_iou.shape:
        raise ValueError('pred_masks_logits must have shape pred_iou.shape + (H, W), got '
                         f'{tuple(pred_masks_logits.shape)} for pred_iou '
                         f'{tuple(pred_iou.shape)}')
    with torch.no_grad():
        pred = (pred_masks_logits > 0).flatten(-2)
        gt = (gt_masks > 0.5).flatten(-2)
        inter = (pred & gt).sum(-1).to(pred_iou.dtype)
        union = (pred | gt).sum(-1).to(pred_iou.dtype)
        actual = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return _reduce((pred_iou - actual).abs(), reduction)


def objectness_loss(logits: torch.Tensor, present: torch.Tensor,
                    reduction: str = 'mean') -> torch.Tensor:
    """
    Binary cross-entropy of the object-presence score.

    Formula [S] (SATA: "object prediction ... CE", SAM 2's object-score head), with
    p = sigmoid(logit) and y = 1 when the object is visible:

        L = -[y log p + (1 - y) log(1 - p)].

    Args:
        logits: float tensor, any shape (e.g. (N,) or (N, 1)).
        present: same shape; bool, integer {0, 1} or float in [0, 1].
        reduction: 'mean' over elements, 'sum', or 'none'.

    Returns:
        A 0-dim tensor (or `logits`' shape for 'none'), dtype of `logits`.

    """
    _check_reduction(reduction)
    _check_float('logits', logits)
    _check_same_shape('logits', logits, 'present', present)
    return F.binary_cross_entropy_with_logits(
        logits, _as_targets(present, logits), reduction=reduction)


# --------------------------------------------------------------------------- boxes


def box_xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """
    Convert (x, y, w, h) boxes (top-left corner and size) to corners (x1, y1, x2, y2).

    Args:
        boxes: tensor (..., 4), pixels.

    Returns:
        Tensor (..., 4), same dtype: (x, y, x + w, y + h).

    """
    _check_boxes('boxes', boxes)
    x, y, w, h = boxes.unbind(-1)
    return torch.stack((x, y, x + w, y + h), dim=-1)


def giou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """
    Generalized IoU of aligned box pairs.

    Formula [R] (Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019): with C
    the smallest box enclosing both A and B,

        GIoU = |A and B| / |A or B| - (|C| - |A or B|) / |C|,   in [-1, 1].

    Degenerate boxes (x2 < x1 or y2 < y1) have zero width or height, not a negative one; unions
    and enclosing areas of zero are guarded by EPS, so points and lines give finite values (two
    identical zero-area boxes give 0) and finite gradients.

    Args:
        boxes1: float tensor (..., 4), (x1, y1, x2, y2) pixels.
        boxes2: same shape.

    Returns:
        Tensor (...), dtype of the boxes.

    """
    _check_boxes('boxes1', boxes1)
    _check_same_shape('boxes1', boxes1, 'boxes2', boxes2)
    _check_float('boxes1', boxes1)
    _check_float('boxes2', boxes2)
    ax1, ay1, ax2, ay2 = boxes1.unbind(-1)
    bx1, by1, bx2, by2 = boxes2.unbind(-1)
    area_a = (ax2 - ax1).clamp(min=0) * (ay2 - ay1).clamp(min=0)
    area_b = (bx2 - bx1).clamp(min=0) * (by2 - by1).clamp(min=0)
    inter_w = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0)
    inter_h = (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0)
    inter = inter_w * inter_h
    union = area_a + area_b - inter
    # The enclosing box spans both boxes' extreme corners; clamped like the areas so that an
    # inverted box cannot make it negative.
    hull_w = (torch.maximum(ax2, bx2) - torch.minimum(ax1, bx1)).clamp(min=0)
    hull_h = (torch.maximum(ay2, by2) - torch.minimum(ay1, by1)).clamp(min=0)
    hull = hull_w * hull_h
    iou = inter / union.clamp(min=EPS)
    return iou - (hull - union) / hull.clamp(min=EPS)


def giou_loss(pred_boxes: torch.Tensor, target_boxes: torch.Tensor,
              reduction: str = 'mean') -> torch.Tensor:
    """
    Box loss from the generalized IoU: L = 1 - GIoU(pred, target), in [0, 2].

    Formula [R] (Rezatofighi et al. 2019; the SATA detection-head losses are not given, the
    DyHead/ATSS-style L1 + GIoU is assumed, sata-paper.md §2.6). See `giou` for degenerate boxes.

    Args:
        pred_boxes: float tensor (..., 4), (x1, y1, x2, y2) pixels.
        target_boxes: same shape.
        reduction: 'mean' over boxes, 'sum', or 'none' (shape (...)).

    Returns:
        A 0-dim tensor (or (...) for 'none'), dtype of the boxes.

    """
    _check_reduction(reduction)
    return _reduce(1 - giou(pred_boxes, target_boxes), reduction)


def box_l1_loss(pred_boxes: torch.Tensor, target_boxes: torch.Tensor,
                image_size: Optional[tuple[float, float]] = None,
                reduction: str = 'mean') -> torch.Tensor:
    """
    L1 distance between box corners.

    Formula [R] (DETR-style box regression term; see `giou_loss` for the source):

        L = mean over boxes and the 4 coordinates of |b_pred - b_target| / s,

    where s = (W, H, W, H) when `image_size` is given (coordinates as fractions of the image,
    so the term is on the scale of GIoU whatever the resolution) and 1 otherwise (pixels).

    Args:
        pred_boxes: float tensor (..., 4), (x1, y1, x2, y2) pixels.
        target_boxes: same shape.
        image_size: optional (width, height) in pixels, both > 0.
        reduction: 'mean' over boxes and coordinates, 'sum', or 'none' (shape (..., 4)).

    Returns:
        A 0-dim tensor (or (..., 4) for 'none'), dtype of `pred_boxes`.

    """
    _check_reduction(reduction)
    _check_boxes('pred_boxes', pred_boxes)
    _check_same_shape('pred_boxes', pred_boxes, 'target_boxes', target_boxes)
    _check_float('pred_boxes', pred_boxes)
    diff = (pred_boxes - target_boxes.to(pred_boxes.dtype)).abs()
    if image_size is not None:
        width, height = image_size
        if width <= 0 or height <= 0:
            raise ValueError(f'image_size must be a positive (width, height), got {image_size}')
        scale = diff.new_tensor([width, height, width, height])
        diff = diff / scale
    return _reduce(diff, reduction)


# --------------------------------------------------------------------------- instance embeddings


def embedding_contrastive_loss(embeddings: torch.Tensor, ids: torch.Tensor,
                               temperature: float = 0.07,
                               reduction: str = 'mean') -> torch.Tensor:
    """
    Supervised contrastive (multi-positive InfoNCE) loss over a batch of instance embeddings.

    Formula [R] (Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, the L_out form;
    SATA's matching is QDTrack-style on cosine/bi-softmax similarity, its training loss for the
    embeddings is not given). With z_i = e_i / |e_i|, s_ij = z_i . z_j / temperature, the
    positives P(i) = {p != i : ids[p] = ids[i]} and all others A(i) = {a != i}:

        L_i = -1 / |P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{a in A(i)} exp(s_ia) ).

    Anchors are the samples with at least one positive; the other samples (an identity seen
    once, and every sample with a negative id) only serve as negatives. A negative id means
    "no identity" (e.g. a candidate matched to no ground-truth object): such samples are never
    each other's positives. With no anchor at all the loss is a zero that stays in the graph,
    so `backward()` still works (all gradients 0).

    Args:
        embeddings: float tensor (N, D), typically instances from 2+ frames of a clip.
        ids: integer tensor (N,) of identity labels; < 0 = no identity.
        temperature: softmax temperature > 0 (0.07, SupCon's default).
        reduction: 'mean' over anchors, 'sum' over anchors, or 'none' (shape (N,), 0 for
            samples that are not anchors).

    Returns:
        A 0-dim tensor (or (N,) for 'none'), dtype of `embeddings`.

    """
    _check_reduction(reduction)
    _check_float('embeddings', embeddings)
    if embeddings.ndim != 2:
        raise ValueError(f'embeddings must have shape (N, D), got {tuple(embeddings.shape)}')
    if ids.shape != embeddings.shape[:1]:
        raise ValueError(f'ids must have shape (N,) = ({embeddings.shape[0]},), '
                         f'got {tuple(ids.shape)}')
    if ids.is_floating_point() or ids.is_complex():
        raise ValueError(f'ids must be an integer tensor, got {ids.dtype}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    n = embeddings.shape[0]
    self_pair = torch.eye(n, dtype=torch.bool, device=embeddings.device)
    labelled = ids >= 0
    positive = (ids[:, None] == ids[None, :]) & labelled[:, None] & ~self_pair
    n_pos = positive.sum(1)
    anchor = n_pos > 0
    if not bool(anchor.any()):
        # Multiplying keeps the result attached to `embeddings`, so a training step with no
        # repeated identity still runs backward instead of raising.
        zero = embeddings.sum() * 0
        return zero.expand(n).clone() if reduction == 'none' else zero
    z = F.normalize(embeddings, dim=1, eps=EPS)
    sim = (z @ z.T) / temperature
    # -inf removes each sample from its own denominator (A(i) excludes i); N >= 2 here, so no
    # row is all -inf.
    sim = sim.masked_fill(self_pair, float('-inf'))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    # masked_fill (not multiply) so the -inf diagonal never meets a 0 weight (0 * -inf = NaN).
    pos_log_prob = log_prob.masked_fill(~positive, 0.0).sum(1)
    per_sample = torch.where(anchor, -pos_log_prob / n_pos.clamp(min=1).to(sim.dtype),
                             torch.zeros_like(pos_log_prob))
    if reduction == 'mean':
        return per_sample.sum() / anchor.sum().to(per_sample.dtype)
    return _reduce(per_sample, reduction)


# --------------------------------------------------------------------------- DeMoE decoupling


def complementary_loss(masked_common: torch.Tensor, clean_common: torch.Tensor) -> torch.Tensor:
    """
    Cross-modal complementary loss L_CM.

    Formula: [S] an MSE between the common features computed from the input with one modality's
    patches masked (H^, `masked_common`) and those of the unmasked input (H, `clean_common`);
    [R] the clean side is a stop-gradient target and the mean runs over every element
    (batch, tokens and channels):

        L_CM = mean( (H^ - sg(H)) ** 2 ).

    The stop-gradient makes the masked pass learn to recover the clean common features, rather
    than letting both passes drift towards each other (a collapse the MSE alone would reward).

    Args:
        masked_common: float tensor (..., C), e.g. (B, L, C) tokens by channels.
        clean_common: same shape; detached here, so it receives no gradient.

    Returns:
        A 0-dim tensor, dtype of `masked_common`.

    """
    _check_float('masked_common', masked_common)
    _check_same_shape('masked_common', masked_common, 'clean_common', clean_common)
    return F.mse_loss(masked_common, clean_common.detach().to(masked_common.dtype))


def _unit_tokens(x: torch.Tensor) -> torch.Tensor:
    # Zero vectors stay zero (norm clamped at EPS), so a specific expert whose output projection
    # is still zero-initialised contributes cosine 0 and a finite gradient.
    return F.normalize(x.reshape(-1, x.shape[-1]), dim=-1, eps=EPS)


def orthogonality_loss(common: torch.Tensor, specific: torch.Tensor, form: str = 'cosine',
                       gamma: float = 0.5) -> torch.Tensor:
    """
    Cross-expert orthogonal loss L_CE between common-expert and specific-expert outputs.

    [S] SATA uses an Orthogonal Projection Loss between the two expert groups so that they
    learn independent functions; the exact form is not given. Two forms, both on the token
    vectors (all leading dims flattened into T tokens of C channels):

    'cosine' (default) [R], the per-token form of sata-paper.md §2.4, in [0, 1]:

        L_CE = mean_t | cos(H^G_t, H^S_t) |

    Each token's common and specific outputs are pushed to be orthogonal; 0 for orthogonal and
    1 for parallel or anti-parallel outputs.

    'opl' [R] (Ranasinghe et al., "Orthogonal Projection Loss", ICCV 2021), with the two groups
    {H^G_t} and {H^S_t} as the classes, in [0, 1 + gamma]:

        L_CE = (1 - s) + gamma * |d|,

    s = mean cosine over pairs of distinct tokens within the same group (both groups pooled),
    d = mean cosine over all (common, specific) pairs, computed in O(T C) from the sums of the
    unit vectors. Caveat: the 1 - s term pulls all common outputs (and all specific outputs)
    towards one direction, which suits class features but not per-token features; and |d| is
    the absolute value of a mean, so pairs can cancel. Hence the default is 'cosine'.

    Zero vectors (e.g. zero-initialised expert outputs) count as cosine 0, with finite
    gradients.

    Args:
        common: float tensor (..., C), common-expert outputs H^G.
        specific: same shape, specific-expert outputs H^S.
        form: 'cosine' or 'opl'.
        gamma: OPL's weight of the cross-group term (0.5 as in the OPL paper); 'opl' only.

    Returns:
        A 0-dim tensor, dtype of `common`.

    """
    if form not in ORTHOGONALITY_FORMS:
        raise ValueError(f'form must be one of {ORTHOGONALITY_FORMS}, got {form!r}')
    _check_float('common', common)
    _check_float('specific', specific)
    _check_same_shape('common', common, 'specific', specific)
    if common.ndim == 0 or common.shape[-1] == 0:
        raise ValueError(f'common and specific must have shape (..., C) with C >= 1, '
                         f'got {tuple(common.shape)}')
    u = _unit_tokens(common)
    v = _unit_tokens(specific.to(common.dtype))
    if form == 'cosine':
        return (u * v).sum(-1).abs().mean()
    n = u.shape[0]
    if n < 2:
        raise ValueError(f"form='opl' needs at least 2 tokens, got {n}")
    if gamma < 0:
        raise ValueError(f'gamma must be >= 0, got {gamma}')
    sum_u, sum_v = u.sum(0), v.sum(0)

    def within(unit: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        # Sum of z_i . z_j over i != j: |sum z|^2 minus the self terms |z_i|^2 (1, or 0 for a
        # zero vector).
        return total.dot(total) - (unit * unit).sum()

    s = (within(u, sum_u) + within(v, sum_v)) / (2 * n * (n - 1))
    d = sum_u.dot(sum_v) / (n * n)
    return (1 - s) + gamma * d.abs()


def router_ce_loss(router_logits: torch.Tensor, modality_labels: torch.Tensor,
                   reduction: str = 'mean') -> torch.Tensor:
    """
    Router loss L_TASK: cross-entropy of the cross-modal router against the true modality group.

    Formula [S] (a modality-aware CE on the cross-modal router R_CM, sata-paper.md §2.4; [R] its
    exact target is the index of the input's specific-expert group), softmax over G groups:

        L_TASK = -log softmax(router_logits)[y].

    Args:
        router_logits: float tensor (N, G), or (..., G) for per-token routers.
        modality_labels: integer tensor router_logits.shape[:-1], values in [0, G).
        reduction: 'mean' over samples, 'sum', or 'none' (shape router_logits.shape[:-1]).

    Returns:
        A 0-dim tensor (or router_logits.shape[:-1] for 'none'), dtype of `router_logits`.

    """
    _check_reduction(reduction)
    _check_float('router_logits', router_logits)
    if router_logits.ndim < 2:
        raise ValueError(f'router_logits must have shape (N, G), got '
                         f'{tuple(router_logits.shape)}')
    if modality_labels.shape != router_logits.shape[:-1]:
        raise ValueError(f'modality_labels must have shape {tuple(router_logits.shape[:-1])} '
                         f'(router_logits without G), got {tuple(modality_labels.shape)}')
    if modality_labels.is_floating_point() or modality_labels.is_complex():
        raise ValueError(f'modality_labels must be an integer tensor, got {modality_labels.dtype}')
    groups = router_logits.shape[-1]
    # Checked here because cross_entropy reports an out-of-range label as a device-side assert
    # on CUDA, which kills the process instead of raising.
    if modality_labels.numel() and (int(modality_labels.min()) < 0
                                    or int(modality_labels.max()) >= groups):
        raise ValueError(f'modality_labels must be in [0, {groups}), got values in '
                         f'[{int(modality_labels.min())}, {int(modality_labels.max())}]')
    loss = F.cross_entropy(router_logits.reshape(-1, groups),
                           modality_labels.reshape(-1).long(), reduction='none')
    return _reduce(loss.reshape(modality_labels.shape), reduction)


def moe_loss(l_cm: torch.Tensor, l_ce: torch.Tensor, l_task: Optional[torch.Tensor] = None,
             mu: float = DEFAULT_MU, lam: float = DEFAULT_LAMBDA,
             task_weight: float = DEFAULT_TASK_WEIGHT) -> torch.Tensor:
    """
    Combine the DeMoE losses: L_MoE = mu * L_CM + lam * L_CE (+ task_weight * L_TASK).

    Formula [S] (sata-paper.md §2.4; L_TASK from the paper's appendix). The weights are [R]:
    the paper gives none. Defaults DEFAULT_MU = 1.0, DEFAULT_LAMBDA = 0.1,
    DEFAULT_TASK_WEIGHT = 0.1 (reasons at their definition); the training config sets them.

    Args:
        l_cm: 0-dim tensor from `complementary_loss`.
        l_ce: 0-dim tensor from `orthogonality_loss`.
        l_task: optional 0-dim tensor from `router_ce_loss`; None leaves the term out (e.g. a
            batch with no auxiliary modality to route).
        mu: weight of L_CM, >= 0.
        lam: weight of L_CE, >= 0.
        task_weight: weight of L_TASK, >= 0.

    Returns:
        A 0-dim tensor.

    """
    terms = {'l_cm': l_cm, 'l_ce': l_ce}
    if l_task is not None:
        terms['l_task'] = l_task
    for name, value in terms.items():
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value)
            raise ValueError(f'{name} must be a 0-dim tensor (a reduced loss), got {shape}')
    for name, weight in (('mu', mu), ('lam', lam), ('task_weight', task_weight)):
        if weight < 0:
            raise ValueError(f'{name} must be >= 0, got {weight}')
    total = mu * l_cm + lam * l_ce
    if l_task is not None:
        total = total + task_weight * l_task
    return total


__all__ = [
    'DEFAULT_LAMBDA', 'DEFAULT_MU', 'DEFAULT_TASK_WEIGHT', 'box_l1_loss', 'box_projection_loss',
    'box_xywh_to_xyxy',
    'complementary_loss', 'dice_loss', 'embedding_contrastive_loss', 'giou', 'giou_loss',
    'iou_prediction_loss', 'moe_loss', 'objectness_loss', 'orthogonality_loss',
    'router_ce_loss', 'sigmoid_focal_loss',
]
