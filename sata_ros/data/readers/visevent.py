"""
VisEvent (RGB-event single-object tracking) sequences as `Sequence`s, from pre-rendered frames.

Layout of one sequence folder: `vis_imgs/*.bmp` (APS or RGB frames), `event_imgs/*.bmp` (the
events of each frame's exposure window rendered on white: ON red, OFF blue), `groundtruth.txt`
(one comma-separated `x,y,w,h` line per frame) and `absent_label.txt` (one integer per frame:
1 = target present, 0 = absent; despite the name, this polarity is what the files hold and what
the ViPT-family loaders read; the official MATLAB toolkit keeps the inverted copy elsewhere).
Frame names start at an arbitrary number (`frame0007.bmp`...): frames are sorted by number and
must be consecutive, and event frame k pairs with the visible frame of the same number.

A target is absent (box (0, 0, 0, 0), visibility 0) when `absent_label.txt` says 0 or its box has
w or h = 0 (or NaN). Frames carry `event_image` (H x W x 3 uint8); `events` stays None.

Raw `.aedat4` recordings are not read: decoding them needs the `dv` package (not a dependency),
so a folder that holds only raw events is rejected with a DataError that names the supported
input. When both are present the frames are used and the raw file is named in the metadata.
"""

import functools
import pathlib
from typing import Iterator, Optional

import numpy as np

from sata_ros.data.readers import common
from sata_ros.data.sequence import DataError, Frame, Sequence

DEFAULT_FPS = 30.0  # nominal: the pre-rendered frames carry no time stamps

_EXPECTED = ('a VisEvent sequence folder with vis_imgs/*.bmp, event_imgs/*.bmp (pre-rendered '
             'event frames), groundtruth.txt (one x,y,w,h line per frame) and absent_label.txt '
             '(one 0/1 line per frame)')
_EVENT_SIZE = 'the size of the registered vis_imgs frame'


def read_visevent(path: common.PathLike, fps: Optional[float] = None) -> Sequence:
    """
    Read one VisEvent sequence folder (see the module docstring); `fps` default 30.

    Frames carry `rgb` and `event_image`, both H x W x 3 uint8.
    """
    root = common.require_dir(pathlib.Path(path), _EXPECTED)
    raw = sorted(p.name for p in root.glob('*.aedat4'))
    if raw and not (root / 'vis_imgs').is_dir() and not (root / 'event_imgs').is_dir():
        raise DataError(f'{root / raw[0]}: raw .aedat4 events are not supported (reading them '
                        f'needs the dv package); expected {_EXPECTED}')
    common.require_entries(root, ('vis_imgs', 'event_imgs'),
                           ('groundtruth.txt', 'absent_label.txt'), _EXPECTED)
    visible = common.list_frames(root / 'vis_imgs', ('.bmp',))
    events = common.list_frames(root / 'event_imgs', ('.bmp',))
    common.pair_frames(visible, events)
    boxes = common.parse_boxes(root / 'groundtruth.txt', allow_nan=True)
    common.check_line_count(root / 'groundtruth.txt', len(boxes), len(visible),
                            root / 'vis_imgs')
    present = _read_present(root / 'absent_label.txt')
    common.check_line_count(root / 'absent_label.txt', len(present), len(visible),
                            root / 'vis_imgs')
    size = common.image_size(visible[0])
    common.load_rgb(events[0], size, _EVENT_SIZE)
    fps = DEFAULT_FPS if fps is None else fps
    period = common.frame_period_ns(fps)
    metadata = {'dataset': 'visevent', 'source': str(root.resolve()), 'fps': float(fps),
                'first_frame_number': common.frame_number(visible[0])}
    if raw:
        metadata['raw_events_not_read'] = raw
    return Sequence(
        name=root.resolve().name,
        rgb_camera=common.rgb_camera(*size),
        thermal_camera=None,
        modalities=('rgb', 'event_image'),
        num_frames=len(visible),
        start_ns=common.START_NS,
        frame_period_ns=period,
        metadata=metadata,
        frames=functools.partial(_frames, visible, events, boxes, present, size, period),
    )


def _read_present(path: pathlib.Path) -> list[bool]:
    """Parse absent_label.txt: one 0 (absent) or 1 (present) per line."""
    present = []
    for number, line in common.read_lines(path):
        if line not in ('0', '1'):
            raise common.parse_error(path, number, line, '0 (target absent) or 1 (present)')
        present.append(line == '1')
    return present


def _frames(visible: list[pathlib.Path], events: list[pathlib.Path], boxes: np.ndarray,
            present: list[bool], size: tuple[int, int], period: int) -> Iterator[Frame]:
    for k, (rgb_path, event_path) in enumerate(zip(visible, events)):
        yield Frame(
            index=k, stamp_ns=common.stamp_ns(k, period),
            rgb=common.load_rgb(rgb_path, size),
            event_image=common.load_rgb(event_path, size, _EVENT_SIZE),
            objects=[common.sot_truth(boxes[k], present[k])])
