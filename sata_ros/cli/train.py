"""
`sata train`: train SATA from a YAML config (config/train/<name>.yaml).

Examples::

    sata train --config config/train/nano_synthetic.yaml
    sata train --config config/train/nano_synthetic.yaml --resume     # continue from last.pt
    torchrun --nproc_per_node 8 -m sata_ros.cli.main train --config config/train/stage2.yaml

Prints one JSON line at the end: steps, last logged loss, exported checkpoint, seconds.
"""

import argparse
import json
import pathlib
import sys
from typing import Any

from sata_ros.model.checkpoint import CheckpointError
from sata_ros.train.config import load_train_config
from sata_ros.train.trainer import Trainer


def register(subparsers: Any) -> None:
    """Add the `train` subcommand to `subparsers`."""
    p = subparsers.add_parser('train', help='train SATA from a YAML config',
                              description=__doc__.strip().splitlines()[0])
    p.add_argument('--config', type=pathlib.Path, required=True,
                   help='training config (YAML; see config/train/)')
    p.add_argument('--resume', action='store_true',
                   help='continue from OUT_DIR/last.pt (same clips and noise as an '
                        'uninterrupted run)')
    p.add_argument('--out', type=str, default=None, help='override run.out_dir')
    p.add_argument('--steps', type=int, default=None, help='override run.steps')
    p.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default=None,
                   help='override run.device')
    p.add_argument('--export', type=str, default=None,
                   help='override run.export (where the model checkpoint is written)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train; print a JSON summary. Exit 0, or 1 with a message on a bad config or state."""
    try:
        cfg = load_train_config(args.config)
        changes = {k: v for k, v in (('out_dir', args.out), ('steps', args.steps),
                                     ('device', args.device), ('export', args.export))
                   if v is not None}
        if changes:
            cfg = cfg.with_run(**changes)
        result = Trainer(cfg, resume=args.resume, progress=not args.no_progress).run()
    except (ValueError, CheckpointError) as exc:
        print(f'sata train: error: {exc}', file=sys.stderr)
        return 1
    print(json.dumps({'steps': result.step, 'last_loss': round(result.last_loss, 6),
                      'checkpoint': str(result.checkpoint),
                      'seconds': round(result.seconds, 1)}))
    return 0
