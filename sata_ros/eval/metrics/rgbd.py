"""
Long-term tracking precision, recall and F-score with per-frame confidence (RGB-D benchmarks).

The protocol of DepthTrack, CDTB and VOT-RGBD 2019-2021 (and VOT-LT), written from the
definition in metrics-and-datasets.md section 1.4 (the VOT toolkit is GPL and was not consulted):

- The tracker reports, per frame, a box and a confidence c_t; a frame where it reports no box
  (w <= 0 or h <= 0, the "absent" encoding) is a frame without a prediction.
- Overlaps are computed on boxes clipped to the image when its size is given. A prediction on a
  frame whose GT is absent scores IoU 0.
- Thresholds: every confidence of every frame with a prediction, over all sequences, sorted in
  descending order; `resolution` = 100 points = +inf, 98 order statistics evenly spaced over
  the sorted list, -inf.
- Per sequence and threshold tau, with S = {t : frame t has a prediction and c_t >= tau}:
  Pr(tau) = mean IoU over S (1 when S is empty); Re(tau) = (sum of IoU over S) / N_visible,
  N_visible = the number of frames whose GT is not absent.
- Pr and Re are averaged over sequences with equal weight at each tau;
  F(tau) = 2 Pr Re / (Pr + Re) (0 when both are 0). The F-score is max over tau of F, and Pr,
  Re are reported at that tau (the first, i.e. highest, tau on ties).

A tracker with a constant confidence has one non-trivial point: all of its predictions.
"""

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.sot import box_iou_xywh, check_boxes

DEFAULT_RESOLUTION = 100  # threshold count, the two infinities included


@dataclass(frozen=True)
class LongTermSequence:
    """
    One sequence's per-frame inputs to the long-term measures.

    Attributes:
        iou: (N,) float64 IoU of the prediction with the GT, 0 where the GT is absent or no
            box was predicted.
        confidence: (N,) float64 tracker confidence (any scale; only the order matters).
        visible: (N,) bool, the GT is present in the frame.
        predicted: (N,) bool, the tracker reported a box in the frame.
        name: sequence name for messages.

    """

    iou: np.ndarray
    confidence: np.ndarray
    visible: np.ndarray
    predicted: np.ndarray
    name: str = ''

    @classmethod
    def from_boxes(cls, pred: np.ndarray, confidence: np.ndarray, gt: np.ndarray,
                   image_size: Optional[tuple[int, int]] = None,
                   name: str = '') -> 'LongTermSequence':
        """
        Build the per-frame inputs from boxes.

        Args:
            pred: (N, 4) float x, y, w, h pixels; w <= 0 or h <= 0 means no prediction. NaN or
                inf is an error.
            confidence: (N,) float confidence per frame; NaN is an error on frames with a box.
            gt: (N, 4) float x, y, w, h pixels; rows with w <= 0, h <= 0 or NaN are absent.
            image_size: optional (height, width) in pixels; both boxes are clipped to
                [0, width] x [0, height] before the IoU.
            name: sequence name for messages.

        Returns:
            The sequence's IoU, confidence, visibility and prediction flags.

        Raises:
            PredictionError: malformed predictions or confidences, or a length mismatch.
            ValueError: malformed GT.

        """
        where = f'sequence {name!r}: ' if name else ''
        gt = check_boxes(gt, 'ground truth', name, allow_nan=True)
        pred = check_boxes(pred, 'prediction', name)
        if len(pred) != len(gt):
            raise PredictionError(f'{where}prediction has {len(pred)} frames, the ground truth '
                                  f'has {len(gt)}; expected one box per frame')
        confidence = np.asarray(confidence, dtype=np.float64)
        if confidence.shape != (len(gt),):
            raise PredictionError(f'{where}confidence must have shape ({len(gt)},), got '
                                  f'{confidence.shape}')
        visible = ~(np.isnan(gt).any(axis=1) | (np.nan_to_num(gt)[:, 2:] <= 0).any(axis=1))
        predicted = (pred[:, 2] > 0) & (pred[:, 3] > 0)
        bad = predicted & np.isnan(confidence)
        if bad.any():
            raise PredictionError(f'{where}frame {int(np.flatnonzero(bad)[0])} has a box but a '
                                  f'NaN confidence; expected a number')
        gt = np.nan_to_num(gt)
        if image_size is not None:
            pred = _clip_xywh(pred, image_size)
            gt = _clip_xywh(gt, image_size)
        iou = np.where(visible & predicted, box_iou_xywh(pred, gt), 0.0)
        return cls(iou=iou, confidence=confidence, visible=visible, predicted=predicted,
                   name=name)


def _clip_xywh(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Clip (N, 4) x, y, w, h boxes to [0, width] x [0, height]; outside boxes become empty."""
    height, width = image_size
    x1 = np.clip(boxes[:, 0], 0, width)
    y1 = np.clip(boxes[:, 1], 0, height)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


@dataclass(frozen=True)
class LongTermScores:
    """
    Dataset-level long-term scores and the curves they come from.

    Attributes:
        f_score: max over thresholds of F.
        precision: averaged Pr at the F-maximising threshold.
        recall: averaged Re at the F-maximising threshold.
        threshold: the F-maximising confidence threshold.
        thresholds: (R,) float64 descending thresholds, +inf first and -inf last.
        precision_curve: (R,) float64 averaged Pr per threshold.
        recall_curve: (R,) float64 averaged Re per threshold.
        f_curve: (R,) float64 F per threshold.

    """

    f_score: float
    precision: float
    recall: float
    threshold: float
    thresholds: np.ndarray
    precision_curve: np.ndarray
    recall_curve: np.ndarray
    f_curve: np.ndarray


def _check_sequence(seq: LongTermSequence) -> None:
    """Raise PredictionError / ValueError when a sequence's arrays disagree or are bad."""
    where = f'sequence {seq.name!r}: ' if seq.name else ''
    n = len(seq.visible)
    for field in ('iou', 'confidence', 'predicted', 'visible'):
        if np.shape(getattr(seq, field)) != (n,):
            raise PredictionError(f'{where}{field} must have shape ({n},) like visible, got '
                                  f'{np.shape(getattr(seq, field))}')
    for field in ('predicted', 'visible'):
        if np.asarray(getattr(seq, field)).dtype != bool:
            raise PredictionError(f'{where}{field} must be a bool array, got '
                                  f'{np.asarray(getattr(seq, field)).dtype}')
    if np.isnan(seq.iou).any() or np.isnan(seq.confidence[seq.predicted]).any():
        raise PredictionError(f'{where}NaN IoU or confidence on a frame with a prediction')
    if not np.any(seq.visible):
        raise ValueError(f'{where}the target is never visible; recall is undefined')


def confidence_thresholds(sequences: Sequence[LongTermSequence],
                          resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """
    Return the descending confidence thresholds shared by all sequences.

    Args:
        sequences: the sequences whose predicted frames' confidences are pooled.
        resolution: number of thresholds, >= 3: +inf, resolution - 2 evenly spaced order
            statistics of the pooled descending confidences, -inf.

    Returns:
        (resolution,) float64 descending thresholds.

    Raises:
        PredictionError: inconsistent or NaN per-frame arrays.
        ValueError: resolution < 3, or a sequence where the target is never visible.

    """
    if resolution < 3:
        raise ValueError(f'resolution must be at least 3, got {resolution}')
    for seq in sequences:
        _check_sequence(seq)
    pooled = np.concatenate([np.asarray(s.confidence, dtype=np.float64)[s.predicted]
                             for s in sequences] + [np.empty(0)])
    if pooled.size == 0:
        middle = np.full(resolution - 2, -np.inf)
    else:
        ordered = np.sort(pooled)[::-1]
        picks = np.round(np.linspace(0, ordered.size - 1, resolution - 2)).astype(int)
        middle = ordered[picks]
    return np.concatenate([[np.inf], middle, [-np.inf]])


def precision_recall(seq: LongTermSequence,
                     thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Return one sequence's Pr(tau) and Re(tau).

    Args:
        seq: the sequence's per-frame IoU, confidence and flags.
        thresholds: (R,) confidence thresholds.

    Returns:
        (R,) precision (1 where no frame is selected) and (R,) recall, float64 in [0, 1].

    Raises:
        PredictionError: inconsistent or NaN per-frame arrays.
        ValueError: the target is never visible.

    """
    _check_sequence(seq)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    iou = np.asarray(seq.iou, dtype=np.float64)
    selected = seq.predicted[None, :] & (seq.confidence[None, :] >= thresholds[:, None])
    count = selected.sum(axis=1)
    overlap = (selected * iou[None, :]).sum(axis=1)
    precision = np.ones(len(thresholds))
    np.divide(overlap, count, out=precision, where=count > 0)
    recall = overlap / np.count_nonzero(seq.visible)
    return precision, recall


def longterm_scores(sequences: Sequence[LongTermSequence],
                    resolution: int = DEFAULT_RESOLUTION) -> LongTermScores:
    """
    Return the long-term F-score with precision and recall at its maximising threshold.

    Args:
        sequences: at least one sequence.
        resolution: number of confidence thresholds (default 100).

    Returns:
        F-score, Pr, Re, the threshold and the full curves.

    Raises:
        PredictionError: inconsistent per-frame arrays.
        ValueError: no sequences, or a sequence where the target is never visible.

    """
    if len(sequences) == 0:
        raise ValueError('longterm_scores needs at least one sequence')
    thresholds = confidence_thresholds(sequences, resolution)
    curves = [precision_recall(seq, thresholds) for seq in sequences]
    precision = np.mean([c[0] for c in curves], axis=0)
    recall = np.mean([c[1] for c in curves], axis=0)
    total = precision + recall
    f_curve = np.zeros(len(thresholds))
    np.divide(2 * precision * recall, total, out=f_curve, where=total > 0)
    best = int(np.argmax(f_curve))
    return LongTermScores(
        f_score=float(f_curve[best]), precision=float(precision[best]),
        recall=float(recall[best]), threshold=float(thresholds[best]), thresholds=thresholds,
        precision_curve=precision, recall_curve=recall, f_curve=f_curve)
