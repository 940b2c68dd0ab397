"""
Offline replay evaluation of a bag: SOT, VOS and MOT scores of a tracker on recorded frames.

This is the in-process pattern of metrics-and-datasets.md section 3.4 (1): the bag is read with
rosbags (no ROS install, no ROS graph), every frame goes straight to `Stream.track`, and the
predictions are scored with eval/metrics. Nothing depends on timing, so the scores are
bit-reproducible. (Replaying a bag into the running node, `ros2 bag play` against the ROS
graph, is a separate, later mode.)

Protocols, the same as eval/synthetic_benchmark.py's (its functions run here):
- Frames: every frame of the bag in order, the latest thermal image held on the frames between
  thermal ticks (`hold_thermal`), as the node's RGB-anchored synchroniser does.
- SOT / VOS targets: for a synthetic bag (`/sata/sequence` metadata from
  sata_ros.data.scene), the tracked objects, ids 1..num_objects of the generator settings (the
  ids above are look-alike distractors); for any other bag, every ground-truth object. A
  target is prompted with its exact ground-truth box on its first frame with at least
  `INIT_MIN_PIXELS` visible pixels (mask pixels, or the box area when the bag has no
  `/gt/instance_mask`) and tracked to the end in one prompted stream (at most
  `max_targets` per stream; more targets use several streams). Targets never that visible are
  not prompted. SOT: success / precision curves, LaSOT style (frames where the target is
  invisible are not scored); VOS: J&F with the DAVIS rule (first and last frames dropped),
  skipped when the bag has no masks. Targets with fewer than 3 frames are not scored.
- MOT: no prompt, detected mode; every visible ground-truth object is ground truth
  (distractors included); HOTA / CLEAR / Identity through trackeval, box similarity.
- Timing: wall time of every `Stream.track` call (both runs), end to end: preprocessing,
  encoding, tracking and detection, on whatever device the tracker runs.

Keys of the result of `evaluate_bag` (fractions are in [0, 1], times in milliseconds, boxes
are x, y, w, h float pixels of the RGB image):
- `bag` (str): the bag path. `name` (str): the sequence name. `frames` (int): frames read.
- `size` ([width, height], pixels). `modalities` (list of str): the bag's modalities.
- `checkpoint` (str): the checkpoint label given (a path, or 'none' for untrained weights).
- `tasks` (list of str): the tasks run. `targets` (list of int): the prompted target ids.
- `unprompted` (list of int, with SOT or VOS): target ids never `INIT_MIN_PIXELS` visible.
- `skipped` (dict str -> str): task -> why it was not scored (absent when none was skipped).
- `sot`: None, or {`auc`, `precision_20`, `norm_precision`, `ao` (floats; object-averaged
  success AUC, precision at 20 px, normalised precision at 0.20, average overlap),
  `success_thresholds` (21 IoU thresholds), `success_curve` (21 rates),
  `precision_thresholds` (51 distances, px), `precision_curve` (51 rates), `per_target`:
  [{`id`, `start` (frame index of the prompt), `auc`, `precision_20`, `norm_precision`,
  `iou`: per-frame IoU from `start` to the last frame, 0 where the target is invisible}]}.
- `vos`: None, or {`j_and_f`, `j`, `f`, `j_recall`, `f_recall`, `j_decay`, `f_decay` (floats,
  object-averaged), `per_target`: [{`id`, `start`, `j_and_f`, `j`, `f`}]}.
- `mot`: None, or trackeval's keys (eval/metrics/mot.py): `HOTA`, `DetA`, `AssA`, `LocA`,
  `DetRe`, `DetPr`, `AssRe`, `AssPr`, `MOTA`, `MOTP`, `IDF1`, `IDP`, `IDR` (floats; MOTA is at
  most 1 and negative when errors outnumber objects) and `IDSW`, `FP`, `FN`, `TP` (int
  counts).
- `timing_ms`: {`p50`, `p95`, `mean` (ms per `Stream.track` call over all runs; None when
  nothing ran), `calls` (int), `prompted`, `detected`: {`p50`, `p95`, `calls`} of that run,
  or None when it did not run}.
- `overlays`: up to `OVERLAY_FRAMES` evenly spaced frames for the report's thumbnails:
  [{`frame` (int index), `source` ('sot' or 'mot': which run the predictions come from),
  `pred` and `gt`: [[id, x, y, w, h], ...] (visible boxes only; with 'sot', the targets
  prompted by then), `rgb`: the H x W x 3 uint8 RGB image}]. `rgb` is the only array in the
  result; report.write_report leaves it out of report.json.
"""

import pathlib
import time
from typing import Any, Callable, Iterable, Optional, Union

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from sata_ros.data.bag import read_bag, TOPICS
from sata_ros.data.msgdefs import make_typestore
from sata_ros.data.sequence import DataError, Frame, hold_thermal, Sequence
from sata_ros.eval.metrics.mot import FrameTracks, mot_scores
from sata_ros.eval.metrics.sot import (average_sot, PRECISION_THRESHOLDS, SotScores,
                                       SUCCESS_THRESHOLDS)
from sata_ros.eval.metrics.vos import average_vos, VosScores
from sata_ros.eval.synthetic_benchmark import (ground_truth_tracks, INIT_MIN_PIXELS,
                                               prompted_scores, run_detected_sata,
                                               run_prompted_sata, TargetRun)
from sata_ros.tracking.results import FrameResult
from sata_ros.tracking.tracker import Tracker

TASKS = ('sot', 'vos', 'mot')
OVERLAY_FRAMES = 6  # thumbnails in the report's overlay grid
SCENE_GENERATOR = 'sata_ros.data.scene'  # `generator` in the metadata of synthetic bags


def evaluate_bag(path: Union[str, pathlib.Path], tracker: Tracker,
                 tasks: Iterable[str] = TASKS, checkpoint: str = '',
                 progress: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """
    Replay a bag through `tracker` and score it (protocols and result keys: module docstring).

    Every frame is held in memory for the whole evaluation (the protocols index frames and
    keep per-target masks), so a long, large bag needs memory in proportion.

    Args:
        path: a bag written by data.bag.write_bag (a .mcap file or a rosbag2 directory) or any
            bag with that topic layout and ground truth on `/gt/detections`.
        tracker: the tracker to evaluate; its config is used with mode 'prompted' (SOT / VOS)
            and 'detected' (MOT).
        tasks: any of 'sot', 'vos', 'mot'.
        checkpoint: label of the tracker's weights, stored as the result's `checkpoint`.
        progress: called with a short status line per stage.

    Returns:
        The result dict; JSON-serialisable except the overlays' `rgb` arrays.

    Raises:
        DataError: the bag is missing or unreadable, or has no ground truth.
        ValueError: an unknown task.

    """
    tasks = _check_tasks(tasks)
    path = pathlib.Path(path)
    say = progress or (lambda line: None)
    seq, frames = _read(path, say)
    result: dict[str, Any] = {
        'bag': str(path), 'name': seq.name, 'frames': len(frames),
        'size': [seq.rgb_camera.width, seq.rgb_camera.height],
        'modalities': list(seq.modalities), 'checkpoint': checkpoint, 'tasks': list(tasks),
        'targets': [], 'sot': None, 'vos': None, 'mot': None}
    skipped: dict[str, str] = {}
    times: dict[str, list[float]] = {}
    runs: list[TargetRun] = []
    if 'sot' in tasks or 'vos' in tasks:
        ids = target_ids(seq, frames)
        say(f'{seq.name}: prompted run, {len(frames)} frames, candidate targets {sorted(ids)}')
        times['prompted'] = []
        runs = _prompted(_TimedTracker(tracker, times['prompted']), frames, ids)
        result['targets'] = [run.target_id for run in runs]
        result['unprompted'] = sorted(ids - set(result['targets']))
        sot, vos = _prompted_results(runs, seq.name)
        if 'sot' in tasks:
            result['sot'] = sot
            if sot is None:
                skipped['sot'] = (f'no target has {INIT_MIN_PIXELS} visible pixels for 3 '
                                  'frames or more')
        if 'vos' in tasks:
            if not any(o.mask is not None for f in frames for o in f.objects):
                skipped['vos'] = f'the bag has no {TOPICS["gt_mask"]} (no ground-truth masks)'
            else:
                result['vos'] = vos
                if vos is None:
                    skipped['vos'] = (f'no target has {INIT_MIN_PIXELS} visible pixels for 3 '
                                      'frames or more')
    pred_tracks: Optional[list[FrameTracks]] = None
    if 'mot' in tasks:
        say(f'{seq.name}: detected run, {len(frames)} frames')
        times['detected'] = []
        pred_tracks = run_detected_sata(_TimedTracker(tracker, times['detected']), frames)
        result['mot'] = mot_scores(ground_truth_tracks(frames), pred_tracks,
                                   sequence=seq.name)
    if skipped:
        result['skipped'] = skipped
    result['timing_ms'] = _timing(times)
    result['overlays'] = _overlays(frames, runs, pred_tracks)
    return result


def target_ids(seq: Sequence, frames: list[Frame]) -> set[int]:
    """
    Return the ids that are SOT / VOS targets (before the visibility rule).

    Args:
        seq: the bag's sequence (its metadata tells a synthetic scene).
        frames: its frames.

    Returns:
        Synthetic scene: the ids in 1..num_objects of the generator settings; otherwise every
        id in the ground truth.

    """
    ids = {o.target_id for f in frames for o in f.objects}
    meta = seq.metadata or {}
    config = meta.get('config') or {}
    if meta.get('generator') == SCENE_GENERATOR and 'num_objects' in config:
        return {i for i in ids if i <= int(config['num_objects'])}
    return ids


def _check_tasks(tasks: Iterable[str]) -> tuple[str, ...]:
    tasks = tuple(tasks)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f'unknown tasks {unknown}; choose one or more of {", ".join(TASKS)}')
    return tuple(t for t in TASKS if t in tasks)


def _read(path: pathlib.Path, say: Callable[[str], None]) -> tuple[Sequence, list[Frame]]:
    """Read every frame (thermal held), refusing bags without ground truth."""
    if not path.exists():
        raise DataError(f'{path}: no such bag')
    try:
        with AnyReader([path], default_typestore=make_typestore()) as reader:
            topics = {c.topic for c in reader.connections}
        if TOPICS['gt'] not in topics:
            raise DataError(f'{path}: no ground truth: the bag has no {TOPICS["gt"]} topic '
                            f'(topics: {", ".join(sorted(topics))}); offline evaluation needs '
                            'an annotated bag')
        seq = read_bag(path)
        say(f'{path}: reading {seq.num_frames} frames')
        frames = list(hold_thermal(seq))
    except (AnyReaderError, OSError) as exc:
        raise DataError(f'{path}: cannot read the bag: {exc}') from None
    if not frames:
        raise DataError(f'{path}: the bag has no frames')
    if not any(f.objects for f in frames):
        raise DataError(f'{path}: no ground truth: every {TOPICS["gt"]} message is empty')
    return seq, frames


def _prompted(tracker: Any, frames: list[Frame], ids: set[int]) -> list[TargetRun]:
    """Run the prompted protocol, at most max_targets targets per stream."""
    per_stream = tracker.config.max_targets
    ordered = sorted(ids)
    runs: list[TargetRun] = []
    for i in range(0, len(ordered), per_stream):
        runs += run_prompted_sata(tracker, frames, target_ids=set(ordered[i:i + per_stream]))
    return sorted(runs, key=lambda run: run.target_id)


def _prompted_results(runs: list[TargetRun], name: str
                      ) -> tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]:
    """Return the result's `sot` and `vos` entries (None when no target is scored)."""
    sot_rows, vos_rows = [], []
    sot_all: list[SotScores] = []
    vos_all: list[VosScores] = []
    for run in runs:
        sot, vos = prompted_scores([run], name)
        if not sot:
            continue
        s, v = sot[0], vos[0]
        sot_all.append(s)
        vos_all.append(v)
        sot_rows.append({'id': run.target_id, 'start': run.start, 'auc': s.auc,
                         'precision_20': s.precision_20, 'norm_precision': s.norm_precision,
                         'iou': [float(x) for x in s.iou]})
        vos_rows.append({'id': run.target_id, 'start': run.start, 'j_and_f': v.j_and_f,
                         'j': v.j_mean, 'f': v.f_mean})
    if not sot_all:
        return None, None
    mean = average_sot(sot_all)
    sot_out = {'auc': mean['auc'], 'precision_20': mean['precision_20'],
               'norm_precision': mean['norm_precision'], 'ao': mean['ao'],
               'success_thresholds': [float(t) for t in SUCCESS_THRESHOLDS],
               'success_curve': [float(x) for x in mean['success_curve']],
               'precision_thresholds': [float(t) for t in PRECISION_THRESHOLDS],
               'precision_curve': [float(x) for x in mean['precision_curve']],
               'per_target': sot_rows}
    pooled = average_vos(vos_all)
    vos_out = {'j_and_f': pooled['j_and_f'], 'j': pooled['j_mean'], 'f': pooled['f_mean'],
               'j_recall': pooled['j_recall'], 'f_recall': pooled['f_recall'],
               'j_decay': pooled['j_decay'], 'f_decay': pooled['f_decay'],
               'per_target': vos_rows}
    return sot_out, vos_out


def _stats(values: list[float]) -> dict[str, Any]:
    return {'p50': float(np.percentile(values, 50)), 'p95': float(np.percentile(values, 95)),
            'calls': len(values)}


def _timing(times: dict[str, list[float]]) -> dict[str, Any]:
    """Return `timing_ms`: p50 / p95 / mean over every call, and per run."""
    every = [t for values in times.values() for t in values]
    out: dict[str, Any] = {'p50': None, 'p95': None, 'mean': None, 'calls': len(every)}
    if every:
        out.update(_stats(every), mean=float(np.mean(every)))
    for run in ('prompted', 'detected'):
        out[run] = _stats(times[run]) if times.get(run) else None
    return out


def _overlays(frames: list[Frame], runs: list[TargetRun],
              pred_tracks: Optional[list[FrameTracks]]) -> list[dict[str, Any]]:
    """Pick up to OVERLAY_FRAMES frames; SOT predictions when run, else MOT ones."""
    if not runs and pred_tracks is None:
        return []
    count = min(OVERLAY_FRAMES, len(frames))
    picks = sorted({int(round(k)) for k in np.linspace(0, len(frames) - 1, count)})
    starts = {run.target_id: run.start for run in runs}
    out = []
    for k in picks:
        frame = frames[k]
        if runs:
            pred = [[run.target_id, *map(float, run.boxes[k - run.start])] for run in runs
                    if run.start <= k and run.boxes[k - run.start][2] > 0
                    and run.boxes[k - run.start][3] > 0]
            gt = [[o.target_id, *map(float, o.box)] for o in frame.objects
                  if o.visible and starts.get(o.target_id, len(frames)) <= k]
            source = 'sot'
        else:
            tracks = pred_tracks[k]
            pred = [[int(i), float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
                    for i, b in zip(tracks.ids, tracks.boxes)]
            gt = [[o.target_id, *map(float, o.box)] for o in frame.objects if o.visible]
            source = 'mot'
        out.append({'frame': k, 'source': source, 'pred': pred, 'gt': gt, 'rgb': frame.rgb})
    return out


class _TimedStream:
    """A Stream whose `track` calls are timed into a list (milliseconds)."""

    def __init__(self, stream: Any, times: list[float]) -> None:
        self._stream = stream
        self._times = times

    def track(self, frame: Frame, *args: Any, **kwargs: Any) -> FrameResult:
        start = time.perf_counter()
        result = self._stream.track(frame, *args, **kwargs)
        self._times.append(1000.0 * (time.perf_counter() - start))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _TimedTracker:
    """A Tracker stand-in for the protocol functions: the same model, timed streams."""

    def __init__(self, tracker: Tracker, times: list[float]) -> None:
        self.config = tracker.config
        self._tracker = tracker
        self._times = times

    def open_stream(self, name: Optional[str] = None, config: Any = None) -> _TimedStream:
        return _TimedStream(self._tracker.open_stream(name, config), self._times)


def result_for_json(result: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `result` without the overlay images (everything else is plain JSON)."""
    out = dict(result)
    out['overlays'] = [{k: v for k, v in item.items() if k != 'rgb'}
                       for item in result.get('overlays', [])]
    return out


__all__ = ['evaluate_bag', 'OVERLAY_FRAMES', 'result_for_json', 'SCENE_GENERATOR', 'TASKS',
           'target_ids']
