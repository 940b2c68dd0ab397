"""
`sata accuracy`: how well checkpoints track on held-out synthetic scenes, next to baselines.

Example: `sata accuracy --json accuracy.json --markdown accuracy.md` scores, on scene seeds
never used in training, in normal light and in the dark, RGB alone and RGB + each auxiliary
modality: (a) the default checkpoint, (b) the same model untrained, (c) the non-learned
baselines (colour-histogram mean-shift for SOT/VOS, background subtraction + IoU tracking for
MOT). Metrics: SOT success AUC (21 thresholds), VOS J&F (DAVIS rule), MOT HOTA (trackeval).
See sata_ros/eval/synthetic_benchmark.py for the protocols.
"""

import argparse
import json
import pathlib
import sys
import time
from typing import Any, Optional, Sequence

from sata_ros.model.checkpoint import CheckpointError, read_checkpoint
from sata_ros.model.default_checkpoint import resolve_checkpoint
import yaml

COLUMNS = (('sot_auc', 'SOT AUC'), ('vos_j_and_f', 'VOS J&F'), ('mot_hota', 'MOT HOTA'))


def _seeds(text: str) -> tuple[int, ...]:
    try:
        if '-' in text:
            lo, hi = (int(v) for v in text.split('-'))
            return tuple(range(lo, hi + 1))
        return tuple(int(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected seeds like 5000-5002 or 5000,5007, '
                                         f'got {text!r}')


def _setting(text: str) -> tuple[str, Any]:
    """Parse one `--tracker NAME=VALUE` (the value read as a YAML scalar or list)."""
    name, sep, value = text.partition('=')
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f'expected a tracker setting like prompt_motion=0, '
                                         f'got {text!r}')
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f'{name}: cannot read value {value!r}: {exc}')


def _conditions(text: Optional[str], known: Sequence[Any]) -> list[Any]:
    """Return the `known` conditions that `text` names (all for None), in `known`'s order."""
    if text is None:
        return list(known)
    names = [n.strip() for n in text.split(',') if n.strip()]
    valid = [c.name for c in known]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise ValueError(f'unknown conditions {unknown}; choose from ' + ', '.join(valid))
    return [c for c in known if c.name in names]


def register(subparsers: Any) -> None:
    """Add the `accuracy` subcommand to `subparsers`."""
    p = subparsers.add_parser('accuracy', help='score checkpoints and baselines on held-out '
                              'synthetic scenes', description=__doc__.strip().splitlines()[0])
    p.add_argument('--variant', default='sata_nano', help='model variant (default sata_nano)')
    p.add_argument('--checkpoint', default='default',
                   help="'default' (shipped checkpoint) or a checkpoint path")
    p.add_argument('--seeds', type=_seeds, default=None,
                   help='scene seeds, e.g. 5000-5002 (default 5000-5002; the shipped '
                        'checkpoint trained and validated on seeds below 2000)')
    p.add_argument('--frames', type=int, default=None, help='frames per scene (default 48)')
    p.add_argument('--systems', default='trained,untrained,baseline',
                   help='comma-separated subset of trained,untrained,baseline')
    p.add_argument('--no-mot', action='store_true', help='skip the MOT protocol')
    p.add_argument('--conditions', default=None,
                   help='comma-separated rows to score, e.g. "rgb,dark rgb+thermal" '
                        '(default: all eight)')
    p.add_argument('--tracker', type=_setting, action='append', default=[],
                   metavar='NAME=VALUE',
                   help='a TrackerConfig setting for the learned systems instead of the '
                        'package default, e.g. prompt_motion=0 (repeatable)')
    p.add_argument('--json', type=pathlib.Path, default=None, help='write the report here')
    p.add_argument('--markdown', type=pathlib.Path, default=None,
                   help='write the Markdown tables here')
    p.set_defaults(func=run)


def markdown(report: dict) -> str:
    """Render the report's tables: one row per condition, three columns per system."""
    systems = list(report['systems'])
    head = '| condition | ' + ' | '.join(f'{label} ({s})' for s in systems
                                         for _, label in COLUMNS) + ' |'
    lines = [head, '|' + '---|' * (1 + len(systems) * len(COLUMNS))]
    for cond in report['conditions']:
        cells = []
        for system in systems:
            row = report['systems'][system].get(cond, {})
            cells += [f'{100 * row[key]:.1f}' if key in row else '-' for key, _ in COLUMNS]
        lines.append(f'| {cond} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def run(args: argparse.Namespace) -> int:
    """Score the systems; print the Markdown table and a JSON summary. Exit 0, or 1 on error."""
    import torch
    from sata_ros.eval import synthetic_benchmark as bench
    from sata_ros.model.sata import build_sata
    from sata_ros.tracking.tracker import Tracker
    systems = [s.strip() for s in args.systems.split(',') if s.strip()]
    unknown = sorted(set(systems) - {'trained', 'untrained', 'baseline'})
    if unknown or not systems:
        print(f'sata accuracy: error: unknown systems {unknown}; choose from trained, '
              'untrained, baseline', file=sys.stderr)
        return 1
    changes = dict(args.tracker)
    try:
        tracker_config = bench.tracker_config(changes)
    except ValueError as exc:  # TrackerConfig.from_dict names the setting and type
        print(f'sata accuracy: error: --tracker: {exc}', file=sys.stderr)
        return 1
    try:
        conditions = _conditions(args.conditions, bench.CONDITIONS)
    except ValueError as exc:
        print(f'sata accuracy: error: --conditions: {exc}', file=sys.stderr)
        return 1
    given = {'seeds': args.seeds, 'num_frames': args.frames}
    settings = bench.BenchmarkSettings(**{k: v for k, v in given.items() if v})
    began = time.perf_counter()
    report: dict[str, Any] = {'settings': vars(settings) | {'seeds': list(settings.seeds)},
                              'dark_exposure': bench.DARK_EXPOSURE,
                              'conditions': [c.name for c in conditions],
                              'tracker': changes, 'systems': {}}
    try:
        path = resolve_checkpoint(args.checkpoint, args.variant)
        report['checkpoint'] = str(path)
        for system in systems:
            tracker = None
            if system != 'baseline':
                torch.manual_seed(0)
                # "The same model untrained": the checkpoint's own settings (e.g. its dense
                # prompts) with freshly initialised weights.
                model = (build_sata(args.variant, path) if system == 'trained'
                         else build_sata(read_checkpoint(path)[0] if path else args.variant))
                tracker = Tracker(model, config=tracker_config)
            report['systems'][system] = bench.evaluate(
                'baseline' if system == 'baseline' else 'sata', settings, conditions,
                tracker, with_mot=not args.no_mot,
                progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (ValueError, CheckpointError) as exc:
        print(f'sata accuracy: error: {exc}', file=sys.stderr)
        return 1
    report['seconds'] = round(time.perf_counter() - began, 1)
    table = markdown(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + '\n')
    if args.markdown:
        args.markdown.write_text(table)
    print(table)
    print(json.dumps({'seconds': report['seconds'], 'checkpoint': report['checkpoint']}))
    return 0
