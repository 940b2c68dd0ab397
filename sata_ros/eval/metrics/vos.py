"""
DAVIS video object segmentation measures: region J, boundary F, J&F, recall and decay.

Definitions (metrics-and-datasets.md section 1.6; reference: davis2017-evaluation, reproduced by
vos-benchmark):

- Masks are (H, W) bool per object and frame. Void pixels (DAVIS label 255), when a void mask is
  given, are removed from both masks before J and before the boundaries of F.
- J = |P and G| / |P or G|, and 1 when the union is empty.
- F: one-pixel boundary maps of P and G (a pixel is on the boundary when it differs from its
  right, lower or lower-right neighbour; the image is taken to continue by repeating its last
  row and column), each dilated with a disk of radius r = bound_th when bound_th >= 1, else
  ceil(bound_th * sqrt(H^2 + W^2)) (8 px at 854 x 480 with the default 0.008), i.e. every
  pixel within Euclidean distance r of a boundary pixel. Precision = the
  fraction of P's boundary pixels inside G's dilated boundary, recall = the fraction of G's
  boundary pixels inside P's dilated boundary, F = 2PR / (P + R) and 0 when P + R = 0.
  Edge cases: no boundary in either -> P = R = 1; only G has one -> P = 1, R = 0; only P has
  one -> P = 0, R = 1.
- Semi-supervised protocol: the first and last frames are dropped; per object, mean M, recall
  O = fraction of frames with value > 0.5, decay D = mean of the first of 4 bins minus mean of
  the last (DAVIS's bin edges round(linspace(1, N, 5)) - 1, inclusive at both ends).
  DAVIS stores the edges as uint8, which wraps for more than 256 frames; we do not, so the
  decay matches DAVIS up to 256 scored frames.
- Dataset J-Mean / F-Mean: mean over all objects of all sequences; J&F is their mean.
"""

from dataclasses import dataclass
import math
from typing import Mapping, Optional, Sequence

import numpy as np
from sata_ros.eval.metrics.errors import PredictionError
from scipy import ndimage

DEFAULT_BOUND_TH = 0.008  # boundary tolerance as a fraction of the image diagonal
DECAY_BINS = 4


def _without_void(pred: np.ndarray, gt: np.ndarray,
                  void: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return both masks as bool arrays with the void pixels (when given) cleared."""
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        pred, gt = pred & keep, gt & keep
    return pred, gt


def region_similarity(pred: np.ndarray, gt: np.ndarray,
                      void: Optional[np.ndarray] = None) -> float:
    """
    Return the Jaccard index J of one object's masks in one frame.

    Args:
        pred: (H, W) bool predicted mask.
        gt: (H, W) bool ground-truth mask.
        void: optional (H, W) bool pixels to ignore.

    Returns:
        J in [0, 1]; 1 when both masks are empty (outside the void).

    """
    pred, gt = _without_void(pred, gt, void)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """
    Return the one-pixel boundary map of a mask (the DAVIS `_seg2bmap` rule).

    Args:
        mask: (H, W) bool mask.

    Returns:
        (H, W) bool: True where the pixel differs from its right, lower or lower-right
        neighbour, with the last row and column compared against copies of themselves.

    """
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, ((0, 1), (0, 1)), mode='edge')
    right = padded[:-1, 1:]
    below = padded[1:, :-1]
    below_right = padded[1:, 1:]
    return (mask ^ right) | (mask ^ below) | (mask ^ below_right)


def boundary_radius(height: int, width: int, bound_th: float = DEFAULT_BOUND_TH) -> float:
    """
    Return the boundary tolerance radius in pixels.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        bound_th: radius in pixels when >= 1, else a fraction of the image diagonal.

    Returns:
        bound_th if bound_th >= 1, else ceil(bound_th * sqrt(height^2 + width^2)).

    """
    if bound_th >= 1:
        return float(bound_th)
    return float(math.ceil(bound_th * math.hypot(height, width)))


def _dilate(edge: np.ndarray, radius: float) -> np.ndarray:
    """
    Dilate a non-empty boundary map with the disk {(dy, dx) : dy^2 + dx^2 <= radius^2}.

    Thresholding the exact Euclidean distance to the nearest boundary pixel is the same set as
    the morphological dilation with that disk (DAVIS uses skimage's disk and cv2.dilate) and is
    several times faster than scipy's binary_dilation with a 17 x 17 element. Pixels farther
    than `radius` along either axis from the boundary's bounding box cannot be reached, so the
    transform only runs on that box grown by the radius.
    """
    reach = int(math.ceil(radius))
    rows = np.flatnonzero(edge.any(axis=1))
    cols = np.flatnonzero(edge.any(axis=0))
    top, bottom = max(rows[0] - reach, 0), min(rows[-1] + reach + 1, edge.shape[0])
    left, right = max(cols[0] - reach, 0), min(cols[-1] + reach + 1, edge.shape[1])
    zone = np.zeros_like(edge)
    window = ~edge[top:bottom, left:right]
    zone[top:bottom, left:right] = ndimage.distance_transform_edt(window) <= radius
    return zone


def boundary_f(pred: np.ndarray, gt: np.ndarray, void: Optional[np.ndarray] = None,
               bound_th: float = DEFAULT_BOUND_TH) -> float:
    """
    Return the boundary F-measure of one object's masks in one frame.

    Args:
        pred: (H, W) bool predicted mask.
        gt: (H, W) bool ground-truth mask.
        void: optional (H, W) bool pixels removed from both masks before taking boundaries.
        bound_th: tolerance (see `boundary_radius`).

    Returns:
        F in [0, 1] with the DAVIS edge cases (module docstring).

    """
    pred, gt = _without_void(pred, gt, void)
    pred_edge = boundary_map(pred)
    gt_edge = boundary_map(gt)
    n_pred = np.count_nonzero(pred_edge)
    n_gt = np.count_nonzero(gt_edge)
    if n_pred == 0 or n_gt == 0:
        # No boundary on one side: P = 1 when the prediction has none, R = 1 when the GT has
        # none; both empty is a perfect score, exactly one empty scores 0.
        return 1.0 if n_pred == n_gt else 0.0
    radius = boundary_radius(*pred.shape, bound_th=bound_th)
    pred_zone = _dilate(pred_edge, radius)
    gt_zone = _dilate(gt_edge, radius)
    precision = np.count_nonzero(pred_edge & gt_zone) / n_pred
    recall = np.count_nonzero(gt_edge & pred_zone) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def frame_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """
    Return DAVIS's mean, recall and decay of one object's per-frame values.

    Args:
        values: (N,) float per-frame J or F, N >= 1.

    Returns:
        (mean, fraction of frames > 0.5, decay = mean of the first of 4 bins minus the last).

    Raises:
        ValueError: no frames.

    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError('no frames to summarise')
    # Bin edges are frame indices; each bin includes both of its edges, as in DAVIS.
    edges = (np.round(np.linspace(1, values.size, DECAY_BINS + 1) + 1e-10) - 1).astype(int)
    first = values[edges[0]:edges[1] + 1]
    last = values[edges[DECAY_BINS - 1]:edges[DECAY_BINS] + 1]
    return (float(values.mean()), float(np.mean(values > 0.5)),
            float(first.mean() - last.mean()))


@dataclass(frozen=True)
class ObjectVosScores:
    """
    One object's DAVIS measures.

    Attributes:
        j_mean: mean J over the scored frames.
        j_recall: fraction of scored frames with J > 0.5.
        j_decay: J of the first quarter minus J of the last quarter.
        f_mean: mean F over the scored frames.
        f_recall: fraction of scored frames with F > 0.5.
        f_decay: F of the first quarter minus F of the last quarter.
        j_frames: (N',) float64 per-frame J of the scored frames.
        f_frames: (N',) float64 per-frame F of the scored frames.

    """

    j_mean: float
    j_recall: float
    j_decay: float
    f_mean: float
    f_recall: float
    f_decay: float
    j_frames: np.ndarray
    f_frames: np.ndarray


@dataclass(frozen=True)
class VosScores:
    """
    Measures averaged over objects (each object weighs the same, as in DAVIS).

    Attributes:
        j_mean: mean over objects of J-Mean.
        f_mean: mean over objects of F-Mean.
        j_and_f: (j_mean + f_mean) / 2.
        j_recall: mean over objects of J-Recall.
        f_recall: mean over objects of F-Recall.
        j_decay: mean over objects of J-Decay.
        f_decay: mean over objects of F-Decay.
        objects: object id -> its `ObjectVosScores`.

    """

    j_mean: float
    f_mean: float
    j_and_f: float
    j_recall: float
    f_recall: float
    j_decay: float
    f_decay: float
    objects: dict[int, ObjectVosScores]


def _as_masks(masks: np.ndarray, what: str, obj_id: int, shape: Optional[tuple[int, ...]],
              sequence: str) -> np.ndarray:
    """Return masks as (N, H, W) bool, raising for a wrong shape or non-binary values."""
    error = PredictionError if what == 'prediction' else ValueError
    where = f'sequence {sequence!r}: ' if sequence else ''
    array = np.asarray(masks)
    if array.ndim != 3 or (shape is not None and array.shape != shape):
        expected = f'shape {shape}' if shape is not None else 'an (N, H, W) array'
        raise error(f'{where}{what} masks of object {obj_id} have shape {array.shape}; '
                    f'expected {expected}')
    if array.dtype != bool:
        if not np.isin(array, (0, 1)).all():
            raise error(f'{where}{what} masks of object {obj_id} are {array.dtype} with values '
                        f'other than 0 and 1; expected a boolean mask per object')
        array = array.astype(bool)
    return array


def _summarise(objects: Sequence[ObjectVosScores]) -> dict[str, float]:
    """Return the object-averaged measures of `objects`."""
    j_mean = float(np.mean([o.j_mean for o in objects]))
    f_mean = float(np.mean([o.f_mean for o in objects]))
    return {
        'j_mean': j_mean, 'f_mean': f_mean, 'j_and_f': (j_mean + f_mean) / 2,
        'j_recall': float(np.mean([o.j_recall for o in objects])),
        'f_recall': float(np.mean([o.f_recall for o in objects])),
        'j_decay': float(np.mean([o.j_decay for o in objects])),
        'f_decay': float(np.mean([o.f_decay for o in objects])),
    }


def vos_scores(pred_masks: Mapping[int, np.ndarray], gt_masks: Mapping[int, np.ndarray],
               void: Optional[np.ndarray] = None, drop_first_last: bool = True,
               bound_th: float = DEFAULT_BOUND_TH, sequence: str = '') -> VosScores:
    """
    Score one sequence's object masks with the DAVIS semi-supervised protocol.

    Args:
        pred_masks: object id -> (N, H, W) bool predicted masks, one per GT object.
        gt_masks: object id -> (N, H, W) bool ground-truth masks, at least one object.
        void: optional (N, H, W) bool void pixels (DAVIS label 255), ignored by J and F.
        drop_first_last: skip the first and last frames (the DAVIS semi-supervised rule; the
            first frame is the given reference). Needs N >= 3.
        bound_th: boundary tolerance (see `boundary_radius`).
        sequence: sequence name for error messages.

    Returns:
        Object-averaged J, F, J&F, recall and decay, with per-object details.

    Raises:
        PredictionError: an object has no prediction, a prediction has an id the GT lacks, or
            a prediction's shape or values are wrong.
        ValueError: bad GT or void masks, or too few frames.

    """
    where = f'sequence {sequence!r}: ' if sequence else ''
    if not gt_masks:
        raise ValueError(f'{where}no ground-truth objects')
    expected = sorted(gt_masks)
    missing = [i for i in expected if i not in pred_masks]
    if missing:
        raise PredictionError(f'{where}no prediction for object id(s) {missing}; expected masks '
                              f'for ids {expected}')
    unknown = [i for i in pred_masks if i not in gt_masks]
    if unknown:
        raise PredictionError(f'{where}prediction for unknown object id(s) {unknown}; the '
                              f'ground truth has ids {expected}')
    first_id = expected[0]
    shape = _as_masks(gt_masks[first_id], 'ground truth', first_id, None, sequence).shape
    if void is not None:
        void = np.asarray(void, dtype=bool)
        if void.shape != shape:
            raise ValueError(f'{where}void has shape {void.shape}; expected {shape}')
    frames = range(1, shape[0] - 1) if drop_first_last else range(shape[0])
    if len(frames) == 0:
        raise ValueError(f'{where}{shape[0]} frames leave nothing to score'
                         + (' once the first and last are dropped' if drop_first_last else ''))
    objects = {}
    for obj_id in expected:
        gt = _as_masks(gt_masks[obj_id], 'ground truth', obj_id, shape, sequence)
        pred = _as_masks(pred_masks[obj_id], 'prediction', obj_id, shape, sequence)
        j_frames = np.array([region_similarity(pred[t], gt[t], None if void is None else void[t])
                             for t in frames])
        f_frames = np.array([boundary_f(pred[t], gt[t], None if void is None else void[t],
                                        bound_th) for t in frames])
        j_stats = frame_statistics(j_frames)
        f_stats = frame_statistics(f_frames)
        objects[obj_id] = ObjectVosScores(
            j_mean=j_stats[0], j_recall=j_stats[1], j_decay=j_stats[2],
            f_mean=f_stats[0], f_recall=f_stats[1], f_decay=f_stats[2],
            j_frames=j_frames, f_frames=f_frames)
    return VosScores(objects=objects, **_summarise(list(objects.values())))


def average_vos(scores: Sequence[VosScores]) -> dict[str, float]:
    """
    Pool several sequences the DAVIS way: every object of every sequence weighs the same.

    Args:
        scores: one `VosScores` per sequence, at least one.

    Returns:
        'j_mean', 'f_mean', 'j_and_f', 'j_recall', 'f_recall', 'j_decay', 'f_decay' and
        'num_objects'.

    Raises:
        ValueError: `scores` is empty.

    """
    objects = [o for s in scores for o in s.objects.values()]
    if not objects:
        raise ValueError('average_vos needs at least one sequence')
    return {**_summarise(objects), 'num_objects': float(len(objects))}
