"""Long-term precision / recall / F-score: hand-computed cases."""

import numpy as np
import pytest
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.rgbd import (
    confidence_thresholds, longterm_scores, LongTermSequence, precision_recall)


def _sequence(iou, confidence, visible=None, predicted=None, name=''):
    iou = np.asarray(iou, dtype=float)
    n = len(iou)
    return LongTermSequence(
        iou=iou, confidence=np.asarray(confidence, dtype=float),
        visible=np.ones(n, dtype=bool) if visible is None else np.asarray(visible),
        predicted=np.ones(n, dtype=bool) if predicted is None else np.asarray(predicted),
        name=name)


def test_thresholds_run_from_plus_to_minus_infinity():
    seqs = [_sequence([0.5] * 3, [0.9, 0.2, 0.5]), _sequence([0.5] * 2, [0.7, 0.1])]
    thresholds = confidence_thresholds(seqs)
    assert thresholds.shape == (100,)
    assert thresholds[0] == np.inf and thresholds[-1] == -np.inf
    assert np.all(np.diff(thresholds) <= 0)
    # Five pooled confidences, 98 evenly spaced picks: every one appears, largest first.
    assert set(thresholds[1:-1]) == {0.9, 0.7, 0.5, 0.2, 0.1}
    assert thresholds[1] == 0.9 and thresholds[-2] == 0.1
    with pytest.raises(ValueError):
        confidence_thresholds(seqs, resolution=2)


def test_constant_confidence_reduces_to_one_point():
    seqs = [_sequence([0.8, 0.6, 0.0, 0.4], [0.5] * 4, visible=[True, True, False, True]),
            _sequence([1.0, 0.5], [0.5] * 2)]
    scores = longterm_scores(seqs)
    # Every finite threshold selects every frame; +inf selects none (Pr 1, Re 0).
    assert scores.precision_curve[0] == 1.0 and scores.recall_curve[0] == 0.0
    np.testing.assert_allclose(scores.precision_curve[1:], scores.precision_curve[1])
    np.testing.assert_allclose(scores.recall_curve[1:], scores.recall_curve[1])
    # Sequence 1: Pr = 1.8 / 4 (the absent frame's prediction counts, IoU 0), Re = 1.8 / 3.
    # Sequence 2: Pr = 1.5 / 2, Re = 1.5 / 2.
    precision = (0.45 + 0.75) / 2
    recall = (0.6 + 0.75) / 2
    assert scores.precision == pytest.approx(precision)
    assert scores.recall == pytest.approx(recall)
    assert scores.f_score == pytest.approx(2 * precision * recall / (precision + recall))


def test_empty_selection_has_precision_one_and_recall_zero():
    seq = _sequence([0.9, 0.3], [0.8, 0.4])
    precision, recall = precision_recall(seq, np.array([np.inf, 0.95, 0.5, -np.inf]))
    np.testing.assert_allclose(precision, [1.0, 1.0, 0.9, 0.6])
    np.testing.assert_allclose(recall, [0.0, 0.0, 0.45, 0.6])


def test_f_score_is_the_maximum_and_reports_pr_re_at_its_argmax():
    # Confident frames are good, unconfident ones bad.
    seq = _sequence([0.9, 0.8, 0.2, 0.0], [0.9, 0.8, 0.3, 0.1])
    scores = longterm_scores([seq])
    # tau = 0.9: Pr .9, Re .225, F .36; tau = 0.8: Pr .85, Re .425, F 17/30;
    # tau = 0.3: Pr 1.9/3, Re .475, F .5429; tau = 0.1: Pr .475, Re .475, F .475.
    assert scores.f_score == pytest.approx(17 / 30)
    assert scores.precision == pytest.approx(0.85)
    assert scores.recall == pytest.approx(0.425)
    assert scores.threshold == 0.8
    assert scores.f_curve.max() == scores.f_score


def test_frames_without_a_box_are_never_selected():
    seq = _sequence([0.9, 0.0, 0.7], [0.9, 0.99, 0.5], predicted=[True, False, True])
    precision, recall = precision_recall(seq, np.array([0.95, -np.inf]))
    np.testing.assert_allclose(precision, [1.0, 0.8])
    np.testing.assert_allclose(recall, [0.0, 1.6 / 3])


def test_from_boxes_handles_absent_gt_empty_predictions_and_clipping():
    gt = np.array([[0, 0, 10, 10], [0, 0, 0, 0], [np.nan] * 4, [90, 0, 20, 10]], dtype=float)
    pred = np.array([[0, 0, 10, 5], [0, 0, 10, 10], [0, 0, 0, 0], [90, 0, 10, 10]], dtype=float)
    seq = LongTermSequence.from_boxes(pred, [1.0, 0.9, 0.8, 0.7], gt, image_size=(50, 100))
    assert seq.visible.tolist() == [True, False, False, True]
    assert seq.predicted.tolist() == [True, True, False, True]
    # Clipped to x < 100 both boxes are 10 x 10 at x = 90: IoU 1 (unclipped it would be 0.5).
    np.testing.assert_allclose(seq.iou, [0.5, 0.0, 0.0, 1.0])
    unclipped = LongTermSequence.from_boxes(pred, [1.0, 0.9, 0.8, 0.7], gt)
    assert unclipped.iou[3] == pytest.approx(0.5)


def test_bad_input_raises():
    gt = np.tile([0.0, 0.0, 10.0, 10.0], (3, 1))
    pred = gt.copy()
    pred[1, 0] = np.nan
    with pytest.raises(PredictionError, match=r"sequence 'room': prediction frame 1 "):
        LongTermSequence.from_boxes(pred, np.ones(3), gt, name='room')
    with pytest.raises(PredictionError, match='2 frames'):
        LongTermSequence.from_boxes(gt[:2], np.ones(2), gt)
    with pytest.raises(PredictionError, match='NaN confidence'):
        LongTermSequence.from_boxes(gt, [1.0, np.nan, 1.0], gt)
    with pytest.raises(PredictionError, match='confidence must have shape'):
        longterm_scores([_sequence([0.5, 0.5], [0.5])])
    with pytest.raises(ValueError, match='never visible'):
        longterm_scores([_sequence([0.0], [0.5], visible=[False])])
