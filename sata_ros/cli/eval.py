"""
`sata eval`: score the tracker on an annotated bag and write a report (JSON, Markdown, plots).

Example: `sata eval scene.mcap --out eval_out` replays every frame of the bag in-process (no ROS
graph: bit-reproducible), runs the SOT / VOS protocol (each ground-truth object prompted with
its box) and the MOT protocol (detected mode), prints SOT AUC, VOS J&F, MOT HOTA and the time
per frame, and writes eval_out/report.json, report.md, success.png, precision.png,
iou_over_time.png and overlays.png. See sata_ros/eval/replay.py for the protocols and the keys
of report.json.

Only `--mode offline` exists for now. The live mode (`ros2 bag play` into the running node,
outputs matched to ground truth by stamp) is planned as a separate issue and is not
implemented.
"""

import argparse
import json
import pathlib
import sys
from typing import Any

MODES = ('offline',)


def register(subparsers: Any) -> None:
    """Add the `eval` subcommand to `subparsers`."""
    p = subparsers.add_parser('eval', help='score the tracker on an annotated bag and write '
                              'a report', description=__doc__.strip().splitlines()[0])
    p.add_argument('bag', type=pathlib.Path,
                   help='bag with ground truth on /gt/detections (FILE.mcap or a rosbag2 '
                        'directory), e.g. from `sata synth` or `sata import`')
    p.add_argument('--mode', default='offline',
                   help="'offline' (default and, for now, the only mode): read the bag "
                        'in-process and call the tracker frame by frame; the live ROS-graph '
                        'mode (ros2 bag play into the node) is not implemented yet')
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
    if args.mode not in MODES:
        return _error(f"--mode {args.mode!r} is not available: only 'offline' is implemented "
                      '(the live ROS-graph mode is planned, not built)')
    tasks = tuple(t.strip() for t in args.tasks.split(',') if t.strip())
    import torch
    from sata_ros.data.sequence import DataError
    from sata_ros.eval.replay import evaluate_bag, result_for_json, TASKS
    from sata_ros.eval.report import headline, write_report
    from sata_ros.model.checkpoint import CheckpointError
    from sata_ros.model.default_checkpoint import resolve_checkpoint
    from sata_ros.tracking.config import TrackerConfig
    from sata_ros.tracking.tracker import Tracker
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        return _error(f'--tasks: unknown tasks {unknown}; choose one or more of '
                      f'{",".join(TASKS)}')
    if not args.bag.exists():
        return _error(f'{args.bag}: no such bag')
    try:
        path = resolve_checkpoint(args.checkpoint, args.variant)
        torch.manual_seed(0)
        tracker = Tracker.from_variant(args.variant, path, config=TrackerConfig())
        result = evaluate_bag(args.bag, tracker, tasks,
                              checkpoint='none' if path is None else str(path),
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
        paths = write_report(result, args.out)
    except (DataError, CheckpointError, ValueError, OSError) as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(result_for_json(result), indent=2))
        return 0
    print(f'{result["name"]}: {result["frames"]} frames, {"+".join(result["modalities"])}, '
          f'checkpoint {result["checkpoint"]}')
    for label, text in headline(result):
        print(f'{label}: {text}')
    if result.get('unprompted'):
        print(f'never visible enough to prompt: targets {result["unprompted"]}')
    for task, why in (result.get('skipped') or {}).items():
        print(f'{task} not scored: {why}')
    for name, file in paths.items():
        print(f'{name}: {file}')
    return 0
