"""
Recorded training data: bags written by `sata synth` or `sata import`, cut into chunks.

A dataset sequence can run to thousands of full-size frames, so training never holds a whole
one: every bag is split into chunks of `length` consecutive frames (the last chunk ends at the
bag's last frame), and the clip sampler keeps a bounded number of chunks in memory, exactly as
it keeps synthetic scenes. A chunk is read by streaming its bag from the start (bags have no
frame index), so loading chunk k of a bag costs reading its first k chunks.

Ground truth comes as the bag has it: visible boxes always, visible masks only where the bag
has `/gt/instance_mask` (DAVIS, synthetic scenes). Single-object RGB+X datasets (LasHeR,
DepthTrack, VisEvent) are box-only; the losses train those objects from their boxes.
"""

import itertools
import pathlib
from typing import NamedTuple, Sequence

from sata_ros.data.bag import read_bag
from sata_ros.data.sequence import Frame, hold_thermal


class Chunk(NamedTuple):
    """`count` consecutive frames of one bag, from frame `start` (0-based)."""

    path: str
    start: int
    count: int


def bag_paths(entries: Sequence[str]) -> list[str]:
    """
    Expand config entries into bag paths, sorted within each folder.

    Args:
        entries: bag files (`.mcap`), rosbag2 folders (with `metadata.yaml`), or folders
            holding such bags.

    Raises:
        ValueError: an entry that does not exist or a folder with no bag in it.

    """
    out: list[str] = []
    for entry in entries:
        path = pathlib.Path(entry)
        if not path.exists():
            raise ValueError(f'{entry}: no such bag or folder')
        if path.is_file() or (path / 'metadata.yaml').is_file():
            out.append(str(path))
            continue
        found = sorted(str(p) for p in path.iterdir()
                       if p.suffix == '.mcap' or (p / 'metadata.yaml').is_file())
        if not found:
            raise ValueError(f'{entry}: a folder with no bag in it (expected .mcap files or '
                             f'rosbag2 folders)')
        out.extend(found)
    return out


def plan_chunks(entries: Sequence[str], length: int, min_count: int) -> list[Chunk]:
    """
    Split every bag of `entries` into chunks of `length` frames.

    Args:
        entries: as for `bag_paths`.
        length: frames per chunk (the training config's `data.num_frames`).
        min_count: fewest frames a clip needs ((clip_length - 1) * max_stride + 1); a bag
            shorter than this is an error naming it.

    Returns:
        The chunks, bag by bag; a bag of n >= length frames gives ceil(n / length) chunks
        of `length` frames (the last one overlaps its neighbour), a shorter one a single chunk.

    """
    chunks: list[Chunk] = []
    for path in bag_paths(entries):
        total = read_bag(pathlib.Path(path)).num_frames
        if total < min_count:
            raise ValueError(f'{path}: {total} frames, but a training clip needs {min_count} '
                             f'((clip_length - 1) * max_stride + 1)')
        count = min(length, total)
        starts = list(range(0, total - count + 1, count))
        if starts[-1] + count < total:
            starts.append(total - count)
        chunks.extend(Chunk(path, s, count) for s in starts)
    return chunks


def load_chunk(chunk: Chunk) -> list[Frame]:
    """
    Read a chunk's frames, each paired with the latest thermal image.

    The thermal pairing runs over the bag from its start, so the first frames of a chunk
    carry the thermal image that arrived before them, as a live synchronizer would.
    """
    frames = hold_thermal(iter(read_bag(pathlib.Path(chunk.path))))
    picked = list(itertools.islice(frames, chunk.start, chunk.start + chunk.count))
    if len(picked) != chunk.count:
        last = chunk.start + chunk.count - 1
        raise ValueError(f'{chunk.path}: expected frames {chunk.start}..{last}, the bag has '
                         f'{chunk.start + len(picked)}')
    return picked


__all__ = ['Chunk', 'bag_paths', 'load_chunk', 'plan_chunks']
