"""
`sata model-info`: parameter counts of every SATA variant, measured from the built models.

Example: `sata model-info --json` prints one JSON object per variant with total, trainable and
frozen parameters, the number of DeMoE sites and the count of each DeMoE part.
"""

import argparse
import json
from typing import Any

from sata_ros.model.config import VARIANTS


def register(subparsers: Any) -> None:
    """Add the `model-info` subcommand to `subparsers`."""
    p = subparsers.add_parser('model-info', help='parameter counts per SATA variant',
                              description=__doc__.strip().splitlines()[0])
    p.add_argument('--variants', default=','.join(VARIANTS),
                   help='comma-separated variants (default: all)')
    p.add_argument('--json', action='store_true', help='print JSON lines instead of a table')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build each variant (untrained, on CPU) and print its report. Exit 0, or 1 on error."""
    from sata_ros.model.params import parameter_report
    from sata_ros.model.sata import build_sata
    names = [v.strip() for v in args.variants.split(',') if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        print(f'sata model-info: error: unknown variants {unknown}; known: {sorted(VARIANTS)}')
        return 1
    for name in names:
        report = parameter_report(build_sata(name))
        if args.json:
            print(json.dumps(report), flush=True)
            continue
        print(f"{name}: total {report['total'] / 1e6:.2f} M, trainable "
              f"{report['trainable'] / 1e6:.2f} M, DeMoE sites {report['demoe_sites']}")
        for part, count in report['parts'].items():
            print(f'  {part:34s} {count / 1e6:9.3f} M')
    return 0
