"""
`sata import`: convert one benchmark dataset sequence into a bag.

Reads the sequence with `sata_ros.data.readers` (LasHeR, RGBT234, DepthTrack, VisEvent,
DAVIS 2017, MOT17) and writes it with `sata_ros.data.bag.write_bag`: every modality of frame k
shares one stamp, ground truth goes with it. Bad data stops the import with
`sata import: error: <message>` (naming the file and line) and exit code 1, as does an existing
output path (nothing is overwritten); a bag this run started writing is removed, so a failed
import leaves nothing half written behind.
"""

import argparse
import pathlib
import shutil
import sys
from typing import Any

from sata_ros.data.readers import read_dataset, READERS
from sata_ros.data.sequence import DataError


def register(subparsers: Any) -> None:
    """Add the `import` subcommand to `subparsers`."""
    parser = subparsers.add_parser(
        'import', help='convert a benchmark dataset sequence into a bag',
        description=__doc__.strip().splitlines()[0])
    parser.add_argument('--format', dest='fmt', required=True, choices=sorted(READERS),
                        metavar='NAME',
                        help=f'dataset layout, one of: {", ".join(sorted(READERS))}')
    parser.add_argument('directory', type=pathlib.Path, metavar='DIR',
                        help='sequence folder (davis2017: a JPEGImages/<res>/<seq> folder, or '
                        'the DAVIS root with --sequence)')
    parser.add_argument('--out', type=pathlib.Path, required=True, metavar='FILE.mcap',
                        help='bag to write')
    parser.add_argument('--fps', type=_positive_float, default=None,
                        help="frame rate for the stamps (default: the dataset's nominal rate; "
                        'MOT17: seqinfo.ini)')
    parser.add_argument('--sequence', default=None, metavar='NAME',
                        help='davis2017 only: sequence name when DIR is the DAVIS root')
    parser.set_defaults(func=run)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}') from None
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(f'must be a positive number, got {text}')
    return value


def run(args: argparse.Namespace) -> int:
    """Import `args.directory` into `args.out`; exit code 0, or 1 on bad data or existing out."""
    options = {key: value for key, value in (('fps', args.fps), ('sequence', args.sequence))
               if value is not None}
    out = pathlib.Path(args.out)
    existed = out.exists()
    try:
        sequence = read_dataset(args.fmt, args.directory, **options)
        # Imported here, not at the top: `sata` builds every subcommand's parser at start-up,
        # and the bag writer's rosbags stack is only needed once an import actually runs.
        from sata_ros.data.bag import write_bag
        written = write_bag(sequence, out, progress=True)
    except BaseException as exc:
        # Also on Ctrl-C or a writer failure: never leave a truncated bag that looks complete.
        if not existed:
            _remove(out)
        if not isinstance(exc, (DataError, FileExistsError)):
            raise
        print(f'sata import: error: {exc}', file=sys.stderr)
        return 1
    print(f'sata import: wrote {written} ({sequence.num_frames} frames of {sequence.name}, '
          f'{"+".join(sequence.modalities)})')
    return 0


def _remove(path: pathlib.Path) -> None:
    """Remove a partly written bag (file, or rosbag2 folder) that this run created."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
