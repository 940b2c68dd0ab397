"""
DepthTrack (RGB-D single-object tracking) sequences as `Sequence`s.

Layout of one sequence folder (also the `sequences/<seq>/` folders of its VOT workspace):
`color/00000001.jpg`, `depth/00000001.png` (16-bit PNG, millimetres, 0 = no return), numbered
from 1 with no gaps, and `groundtruth.txt` with one comma-separated `x,y,w,h` line per frame;
a line of NaNs marks a frame where the target is absent (box (0, 0, 0, 0), visibility 0).

Colour and depth are registered frame by frame: depth must have the colour image's size, else
DataError naming the depth file (the first frame is checked when the sequence is opened, later
frames when they are produced).
"""

import functools
import pathlib
from typing import Iterator, Optional

import numpy as np

from sata_ros.data.readers import common
from sata_ros.data.sequence import Frame, Sequence

DEFAULT_FPS = 30.0  # nominal: DepthTrack publishes no frame timing

_EXPECTED = ('a DepthTrack sequence folder with color/00000001.jpg..., depth/00000001.png... '
             '(16-bit millimetres) and groundtruth.txt (one x,y,w,h line per frame, NaN = '
             'absent)')
_DEPTH_SIZE = 'the size of the registered colour frame'


def read_depthtrack(path: common.PathLike, fps: Optional[float] = None) -> Sequence:
    """
    Read one DepthTrack sequence folder (see the module docstring); `fps` default 30.

    Frames carry `rgb` (H x W x 3 uint8) and `depth` (H x W uint16 millimetres).
    """
    root = common.require_dir(pathlib.Path(path), _EXPECTED)
    common.require_entries(root, ('color', 'depth'), ('groundtruth.txt',), _EXPECTED)
    color = common.list_frames(root / 'color', ('.jpg', '.jpeg', '.png'), first=1)
    depth = common.list_frames(root / 'depth', ('.png',), first=1)
    common.pair_frames(color, depth)
    boxes = common.parse_boxes(root / 'groundtruth.txt', allow_nan=True)
    common.check_line_count(root / 'groundtruth.txt', len(boxes), len(color), root / 'color')
    size = common.image_size(color[0])
    common.load_depth_mm(depth[0], size, _DEPTH_SIZE)
    fps = DEFAULT_FPS if fps is None else fps
    period = common.frame_period_ns(fps)
    return Sequence(
        name=root.resolve().name,
        rgb_camera=common.rgb_camera(*size),
        thermal_camera=None,
        modalities=('rgb', 'depth'),
        num_frames=len(color),
        start_ns=common.START_NS,
        frame_period_ns=period,
        metadata={'dataset': 'depthtrack', 'source': str(root.resolve()), 'fps': float(fps),
                  'depth_unit': 'mm'},
        frames=functools.partial(_frames, color, depth, boxes, size, period),
    )


def _frames(color: list[pathlib.Path], depth: list[pathlib.Path], boxes: np.ndarray,
            size: tuple[int, int], period: int) -> Iterator[Frame]:
    for k, (color_path, depth_path) in enumerate(zip(color, depth)):
        yield Frame(
            index=k, stamp_ns=common.stamp_ns(k, period),
            rgb=common.load_rgb(color_path, size),
            depth=common.load_depth_mm(depth_path, size, _DEPTH_SIZE),
            objects=[common.sot_truth(boxes[k])])
