"""
Benchmark dataset readers: one dataset layout in, one lazy `Sequence` out.

`READERS` maps a format name to its reader, a callable `reader(path, **options) -> Sequence`;
`read_dataset` picks one by name. Every reader accepts `fps` (default: the dataset's nominal
rate); `davis2017` also takes `sequence` and `resolution`. Bad or unexpected input raises
`sata_ros.data.sequence.DataError` naming the file (and line) and what was expected.
"""

import inspect
from typing import Any, Callable

from sata_ros.data.readers.common import PathLike
from sata_ros.data.readers.davis import read_davis2017
from sata_ros.data.readers.depthtrack import read_depthtrack
from sata_ros.data.readers.mot17 import read_mot17
from sata_ros.data.readers.rgbt import read_lasher, read_rgbt234
from sata_ros.data.readers.visevent import read_visevent
from sata_ros.data.sequence import DataError, Sequence

READERS: dict[str, Callable[..., Sequence]] = {
    'lasher': read_lasher,
    'rgbt234': read_rgbt234,
    'depthtrack': read_depthtrack,
    'visevent': read_visevent,
    'davis2017': read_davis2017,
    'mot17': read_mot17,
}


def read_dataset(fmt: str, path: PathLike, **options: Any) -> Sequence:
    """
    Read the sequence at `path` with the reader registered as `fmt`.

    Raises DataError for an unknown format (listing the known ones), for an option the reader
    does not take (listing those it does), and for any problem with the data itself.
    """
    reader = READERS.get(fmt)
    if reader is None:
        raise DataError(f'unknown dataset format {fmt!r}; known formats: '
                        f'{", ".join(sorted(READERS))}')
    accepted = [name for name in inspect.signature(reader).parameters if name != 'path']
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(f'format {fmt!r} takes no option {", ".join(unknown)}; its options: '
                        f'{", ".join(accepted)}')
    return reader(path, **options)


__all__ = ['READERS', 'read_dataset']
