"""
LasHeR and RGBT234 (RGB-thermal single-object tracking) sequences as `Sequence`s.

Layout of one sequence folder (both datasets):
`visible/*.jpg`, `infrared/*.jpg` (numbered frames, e.g. LasHeR `v000000.jpg` / `i000000.jpg`,
RGBT234 `00001v.jpg` / `00001i.jpg`, or the renamed `000000.jpg` of ViPT-style copies),
`visible.txt` and `infrared.txt` (one `x,y,w,h` line per frame, comma separated), and `init.txt`,
which is not read (the boxes come from the two per-modality files).

The modalities are pre-registered: thermal frame k has the visible frame's size and stamp.
`ObjectTruth.box` comes from `visible.txt`; RGBT234 annotates the thermal image separately (its
alignment is imperfect, hence the MPR/MSR metrics), so `infrared.txt` is kept per frame in
`metadata['infrared_boxes']` (N x 4 lists) for both datasets. LasHeR marks an absent target with
w = h = 0; such frames get box (0, 0, 0, 0) and visibility 0.
"""

import functools
import pathlib
from typing import Iterator, Optional

import numpy as np

from sata_ros.data.readers import common
from sata_ros.data.sequence import Camera, Frame, Sequence

DEFAULT_FPS = 30.0  # nominal: neither dataset publishes frame timing

_EXPECTED = ('a {name} sequence folder with visible/ and infrared/ (numbered .jpg frames), '
             'visible.txt and infrared.txt (one x,y,w,h line per frame)')


def read_lasher(path: common.PathLike, fps: Optional[float] = None) -> Sequence:
    """Read one LasHeR sequence folder (see the module docstring); `fps` default 30."""
    return _read_rgbt(pathlib.Path(path), 'lasher', 'LasHeR', fps)


def read_rgbt234(path: common.PathLike, fps: Optional[float] = None) -> Sequence:
    """Read one RGBT234 sequence folder (see the module docstring); `fps` default 30."""
    return _read_rgbt(pathlib.Path(path), 'rgbt234', 'RGBT234', fps)


def _read_rgbt(path: pathlib.Path, dataset: str, title: str, fps: Optional[float]) -> Sequence:
    expected = _EXPECTED.format(name=title)
    root = common.require_dir(path, expected)
    common.require_entries(root, ('visible', 'infrared'), ('visible.txt', 'infrared.txt'),
                           expected)
    visible = common.list_frames(root / 'visible')
    infrared = common.list_frames(root / 'infrared')
    common.pair_frames(visible, infrared)
    boxes = common.parse_boxes(root / 'visible.txt')
    common.check_line_count(root / 'visible.txt', len(boxes), len(visible), root / 'visible')
    ir_boxes = common.parse_boxes(root / 'infrared.txt')
    common.check_line_count(root / 'infrared.txt', len(ir_boxes), len(infrared),
                            root / 'infrared')
    size = common.image_size(visible[0])
    # Fail at import time, not halfway through a bag, when the modalities are not registered.
    common.load_grey(infrared[0], size, 'the size of the registered visible frame')
    fps = DEFAULT_FPS if fps is None else fps
    period = common.frame_period_ns(fps)
    return Sequence(
        name=root.resolve().name,
        rgb_camera=common.rgb_camera(*size),
        thermal_camera=Camera.default(size[0], size[1], common.THERMAL_FRAME_ID),
        modalities=('rgb', 'thermal'),
        num_frames=len(visible),
        start_ns=common.START_NS,
        frame_period_ns=period,
        metadata={'dataset': dataset, 'source': str(root.resolve()), 'fps': float(fps),
                  'infrared_boxes': ir_boxes.tolist()},
        frames=functools.partial(_frames, visible, infrared, boxes, size, period),
    )


def _frames(visible: list[pathlib.Path], infrared: list[pathlib.Path], boxes: np.ndarray,
            size: tuple[int, int], period: int) -> Iterator[Frame]:
    for k, (rgb_path, ir_path) in enumerate(zip(visible, infrared)):
        stamp = common.stamp_ns(k, period)
        yield Frame(
            index=k, stamp_ns=stamp,
            rgb=common.load_rgb(rgb_path, size),
            thermal=common.load_grey(ir_path, size, 'the size of the registered visible frame'),
            thermal_stamp_ns=stamp,
            objects=[common.sot_truth(boxes[k])])
