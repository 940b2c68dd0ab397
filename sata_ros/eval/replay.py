"""
Offline replay evaluation of a bag: SOT, VOS and MOT scores of a tracker on recorded frames.

This is the in-process pattern of metrics-and-datasets.md section 3.4 (1): the bag is read with
rosbags (no ROS install, no ROS graph), every frame goes straight to `Stream.track`, and the
predictions are scored with eval/metrics. Nothing depends on timing, so the scores are
bit-reproducible. The live mode (sata_ros/ros/live_replay.py) runs the same passes through the
running node and scores them with `score` here; in lock-step it gives the same numbers.

Protocols, the same as eval/synthetic_benchmark.py's (its functions run here):
- Frames: every frame of the bag in order, each with the thermal image nearest to its RGB
  stamp within `THERMAL_TOLERANCE_NS` (`pair_thermal`: the node's default synchronisation).
- SOT / VOS targets: for a synthetic bag (`/sata/sequence` metadata from
  sata_ros.data.scene), the tracked objects, ids 1..num_objects of the generator settings (the
  ids above are look-alike distractors); for any other bag, every ground-truth object. A
  target is prompted with its exact ground-truth box on its first frame with at least
  `INIT_MIN_PIXELS` visible pixels (mask pixels, or the box area when the bag has no
  `/gt/instance_mask`) and tracked to the end in one prompted stream (at most
  `max_targets` per stream; more targets use several streams). Targets never that visible are
  not prompted. The prompt is given after its frame is tracked, as a service call on the
  node's latest frame is. SOT: success / precision curves, LaSOT style (frames where the
  target is invisible are not scored; the prompt frame counts with its given box); VOS: J&F
  with the DAVIS rule (first and last frames dropped), skipped when the bag has no masks; a
  target's mask is its pixels in the published label image (`instance_mask`: overlaps go to
  the higher-scoring target, as DAVIS's indexed masks). Targets with fewer than 3 frames are
  not scored.
- MOT: no prompt, detected mode; every visible ground-truth object is ground truth
  (distractors included); HOTA / CLEAR / Identity through trackeval, box similarity.
- Protocol 'separate' (the default) runs the SOT / VOS passes and the MOT pass above as
  separate streams. Protocol 'combined' runs one stream in mode 'both': the first `prompts`
  candidate targets (by id) are prompted as above, every other object is left to the detection
  head, and MOT scores every visible instance (prompted ones included) of that one run.
- Timing: wall time of every `Stream.track` call (all runs), end to end: preprocessing,
  encoding, tracking and detection, on whatever device the tracker runs.

Keys of the result of `evaluate_bag` (fractions are in [0, 1], times in milliseconds, boxes
are x, y, w, h float pixels of the RGB image):
- `bag` (str): the bag path. `name` (str): the sequence name. `frames` (int): frames read.
- `size` ([width, height], pixels). `modalities` (list of str): the bag's modalities.
- `checkpoint` (str): the checkpoint label given (a path, or 'none' for untrained weights).
- `tasks` (list of str): the tasks run. `protocol` (str): 'separate' or 'combined'.
- `targets` (list of int): the prompted target ids.
- `unprompted` (list of int, 'separate' with SOT or VOS): target ids never `INIT_MIN_PIXELS`
  visible.
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
  nothing ran), `calls` (int), `prompted`, `detected`, `combined`: {`p50`, `p95`, `calls`} of
  that run, or None when it did not run}. In live mode these are end-to-end latencies (see
  ros/live_replay.py), and the result has a `live` entry.
- `overlays`: up to `OVERLAY_FRAMES` evenly spaced frames for the report's thumbnails:
  [{`frame` (int index), `source` ('sot' or 'mot': which run the predictions come from),
  `pred` and `gt`: [[id, x, y, w, h], ...] (visible boxes only; with 'sot', the targets
  prompted by then; 'mot' for the combined protocol: every instance), `rgb`: the H x W x 3
  uint8 RGB image}]. `rgb` is the only array in the result; report.write_report leaves it
  out of report.json.
- `animation` (only when asked for): the overlay items of every frame, for animation.gif; not
  in report.json.
"""

from dataclasses import dataclass, field
import pathlib
import time
from typing import Any, Callable, Iterable, Optional, Union

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from sata_ros.data.bag import read_bag, TOPICS
from sata_ros.data.msgdefs import make_typestore
from sata_ros.data.sequence import DataError, Frame, pair_thermal, Sequence
from sata_ros.eval.metrics.mot import FrameTracks, mot_scores
from sata_ros.eval.metrics.sot import (average_sot, PRECISION_THRESHOLDS, SotScores,
                                       SUCCESS_THRESHOLDS)
from sata_ros.eval.metrics.vos import average_vos, VosScores
from sata_ros.eval.synthetic_benchmark import (ground_truth_tracks, init_frames,
                                               INIT_MIN_PIXELS, prompted_scores, TargetRun,
                                               track_pass)
from sata_ros.tracking.results import FrameResult
from sata_ros.tracking.tracker import Tracker

TASKS = ('sot', 'vos', 'mot')
PROTOCOLS = ('separate', 'combined')
# The node's default thermal.tolerance (sata_ros/ros/params.py; a test keeps them equal).
THERMAL_TOLERANCE_NS = 50_000_000
OVERLAY_FRAMES = 6  # thumbnails in the report's overlay grid
SCENE_GENERATOR = 'sata_ros.data.scene'  # `generator` in the metadata of synthetic bags


@dataclass(frozen=True)
class Pass:
    """
    One run of a stream over the whole bag.

    Attributes:
        mode: the stream's mode: 'prompted', 'detected' or 'both'.
        starts: ground-truth target id -> index of the frame it is prompted on (its
            ground-truth box, given after that frame is tracked); empty when nothing is
            prompted.

    """

    mode: str
    starts: dict[int, int]

    @property
    def label(self) -> str:
        """Name of the run in `timing_ms`: 'prompted', 'detected' or 'combined'."""
        return 'combined' if self.mode == 'both' else self.mode


@dataclass
class Outcome:
    """What the passes produced: the prompted runs, the MOT tracks and times per run label."""

    runs: list[TargetRun] = field(default_factory=list)
    tracks: Optional[list[FrameTracks]] = None
    times: dict[str, list[float]] = field(default_factory=dict)


def evaluate_bag(path: Union[str, pathlib.Path], tracker: Tracker,
                 tasks: Iterable[str] = TASKS, checkpoint: str = '',
                 progress: Optional[Callable[[str], None]] = None,
                 protocol: str = 'separate', prompts: int = 1,
                 animation: bool = False) -> dict[str, Any]:
    """
    Replay a bag through `tracker` and score it (protocols and result keys: module docstring).

    Every frame is held in memory for the whole evaluation (the protocols index frames and
    keep per-target masks), so a long, large bag needs memory in proportion.

    Args:
        path: a bag written by data.bag.write_bag (a .mcap file or a rosbag2 directory) or any
            bag with that topic layout and ground truth on `/gt/detections`.
        tracker: the tracker to evaluate; its config is used with the passes' modes.
        tasks: any of 'sot', 'vos', 'mot'.
        checkpoint: label of the tracker's weights, stored as the result's `checkpoint`.
        progress: called with a short status line per stage.
        protocol: 'separate' or 'combined' (module docstring).
        prompts: targets prompted by the 'combined' protocol.
        animation: also return every frame's overlay item as `animation` (for the report's
            animation.gif; like `rgb`, left out of report.json).

    Returns:
        The result dict; JSON-serialisable except the overlays' `rgb` arrays.

    Raises:
        DataError: the bag is missing or unreadable, or has no ground truth.
        ValueError: an unknown task or protocol.

    """
    tasks = check_tasks(tasks)
    say = progress or (lambda line: None)
    seq, frames = load_bag(path, say)
    passes, candidates = plan_passes(seq, frames, tasks, protocol, prompts,
                                     tracker.config.max_targets)
    outcome = Outcome()
    for run in passes:
        say(f'{seq.name}: {run.label} run, {len(frames)} frames'
            + (f', targets {sorted(run.starts)}' if run.starts else ''))
        times = outcome.times.setdefault(run.label, [])
        runs, tracks = track_pass(_TimedTracker(tracker, times), frames, run.starts, run.mode,
                                  label_masks=True)
        outcome.runs += runs
        if run.mode != 'prompted':
            outcome.tracks = tracks
    return score(path, seq, frames, tasks, candidates, outcome, checkpoint, protocol,
                 animation)


def plan_passes(seq: Sequence, frames: list[Frame], tasks: Iterable[str], protocol: str,
                prompts: int, max_targets: int) -> tuple[list[Pass], set[int]]:
    """
    Return the passes of a protocol and the candidate SOT / VOS target ids.

    'separate': prompted passes of at most `max_targets` targets each (SOT / VOS tasks), then
    a detected pass (MOT task). 'combined': one 'both' pass prompting the first `prompts`
    candidates (by id) that become visible enough.
    """
    tasks = check_tasks(tasks)
    if protocol not in PROTOCOLS:
        raise ValueError(f'unknown protocol {protocol!r}; choose one of {", ".join(PROTOCOLS)}')
    if prompts < 0:
        raise ValueError(f'prompts must be >= 0, got {prompts}')
    candidates = target_ids(seq, frames)
    starts = init_frames(frames, target_ids=candidates)
    ordered = sorted(starts)
    if protocol == 'combined':
        return [Pass('both', {t: starts[t] for t in ordered[:prompts]})], candidates
    passes = []
    if 'sot' in tasks or 'vos' in tasks:
        for i in range(0, len(ordered), max_targets):
            passes.append(Pass('prompted', {t: starts[t] for t in ordered[i:i + max_targets]}))
    if 'mot' in tasks:
        passes.append(Pass('detected', {}))
    return passes, candidates


def score(path: Union[str, pathlib.Path], seq: Sequence, frames: list[Frame],
          tasks: Iterable[str], candidates: set[int], outcome: Outcome, checkpoint: str,
          protocol: str = 'separate', animation: bool = False) -> dict[str, Any]:
    """Score the passes' outcome: the result dict of the module docstring (+ `animation`)."""
    tasks = check_tasks(tasks)
    result: dict[str, Any] = {
        'bag': str(path), 'name': seq.name, 'frames': len(frames),
        'size': [seq.rgb_camera.width, seq.rgb_camera.height],
        'modalities': list(seq.modalities), 'checkpoint': checkpoint, 'tasks': list(tasks),
        'protocol': protocol, 'targets': [], 'sot': None, 'vos': None, 'mot': None}
    skipped: dict[str, str] = {}
    runs = sorted(outcome.runs, key=lambda run: run.target_id)
    if 'sot' in tasks or 'vos' in tasks:
        result['targets'] = [run.target_id for run in runs]
        if protocol == 'separate':
            result['unprompted'] = sorted(candidates - set(result['targets']))
        sot, vos = _prompted_results(runs, seq.name)
        too_short = (f'no prompted target has {INIT_MIN_PIXELS} visible pixels for 3 frames '
                     'or more')
        if 'sot' in tasks:
            result['sot'] = sot
            if sot is None:
                skipped['sot'] = too_short
        if 'vos' in tasks:
            if not any(o.mask is not None for f in frames for o in f.objects):
                skipped['vos'] = f'the bag has no {TOPICS["gt_mask"]} (no ground-truth masks)'
            else:
                result['vos'] = vos
                if vos is None:
                    skipped['vos'] = too_short
    if 'mot' in tasks and outcome.tracks is not None:
        result['mot'] = mot_scores(ground_truth_tracks(frames), outcome.tracks,
                                   sequence=seq.name)
    if skipped:
        result['skipped'] = skipped
    result['timing_ms'] = _timing(outcome.times)
    combined = protocol == 'combined'
    result['overlays'] = _overlays(frames, runs, outcome.tracks, prefer_tracks=combined)
    if animation:
        result['animation'] = _overlays(frames, runs, outcome.tracks, every=True,
                                        prefer_tracks=combined)
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


def check_tasks(tasks: Iterable[str]) -> tuple[str, ...]:
    tasks = tuple(tasks)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f'unknown tasks {unknown}; choose one or more of {", ".join(TASKS)}')
    return tuple(t for t in TASKS if t in tasks)


def load_bag(path: Union[str, pathlib.Path],
             progress: Optional[Callable[[str], None]] = None) -> tuple[Sequence, list[Frame]]:
    """
    Read every frame of an annotated bag, each paired with its thermal image as the node does.

    Raises:
        DataError: the bag is missing, unreadable, empty or without ground truth.

    """
    path = pathlib.Path(path)
    say = progress or (lambda line: None)
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
        frames = pair_thermal(seq, THERMAL_TOLERANCE_NS)
    except (AnyReaderError, OSError) as exc:
        raise DataError(f'{path}: cannot read the bag: {exc}') from None
    if not frames:
        raise DataError(f'{path}: the bag has no frames')
    if not any(f.objects for f in frames):
        raise DataError(f'{path}: no ground truth: every {TOPICS["gt"]} message is empty')
    return seq, frames


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
    for run in ('prompted', 'detected', 'combined'):
        out[run] = _stats(times[run]) if times.get(run) else None
    return out


def _overlays(frames: list[Frame], runs: list[TargetRun],
              pred_tracks: Optional[list[FrameTracks]], every: bool = False,
              prefer_tracks: bool = False) -> list[dict[str, Any]]:
    """
    Return overlay items of up to OVERLAY_FRAMES frames (every frame with `every`).

    The predictions are the SOT runs' boxes when there are runs, else the MOT tracks; with
    `prefer_tracks` (the combined protocol, whose tracks hold every instance) the tracks.
    """
    if not runs and pred_tracks is None:
        return []
    count = len(frames) if every else min(OVERLAY_FRAMES, len(frames))
    picks = sorted({int(round(k)) for k in np.linspace(0, len(frames) - 1, count)})
    starts = {run.target_id: run.start for run in runs}
    use_tracks = pred_tracks is not None and (prefer_tracks or not runs)
    out = []
    for k in picks:
        frame = frames[k]
        if not use_tracks:
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
    """Return a copy of `result` without images and animation (the rest is plain JSON)."""
    out = {k: v for k, v in result.items() if k != 'animation'}
    out['overlays'] = [{k: v for k, v in item.items() if k != 'rgb'}
                       for item in result.get('overlays', [])]
    return out


__all__ = ['check_tasks', 'evaluate_bag', 'load_bag', 'Outcome', 'OVERLAY_FRAMES', 'Pass',
           'plan_passes', 'PROTOCOLS', 'result_for_json', 'SCENE_GENERATOR', 'score', 'TASKS',
           'target_ids', 'THERMAL_TOLERANCE_NS']
