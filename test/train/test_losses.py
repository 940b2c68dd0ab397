"""SATA losses: each formula against hand-computed values, gradient flow and input checks."""

import math

import pytest
# sata_ros sorts among the third-party imports: ament_flake8 names no application package, so
# Google order is alphabetical across them.
from sata_ros.train.losses import (
    box_l1_loss, box_projection_loss, box_xywh_to_xyxy, complementary_loss, DEFAULT_LAMBDA,
    DEFAULT_MU, DEFAULT_TASK_WEIGHT, dice_loss, embedding_contrastive_loss, giou, giou_loss,
    iou_prediction_loss, moe_loss, objectness_loss, orthogonality_loss, router_ce_loss,
    sigmoid_focal_loss)
import torch
import torch.nn.functional as F

# Hard logits: sigmoid(+-30) is 1 or 0 to within 1e-13, so soft losses act on exact masks.
HARD = 30.0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _t(values, **kwargs) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, **kwargs)


# --------------------------------------------------------------------------- focal


def test_focal_single_positive_logit_matches_formula():
    p = _sigmoid(0.5)
    expected = -0.25 * (1 - p) ** 2 * math.log(p)
    loss = sigmoid_focal_loss(_t([0.5]), _t([1.0]), alpha=0.25, gamma=2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_focal_single_negative_logit_matches_formula():
    p = _sigmoid(1.5)
    # t = 0: p_t = 1 - p, alpha_t = 1 - alpha.
    expected = -0.75 * p ** 2 * math.log(1 - p)
    loss = sigmoid_focal_loss(_t([1.5]), _t([0.0]))
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_focal_reductions_and_bool_targets():
    logits = _t([[0.5, -2.0], [3.0, 0.0]])
    targets = torch.tensor([[True, False], [False, True]])
    per = sigmoid_focal_loss(logits, targets, reduction='none')
    assert per.shape == (2, 2)
    p = _sigmoid(3.0)
    assert per[1, 0].item() == pytest.approx(-0.75 * p ** 2 * math.log(1 - p), rel=1e-12)
    assert sigmoid_focal_loss(logits, targets, reduction='sum').item() == pytest.approx(
        per.sum().item())
    assert sigmoid_focal_loss(logits, targets).item() == pytest.approx(per.mean().item())


def test_focal_without_alpha_and_gamma_is_bce():
    logits, targets = torch.randn(3, 5, dtype=torch.float64), torch.rand(3, 5).double()
    loss = sigmoid_focal_loss(logits, targets, alpha=None, gamma=0.0)
    assert loss.item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets).item(), rel=1e-12)


def test_focal_down_weights_easy_examples():
    # gamma > 0: a confident correct pixel costs far less than under plain BCE.
    easy = sigmoid_focal_loss(_t([4.0]), _t([1.0]), alpha=None, gamma=2.0)
    bce = F.binary_cross_entropy_with_logits(_t([4.0]), _t([1.0]))
    assert easy.item() < 0.001 * bce.item()


# --------------------------------------------------------------------------- dice


def test_dice_of_two_known_masks():
    pred = torch.zeros(2, 3, 3, dtype=torch.float64)
    gt = torch.zeros(2, 3, 3, dtype=torch.float64)
    pred[0, 0, :2] = 1
    pred[0, 1, :2] = 1     # 4 pixels
    gt[0, 1, :2] = 1
    gt[0, 2, :2] = 1       # 4 pixels, 2 shared with pred[0]
    pred[1, 1:, 1:] = 1
    gt[1, 1:, 1:] = 1      # identical masks
    logits = (pred * 2 - 1) * HARD
    per = dice_loss(logits, gt, reduction='none')
    assert per[0].item() == pytest.approx(1 - (2 * 2 + 1) / (4 + 4 + 1), abs=1e-9)
    assert per[1].item() == pytest.approx(0.0, abs=1e-9)
    assert dice_loss(logits, gt).item() == pytest.approx(2 / 9, abs=1e-9)


def test_dice_with_soft_predictions():
    # p = 0.5 everywhere, t = [1, 1, 0, 0]: sum(p t) = 1, sum(p) = 2, sum(t) = 2.
    loss = dice_loss(torch.zeros(1, 4, dtype=torch.float64), _t([[1, 1, 0, 0]]))
    assert loss.item() == pytest.approx(1 - (2 * 1 + 1) / (2 + 2 + 1), rel=1e-12)


def test_dice_eps_makes_empty_prediction_of_empty_target_free():
    loss = dice_loss(torch.full((1, 2, 2), -HARD, dtype=torch.float64),
                     torch.zeros(1, 2, 2, dtype=torch.bool))
    assert loss.item() == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- box projection


def _box(h, w, y1, y2, x1, x2):
    box = torch.zeros(h, w, dtype=torch.bool)
    box[y1:y2, x1:x2] = True
    return box


def test_box_projection_is_zero_for_any_mask_that_spans_its_box_tightly():
    box = _box(8, 8, 2, 6, 1, 7)
    cross = torch.zeros(8, 8, dtype=torch.bool)  # a plus sign touching all four box sides
    cross[3, 1:7] = True
    cross[2:6, 4] = True
    masks = torch.stack([box, cross])
    loss = box_projection_loss((masks.double() * 2 - 1) * HARD, torch.stack([box, box]),
                               reduction='none')
    assert loss.tolist() == pytest.approx([0.0, 0.0], abs=1e-9)


def test_box_projection_of_a_shifted_mask_by_hand():
    box = _box(6, 6, 0, 2, 0, 2)   # x and y projections: [1, 1, 0, 0, 0, 0]
    pred = _box(6, 6, 0, 2, 1, 3)  # x projection [0, 1, 1, 0, 0, 0], y projection = box's
    loss = box_projection_loss(((pred.double() * 2 - 1) * HARD)[None], box[None])
    assert loss.item() == pytest.approx(1 - (2 * 1 + 1) / (2 + 2 + 1), abs=1e-9)


def test_box_projection_gradient_pulls_a_mask_into_its_box():
    box = _box(6, 6, 1, 4, 1, 4)[None]
    logits = torch.zeros(1, 6, 6, dtype=torch.float64, requires_grad=True)
    box_projection_loss(logits, box).backward()
    # The maximum of a row / column outside the box is pushed down; inside, up.
    assert logits.grad[0, 5, 5] > 0 and logits.grad[0, 2, 2] < 0


def test_box_projection_rejects_other_shapes():
    with pytest.raises(ValueError, match=r'logits must be \(N, H, W\)'):
        box_projection_loss(torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='box_masks'):
        box_projection_loss(torch.zeros(1, 4, 4), torch.zeros(1, 4, 5, dtype=torch.bool))


# --------------------------------------------------------------------------- boxes


def test_xywh_to_xyxy():
    out = box_xywh_to_xyxy(_t([[10, 20, 5, 6], [0, 0, 0, 0]]))
    assert out.tolist() == [[10, 20, 15, 26], [0, 0, 0, 0]]


def test_giou_of_boxes_computed_by_hand():
    boxes1 = _t([[0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 1, 1], [4, 4, 8, 6]])
    boxes2 = _t([[1, 1, 3, 3], [2, 0, 3, 1], [9, 9, 10, 10], [4, 4, 8, 6]])
    expected = [
        1 / 7 - (9 - 7) / 9,   # overlap 1, union 7, hull 3x3
        0 - (3 - 2) / 3,       # side by side, 1 pixel gap: union 2, hull 3x1
        0 - (100 - 2) / 100,   # far apart: hull 10x10
        1.0,                   # identical
    ]
    assert giou(boxes1, boxes2).tolist() == pytest.approx(expected, rel=1e-12)
    assert giou_loss(boxes1, boxes2, reduction='none').tolist() == pytest.approx(
        [1 - e for e in expected], rel=1e-12)
    assert giou_loss(boxes1, boxes2).item() == pytest.approx(
        sum(1 - e for e in expected) / 4, rel=1e-12)


def test_giou_is_symmetric_and_batched():
    torch.manual_seed(2)
    a = box_xywh_to_xyxy(torch.rand(2, 3, 4, dtype=torch.float64) * 10)
    b = box_xywh_to_xyxy(torch.rand(2, 3, 4, dtype=torch.float64) * 10)
    assert giou(a, b).shape == (2, 3)
    assert torch.allclose(giou(a, b), giou(b, a))


def test_giou_degenerate_boxes_are_finite():
    point = _t([[5, 5, 5, 5]], requires_grad=True)
    inverted = _t([[3, 3, 1, 1]], requires_grad=True)
    line = _t([[0, 0, 4, 0]], requires_grad=True)
    for a, b in ((point, point), (inverted, _t([[0, 0, 2, 2]])), (line, line),
                 (point, _t([[0, 0, 10, 10]]))):
        value = giou(a, b)
        assert torch.isfinite(value).all()
        giou_loss(a, b).backward()
        assert torch.isfinite(a.grad).all()
        a.grad = None
    # A point inside a box: IoU 0, and the hull is the box itself.
    assert giou(point, _t([[0, 0, 10, 10]])).item() == pytest.approx(0.0, abs=1e-6)


def test_box_l1_in_pixels_and_normalised():
    pred, target = _t([[0, 0, 10, 10]]), _t([[1, 2, 10, 14]])
    assert box_l1_loss(pred, target).item() == pytest.approx((1 + 2 + 0 + 4) / 4)
    assert box_l1_loss(pred, target, reduction='sum').item() == pytest.approx(7.0)
    # image 100 x 200 (width x height): x errors / 100, y errors / 200.
    assert box_l1_loss(pred, target, image_size=(100, 200)).item() == pytest.approx(
        (0.01 + 0.01 + 0 + 0.02) / 4)
    assert box_l1_loss(pred, target, reduction='none').shape == (1, 4)
    with pytest.raises(ValueError, match='image_size'):
        box_l1_loss(pred, target, image_size=(0, 200))


# --------------------------------------------------------------------------- IoU, objectness


def test_iou_prediction_uses_actual_iou_of_thresholded_mask():
    logits = _t([[[2.0, 1.0, -1.0, 0.0]], [[-1.0, -1.0, -1.0, -1.0]]], requires_grad=True)
    gt = torch.tensor([[[True, False, True, False]], [[False, False, False, False]]])
    pred_iou = _t([0.5, 0.75], requires_grad=True)
    # Mask 0: on = {0, 1} (logit 0 is off), gt = {0, 2}: IoU 1/3. Mask 1: both empty: IoU 1.
    per = iou_prediction_loss(pred_iou, logits, gt, reduction='none')
    assert per.tolist() == pytest.approx([abs(0.5 - 1 / 3), 0.25], rel=1e-12)
    loss = iou_prediction_loss(pred_iou, logits, gt)
    assert loss.item() == pytest.approx((1 / 6 + 0.25) / 2, rel=1e-12)
    loss.backward()
    # d/dx mean(|x - a|) = sign(x - a) / 2: above the actual IoU for mask 0, below for mask 1.
    assert pred_iou.grad.tolist() == pytest.approx([0.5, -0.5])
    assert logits.grad is None


def test_iou_prediction_multimask_shape():
    pred_iou = torch.rand(2, 3)
    masks = torch.randn(2, 3, 8, 8)
    assert iou_prediction_loss(pred_iou, masks, masks > 0, reduction='none').shape == (2, 3)
    assert iou_prediction_loss(pred_iou, masks, masks > 0).item() == pytest.approx(
        (1 - pred_iou).mean().item(), rel=1e-6)


def test_objectness_matches_bce_formula():
    logits = _t([2.0, -1.0])
    present = torch.tensor([True, False])
    expected = (-math.log(_sigmoid(2.0)) - math.log(1 - _sigmoid(-1.0))) / 2
    assert objectness_loss(logits, present).item() == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- contrastive


def test_contrastive_two_identical_and_one_different():
    emb = _t([[1, 0], [1, 0], [0, 1]])
    ids = torch.tensor([0, 0, 1])
    # Anchors 0 and 1: positive cosine 1, negative cosine 0; sample 2 has no positive.
    expected = math.log(1 + math.exp(-1 / 0.5))
    loss = embedding_contrastive_loss(emb, ids, temperature=0.5)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    per = embedding_contrastive_loss(emb, ids, temperature=0.5, reduction='none')
    assert per.tolist() == pytest.approx([expected, expected, 0.0], rel=1e-12)


def test_contrastive_averages_over_several_positives():
    emb = _t([[1, 0], [1, 0], [1, 0], [0, 1]])
    ids = torch.tensor([4, 4, 4, 9])
    # Each of the 3 anchors: 2 positives (exp(1)) and 1 negative (exp(0)) in the denominator:
    # -1/2 * 2 * log(e / (2e + 1)) = log(2 + 1/e).
    loss = embedding_contrastive_loss(emb, ids, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(2 + math.exp(-1)), rel=1e-12)


def test_contrastive_negative_ids_are_never_positives():
    emb = _t([[1, 0], [1, 0], [0, 1], [0, -1]])
    ids = torch.tensor([0, 0, -1, -1])
    # Only anchors 0 and 1 (one positive at cosine 1, two negatives at cosine 0). If -1 were an
    # identity, samples 2 and 3 would add log(1 + 2e) each.
    loss = embedding_contrastive_loss(emb, ids, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-12)


def test_contrastive_is_scale_invariant_and_rewards_separation():
    ids = torch.tensor([0, 0, 1, 1])
    near = _t([[1, 0.1], [1, -0.1], [0.1, 1], [-0.1, 1]])
    far = _t([[1, 0.9], [1, -0.9], [0.9, 1], [-0.9, 1]])
    assert embedding_contrastive_loss(3 * near, ids).item() == pytest.approx(
        embedding_contrastive_loss(near, ids).item(), rel=1e-9)
    assert embedding_contrastive_loss(near, ids) < embedding_contrastive_loss(far, ids)


def test_contrastive_without_any_positive_pair_is_zero_and_backprops():
    emb = torch.randn(3, 4, requires_grad=True)
    loss = embedding_contrastive_loss(emb, torch.tensor([1, 2, 3]))
    assert loss.item() == 0.0
    loss.backward()
    assert emb.grad is not None and torch.equal(emb.grad, torch.zeros(3, 4))
    single = torch.randn(1, 4, requires_grad=True)
    embedding_contrastive_loss(single, torch.tensor([0])).backward()
    assert embedding_contrastive_loss(single, torch.tensor([0]), reduction='none').shape == (1,)


# --------------------------------------------------------------------------- DeMoE


def test_complementary_loss_value_and_stop_gradient():
    masked = _t([[[1, 2], [3, 4]]], requires_grad=True)
    clean = _t([[[0, 2], [3, 6]]], requires_grad=True)
    loss = complementary_loss(masked, clean)
    assert loss.item() == pytest.approx((1 + 0 + 0 + 4) / 4)
    loss.backward()
    assert clean.grad is None
    # d/dx mean((x - c)^2) = 2 (x - c) / n.
    assert masked.grad.flatten().tolist() == pytest.approx([0.5, 0.0, 0.0, -1.0])


def test_orthogonality_zero_for_orthogonal_one_for_parallel():
    common = _t([[1, 0, 0], [0, 2, 0]])
    assert orthogonality_loss(common, _t([[0, 3, 0], [0, 0, 1]])).item() == pytest.approx(0.0)
    assert orthogonality_loss(common, _t([[2, 0, 0], [0, 5, 0]])).item() == pytest.approx(1.0)
    assert orthogonality_loss(common, _t([[-2, 0, 0], [0, -1, 0]])).item() == pytest.approx(1.0)
    # One parallel token, one at 45 degrees: mean(1, 1/sqrt(2)).
    mixed = orthogonality_loss(common, _t([[1, 0, 0], [0, 1, 1]]))
    assert mixed.item() == pytest.approx((1 + 1 / math.sqrt(2)) / 2)


def test_orthogonality_flattens_leading_dims():
    common, specific = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    expected = F.cosine_similarity(common, specific, dim=-1).abs().mean()
    assert orthogonality_loss(common, specific).item() == pytest.approx(expected.item(), rel=1e-5)


def test_orthogonality_opl_form_by_hand():
    # Groups aligned within, orthogonal across: s = 1, d = 0.
    same = orthogonality_loss(_t([[1, 0], [2, 0]]), _t([[0, 1], [0, 3]]), form='opl')
    assert same.item() == pytest.approx(0.0, abs=1e-12)
    # Within-group cosines 0 (s = 0); cross pairs 1, 0, 0, 1 (d = 0.5): 1 + 0.5 * 0.5.
    loss = orthogonality_loss(_t([[1, 0], [0, 1]]), _t([[1, 0], [0, 1]]), form='opl', gamma=0.5)
    assert loss.item() == pytest.approx(1.25, rel=1e-12)


def test_orthogonality_opl_matches_pairwise_definition():
    torch.manual_seed(0)
    common = torch.randn(6, 4, dtype=torch.float64)
    specific = torch.randn(6, 4, dtype=torch.float64)
    u, v = F.normalize(common, dim=1), F.normalize(specific, dim=1)
    off = ~torch.eye(6, dtype=torch.bool)
    s = torch.cat([(u @ u.T)[off], (v @ v.T)[off]]).mean()
    d = (u @ v.T).mean()
    expected = (1 - s) + 0.3 * d.abs()
    loss = orthogonality_loss(common, specific, form='opl', gamma=0.3)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize('form', ['cosine', 'opl'])
def test_orthogonality_zero_initialised_specific_experts_give_finite_gradients(form):
    common = torch.randn(4, 8, requires_grad=True)
    specific = torch.zeros(4, 8, requires_grad=True)
    loss = orthogonality_loss(common, specific, form=form)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(common.grad).all() and torch.isfinite(specific.grad).all()


def test_router_ce_equals_torch_cross_entropy():
    torch.manual_seed(1)
    logits = torch.randn(7, 4)
    labels = torch.tensor([0, 1, 2, 3, 3, 1, 0])
    assert torch.allclose(router_ce_loss(logits, labels), F.cross_entropy(logits, labels))
    assert torch.allclose(router_ce_loss(logits, labels, reduction='none'),
                          F.cross_entropy(logits, labels, reduction='none'))
    # Per-token router logits (B, L, G) flatten to the same thing.
    tokens = router_ce_loss(logits.reshape(1, 7, 4), labels.reshape(1, 7))
    assert torch.allclose(tokens, F.cross_entropy(logits, labels))


def test_router_ce_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r'\[0, 3\)'):
        router_ce_loss(torch.randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match='integer'):
        router_ce_loss(torch.randn(2, 3), torch.tensor([0.0, 1.0]))


def test_moe_loss_weights():
    l_cm, l_ce, l_task = _t(2.0), _t(3.0), _t(5.0)
    assert moe_loss(l_cm, l_ce, l_task, mu=1.0, lam=0.1, task_weight=0.2).item() == (
        pytest.approx(2.0 + 0.3 + 1.0))
    assert moe_loss(l_cm, l_ce, mu=0.5, lam=2.0).item() == pytest.approx(1.0 + 6.0)
    default = DEFAULT_MU * 2.0 + DEFAULT_LAMBDA * 3.0 + DEFAULT_TASK_WEIGHT * 5.0
    assert moe_loss(l_cm, l_ce, l_task).item() == pytest.approx(default)
    with pytest.raises(ValueError, match='l_ce must be a 0-dim tensor'):
        moe_loss(l_cm, _t([3.0, 1.0]))
    with pytest.raises(ValueError, match='lam must be >= 0'):
        moe_loss(l_cm, l_ce, lam=-1.0)


def test_moe_loss_of_real_terms_backpropagates_to_each_input():
    masked = torch.randn(2, 6, 8, requires_grad=True)
    clean = torch.randn(2, 6, 8)
    specific = torch.randn(2, 6, 8, requires_grad=True)
    router = torch.randn(2, 4, requires_grad=True)
    total = moe_loss(complementary_loss(masked, clean), orthogonality_loss(masked, specific),
                     router_ce_loss(router, torch.tensor([1, 3])))
    total.backward()
    for t in (masked, specific, router):
        assert t.grad is not None and t.grad.abs().sum() > 0


# --------------------------------------------------------------------------- common checks


def _grad_cases():
    def masks():
        return torch.randn(3, 6, 6)
    boxes_target = _t([[0, 0, 4, 4], [2, 2, 9, 7]])
    return {
        'focal': (lambda x: sigmoid_focal_loss(x, masks() > 0), masks),
        'dice': (lambda x: dice_loss(x, masks() > 0), masks),
        'giou': (lambda x: giou_loss(x, boxes_target), lambda: _t([[1, 1, 5, 3], [0, 0, 4, 4]])),
        'l1': (lambda x: box_l1_loss(x, boxes_target), lambda: _t([[1, 1, 5, 3], [0, 0, 4, 4]])),
        'iou': (lambda x: iou_prediction_loss(x, masks(), masks() > 0), lambda: torch.rand(3)),
        'objectness': (lambda x: objectness_loss(x, torch.tensor([1, 0, 1])),
                       lambda: torch.randn(3)),
        'contrastive': (lambda x: embedding_contrastive_loss(x, torch.tensor([0, 0, 1, 1, 2])),
                        lambda: torch.randn(5, 8)),
        'complementary': (lambda x: complementary_loss(x, torch.randn(2, 5, 8)),
                          lambda: torch.randn(2, 5, 8)),
        'orthogonal': (lambda x: orthogonality_loss(x, torch.randn(2, 5, 8)),
                       lambda: torch.randn(2, 5, 8)),
        'opl': (lambda x: orthogonality_loss(x, torch.randn(2, 5, 8), form='opl'),
                lambda: torch.randn(2, 5, 8)),
        'router': (lambda x: router_ce_loss(x, torch.tensor([0, 2, 1])),
                   lambda: torch.randn(3, 4)),
    }


@pytest.mark.parametrize('name', sorted(_grad_cases()))
def test_loss_is_scalar_and_differentiable(name):
    torch.manual_seed(3)
    fn, make = _grad_cases()[name]
    x = make().requires_grad_(True)
    loss = fn(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize('call', [
    lambda: sigmoid_focal_loss(torch.randn(2, 3), torch.rand(3, 2)),
    lambda: dice_loss(torch.randn(2, 4, 4), torch.rand(2, 4, 5)),
    lambda: dice_loss(torch.randn(4), torch.rand(4)),
    lambda: giou(torch.rand(2, 4), torch.rand(3, 4)),
    lambda: giou_loss(torch.rand(2, 3), torch.rand(2, 3)),
    lambda: box_l1_loss(torch.rand(2, 4), torch.rand(2, 1, 4)),
    lambda: box_xywh_to_xyxy(torch.rand(5)),
    lambda: iou_prediction_loss(torch.rand(3), torch.randn(2, 4, 4), torch.rand(2, 4, 4)),
    lambda: iou_prediction_loss(torch.rand(2), torch.randn(2, 4, 4), torch.rand(2, 4, 3)),
    lambda: objectness_loss(torch.randn(3), torch.ones(3, 1)),
    lambda: embedding_contrastive_loss(torch.randn(4, 8), torch.tensor([0, 0, 1])),
    lambda: embedding_contrastive_loss(torch.randn(4), torch.tensor([0, 0, 1, 1])),
    lambda: complementary_loss(torch.randn(2, 5, 8), torch.randn(2, 8, 5)),
    lambda: orthogonality_loss(torch.randn(5, 8), torch.randn(5, 4)),
    lambda: router_ce_loss(torch.randn(3, 4), torch.tensor([0, 1])),
], ids=['focal', 'dice', 'dice-1d', 'giou', 'giou-not-4', 'l1', 'xywh', 'iou-lead', 'iou-hw',
        'objectness', 'contrastive-ids', 'contrastive-1d', 'complementary', 'orthogonal',
        'router'])
def test_mismatched_shapes_raise_value_error(call):
    with pytest.raises(ValueError, match='shape'):
        call()


@pytest.mark.parametrize('call', [
    lambda: sigmoid_focal_loss(torch.randn(2), torch.rand(2), reduction='avg'),
    lambda: sigmoid_focal_loss(torch.randn(2), torch.rand(2), alpha=1.5),
    lambda: sigmoid_focal_loss(torch.randn(2), torch.rand(2), gamma=-1.0),
    lambda: dice_loss(torch.randn(2, 3), torch.rand(2, 3), eps=0.0),
    lambda: embedding_contrastive_loss(torch.randn(3, 4), torch.tensor([0, 0, 1]),
                                       temperature=0.0),
    lambda: embedding_contrastive_loss(torch.randn(3, 4), torch.tensor([0.0, 0.0, 1.0])),
    lambda: orthogonality_loss(torch.randn(3, 4), torch.randn(3, 4), form='cos'),
    lambda: orthogonality_loss(torch.randn(1, 4), torch.randn(1, 4), form='opl'),
    lambda: sigmoid_focal_loss(torch.tensor([1, 2]), torch.tensor([1, 0])),
], ids=['reduction', 'alpha', 'gamma', 'eps', 'temperature', 'float-ids', 'form', 'opl-one',
        'int-logits'])
def test_invalid_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
