"""
Entry point of the `sata` command (`sata <subcommand> ...`, or `ros2 run sata_ros sata`).

Each subcommand lives in its own module that exposes `register(subparsers)`; registering it in
`SUBCOMMANDS` is all it takes to add one. Subcommands return a process exit code.
"""

import argparse
import sys
from typing import Optional, Sequence

from sata_ros import __version__
from sata_ros.cli import accuracy, bench, import_data, info, model_info, synth, train
from sata_ros.cli import eval as eval_bag  # the module `eval`, not the builtin

SUBCOMMANDS = (info, synth, import_data, model_info, bench, train, accuracy, eval_bag)


def build_parser() -> argparse.ArgumentParser:
    """Return the `sata` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog='sata',
        description='sata_ros: track and segment anything in any modality.')
    parser.add_argument('--version', action='version', version=f'sata_ros {__version__}')
    subparsers = parser.add_subparsers(dest='command', metavar='<command>')
    subparsers.required = True
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the subcommand and return its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == '__main__':
    sys.exit(main())
