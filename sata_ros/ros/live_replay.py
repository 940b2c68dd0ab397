"""
Live replay evaluation: a bag played into the running tracker node, its outputs scored.

The real ROS graph of metrics-and-datasets.md section 3.4 (2, 3): the tracker node runs with
`use_sim_time`; `BagPlayer` publishes /clock and the bag's input messages into it; an
`OutputRecorder` collects its `detections` and `instance_mask`; outputs are matched to ground
truth by header.stamp. The passes and their scoring are those of the offline mode
(eval/replay.py: `plan_passes`, `score`); each pass sets the node's parameters through its
parameter service and re-runs its lifecycle (cleanup, configure, activate), and SOT / VOS
targets are prompted with their ground-truth box through `~/add_target` on the frame's stamp.

Pacing:
- Lock-step (`rate` 0, the default): frame k is published (clock at its stamp, partners, the
  image), then the evaluator waits for the node's output of that stamp, then prompts the
  targets that start on frame k, then goes on. Nothing is dropped unless the node fails to
  answer within `frame_timeout_s`, and the numbers equal the offline mode's.
  Partners beyond the bag's last frame never come, so from the frame that carries the last
  partner message on, a frame still unanswered after `nudge_after_s` of wall time gets the
  clock moved on by the node's `sync.max_wait` (counted in `nudges`), which ends its wait as
  it would end in a live system. Those frames' latencies measure the evaluator's patience,
  not the node, and are left out of the latency statistics.
- Real time (`rate` R > 0): frame k goes out at t0 + (stamp_k - stamp_0) / R of wall time,
  whatever the node is doing. Frames the node skips (its worker queue keeps the newest set)
  or answers too late are dropped; a target is prompted on the first answered frame at or
  after its start frame. The scores then depend on the machine: report them as online only.

A frame without output counts as no prediction (SOT: no box, VOS: empty mask, MOT: no
detections). `timing_ms` of the result holds end-to-end latencies: from publishing a frame's
RGB image to receiving its detections, in wall-clock ms (sim time hides latency). The result
also has a `live` entry: {`pace` ('lock-step' or 'real-time'), `rate` (float), `node` (str),
`dropped` (int: frames without output, over all passes), `latency_ms` ({`p50`, `p95`, `mean`}
or None), `nudges` (int), `passes`: [{`mode`, `published`, `answered`, `dropped` (ints),
`dropped_frames` (list of frame indices, at most 50)}]}.
"""

from dataclasses import dataclass, field
import pathlib
import threading
import time
from typing import Any, Callable, Optional

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sata_ros.data.sequence import DataError, Frame, Sequence
from sata_ros.eval.replay import (check_tasks, load_bag, Outcome, Pass, plan_passes, score,
                                  THERMAL_TOLERANCE_NS)
from sata_ros.eval.synthetic_benchmark import frame_tracks, Prediction, prompted_run
from sata_ros.ros.bag_player import BagPlayer, FrameBatch, read_inputs, schedule
from sata_ros.ros.output_recorder import FrameOutput, OutputRecorder
from sata_ros.ros.outputs import ns_to_time
from sata_ros.ros.params import MODALITIES, TOPICS
from sata_ros.ros.remote_node import RemoteError, RemoteTracker
from sata_ros.srv import AddTarget

PACES = ('lock-step', 'real-time')
MAX_LISTED_DROPS = 50


@dataclass(frozen=True)
class LiveSettings:
    """
    How the bag is played.

    Attributes:
        node: fully qualified name of the tracker node (namespace + name).
        rate: 0 = lock-step; R > 0 = real time at R x the bag's speed.
        frame_timeout_s: lock-step: longest wait for one frame's output; real time: longest
            wait for outputs after the last frame. Wall-clock s.
        nudge_after_s: lock-step: wall time without an output before the clock is moved on.
        startup_timeout_s: longest wait for the node and its topics to appear, s.
        lookahead_ns: partner messages sent ahead of their frame, ns (None: from the bag).

    """

    node: str = '/sata_tracker'
    rate: float = 0.0
    frame_timeout_s: float = 120.0
    nudge_after_s: float = 1.0
    startup_timeout_s: float = 180.0
    lookahead_ns: Optional[int] = None

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if self.rate < 0 or not np.isfinite(self.rate):
            raise ValueError(f'rate must be 0 (lock-step) or > 0, got {self.rate}')
        for name in ('frame_timeout_s', 'nudge_after_s', 'startup_timeout_s'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')


@dataclass
class _PassLog:
    """What one pass did: publish times (monotonic s) by stamp, and the outputs."""

    mode: str
    published: dict[int, float] = field(default_factory=dict)
    outputs: dict[int, FrameOutput] = field(default_factory=dict)
    prompts: dict[int, tuple[int, int]] = field(default_factory=dict)  # gt id -> (k, sid)
    nudged: set[int] = field(default_factory=set)  # stamps whose wait the clock ended


def node_parameters(seq: Sequence, mode: str) -> dict[str, Any]:
    """
    Return the parameters a pass sets on the node.

    The bag's modalities are enabled (the others disabled), inputs are reliable (a replay must
    not lose images), and the thermal tolerance is the offline mode's.
    """
    values: dict[str, Any] = {'tracker.mode': mode,
                              'thermal.tolerance': THERMAL_TOLERANCE_NS / 1e9}
    for name in MODALITIES:
        values[f'{name}.enabled'] = name in seq.modalities
    for name in TOPICS:
        values[f'{name}.qos_reliability'] = 'reliable'
    return values


class LiveReplay:
    """
    Evaluate a bag against a running tracker node.

    Args:
        settings: node name and pacing.
        progress: called with a short status line per stage.

    The evaluator has its own rclpy context, node and executor thread; `close` ends them.

    """

    def __init__(self, settings: LiveSettings,
                 progress: Optional[Callable[[str], None]] = None) -> None:
        self.settings = settings
        self._say = progress or (lambda line: None)
        self._context = Context()
        rclpy.init(context=self._context)
        self.node = Node('sata_live_eval', context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        self.remote = RemoteTracker(self.node, settings.node, settings.frame_timeout_s)
        self.nudges = 0

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # noqa: B902 - the context shut down under the executor
            pass

    def close(self) -> None:
        """Stop the executor and the evaluator's context."""
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=10.0)

    def __enter__(self) -> 'LiveReplay':
        """Use as a context manager (closes on exit)."""
        return self

    def __exit__(self, *exc: Any) -> None:
        """Close."""
        self.close()

    # ------------------------------------------------------------------ the evaluation

    def evaluate(self, path: pathlib.Path, tasks: Any = ('sot', 'vos', 'mot'),
                 protocol: str = 'separate', prompts: int = 1, checkpoint: str = '',
                 animation: bool = False) -> dict[str, Any]:
        """
        Play the bag through the node, pass by pass, and score it (result: module docstring).

        Raises:
            DataError: the bag is missing, unreadable or without ground truth.
            RemoteError: the node is absent, refuses a parameter or transition, or a service
                call fails.
            ValueError: an unknown task or protocol.

        """
        tasks = check_tasks(tasks)
        seq, frames = load_bag(path, self._say)
        messages, types = read_inputs(path)
        batches = schedule(messages, self.settings.lookahead_ns)
        if [b.stamp_ns for b in batches] != [f.stamp_ns for f in frames]:
            raise DataError(f'{path}: the RGB stamps of the input topics differ from the '
                            'annotated frames; every RGB image needs its /gt/detections')
        self.remote.wait_until_up(self.settings.startup_timeout_s)
        values = self.remote.get_parameters(['tracker.max_targets', 'use_sim_time'])
        if values['use_sim_time'] is not True:
            raise RemoteError(f'{self.remote.name} does not use sim time: start it with '
                              'use_sim_time:=true (the replay drives its clock through /clock)')
        max_targets = int(values['tracker.max_targets'])
        passes, candidates = plan_passes(seq, frames, tasks, protocol, prompts, max_targets)
        player = BagPlayer(self.node, self.remote.namespace, types)
        recorder = OutputRecorder(self.node, self.remote.namespace, len(batches) + 1)
        logs = []
        self._wait_for(lambda: [] if player.subscribers('clock') else ['/clock'])
        for run in passes:
            self._say(f'{seq.name}: live {run.label} run, {len(frames)} frames'
                      + (f', targets {sorted(run.starts)}' if run.starts else ''))
            # The node's clock must read the bag's time before its first frame arrives: a
            # frame that arrives at clock 0 would time out at once when the clock jumps.
            # (The clock never goes back, so later passes keep the previous pass's end.)
            player.set_clock(batches[0].stamp_ns)
            self.remote.restart(node_parameters(seq, run.mode))
            self._wait_for_graph(player, recorder, types)
            recorder.clear()
            logs.append(self._play(run, frames, batches, player, recorder))
        outcome = self._outcome(passes, logs, frames)
        result = score(path, seq, frames, tasks, candidates, outcome, checkpoint, protocol,
                       animation)
        result['live'] = self._summary(logs, frames, result['timing_ms'])
        return result

    def _wait_for_graph(self, player: BagPlayer, recorder: OutputRecorder,
                        types: dict[str, type]) -> None:
        """Wait until the node subscribes to every input and publishes the outputs."""
        enabled = self.remote.get_parameters([f'{m}.enabled' for m in MODALITIES])
        names = [n for n in types if n in ('rgb', 'rgb_info') or enabled.get(f'{n}.enabled')]
        self._wait_for(lambda: [player.topics[n] for n in names if player.subscribers(n) == 0]
                       + [t for t in recorder.topics.values()
                          if self.node.count_publishers(t) == 0])

    def _wait_for(self, missing: Callable[[], list[str]]) -> None:
        """Wait until `missing()` (topics not connected yet) is empty; RemoteError on timeout."""
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while missing():
            if time.monotonic() > deadline:
                raise RemoteError(f'{self.remote.name} does not connect to '
                                  f'{", ".join(missing())} within '
                                  f'{self.settings.startup_timeout_s:g} s')
            time.sleep(0.05)

    def _play(self, run: Pass, frames: list[Frame], batches: list[FrameBatch],
              player: BagPlayer, recorder: OutputRecorder) -> _PassLog:
        log = _PassLog(run.mode)
        if self.settings.rate == 0:
            self._lock_step(run, frames, batches, player, recorder, log)
        else:
            self._real_time(run, frames, batches, player, recorder, log)
        for batch in batches:
            out = recorder.get(batch.stamp_ns)
            if out is not None and out.complete:
                log.outputs[batch.stamp_ns] = out
        return log

    def _lock_step(self, run: Pass, frames: list[Frame], batches: list[FrameBatch],
                   player: BagPlayer, recorder: OutputRecorder, log: _PassLog) -> None:
        max_wait_ns = int(1e9 * self.remote.get_parameters(['sync.max_wait'])['sync.max_wait'])
        # Up to this frame, a later message of every partner input goes out with the frame, so
        # the synchroniser never waits on the clock; from it on, partners run out.
        tail = max([k for k, b in enumerate(batches) if b.partners], default=0)
        for k, batch in enumerate(batches):
            log.published[batch.stamp_ns] = time.monotonic()
            player.publish_frame(batch)
            deadline = time.monotonic() + self.settings.frame_timeout_s
            while not recorder.wait(batch.stamp_ns, self.settings.nudge_after_s):
                if time.monotonic() > deadline:
                    break
                if k >= tail:
                    player.set_clock(player.clock_ns + max_wait_ns + 1_000_000)
                    log.nudged.add(batch.stamp_ns)
                    self.nudges += 1
            out = recorder.get(batch.stamp_ns)
            if out is None or not out.complete:
                continue  # dropped: its targets are prompted on the next answered frame
            for tid, start in run.starts.items():
                if tid not in log.prompts and start <= k:
                    log.prompts[tid] = (k, self._prompt(frames[k], tid))

    def _real_time(self, run: Pass, frames: list[Frame], batches: list[FrameBatch],
                   player: BagPlayer, recorder: OutputRecorder, log: _PassLog) -> None:
        rate, t0, first = self.settings.rate, time.monotonic(), batches[0].stamp_ns
        index = {b.stamp_ns: k for k, b in enumerate(batches)}
        pending: dict[int, tuple[int, Any]] = {}  # gt id -> (frame index, future)

        def prompt_ready() -> None:
            answered = [index[s] for s in recorder.stamps() if s in index]
            for tid, start in run.starts.items():
                if tid in log.prompts or tid in pending:
                    continue
                later = [k for k in answered if k >= start]
                if later:
                    k = min(later)
                    pending[tid] = (k, self.remote.add_target_async(
                        _request(frames[k], tid)))
            for tid, (k, future) in list(pending.items()):
                if future.done():
                    del pending[tid]
                    resp = future.result()
                    if resp is not None and resp.success:
                        log.prompts[tid] = (k, int(resp.target_id))

        for batch in batches:
            due = t0 + (batch.stamp_ns - first) / 1e9 / rate
            while time.monotonic() < due:
                prompt_ready()
                time.sleep(min(0.002, max(due - time.monotonic(), 0.0)))
            log.published[batch.stamp_ns] = time.monotonic()
            player.publish_frame(batch)
        # Drain: the clock keeps running until the last frame is answered or nothing comes.
        last_news, seen = time.monotonic(), len(recorder.stamps())
        while time.monotonic() - last_news < self.settings.frame_timeout_s:
            prompt_ready()
            elapsed = time.monotonic() - t0
            player.set_clock(first + int(elapsed * rate * 1e9))
            count = len(recorder.stamps())
            if count != seen:
                seen, last_news = count, time.monotonic()
            last = recorder.get(batches[-1].stamp_ns)
            if not pending and last is not None and last.complete:
                break  # sets are tracked in stamp order: nothing older comes after the last
            time.sleep(0.01)

    def _prompt(self, frame: Frame, tid: int) -> int:
        """Prompt `tid` with its ground-truth box on `frame`; return the node's target id."""
        return int(self.remote.add_target(_request(frame, tid)).target_id)

    # ------------------------------------------------------------------ scoring

    def _outcome(self, passes: list[Pass], logs: list[_PassLog],
                 frames: list[Frame]) -> Outcome:
        outcome = Outcome()
        for run, log in zip(passes, logs):
            outcome.times.setdefault(run.label, []).extend(_latencies(log))
            for tid, (start, sid) in log.prompts.items():
                later = [_prediction(log.outputs.get(f.stamp_ns), sid) for f in frames[start + 1:]]
                outcome.runs.append(prompted_run(frames, tid, start, later))
            if run.mode != 'prompted':
                outcome.tracks = [frame_tracks(sorted(log.outputs[f.stamp_ns].boxes.items())
                                               if f.stamp_ns in log.outputs else [])
                                  for f in frames]
        return outcome

    def _summary(self, logs: list[_PassLog], frames: list[Frame],
                 timing: dict[str, Any]) -> dict[str, Any]:
        """Return the result's `live` entry; its latency is `timing_ms`'s (all passes)."""
        rows = []
        for log in logs:
            dropped = [k for k, f in enumerate(frames) if f.stamp_ns not in log.outputs]
            rows.append({'mode': log.mode, 'published': len(log.published),
                         'answered': len(log.outputs), 'dropped': len(dropped),
                         'dropped_frames': dropped[:MAX_LISTED_DROPS]})
        latency = {k: timing[k] for k in ('p50', 'p95', 'mean')} if timing['calls'] else None
        return {'pace': PACES[self.settings.rate > 0], 'rate': float(self.settings.rate),
                'node': self.remote.name, 'dropped': sum(r['dropped'] for r in rows),
                'latency_ms': latency, 'nudges': self.nudges, 'passes': rows}


def _latencies(log: _PassLog) -> list[float]:
    """Return publish -> output wall times, ms, of the frames whose wait was not nudged."""
    return [1000.0 * (out.received_s - log.published[stamp])
            for stamp, out in log.outputs.items() if stamp not in log.nudged]


def _request(frame: Frame, tid: int) -> AddTarget.Request:
    """Return the AddTarget request of ground-truth object `tid`'s box on `frame` (its stamp)."""
    x, y, w, h = frame.find(tid).box
    req = AddTarget.Request()
    req.header.stamp = ns_to_time(frame.stamp_ns)
    req.prompt_type = AddTarget.Request.PROMPT_BOX
    req.box.center.position.x, req.box.center.position.y = x + w / 2.0, y + h / 2.0
    req.box.size_x, req.box.size_y = float(w), float(h)
    return req


def _prediction(out: Optional[FrameOutput], sid: int) -> Prediction:
    """Return node target `sid`'s box and label pixels in one frame's output (None: absent)."""
    if out is None or sid not in out.boxes:
        return None
    return out.boxes[sid], out.labels == sid


__all__ = ['LiveReplay', 'LiveSettings', 'node_parameters', 'PACES']
