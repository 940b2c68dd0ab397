"""
Accuracy on held-out synthetic scenes: SOT success AUC, VOS J&F and MOT HOTA per condition.

A condition is a set of modalities and a lighting level: 'rgb', 'rgb+depth', 'rgb+thermal' and
'rgb+events' in normal light, and the same four in the dark (the RGB camera's exposure cut to
`DARK_EXPOSURE`, the other sensors unchanged; data/scene.py). Every condition renders the same
scene seeds, so rows differ only in what the tracker is given.

Protocols (one pass, no re-initialisation):
- SOT / VOS: each tracked object (not the look-alike distractors) is prompted with its exact
  ground-truth box on the first frame where at least `INIT_MIN_PIXELS` of it are visible, and
  tracked to the end of the scene. Its SOT sequence and its VOS sequence start at that frame:
  success AUC with 21 thresholds (frames where the object is invisible are removed, LaSOT
  style; the first frame is the given one), and J&F with the DAVIS rule (first and last
  frames dropped), pooled over objects. The prompted-run functions also take an explicit set of
  target ids instead of the settings (eval/replay.py uses that for bags). For dataset ground
  truth, an object without a mask counts its box area as its visible pixels, and an object
  missing from a frame's ground truth is absent in that frame.
- MOT: no prompt; every visible object (distractors included: they are objects) is ground
  truth; HOTA through trackeval, box similarity, all scenes combined.

Systems: any `sata_ros.tracking.Tracker` (the trained default checkpoint, the same model
untrained) and the non-learned baselines of eval/baselines.py (RGB only: they cannot read the
other modalities, so their dark-RGB numbers are their numbers for every dark condition).
"""

from dataclasses import dataclass, replace
from typing import Callable, Collection, Iterable, Optional

import numpy as np
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.data.sequence import AUX_INPUTS, Frame, hold_thermal, keep_aux, ObjectTruth
from sata_ros.eval.baselines import BackgroundMotTracker, HistogramTracker
from sata_ros.eval.metrics.mot import FrameTracks, mot_scores_many
from sata_ros.eval.metrics.sot import average_sot, sot_scores
from sata_ros.eval.metrics.vos import average_vos, vos_scores
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.prompts import Prompt
from sata_ros.tracking.tracker import Tracker

DARK_EXPOSURE = 0.003  # linear light factor of the dark scenes: pixel values fall to ~7 %
INIT_MIN_PIXELS = 100  # visible pixels an object needs before it is prompted


@dataclass(frozen=True)
class Condition:
    """
    What a tracker is given.

    Attributes:
        name: row label, e.g. 'rgb+thermal' or 'dark rgb'.
        aux: the auxiliary modality, or None for RGB only.
        dark: the RGB camera's exposure is DARK_EXPOSURE.

    """

    name: str
    aux: Optional[str]
    dark: bool


CONDITIONS = tuple(
    Condition(('dark ' if dark else '') + 'rgb' + (f'+{aux}' if aux else ''), aux, dark)
    for dark in (False, True) for aux in (None,) + AUX_INPUTS)


@dataclass(frozen=True)
class BenchmarkSettings:
    """
    Which scenes.

    Attributes:
        seeds: scene seeds (the default checkpoint trains on 1000-1399 and validates on
            900-903; these must not overlap them).
        num_frames: frames per scene.
        width, height: scene size, pixels.
        num_objects: tracked objects per scene.
        num_distractors: look-alike distractors per scene.

    """

    seeds: tuple[int, ...] = (5000, 5001, 5002)
    num_frames: int = 48
    width: int = 256
    height: int = 192
    num_objects: int = 3
    num_distractors: int = 1


def scene_frames(settings: BenchmarkSettings, seed: int, dark: bool) -> list[Frame]:
    """Render scene `seed` with every modality (thermal held between its ticks)."""
    cfg = SceneConfig(seed=seed, num_frames=settings.num_frames, width=settings.width,
                      height=settings.height, num_objects=settings.num_objects,
                      num_distractors=settings.num_distractors,
                      rgb_exposure=DARK_EXPOSURE if dark else 1.0)
    return list(hold_thermal(generate_scene(cfg)))


def restrict(frames: Iterable[Frame], aux: Optional[str]) -> list[Frame]:
    """Keep RGB plus `aux` (None: RGB only) in every frame."""
    return [keep_aux(f, aux) for f in frames]


# ---------------------------------------------------------------------- prompted (SOT / VOS)


@dataclass
class TargetRun:
    """One prompted object's predictions from its first frame on (boxes xywh, masks)."""

    target_id: int
    start: int
    boxes: np.ndarray  # (N, 4) float x, y, w, h predicted (w = h = 0: reported absent)
    masks: np.ndarray  # (N, H, W) bool predicted
    gt_boxes: np.ndarray  # (N, 4) float x, y, w, h
    gt_masks: np.ndarray  # (N, H, W) bool


# A tracker's answer on one frame: ((x1, y1, x2, y2) box, H x W bool mask), or None (absent).
Prediction = Optional[tuple[tuple[float, float, float, float], np.ndarray]]


def _is_target(target_id: int, settings: Optional[BenchmarkSettings],
               target_ids: Optional[Collection[int]]) -> bool:
    """Whether `target_id` is prompted: in `target_ids` when given, else <= num_objects."""
    if target_ids is not None:
        return target_id in target_ids
    if settings is None:
        raise ValueError('give the benchmark settings or an explicit set of target ids')
    return target_id <= settings.num_objects


def _visible_pixels(obj: ObjectTruth) -> float:
    """Visible area of `obj`: its mask's pixel count, or its box area when it has no mask."""
    return float(obj.mask.sum()) if obj.mask is not None else float(obj.box[2] * obj.box[3])


def init_frames(frames: list[Frame], settings: Optional[BenchmarkSettings] = None,
                target_ids: Optional[Collection[int]] = None) -> dict[int, int]:
    """
    Map each prompted object id to the index of the first frame it is prompted on.

    Args:
        frames: the scene.
        settings: without `target_ids`, ids 1..settings.num_objects are the targets.
        target_ids: the ids to prompt (overrides `settings`).

    Returns:
        target id -> first frame with at least INIT_MIN_PIXELS visible pixels (mask pixels, or
        the box area for objects without a mask); ids that never get there are left out.

    """
    start: dict[int, int] = {}
    for k, frame in enumerate(frames):
        for obj in frame.objects:
            if (obj.target_id not in start and _is_target(obj.target_id, settings, target_ids)
                    and _visible_pixels(obj) >= INIT_MIN_PIXELS):
                start[obj.target_id] = k
    return start


def _xywh(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1))


def _truth(frames: list[Frame], target_id: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """GT boxes (N, 4) xywh and masks (N, H, W) bool from `start` (absent: zero box, no mask)."""
    boxes, masks = [], []
    for frame in frames[start:]:
        obj = frame.find(target_id)
        boxes.append(obj.box if obj is not None else (0.0, 0.0, 0.0, 0.0))
        masks.append(_mask(obj, frame))
    return np.array(boxes, float), np.array(masks, bool)


def _mask(obj: Optional[ObjectTruth], frame: Frame) -> np.ndarray:
    """Return the object's visible mask, or an empty one (object absent or without a mask)."""
    if obj is None or obj.mask is None:
        return np.zeros(frame.rgb.shape[:2], bool)
    return obj.mask


def run_prompted_sata(tracker: Tracker, frames: list[Frame],
                      settings: Optional[BenchmarkSettings] = None,
                      target_ids: Optional[Collection[int]] = None,
                      label_masks: bool = False) -> list[TargetRun]:
    """
    Track every object from its init frame in one stream (targets batched).

    The targets are ids 1..settings.num_objects, or `target_ids` when given (see
    `init_frames`). With `label_masks` a target's mask is its pixels in the frame's label
    image (`FrameResult.instance_mask`: what the node publishes, overlaps go to the
    higher-scoring target, as in DAVIS's indexed masks) instead of its own mask.
    """
    starts = init_frames(frames, settings, target_ids)
    return track_pass(tracker, frames, starts, 'prompted', label_masks)[0]


def track_pass(tracker: Tracker, frames: list[Frame], starts: dict[int, int], mode: str,
               label_masks: bool) -> tuple[list[TargetRun], list[FrameTracks]]:
    """
    Run one stream in `mode` ('prompted', 'detected' or 'both') over `frames`.

    Args:
        tracker: the tracker (its config, with `mode` replaced).
        frames: the frames, in order.
        starts: ground-truth target id -> index of the frame it is prompted on, with its
            ground-truth box, after that frame is tracked (as a service call would).
        mode: the stream's mode.
        label_masks: take masks from the label image (see `run_prompted_sata`).

    Returns:
        One TargetRun per prompted target, and every frame's visible instances.

    """
    stream = tracker.open_stream(config=replace(tracker.config, mode=mode))
    later: dict[int, list[Prediction]] = {t: [] for t in starts}
    tracks = []
    # The stream assigns its own ids: a stream never takes an id below one it has used, and
    # targets start in the order they become visible, not in id order.
    stream_ids: dict[int, int] = {}
    for k, frame in enumerate(frames):
        result = stream.track(frame)
        tracks.append(frame_tracks([(i.target_id, i.box) for i in result.instances
                                    if i.visible]))
        by_id = {i.target_id: i for i in result.instances}
        labels = result.instance_mask() if label_masks else None
        for tid, start in starts.items():
            if start == k:
                x, y, w, h = frame.find(tid).box
                inst = stream.add_target(Prompt.from_box((x, y, x + w, y + h)))
                stream_ids[tid] = inst.target_id
            elif start < k:
                inst = by_id.get(stream_ids[tid])
                visible = inst is not None and inst.visible
                mask = None if not visible else (
                    inst.mask if labels is None else labels == stream_ids[tid])
                later[tid].append((inst.box, mask) if visible else None)
    runs = [prompted_run(frames, tid, starts[tid], later[tid]) for tid in starts]
    return runs, tracks


def run_prompted_baseline(frames: list[Frame], settings: Optional[BenchmarkSettings] = None,
                          factory: Callable[[], HistogramTracker] = HistogramTracker,
                          target_ids: Optional[Collection[int]] = None) -> list[TargetRun]:
    """Track every object with its own single-object baseline tracker (RGB only)."""
    runs = []
    for tid, start in init_frames(frames, settings, target_ids).items():
        tracker = factory()
        x, y, w, h = frames[start].find(tid).box
        tracker.init(frames[start].rgb, (x, y, x + w, y + h))
        later: list[Prediction] = []
        for frame in frames[start + 1:]:
            out = tracker.update(frame.rgb)
            later.append((out.box, out.mask) if out.visible else None)
        runs.append(prompted_run(frames, tid, start, later))
    return runs


def prompted_run(frames: list[Frame], tid: int, start: int,
                 later: list[Prediction]) -> TargetRun:
    """
    Return the TargetRun of object `tid` prompted on frame `start`.

    Args:
        frames: the scene.
        tid: the ground-truth id.
        start: the prompt frame; its prediction is the given box and the object's mask.
        later: one prediction per frame after `start`: ((x1, y1, x2, y2) box, H x W bool
            mask), or None where the tracker reports the target absent.

    """
    if len(later) != len(frames) - start - 1:
        raise ValueError(f'target {tid}: {len(later)} predictions for the '
                         f'{len(frames) - start - 1} frames after its prompt frame {start}')
    obj = frames[start].find(tid)
    boxes, masks = [obj.box], [_mask(obj, frames[start])]
    for frame, pred in zip(frames[start + 1:], later):
        boxes.append((0.0, 0.0, 0.0, 0.0) if pred is None else _xywh(pred[0]))
        masks.append(np.zeros(frame.rgb.shape[:2], bool) if pred is None else pred[1])
    gt_boxes, gt_masks = _truth(frames, tid, start)
    return TargetRun(tid, start, np.array(boxes, float), np.array(masks, bool), gt_boxes,
                     gt_masks)


def prompted_scores(runs: list[TargetRun], sequence: str = '') -> tuple[list, list]:
    """Per target: SotScores and VosScores (targets with fewer than 3 frames are skipped)."""
    sot, vos = [], []
    for run in runs:
        name = f'{sequence}/target{run.target_id}'
        if len(run.boxes) < 3:
            continue
        sot.append(sot_scores(run.boxes, run.gt_boxes, sequence=name))
        vos.append(vos_scores({run.target_id: run.masks}, {run.target_id: run.gt_masks},
                              sequence=name))
    return sot, vos


# ---------------------------------------------------------------------- detected (MOT)


def ground_truth_tracks(frames: list[Frame]) -> list[FrameTracks]:
    """Every visible object of every frame as MOT ground truth."""
    return [frame_tracks((o.target_id, (o.box[0], o.box[1], o.box[0] + o.box[2],
                                        o.box[1] + o.box[3]))
                         for o in frame.objects if o.visible) for frame in frames]


def frame_tracks(items: Iterable[tuple[int, tuple]]) -> FrameTracks:
    """Return the FrameTracks of (id, (x1, y1, x2, y2)) pairs."""
    items = list(items)
    return FrameTracks(np.array([i for i, _ in items], np.int64),
                       np.array([b for _, b in items], float).reshape(-1, 4))


def run_detected_sata(tracker: Tracker, frames: list[Frame]) -> list[FrameTracks]:
    """Run the tracker in detected mode; the instances seen in each frame."""
    return track_pass(tracker, frames, {}, 'detected', False)[1]


def run_detected_baseline(frames: list[Frame]) -> list[FrameTracks]:
    """Run the background-subtraction MOT baseline (RGB only)."""
    tracker = BackgroundMotTracker()
    return [frame_tracks([(tid, box) for tid, box, _ in tracker.update(f.rgb)]) for f in frames]


# ---------------------------------------------------------------------- the whole table


def evaluate(system: str, settings: BenchmarkSettings, conditions: Iterable[Condition],
             tracker: Optional[Tracker] = None, with_mot: bool = True,
             progress: Optional[Callable[[str], None]] = None) -> dict[str, dict]:
    """
    Score one system on every condition.

    Args:
        system: 'sata' (needs `tracker`) or 'baseline'.
        settings: the scenes.
        conditions: rows to compute.
        tracker: the SATA tracker for system 'sata'.
        with_mot: also run the MOT protocol.
        progress: called with a short status line per scene.

    Returns:
        condition name -> {'sot_auc', 'sot_precision_20', 'vos_j_and_f', 'vos_j', 'vos_f',
        'mot_hota', 'mot_deta', 'mot_assa', 'mot_mota', 'mot_idf1', 'targets'} (fractions in
        [0, 1]; the MOT keys only with `with_mot`).

    """
    if system == 'sata' and tracker is None:
        raise ValueError("system 'sata' needs a tracker")
    table: dict[str, dict] = {}
    scenes: dict[tuple[int, bool], list[Frame]] = {}
    for cond in conditions:
        sot, vos, mot = [], [], []
        for seed in settings.seeds:
            key = (seed, cond.dark)
            if key not in scenes:
                scenes[key] = scene_frames(settings, seed, cond.dark)
            frames = restrict(scenes[key], cond.aux)
            name = f'seed{seed}/{cond.name}'
            if progress:
                progress(f'{system} {name}')
            runs = (run_prompted_sata(tracker, frames, settings) if system == 'sata'
                    else run_prompted_baseline(frames, settings))
            s, v = prompted_scores(runs, name)
            sot += s
            vos += v
            if with_mot:
                pred = (run_detected_sata(tracker, frames) if system == 'sata'
                        else run_detected_baseline(frames))
                mot.append((ground_truth_tracks(frames), pred))
        row = {'targets': len(sot)}
        sot_mean, vos_mean = average_sot(sot), average_vos(vos)
        row.update(sot_auc=float(sot_mean['auc']),
                   sot_precision_20=float(sot_mean['precision_20']),
                   vos_j_and_f=vos_mean['j_and_f'], vos_j=vos_mean['j_mean'],
                   vos_f=vos_mean['f_mean'])
        if with_mot:
            scores = mot_scores_many(mot, names=[f'seed{s}' for s in settings.seeds])
            row.update(mot_hota=scores['HOTA'], mot_deta=scores['DetA'],
                       mot_assa=scores['AssA'], mot_mota=scores['MOTA'],
                       mot_idf1=scores['IDF1'])
        table[cond.name] = row
    return table


def tracker_config(changes: Optional[dict] = None) -> TrackerConfig:
    """
    Return the tracker settings of the benchmark: the package defaults, with `changes`.

    Raises:
        ValueError: a setting is unknown or out of its range (the message names it).

    """
    return TrackerConfig.from_dict(changes or {})


__all__ = ['BenchmarkSettings', 'CONDITIONS', 'Condition', 'DARK_EXPOSURE', 'INIT_MIN_PIXELS',
           'TargetRun', 'evaluate', 'ground_truth_tracks', 'prompted_scores', 'restrict',
           'frame_tracks', 'init_frames', 'Prediction', 'prompted_run', 'run_detected_baseline',
           'run_detected_sata', 'run_prompted_baseline', 'run_prompted_sata', 'scene_frames',
           'track_pass', 'tracker_config']
