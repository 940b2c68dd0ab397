"""SOT one-pass evaluation: worked checks from the docs, conventions, absent frames, bad input."""

import math

import numpy as np
import pytest
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.sot import (
    average_sot, box_centers, box_iou_xywh, center_error, NORM_PRECISION_THRESHOLDS,
    PRECISION_THRESHOLDS, sot_scores, success_curve, SUCCESS_THRESHOLDS)


def _constant(box, n):
    return np.tile(np.asarray(box, dtype=float), (n, 1))


# --------------------------------------------------------------------------- worked checks


def test_constant_iou_07_gives_auc_14_of_21_and_70_of_101():
    # A 70 x 10 box inside a 100 x 10 box: IoU = 700 / 1000 in every frame.
    gt = _constant([0, 0, 100, 10], 50)
    pred = _constant([0, 0, 70, 10], 50)
    scores = sot_scores(pred, gt, overwrite_first=False)
    np.testing.assert_allclose(scores.iou, 0.7, rtol=0, atol=1e-15)
    assert scores.auc == pytest.approx(14 / 21, abs=1e-12)
    assert scores.ao == pytest.approx(0.7, abs=1e-12)
    # Thresholds 0 .. 0.65 pass (strict >), 0.70 .. 1.0 fail.
    assert scores.success_curve.tolist() == [1.0] * 14 + [0.0] * 7
    assert success_curve(scores.iou, np.linspace(0, 1, 101)).mean() == pytest.approx(
        70 / 101, abs=1e-12)


def test_centre_error_of_exactly_20_px_counts_as_precise():
    gt = _constant([100, 100, 40, 30], 10)
    pred = gt + [12, 16, 0, 0]  # a 3-4-5 triangle: exactly 20 px
    scores = sot_scores(pred, gt, overwrite_first=False)
    np.testing.assert_array_equal(scores.center_error, 20.0)
    assert scores.precision_20 == 1.0
    assert scores.precision_curve[19] == 0.0
    assert scores.precision_curve[PRECISION_THRESHOLDS == 20.0].item() == 1.0
    # 20.5 px is not.
    scores = sot_scores(gt + [20.5, 0, 0, 0], gt, overwrite_first=False)
    assert scores.precision_20 == 0.0
    assert scores.precision_curve[21] == 1.0


def test_normalised_precision_is_read_at_020():
    gt = _constant([0, 0, 50, 20], 4)
    # Offsets of 0.08, 0.18 and 0.28 GT widths; the last frame 0.25 GT heights.
    pred = gt + np.array([[4, 0, 0, 0], [9, 0, 0, 0], [14, 0, 0, 0], [0, 5, 0, 0]])
    scores = sot_scores(pred, gt, overwrite_first=False)
    assert NORM_PRECISION_THRESHOLDS[20] == pytest.approx(0.2)
    assert scores.norm_precision == pytest.approx(0.5)
    assert scores.norm_precision_curve[10] == pytest.approx(0.25)
    assert scores.norm_precision_curve[30] == pytest.approx(1.0)


def test_first_frame_is_overwritten_by_default():
    gt = _constant([10, 10, 20, 20], 4)
    pred = _constant([500, 500, 20, 20], 4)
    scores = sot_scores(pred, gt)
    # Frame 0 becomes perfect: IoU 1 passes every bin but the strict > 1.0.
    assert scores.auc == pytest.approx(0.25 * 20 / 21)
    assert scores.precision_20 == pytest.approx(0.25)
    assert sot_scores(pred, gt, overwrite_first=False).auc == 0.0


# --------------------------------------------------------------------------- conventions


SMALL_BOXES = [
    # (a, b, IoU by hand)
    ([0, 0, 2, 2], [1, 1, 2, 2], 1 / 7),
    ([0, 0, 1, 1], [0, 0, 1, 1], 1.0),
    ([0, 0, 1, 1], [1, 0, 1, 1], 0.0),  # touching edges share no area
    ([0, 0, 3, 1], [1, 0, 1, 1], 1 / 3),
    ([0.5, 0.5, 2, 2], [1, 1, 2, 2], 2.25 / 5.75),
    ([2, 2, 1, 2], [2, 3, 1, 2], 1 / 3),
]


@pytest.mark.parametrize('a, b, expected', SMALL_BOXES)
def test_both_iou_conventions_on_small_boxes(a, b, expected):
    # The inclusive right edge x + w - 1 and its +1 on the width cancel: same IoU.
    assert box_iou_xywh(a, b, 'continuous') == pytest.approx(expected, abs=1e-15)
    assert box_iou_xywh(a, b, 'inclusive') == pytest.approx(expected, abs=1e-15)


def test_inclusive_iou_matches_the_rgbt_toolkit_arithmetic():
    rgbt_utils = pytest.importorskip('rgbt.utils')
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.integers(0, 6, (200, 2)), rng.integers(1, 4, (200, 2))], axis=1)
    b = np.concatenate([rng.integers(0, 6, (200, 2)), rng.integers(1, 4, (200, 2))], axis=1)
    a, b = a.astype(float), b.astype(float)
    theirs = np.array([rgbt_utils.IoU(x, y) for x, y in zip(a, b)])
    np.testing.assert_array_equal(box_iou_xywh(a, b, 'inclusive'), theirs)
    np.testing.assert_allclose(box_iou_xywh(a, b, 'continuous'), theirs, rtol=0, atol=1e-15)


def test_centres_differ_by_half_a_pixel_but_errors_do_not():
    box = np.array([[10.0, 20.0, 4.0, 6.0]])
    np.testing.assert_array_equal(box_centers(box, 'continuous'), [[12.0, 23.0]])
    np.testing.assert_array_equal(box_centers(box, 'inclusive'), [[11.5, 22.5]])
    other = np.array([[13.0, 24.0, 8.0, 2.0]])
    expected = math.hypot(17.0 - 12.0, 25.0 - 23.0)
    assert center_error(other, box, 'continuous')[0] == pytest.approx(expected, abs=1e-12)
    assert center_error(other, box, 'inclusive')[0] == pytest.approx(expected, abs=1e-12)


def test_unknown_convention_is_rejected():
    with pytest.raises(ValueError, match='convention'):
        box_iou_xywh([0, 0, 1, 1], [0, 0, 1, 1], 'half-open')


# --------------------------------------------------------------------------- absent / visible


def test_absent_prediction_on_visible_frame_is_a_failure():
    gt = _constant([10, 10, 20, 20], 5)
    pred = gt.copy()
    pred[2] = [0, 0, 0, 0]  # the tracker says "absent" while the target is visible
    scores = sot_scores(pred, gt)
    assert scores.iou[2] == 0.0
    assert scores.center_error[2] == math.inf
    assert scores.precision_curve[-1] == pytest.approx(0.8)  # fails even at 50 px
    assert scores.success_curve[0] == pytest.approx(0.8)  # fails IoU > 0


def test_absent_gt_frames_leave_the_denominator_by_default():
    gt = _constant([10, 10, 20, 20], 5)
    gt[1] = [0, 0, 0, 0]  # out of view
    gt[3] = [np.nan] * 4  # DepthTrack-style absent row
    pred = _constant([10, 10, 20, 20], 5)
    pred[1] = [300, 300, 20, 20]  # anything is fine where the target is absent
    scores = sot_scores(pred, gt)
    assert scores.scored.tolist() == [True, False, True, False, True]
    assert scores.auc == pytest.approx(20 / 21)  # IoU 1 fails only the > 1.0 bin
    assert scores.precision_20 == 1.0
    assert scores.ao == 1.0
    # Kept in the denominator as failures instead: 3 of 5 frames can succeed.
    kept = sot_scores(pred, gt, absent_gt='failure')
    assert kept.scored.all()
    assert kept.precision_20 == pytest.approx(0.6)
    assert kept.ao == pytest.approx(0.6)


def test_valid_mask_marks_more_absent_frames():
    gt = _constant([10, 10, 20, 20], 4)
    pred = gt.copy()
    pred[3] = [200, 200, 20, 20]
    valid = np.array([True, True, True, False])
    assert sot_scores(pred, gt).precision_20 == pytest.approx(0.75)
    assert sot_scores(pred, gt, valid=valid).precision_20 == 1.0
    with pytest.raises(ValueError, match='valid'):
        sot_scores(pred, gt, valid=np.ones(3, dtype=bool))


def test_sequence_with_no_visible_frame_raises():
    gt = _constant([0, 0, 0, 0], 3)
    with pytest.raises(ValueError, match='absent in every frame'):
        sot_scores(gt, gt)


# --------------------------------------------------------------------------- bad input


def test_nan_prediction_raises_with_the_frame_index():
    gt = _constant([10, 10, 20, 20], 6)
    pred = gt.copy()
    pred[4, 2] = np.nan
    with pytest.raises(PredictionError, match=r"sequence 'bolt': prediction frame 4 "):
        sot_scores(pred, gt, sequence='bolt')


def test_length_mismatch_raises():
    gt = _constant([10, 10, 20, 20], 6)
    with pytest.raises(PredictionError, match='prediction has 5 frames, the ground truth has 6'):
        sot_scores(gt[:5], gt)
    with pytest.raises(PredictionError, match=r'\(N, 4\)'):
        sot_scores(gt[:, :3], gt)


# --------------------------------------------------------------------------- references


def _random_sequence(rng, n):
    gt = np.concatenate([rng.uniform(0, 300, (n, 2)), rng.uniform(5, 80, (n, 2))], axis=1)
    pred = gt + rng.normal(0, 8, (n, 4))
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    pred[rng.random(n) < 0.1] = [0, 0, 0, 0]
    gt[rng.random(n) < 0.1, 2] = 0
    return pred, gt


def _brute_force(pred, gt):
    """Recompute AUC, P@20 and NP@0.2 one frame and one threshold at a time."""
    ious, errors, norm_errors = [], [], []
    for p, g in zip(pred, gt):
        if g[2] <= 0 or g[3] <= 0:
            continue
        if p[2] <= 0 or p[3] <= 0:
            ious.append(0.0)
            errors.append(math.inf)
            norm_errors.append(math.inf)
            continue
        left, right = max(p[0], g[0]), min(p[0] + p[2], g[0] + g[2])
        top, bottom = max(p[1], g[1]), min(p[1] + p[3], g[1] + g[3])
        inter = max(0.0, right - left) * max(0.0, bottom - top)
        ious.append(inter / (p[2] * p[3] + g[2] * g[3] - inter))
        dx = (p[0] + p[2] / 2) - (g[0] + g[2] / 2)
        dy = (p[1] + p[3] / 2) - (g[1] + g[3] / 2)
        errors.append(math.hypot(dx, dy))
        norm_errors.append(math.hypot(dx / g[2], dy / g[3]))
    auc = sum(sum(i > t for i in ious) / len(ious) for t in SUCCESS_THRESHOLDS) / 21
    precision = sum(e <= 20 for e in errors) / len(errors)
    norm_precision = sum(e <= NORM_PRECISION_THRESHOLDS[20] for e in norm_errors) / len(errors)
    return auc, precision, norm_precision, sum(ious) / len(ious)


def test_agrees_with_a_brute_force_recomputation():
    rng = np.random.default_rng(5)
    for n in (40, 333):
        pred, gt = _random_sequence(rng, n)
        scores = sot_scores(pred, gt, overwrite_first=False)
        auc, precision, norm_precision, ao = _brute_force(pred, gt)
        assert scores.auc == pytest.approx(auc, abs=1e-12)
        assert scores.precision_20 == pytest.approx(precision, abs=1e-12)
        assert scores.norm_precision == pytest.approx(norm_precision, abs=1e-12)
        assert scores.ao == pytest.approx(ao, abs=1e-12)


def test_average_weighs_every_sequence_equally():
    gt_short = _constant([0, 0, 10, 10], 2)
    gt_long = _constant([0, 0, 10, 10], 10)
    pred_long = gt_long.copy()
    pred_long[1:] = [100, 100, 10, 10]
    short = sot_scores(gt_short, gt_short)  # perfect: AUC 20 / 21
    long = sot_scores(pred_long, gt_long)  # only frame 0 right
    assert long.auc == pytest.approx(0.1 * 20 / 21)
    summary = average_sot([short, long])
    assert summary['auc'] == pytest.approx((20 / 21 + 2 / 21) / 2)
    assert summary['precision_20'] == pytest.approx((1.0 + 0.1) / 2)
    assert summary['num_sequences'] == 2
    assert summary['success_curve'].shape == (21,)
    with pytest.raises(ValueError):
        average_sot([])
