"""
Single-object tracking one-pass evaluation (OTB / LaSOT / GOT-10k style) on x, y, w, h boxes.

Box convention:
- Boxes are (N, 4) float arrays of `x, y, w, h` in pixels: (x, y) is the top-left corner, (w, h)
  the size. Prediction and ground truth only need to share the same origin (0- or 1-based),
  because every score depends on differences of coordinates.
- A box with w <= 0 or h <= 0 is empty. A tracker says "target absent" with w = h = 0; on a frame
  where the target is visible that prediction scores IoU 0 and an infinite centre error.
- A ground-truth row with w <= 0, h <= 0 or a NaN marks a frame where the target is absent
  (LaSOT's full occlusion / out of view, NaN rows in DepthTrack); `sot_scores` documents how such
  frames count.

Pixel conventions (`convention=`):
- 'continuous' (the default; got10k, and our own boxes, which are continuous pixel
  coordinates): the box covers [x, x + w) x [y, y + h). Right edge x + w, centre x + w / 2.
- 'inclusive' (LaSOT MATLAB, pytracking, RGBT_toolkit): the box covers the pixel indices
  x .. x + w - 1. Right edge x + w - 1, the intersection width adds 1 back, centre
  x + (w - 1) / 2.
- For IoU the two are the same number: the -1 on each right edge and the +1 on the width cancel,
  and both take the area as w * h. The centres differ by half a pixel on both boxes, which
  cancels in the centre error. The inclusive arithmetic is here so a toolkit's computation can be
  followed step by step; the scores agree to floating-point rounding (see the tests).

Scores (metrics-and-datasets.md section 1.2):
- Success curve S(t) = fraction of frames with IoU > t (strict), t in linspace(0, 1, 21); the
  success AUC is the mean of the 21 rates (biased low by about AO / 21 against 101 bins).
- Precision curve P(d) = fraction of frames with centre error <= d, d = 0, 1, ..., 50 px; the
  precision is P(20).
- Normalised precision: the centre offset divided by the ground-truth (w, h), thresholds
  0, 0.01, ..., 0.50; the score is the value at 0.20 (not an area under the curve).
- AO = mean IoU (GOT-10k).
- Sequences are averaged with equal weight (`average_sot`).
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
from sata_ros.eval.metrics.errors import PredictionError

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # IoU thresholds of the success curve
PRECISION_THRESHOLDS = np.linspace(0.0, 50.0, 51)  # centre-error thresholds in pixels
NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 51)  # GT-size-normalised thresholds
PRECISION_INDEX = 20  # PRECISION_THRESHOLDS[20] == 20 px
NORM_PRECISION_INDEX = 20  # NORM_PRECISION_THRESHOLDS[20] == 0.20

CONVENTIONS = ('continuous', 'inclusive')
ABSENT_GT_MODES = ('remove', 'failure')


def _where(sequence: str) -> str:
    """Return the message prefix naming a sequence, or '' when it has no name."""
    return f'sequence {sequence!r}: ' if sequence else ''


def check_boxes(boxes: np.ndarray, what: str = 'prediction', sequence: str = '',
                allow_nan: bool = False) -> np.ndarray:
    """
    Return `boxes` as an (N, 4) float64 array, or raise naming the first bad frame.

    Args:
        boxes: (N, 4) array-like of x, y, w, h pixels (or x1, y1, x2, y2, which is checked the
            same way).
        what: 'prediction' raises PredictionError; anything else (e.g. 'ground truth') raises
            ValueError, because bad ground truth is not the tracker's fault.
        sequence: sequence name for the message.
        allow_nan: accept NaN rows (ground truth marks absent frames that way); infinities are
            never accepted.

    Returns:
        (N, 4) float64 copy-free view when possible.

    Raises:
        PredictionError: `what` is 'prediction' and the array is not (N, 4) or holds a
            non-finite value.
        ValueError: the same problems in any other input.

    """
    error = PredictionError if what == 'prediction' else ValueError
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f'{_where(sequence)}{what} boxes are not numeric: {exc}') from None
    if array.ndim != 2 or array.shape[1] != 4:
        raise error(f'{_where(sequence)}{what} boxes must be an (N, 4) array of x, y, w, h '
                    f'pixels, got shape {array.shape}')
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if bad.any():
        frame = int(np.flatnonzero(bad.any(axis=1))[0])
        raise error(f'{_where(sequence)}{what} frame {frame} has a non-finite value '
                    f'{array[frame].tolist()}; expected finite x, y, w, h (an absent target is '
                    f'w = h = 0)')
    return array


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f'convention must be one of {CONVENTIONS}, got {convention!r}')


def box_iou_xywh(a: np.ndarray, b: np.ndarray, convention: str = 'continuous') -> np.ndarray:
    """
    Return the IoU of corresponding x, y, w, h boxes.

    A pair where either box is empty (w <= 0 or h <= 0) or the union is zero has IoU 0, never
    NaN. See the module docstring for the two pixel conventions; they give the same IoU up to
    rounding.

    Args:
        a: (..., 4) float x, y, w, h pixels.
        b: (..., 4) float x, y, w, h pixels, broadcastable against `a`.
        convention: 'continuous' (default) or 'inclusive'.

    Returns:
        (...) float64 IoU in [0, 1].

    Raises:
        ValueError: the last axis is not 4 or the convention is unknown.

    """
    _check_convention(convention)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[-1:] != (4,) or b.shape[-1:] != (4,):
        raise ValueError(f'box_iou_xywh takes (..., 4) x, y, w, h boxes, got {a.shape} and '
                         f'{b.shape}')
    ax, ay, aw, ah = np.moveaxis(a, -1, 0)
    bx, by, bw, bh = np.moveaxis(b, -1, 0)
    if convention == 'continuous':
        inter_w = np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx)
        inter_h = np.minimum(ay + ah, by + bh) - np.maximum(ay, by)
    else:
        # Last covered pixel index, then the count of shared pixel indices.
        inter_w = np.minimum(ax + aw - 1, bx + bw - 1) - np.maximum(ax, bx) + 1
        inter_h = np.minimum(ay + ah - 1, by + bh - 1) - np.maximum(ay, by) + 1
    inter = np.maximum(inter_w, 0.0) * np.maximum(inter_h, 0.0)
    union = aw * ah + bw * bh - inter
    usable = (aw > 0) & (ah > 0) & (bw > 0) & (bh > 0) & (union > 0)
    iou = np.zeros(np.broadcast(ax, bx).shape)
    np.divide(inter, union, out=iou, where=usable)
    return iou


def box_centers(boxes: np.ndarray, convention: str = 'continuous') -> np.ndarray:
    """
    Return the centre of each x, y, w, h box.

    Args:
        boxes: (..., 4) float x, y, w, h pixels.
        convention: 'continuous' (x + w / 2) or 'inclusive' (x + (w - 1) / 2).

    Returns:
        (..., 2) float64 centre (cx, cy) in pixels.

    """
    _check_convention(convention)
    boxes = np.asarray(boxes, dtype=np.float64)
    size = boxes[..., 2:] if convention == 'continuous' else boxes[..., 2:] - 1
    return boxes[..., :2] + size / 2


def _empty(boxes: np.ndarray) -> np.ndarray:
    """Return (N,) bool: the box has w <= 0 or h <= 0 (NaN rows are not empty, just unknown)."""
    return (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)


def center_error(pred: np.ndarray, gt: np.ndarray, convention: str = 'continuous') -> np.ndarray:
    """
    Return the Euclidean distance between predicted and ground-truth box centres.

    An empty prediction (w <= 0 or h <= 0, the "absent" encoding) has an infinite error, so it
    is never within any precision threshold.

    Args:
        pred: (N, 4) float x, y, w, h pixels.
        gt: (N, 4) float x, y, w, h pixels.
        convention: centre convention; both give the same distance (the offset cancels).

    Returns:
        (N,) float64 error in pixels; inf for empty predictions, NaN where `gt` has NaN.

    """
    pred = np.asarray(pred, dtype=np.float64)
    offset = box_centers(pred, convention) - box_centers(gt, convention)
    error = np.sqrt(offset[:, 0] ** 2 + offset[:, 1] ** 2)
    error[_empty(pred)] = np.inf
    return error


def normalized_center_error(pred: np.ndarray, gt: np.ndarray,
                            convention: str = 'continuous') -> np.ndarray:
    """
    Return the centre distance with the offset divided by the ground-truth (w, h) (LaSOT).

    Args:
        pred: (N, 4) float x, y, w, h pixels.
        gt: (N, 4) float x, y, w, h pixels; w, h > 0 wherever the value is used.
        convention: centre convention; both give the same distance.

    Returns:
        (N,) float64 dimensionless error; inf for empty predictions, inf or NaN where the
        ground truth is empty (such frames are absent and never scored as visible).

    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    offset = box_centers(pred, convention) - box_centers(gt, convention)
    with np.errstate(divide='ignore', invalid='ignore'):
        scaled = offset / gt[:, 2:]
    error = np.sqrt(scaled[:, 0] ** 2 + scaled[:, 1] ** 2)
    error[_empty(pred)] = np.inf
    return error


def _rates(values: np.ndarray, thresholds: np.ndarray, strict_above: bool) -> np.ndarray:
    """Return the fraction of `values` above (strict) or at-or-below each threshold."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError('cannot compute a rate over zero frames')
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if strict_above:
        hits = values[:, None] > thresholds[None, :]
    else:
        hits = values[:, None] <= thresholds[None, :]
    return hits.mean(axis=0)


def success_curve(iou: np.ndarray,
                  thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """
    Return the fraction of frames whose IoU is strictly above each threshold.

    Args:
        iou: (N,) float IoU of the scored frames, N >= 1.
        thresholds: (T,) IoU thresholds; default linspace(0, 1, 21).

    Returns:
        (T,) float64 success rates in [0, 1]; their mean is the success AUC.

    """
    return _rates(iou, thresholds, strict_above=True)


def precision_curve(errors: np.ndarray,
                    thresholds: np.ndarray = PRECISION_THRESHOLDS) -> np.ndarray:
    """
    Return the fraction of frames whose centre error is at most each threshold.

    Args:
        errors: (N,) float centre errors in pixels of the scored frames, N >= 1 (inf fails
            every threshold).
        thresholds: (T,) distances in pixels; default 0, 1, ..., 50.

    Returns:
        (T,) float64 precision rates in [0, 1]; index 20 is the 20 px precision.

    """
    return _rates(errors, thresholds, strict_above=False)


def normalized_precision_curve(errors: np.ndarray,
                               thresholds: np.ndarray = NORM_PRECISION_THRESHOLDS) -> np.ndarray:
    """
    Return the fraction of frames whose normalised centre error is at most each threshold.

    Args:
        errors: (N,) float normalised centre errors (dimensionless) of the scored frames.
        thresholds: (T,) thresholds; default 0, 0.01, ..., 0.50.

    Returns:
        (T,) float64 rates in [0, 1]; index 20 (0.20) is the normalised precision.

    """
    return _rates(errors, thresholds, strict_above=False)


@dataclass(frozen=True)
class SotScores:
    """
    One sequence's one-pass evaluation.

    Attributes:
        success_curve: (21,) fraction of scored frames with IoU > t, t = 0, 0.05, ..., 1.
        auc: mean of `success_curve` (success AUC, SR / SUC).
        precision_curve: (51,) fraction of scored frames with centre error <= d px,
            d = 0, ..., 50.
        precision_20: `precision_curve[20]`.
        norm_precision_curve: (51,) the same on the normalised error, thresholds
            0, 0.01, ..., 0.5.
        norm_precision: `norm_precision_curve[20]` (threshold 0.20).
        ao: mean IoU over the scored frames (GOT-10k average overlap).
        iou: (N,) float64 per-frame IoU over all frames (0 where the GT is absent).
        center_error: (N,) float64 per-frame centre error in pixels (inf where the prediction
            is empty or the GT is absent).
        scored: (N,) bool, the frames counted in the curves.

    """

    success_curve: np.ndarray
    auc: float
    precision_curve: np.ndarray
    precision_20: float
    norm_precision_curve: np.ndarray
    norm_precision: float
    ao: float
    iou: np.ndarray
    center_error: np.ndarray
    scored: np.ndarray


def sot_scores(pred: np.ndarray, gt: np.ndarray, valid: Optional[np.ndarray] = None,
               overwrite_first: bool = True, absent_gt: str = 'remove',
               convention: str = 'continuous', sequence: str = '') -> SotScores:
    """
    Score one sequence of single-object predictions (OTB / LaSOT one-pass evaluation).

    Args:
        pred: (N, 4) float x, y, w, h pixels, one row per frame; w = h = 0 means the tracker
            reports the target absent. NaN or inf is an error, not an absent target.
        gt: (N, 4) float x, y, w, h pixels; rows with w <= 0, h <= 0 or NaN are absent frames.
        valid: optional (N,) bool; False marks more absent frames (e.g. LaSOT's
            full_occlusion / out_of_view flags).
        overwrite_first: replace the prediction of frame 0 with the GT before scoring, so the
            initialisation frame counts as perfect (OTB, LaSOT, got10k, pytracking).
        absent_gt: what absent GT frames do. 'remove' (default, LaSOT MATLAB): they leave the
            denominator. 'failure': they stay in the denominator and count as failures (IoU 0,
            infinite centre error) whatever the prediction.
        convention: IoU / centre pixel convention ('continuous' or 'inclusive').
        sequence: sequence name for error messages.

    Returns:
        The curves, summary scores and per-frame values.

    Raises:
        PredictionError: `pred` is not (N, 4) with the GT's N, or holds NaN / inf (the message
            names the frame).
        ValueError: bad GT or `valid`, an unknown mode, or no frame left to score.

    """
    if absent_gt not in ABSENT_GT_MODES:
        raise ValueError(f'absent_gt must be one of {ABSENT_GT_MODES}, got {absent_gt!r}')
    _check_convention(convention)
    gt = check_boxes(gt, 'ground truth', sequence, allow_nan=True)
    pred = check_boxes(pred, 'prediction', sequence)
    if len(pred) != len(gt):
        raise PredictionError(f'{_where(sequence)}prediction has {len(pred)} frames, the ground '
                              f'truth has {len(gt)}; expected one box per frame')
    if len(gt) == 0:
        raise ValueError(f'{_where(sequence)}no frames to score')
    absent = np.isnan(gt).any(axis=1) | _empty(np.nan_to_num(gt))
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != (len(gt),) or valid.dtype != bool:
            raise ValueError(f'{_where(sequence)}valid must be an ({len(gt)},) bool array, got '
                             f'{valid.dtype} {valid.shape}')
        absent |= ~valid
    if overwrite_first:
        pred = pred.copy()
        pred[0] = gt[0]
    with np.errstate(invalid='ignore'):
        iou = box_iou_xywh(pred, gt, convention)
        error = center_error(pred, gt, convention)
        norm_error = normalized_center_error(pred, gt, convention)
    # Absent frames are failures whatever was predicted; under 'remove' they are not scored.
    iou[absent] = 0.0
    error[absent] = np.inf
    norm_error[absent] = np.inf
    scored = ~absent if absent_gt == 'remove' else np.ones(len(gt), dtype=bool)
    if not scored.any():
        raise ValueError(f'{_where(sequence)}the target is absent in every frame; nothing to '
                         f'score')
    success = success_curve(iou[scored])
    precision = precision_curve(error[scored])
    norm_precision = normalized_precision_curve(norm_error[scored])
    return SotScores(
        success_curve=success, auc=float(success.mean()),
        precision_curve=precision, precision_20=float(precision[PRECISION_INDEX]),
        norm_precision_curve=norm_precision,
        norm_precision=float(norm_precision[NORM_PRECISION_INDEX]),
        ao=float(iou[scored].mean()), iou=iou, center_error=error, scored=scored)


def average_sot(scores: Sequence[SotScores]) -> dict[str, Union[float, np.ndarray]]:
    """
    Average per-sequence scores with equal weight per sequence (OTB / LaSOT / pytracking).

    Args:
        scores: one `SotScores` per sequence, at least one.

    Returns:
        'auc', 'precision_20', 'norm_precision', 'ao' (floats), 'num_sequences' (float count)
        and the mean curves 'success_curve' (21,), 'precision_curve' (51,),
        'norm_precision_curve' (51,).

    Raises:
        ValueError: `scores` is empty.

    """
    if len(scores) == 0:
        raise ValueError('average_sot needs at least one sequence')
    success = np.mean([s.success_curve for s in scores], axis=0)
    precision = np.mean([s.precision_curve for s in scores], axis=0)
    norm_precision = np.mean([s.norm_precision_curve for s in scores], axis=0)
    return {
        'auc': float(np.mean([s.auc for s in scores])),
        'precision_20': float(precision[PRECISION_INDEX]),
        'norm_precision': float(norm_precision[NORM_PRECISION_INDEX]),
        'ao': float(np.mean([s.ao for s in scores])),
        'num_sequences': float(len(scores)),
        'success_curve': success,
        'precision_curve': precision,
        'norm_precision_curve': norm_precision,
    }
