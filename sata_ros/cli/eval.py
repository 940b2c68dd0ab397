"""
`sata eval`: score the tracker on an annotated bag and write a report (JSON, Markdown, plots).

Example: `sata eval scene.mcap --out eval_out` replays every frame of the bag in-process (no ROS
graph: bit-reproducible), runs the SOT / VOS protocol (each ground-truth object prompted with
its box) and the MOT protocol (detected mode), prints SOT AUC, VOS J&F, MOT HOTA and the time
per frame, and writes eval_out/report.json, report.md, success.png, precision.png,
iou_over_time.png and overlays.png. See sata_ros/eval/replay.py for the protocols and the keys
of report.json.

`--mode live` plays the bag into the tracker node instead (sata_ros/ros/live_replay.py): the
node is started through launch/tracker.launch.py with use_sim_time (or `--node` names one
already running with use_sim_time:=true), the bag's inputs and /clock are published into it,
targets are prompted through ~/add_target, its outputs are matched to ground truth by stamp,
and the report adds dropped frames and end-to-end latency. `--rate 0` (default) is lock-step
and gives the offline numbers; `--rate R` plays in real time at R x.
"""

import argparse
import json
import pathlib
import sys
from typing import Any

MODES = ('offline', 'live')


def register(subparsers: Any) -> None:
    """Add the `eval` subcommand to `subparsers`."""
    p = subparsers.add_parser('eval', help='score the tracker on an annotated bag and write '
                              'a report', description=__doc__.strip().splitlines()[0])
    p.add_argument('bag', type=pathlib.Path,
                   help='bag with ground truth on /gt/detections (FILE.mcap or a rosbag2 '
                        'directory), e.g. from `sata synth` or `sata import`')
    p.add_argument('--mode', default='offline', choices=MODES,
                   help="'offline' (default): read the bag in-process and call the tracker "
                        "frame by frame; 'live': play the bag into the tracker node")
    p.add_argument('--protocol', default='separate', choices=('separate', 'combined'),
                   help="'separate' (default): SOT/VOS and MOT in separate runs; 'combined': "
                        'one run prompting --prompts targets, MOT on everything')
    p.add_argument('--prompts', type=int, default=1,
                   help='targets prompted by the combined protocol (default 1)')
    p.add_argument('--rate', type=float, default=0.0,
                   help='live: 0 = lock-step (default; no frame dropped), R > 0 = real time '
                        'at R x the bag speed')
    p.add_argument('--node', default='',
                   help='live: fully qualified name of a running tracker node (with '
                        'use_sim_time:=true, its inputs are published in its namespace); '
                        'default: start one through tracker.launch.py')
    p.add_argument('--device', default='cpu',
                   help="torch device of the tracker: 'cpu' (default), 'cuda' or 'cuda:N'")
    p.add_argument('--frame-timeout', type=float, default=120.0,
                   help='live: longest wait for the output of one frame, s (default 120)')
    p.add_argument('--startup-timeout', type=float, default=180.0,
                   help='live: longest wait for the tracker node to come up, s (default 180)')
    p.add_argument('--animation', action='store_true',
                   help='also write animation.gif: every frame with its boxes')
    p.add_argument('--tasks', default='sot,vos,mot',
                   help='comma-separated subset of sot,vos,mot (default all)')
    p.add_argument('--variant', default='sata_nano', help='model variant (default sata_nano)')
    p.add_argument('--checkpoint', default='default',
                   help="'default' (shipped checkpoint), 'none' (untrained) or a checkpoint "
                        'path')
    p.add_argument('--out', type=pathlib.Path, default=pathlib.Path('eval_out'),
                   help='report folder (default eval_out; created, earlier reports replaced)')
    p.add_argument('--json', action='store_true',
                   help='print report.json on stdout instead of the text summary')
    p.set_defaults(func=run)


def _error(message: str) -> int:
    print(f'sata eval: error: {message}', file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Evaluate the bag and write the report; print the headline numbers. Exit 0, or 1."""
    tasks = tuple(t.strip() for t in args.tasks.split(',') if t.strip())
    from sata_ros.data.sequence import DataError
    from sata_ros.eval.replay import result_for_json, TASKS
    from sata_ros.eval.report import headline, write_report
    from sata_ros.model.checkpoint import CheckpointError
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        return _error(f'--tasks: unknown tasks {unknown}; choose one or more of '
                      f'{",".join(TASKS)}')
    if not args.bag.exists():
        return _error(f'{args.bag}: no such bag')
    if args.prompts < 0 or args.rate < 0 or args.frame_timeout <= 0 \
            or args.startup_timeout <= 0:
        return _error('--prompts and --rate must be >= 0, --frame-timeout and '
                      '--startup-timeout > 0')
    say = (lambda line: print(line, file=sys.stderr, flush=True))  # noqa: E731
    try:
        if args.mode == 'live':
            from sata_ros.cli.eval_live import evaluate_live
            result = evaluate_live(args, tasks, say)
        else:
            result = _evaluate_offline(args, tasks, say)
        paths = write_report(result, args.out)
    except (DataError, CheckpointError, ValueError, OSError, RuntimeError) as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(result_for_json(result), indent=2))
        return 0
    print(f'{result["name"]}: {result["frames"]} frames, {"+".join(result["modalities"])}, '
          f'checkpoint {result["checkpoint"]}, {args.mode}'
          + (f' ({result["live"]["pace"]})' if result.get('live') else ''))
    for label, text in headline(result):
        print(f'{label}: {text}')
    if result.get('unprompted'):
        print(f'never visible enough to prompt: targets {result["unprompted"]}')
    for task, why in (result.get('skipped') or {}).items():
        print(f'{task} not scored: {why}')
    for name, file in paths.items():
        print(f'{name}: {file}')
    return 0


def _evaluate_offline(args: argparse.Namespace, tasks: tuple[str, ...],
                      say: Any) -> dict[str, Any]:
    import torch
    from sata_ros.eval.replay import evaluate_bag
    from sata_ros.model.default_checkpoint import resolve_checkpoint
    from sata_ros.model.runtime import RuntimeOptions
    from sata_ros.tracking.config import TrackerConfig
    from sata_ros.tracking.tracker import Tracker
    path = resolve_checkpoint(args.checkpoint, args.variant)
    torch.manual_seed(0)
    tracker = Tracker.from_variant(args.variant, path, config=TrackerConfig(),
                                   runtime=RuntimeOptions(device=args.device))
    return evaluate_bag(args.bag, tracker, tasks,
                        checkpoint='none' if path is None else str(path), progress=say,
                        protocol=args.protocol, prompts=args.prompts,
                        animation=args.animation)
