"""
RGB-T tracking scores computed the way the `rgbt` toolkit (RGBT_toolkit, PyPI rgbt 1.0.1) does.

Boxes are (N, 4) float x, y, w, h pixels, as in `sot`. The toolkit's own quirks are reproduced
on purpose, so numbers can be compared with published RGBT234 / LasHeR results
(metrics-and-datasets.md section 1.3):

- Its result loader rounds every prediction to whole pixels (numpy's round half to even);
  `round_to_pixels=True` (the default) does the same.
- Predictions longer than the ground truth are cut to its length (the toolkit's `zip` / slice).
  Shorter ones raise PredictionError (the toolkit would score a prefix or crash).
- Centre: x + (w - 1) / 2, the arithmetic the toolkit runs when it scores (its module flag
  `_strict` is only switched off while RGBT234 results are loaded). The "non-strict"
  x + w / 2 gives the same distances: the half-pixel offset cancels between the two boxes
  (exactly on whole-pixel boxes, to rounding otherwise).
- IoU: the toolkit's inclusive arithmetic, which equals the continuous IoU (see `sot`). An
  empty box scores IoU 0 (the toolkit gets 0, -0 or NaN there, none of which passes `> t`).
- NaN in a prediction raises PredictionError instead of silently failing those frames.

RGBT234 (MPR / MSR): each frame takes the smaller centre error and the larger IoU over the
visible and the infrared GT. Frame 0 is not overwritten. MPR is the mean over sequences of the
precision at 20 px (thresholds 0..50, `<=`); MSR is the mean over sequences and the 21 IoU
thresholds linspace(0, 1, 21) of the success rate (`>`).

LasHeR (PR / NPR / SR), one GT per sequence:
- frame 0's prediction is replaced by the GT;
- from frame 1 on, a prediction with w <= 0 or h <= 0 is replaced by the (already repaired)
  previous one;
- a frame whose GT row has any value <= 0 (x or y included) scores -1 in all three measures, a
  quirk that makes it a failure for SR (-1 > t is false) but a success for PR and NPR
  (-1 <= d is true);
- NPR divides the centre of each box by the GT (w, h) plus 1e-8, and thresholds at 0.20 of
  linspace(0, 0.5, 51).
"""

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.sot import (
    box_centers, box_iou_xywh, check_boxes, NORM_PRECISION_INDEX, NORM_PRECISION_THRESHOLDS,
    precision_curve, PRECISION_INDEX, PRECISION_THRESHOLDS, success_curve, SUCCESS_THRESHOLDS)

# The toolkit adds this to the GT width and height before normalising centres; keeping it makes
# frames exactly at a threshold fall on the same side.
_NORM_EPS = 1e-8
# Value the LasHeR toolkit writes for frames whose GT has a non-positive entry.
_INVALID_GT_SCORE = -1.0


@dataclass(frozen=True)
class RgbtScores:
    """
    Dataset-level RGB-T scores with the per-sequence curves they average.

    Attributes:
        sequences: sequence names, in the order of the curve rows.
        precision: MPR (RGBT234) or PR (LasHeR): mean precision at 20 px.
        success: MSR (RGBT234) or SR (LasHeR): mean over sequences and thresholds of the
            success rate.
        norm_precision: LasHeR NPR at 0.20; None for RGBT234.
        precision_curves: (S, 51) per-sequence precision at 0..50 px.
        success_curves: (S, 21) per-sequence success rate at linspace(0, 1, 21).
        norm_precision_curves: (S, 51) per-sequence normalised precision at 0..0.5 (LasHeR) or
            None.

    """

    sequences: tuple[str, ...]
    precision: float
    success: float
    norm_precision: Optional[float]
    precision_curves: np.ndarray
    success_curves: np.ndarray
    norm_precision_curves: Optional[np.ndarray]


def _prepare_prediction(pred: np.ndarray, num_frames: int, sequence: str,
                        round_to_pixels: bool) -> np.ndarray:
    """Check, cut to the GT length and optionally round a prediction like the toolkit loader."""
    pred = check_boxes(pred, 'prediction', sequence)
    if len(pred) < num_frames:
        raise PredictionError(f'sequence {sequence!r}: prediction has {len(pred)} frames, the '
                              f'ground truth has {num_frames}; expected at least one box per '
                              f'frame')
    pred = pred[:num_frames]
    return np.round(pred) if round_to_pixels else pred.copy()


def _centers(boxes: np.ndarray) -> np.ndarray:
    """Return (N, 2) toolkit centres x + (w - 1) / 2, y + (h - 1) / 2; empty boxes included."""
    return box_centers(boxes, 'inclusive')


def _distance(offset: np.ndarray) -> np.ndarray:
    """Return the (N,) Euclidean length of (N, 2) offsets."""
    return np.sqrt(offset[:, 0] ** 2 + offset[:, 1] ** 2)


def rgbt234_sequence_curves(pred: np.ndarray, gt_visible: np.ndarray, gt_infrared: np.ndarray,
                            sequence: str = '',
                            round_to_pixels: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """
    Return one RGBT234 sequence's maximum-precision and maximum-success curves.

    Args:
        pred: (M, 4) float x, y, w, h pixels, M >= N.
        gt_visible: (N, 4) float visible-camera GT boxes.
        gt_infrared: (N, 4) float infrared-camera GT boxes.
        sequence: sequence name for error messages.
        round_to_pixels: round the prediction to whole pixels like the toolkit's loader.

    Returns:
        (51,) precision at 0..50 px on min(CLE_v, CLE_i) and (21,) success at
        linspace(0, 1, 21) on max(IoU_v, IoU_i), both float64 in [0, 1].

    Raises:
        PredictionError: malformed or too short `pred`.
        ValueError: the two GTs differ in length or are malformed.

    """
    gt_v = check_boxes(gt_visible, 'visible ground truth', sequence, allow_nan=True)
    gt_i = check_boxes(gt_infrared, 'infrared ground truth', sequence, allow_nan=True)
    if len(gt_v) != len(gt_i):
        raise ValueError(f'sequence {sequence!r}: visible GT has {len(gt_v)} frames, infrared '
                         f'GT {len(gt_i)}')
    pred = _prepare_prediction(pred, len(gt_v), sequence, round_to_pixels)
    centre = _centers(pred)
    error = np.minimum(_distance(centre - _centers(gt_v)), _distance(centre - _centers(gt_i)))
    iou = np.maximum(box_iou_xywh(pred, gt_v, 'inclusive'), box_iou_xywh(pred, gt_i, 'inclusive'))
    return precision_curve(error, PRECISION_THRESHOLDS), success_curve(iou, SUCCESS_THRESHOLDS)


def lasher_sequence_curves(
        pred: np.ndarray, gt: np.ndarray, sequence: str = '',
        round_to_pixels: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Return one LasHeR sequence's precision, normalised precision and success curves.

    Args:
        pred: (M, 4) float x, y, w, h pixels, M >= N.
        gt: (N, 4) float GT boxes (LasHeR's visible.txt); rows with a value <= 0 are invalid.
        sequence: sequence name for error messages.
        round_to_pixels: round the prediction to whole pixels like the toolkit's loader.

    Returns:
        (51,) precision at 0..50 px, (51,) normalised precision at 0..0.5 and (21,) success at
        linspace(0, 1, 21), float64 in [0, 1], with the toolkit's handling of frame 0, empty
        predictions and invalid GT frames (module docstring).

    Raises:
        PredictionError: malformed or too short `pred`.
        ValueError: malformed GT or an empty sequence.

    """
    gt = check_boxes(gt, 'ground truth', sequence, allow_nan=True)
    if len(gt) == 0:
        raise ValueError(f'sequence {sequence!r}: no frames to score')
    pred = _prepare_prediction(pred, len(gt), sequence, round_to_pixels)
    pred[0] = gt[0]
    # Forward-fill: each empty prediction takes the nearest earlier usable one. Frame 0 (the
    # GT) is the fallback source even when the GT itself is empty, as in the toolkit's loop.
    usable = (pred[:, 2] > 0) & (pred[:, 3] > 0)
    source = np.maximum.accumulate(np.where(usable, np.arange(len(pred)), 0))
    pred = pred[source]

    offset = _centers(pred) - _centers(gt)
    error = _distance(offset)
    size = gt[:, 2:] + _NORM_EPS
    with np.errstate(divide='ignore', invalid='ignore'):
        norm_error = _distance(_centers(pred) / size - _centers(gt) / size)
    iou = box_iou_xywh(pred, gt, 'inclusive')
    with np.errstate(invalid='ignore'):
        invalid_gt = (gt <= 0).any(axis=1)
    error[invalid_gt] = _INVALID_GT_SCORE
    norm_error[invalid_gt] = _INVALID_GT_SCORE
    iou[invalid_gt] = _INVALID_GT_SCORE
    return (precision_curve(error, PRECISION_THRESHOLDS),
            precision_curve(norm_error, NORM_PRECISION_THRESHOLDS),
            success_curve(iou, SUCCESS_THRESHOLDS))


def _check_names(preds: Mapping[str, np.ndarray], gts: Mapping[str, object]) -> None:
    """Raise PredictionError for a missing or unknown sequence name."""
    missing = [name for name in gts if name not in preds]
    if missing:
        raise PredictionError(f'no prediction for sequence(s) {missing}; expected one (M, 4) '
                              f'array per GT sequence')
    unknown = [name for name in preds if name not in gts]
    if unknown:
        raise PredictionError(f'prediction for unknown sequence(s) {unknown}; the GT has '
                              f'{len(gts)} sequences')
    if not gts:
        raise ValueError('no sequences to score')


def rgbt234_scores(preds: Mapping[str, np.ndarray],
                   gts: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   round_to_pixels: bool = True) -> RgbtScores:
    """
    Return RGBT234 MPR and MSR over several sequences (equal weight per sequence).

    Args:
        preds: sequence name -> (M, 4) float x, y, w, h prediction.
        gts: sequence name -> (visible GT, infrared GT), each (N, 4) float x, y, w, h.
        round_to_pixels: round predictions to whole pixels like the toolkit's loader.

    Returns:
        `RgbtScores` with `precision` = MPR, `success` = MSR, `norm_precision` None.

    Raises:
        PredictionError: a sequence is missing, unknown or malformed.

    """
    _check_names(preds, gts)
    names = tuple(gts)
    curves = [rgbt234_sequence_curves(preds[name], *gts[name], sequence=name,
                                      round_to_pixels=round_to_pixels) for name in names]
    precision = np.stack([c[0] for c in curves])
    success = np.stack([c[1] for c in curves])
    return RgbtScores(
        sequences=names, precision=float(precision.mean(axis=0)[PRECISION_INDEX]),
        success=float(success.mean()), norm_precision=None, precision_curves=precision,
        success_curves=success, norm_precision_curves=None)


def lasher_scores(preds: Mapping[str, np.ndarray], gts: Mapping[str, np.ndarray],
                  round_to_pixels: bool = True) -> RgbtScores:
    """
    Return LasHeR PR, NPR and SR over several sequences (equal weight per sequence).

    Args:
        preds: sequence name -> (M, 4) float x, y, w, h prediction.
        gts: sequence name -> (N, 4) float x, y, w, h GT.
        round_to_pixels: round predictions to whole pixels like the toolkit's loader.

    Returns:
        `RgbtScores` with `precision` = PR, `norm_precision` = NPR, `success` = SR.

    Raises:
        PredictionError: a sequence is missing, unknown or malformed.

    """
    _check_names(preds, gts)
    names = tuple(gts)
    curves = [lasher_sequence_curves(preds[name], gts[name], sequence=name,
                                     round_to_pixels=round_to_pixels) for name in names]
    precision = np.stack([c[0] for c in curves])
    norm_precision = np.stack([c[1] for c in curves])
    success = np.stack([c[2] for c in curves])
    return RgbtScores(
        sequences=names, precision=float(precision.mean(axis=0)[PRECISION_INDEX]),
        success=float(success.mean()),
        norm_precision=float(norm_precision.mean(axis=0)[NORM_PRECISION_INDEX]),
        precision_curves=precision, success_curves=success,
        norm_precision_curves=norm_precision)
