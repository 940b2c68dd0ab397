"""
Multi-object tracking (MOT) and segmentation (MOTS) scores through trackeval's metric classes.

trackeval (PyPI 1.3.0, MIT, the numpy-2 fork of the official MOTChallenge kit) is the reference;
we call its HOTA, CLEAR and Identity classes directly on the per-frame dict its datasets build
(metrics-and-datasets.md sections 1.7 and 1.8), so there is no file round trip:

- ids are relabelled to 0..n-1 in sorted order, separately for GT and predictions, over the
  whole sequence (as trackeval's datasets do);
- `similarity_scores[t]` is the (num GT, num predicted) IoU of frame t: box IoU in the
  continuous convention (boxes are x1, y1, x2, y2 float pixels, a box covers [x1, x2) x [y1, y2),
  empty boxes score 0) or mask IoU (empty unions score 0);
- no dataset preprocessing is applied (no distractor classes, no ignore regions): every GT
  object counts and every prediction is scored;
- masks are scored as given: trackeval's MOTS datasets reject overlapping masks, we do not
  check (with overlaps, an IoU > 0.5 match is no longer guaranteed unique before matching).

Keys of the result: HOTA, DetA, AssA, LocA, DetRe, DetPr, AssRe, AssPr (means over the 19
alpha thresholds, as trackeval reports them), MOTA, MOTP, IDF1, IDP, IDR (floats), IDSW, FP, FN,
TP (ints, CLEAR's counts); with similarity='mask' also sMOTSA (CLEAR's sMOTA on mask IoU),
MOTSA (CLEAR's MOTA on mask IoU) and MOTSP (CLEAR's MOTP on mask IoU).
"""

import contextlib
from dataclasses import dataclass
import io
from typing import Any, Optional, Sequence

import numpy as np
from sata_ros.eval.metrics.errors import PredictionError
from trackeval.metrics import CLEAR, HOTA, Identity

SIMILARITIES = ('box', 'mask')
_HOTA_KEYS = ('HOTA', 'DetA', 'AssA', 'LocA', 'DetRe', 'DetPr', 'AssRe', 'AssPr')
_COUNT_KEYS = {'IDSW': 'IDSW', 'FP': 'CLR_FP', 'FN': 'CLR_FN', 'TP': 'CLR_TP'}
_MOTS_KEYS = {'sMOTSA': 'sMOTA', 'MOTSA': 'MOTA', 'MOTSP': 'MOTP'}


@dataclass
class FrameTracks:
    """
    The objects of one frame, ground truth or prediction.

    Attributes:
        ids: (K,) int64 track ids, unique within the frame (any non-negative integers; they
            only need to be consistent over time).
        boxes: (K, 4) float x1, y1, x2, y2 pixels.
        masks: optional (K, H, W) bool instance masks (needed for similarity='mask').

    """

    ids: np.ndarray
    boxes: np.ndarray
    masks: Optional[np.ndarray] = None

    @classmethod
    def empty(cls, height: Optional[int] = None, width: Optional[int] = None) -> 'FrameTracks':
        """
        Return a frame without objects.

        Args:
            height: mask height; with `width`, the frame carries (0, H, W) masks.
            width: mask width.

        Returns:
            A frame with (0,) ids, (0, 4) boxes and, when a size is given, (0, H, W) masks.

        """
        masks = None
        if height is not None and width is not None:
            masks = np.zeros((0, height, width), dtype=bool)
        return cls(ids=np.zeros(0, dtype=np.int64), boxes=np.zeros((0, 4)), masks=masks)


def box_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """
    Return the IoU of every pair of x1, y1, x2, y2 boxes (continuous pixel convention).

    Args:
        a: (K, 4) float x1, y1, x2, y2 pixels.
        b: (M, 4) float x1, y1, x2, y2 pixels.

    Returns:
        (K, M) float64 IoU in [0, 1]; 0 when either box is empty (x2 <= x1 or y2 <= y1).

    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    inter_w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    inter_h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(inter_w, 0.0) * np.maximum(inter_h, 0.0)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    union = area_a[:, None] + area_b[None, :] - inter
    usable = (area_a[:, None] > 0) & (area_b[None, :] > 0) & (union > 0)
    iou = np.zeros(inter.shape)
    np.divide(inter, union, out=iou, where=usable)
    return iou


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """
    Return the IoU of every pair of masks.

    Args:
        a: (K, H, W) bool masks.
        b: (M, H, W) bool masks.

    Returns:
        (K, M) float64 IoU in [0, 1]; 0 when both masks are empty.

    """
    a = np.asarray(a, dtype=bool).reshape(len(a), -1)
    b = np.asarray(b, dtype=bool).reshape(len(b), -1)
    # Pixel counts are exact in float64 up to 2^53, far beyond any image.
    inter = a.astype(np.float64) @ b.astype(np.float64).T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    iou = np.zeros(inter.shape)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou


def _check_frame(frame: FrameTracks, t: int, what: str, similarity: str,
                 sequence: str) -> FrameTracks:
    """Return a validated copy of one frame with canonical dtypes, or raise naming frame t."""
    error = PredictionError if what == 'prediction' else ValueError
    where = f'sequence {sequence!r}, ' if sequence else ''
    ids = np.asarray(frame.ids)
    boxes = np.asarray(frame.boxes, dtype=np.float64)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise error(f'{where}{what} frame {t}: ids must be a (K,) integer array, got '
                    f'{ids.dtype} {ids.shape}')
    if boxes.shape != (len(ids), 4):
        raise error(f'{where}{what} frame {t}: boxes must be ({len(ids)}, 4) x1, y1, x2, y2 '
                    f'to match {len(ids)} ids, got {boxes.shape}')
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise error(f'{where}{what} frame {t}, id {int(ids[k])}: box {boxes[k].tolist()} is not '
                    f'finite; expected x1, y1, x2, y2 pixels')
    if len(np.unique(ids)) != len(ids):
        raise error(f'{where}{what} frame {t}: duplicate ids {ids.tolist()}; expected each id '
                    f'at most once per frame')
    masks = frame.masks
    if similarity == 'mask':
        if masks is None:
            raise error(f'{where}{what} frame {t}: similarity="mask" needs masks, got None')
        masks = np.asarray(masks)
        if masks.ndim != 3 or len(masks) != len(ids) or masks.dtype != bool:
            raise error(f'{where}{what} frame {t}: masks must be ({len(ids)}, H, W) bool, got '
                        f'{masks.dtype} {masks.shape}')
    return FrameTracks(ids=ids.astype(np.int64), boxes=boxes, masks=masks)


def _relabel(ids_per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Map ids to 0..n-1 in sorted order over the whole sequence; return them and n."""
    unique = np.unique(np.concatenate(ids_per_frame + [np.zeros(0, dtype=np.int64)]))
    return [np.searchsorted(unique, ids).astype(int) for ids in ids_per_frame], len(unique)


def trackeval_data(gt: Sequence[FrameTracks], pred: Sequence[FrameTracks],
                   similarity: str = 'box', sequence: str = '') -> dict[str, Any]:
    """
    Build the per-sequence dict that trackeval's metric `eval_sequence` methods read.

    Args:
        gt: one `FrameTracks` per frame.
        pred: one `FrameTracks` per frame, as many as `gt`.
        similarity: 'box' (box IoU) or 'mask' (mask IoU; every frame needs masks of one size).
        sequence: sequence name for error messages.

    Returns:
        Dict with num_timesteps, num_gt_ids, num_tracker_ids, num_gt_dets, num_tracker_dets,
        gt_ids and tracker_ids (lists of (K_t,) int arrays of relabelled ids) and
        similarity_scores (list of (K_gt_t, K_pred_t) float64 arrays).

    Raises:
        PredictionError: frame count mismatch, or a malformed prediction frame (NaN box,
            duplicate id, missing or mis-shaped masks).
        ValueError: an unknown similarity or a malformed GT frame.

    """
    if similarity not in SIMILARITIES:
        raise ValueError(f'similarity must be one of {SIMILARITIES}, got {similarity!r}')
    where = f'sequence {sequence!r}: ' if sequence else ''
    if len(pred) != len(gt):
        raise PredictionError(f'{where}prediction has {len(pred)} frames, the ground truth has '
                              f'{len(gt)}; expected one FrameTracks per frame (empty frames '
                              f'included)')
    gt = [_check_frame(f, t, 'ground truth', similarity, sequence) for t, f in enumerate(gt)]
    pred = [_check_frame(f, t, 'prediction', similarity, sequence) for t, f in enumerate(pred)]
    similarity_scores = []
    for t, (g, p) in enumerate(zip(gt, pred)):
        if similarity == 'box':
            similarity_scores.append(box_iou_xyxy(g.boxes, p.boxes))
            continue
        if g.masks.shape[1:] != p.masks.shape[1:]:
            raise PredictionError(f'{where}prediction frame {t}: masks are '
                                  f'{p.masks.shape[1:]} (H, W), the GT masks '
                                  f'{g.masks.shape[1:]}')
        similarity_scores.append(mask_iou(g.masks, p.masks))
    gt_ids, num_gt_ids = _relabel([f.ids for f in gt])
    tracker_ids, num_tracker_ids = _relabel([f.ids for f in pred])
    return {
        'num_timesteps': len(gt),
        'num_gt_ids': num_gt_ids,
        'num_tracker_ids': num_tracker_ids,
        'num_gt_dets': int(sum(len(ids) for ids in gt_ids)),
        'num_tracker_dets': int(sum(len(ids) for ids in tracker_ids)),
        'gt_ids': gt_ids,
        'tracker_ids': tracker_ids,
        'similarity_scores': similarity_scores,
        'seq': sequence,
    }


def _metrics() -> tuple[HOTA, CLEAR, Identity]:
    """Return fresh trackeval metric objects, with their config printing silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        return (HOTA(), CLEAR({'PRINT_CONFIG': False}), Identity({'PRINT_CONFIG': False}))


def _flatten(hota: dict, clear: dict, identity: dict, similarity: str) -> dict[str, float]:
    """Return the public keys from trackeval's per-metric result dicts."""
    scores: dict[str, float] = {key: float(np.mean(hota[key])) for key in _HOTA_KEYS}
    scores.update(MOTA=float(clear['MOTA']), MOTP=float(clear['MOTP']),
                  IDF1=float(identity['IDF1']), IDP=float(identity['IDP']),
                  IDR=float(identity['IDR']))
    scores.update({key: int(clear[field]) for key, field in _COUNT_KEYS.items()})
    if similarity == 'mask':
        scores.update({key: float(clear[field]) for key, field in _MOTS_KEYS.items()})
    return scores


def _evaluate(data: dict[str, Any], metrics: tuple[HOTA, CLEAR, Identity]) -> list[dict]:
    """Run each metric's eval_sequence with trackeval's prints silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        return [metric.eval_sequence(data) for metric in metrics]


def mot_scores(gt: Sequence[FrameTracks], pred: Sequence[FrameTracks],
               similarity: str = 'box', sequence: str = '') -> dict[str, float]:
    """
    Score one sequence with HOTA, CLEAR and Identity.

    Args:
        gt: one `FrameTracks` per frame (empty frames included).
        pred: one `FrameTracks` per frame, as many as `gt`.
        similarity: 'box' for MOT, 'mask' for MOTS (adds sMOTSA, MOTSA, MOTSP).
        sequence: sequence name for error messages.

    Returns:
        The keys listed in the module docstring; counts are ints.

    Raises:
        PredictionError: see `trackeval_data`.
        ValueError: see `trackeval_data`.

    """
    data = trackeval_data(gt, pred, similarity, sequence)
    return _flatten(*_evaluate(data, _metrics()), similarity)


def mot_scores_many(sequences: Sequence[tuple[Sequence[FrameTracks], Sequence[FrameTracks]]],
                    similarity: str = 'box',
                    names: Optional[Sequence[str]] = None) -> dict[str, float]:
    """
    Score several sequences and combine them as trackeval does (`combine_sequences`).

    Counts are summed; HOTA's AssA / AssRe / AssPr and LocA are weighted by true positives;
    the ratios are recomputed from the combined counts.

    Args:
        sequences: (gt, pred) per sequence, each a list of `FrameTracks` per frame.
        similarity: 'box' or 'mask'.
        names: optional sequence names (for messages); default 'seq0', 'seq1', ...

    Returns:
        The same keys as `mot_scores`, for the combination.

    Raises:
        PredictionError: see `trackeval_data`.
        ValueError: no sequences, names of the wrong length or duplicated, or bad GT.

    """
    if len(sequences) == 0:
        raise ValueError('mot_scores_many needs at least one sequence')
    if names is None:
        names = [f'seq{i}' for i in range(len(sequences))]
    if len(names) != len(sequences) or len(set(names)) != len(names):
        raise ValueError(f'names must be {len(sequences)} distinct strings, got {names}')
    metrics = _metrics()
    per_metric: list[dict[str, dict]] = [{} for _ in metrics]
    for name, (gt, pred) in zip(names, sequences):
        data = trackeval_data(gt, pred, similarity, name)
        for store, result in zip(per_metric, _evaluate(data, metrics)):
            store[name] = result
    with contextlib.redirect_stdout(io.StringIO()):
        combined = [metric.combine_sequences(store) for metric, store in zip(metrics, per_metric)]
    return _flatten(*combined, similarity)
