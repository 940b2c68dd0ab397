"""
Tiny benchmark sequences in each dataset's exact layout, for the reader tests.

Images are 32 x 24 pixels, written with Pillow in the benchmark's own file format (JPEG, PNG,
16-bit PNG, palettised PNG, BMP). Each builder returns what a correct reader must produce.
JPEG is lossy, so JPEG frames are flat colours: a decoded frame is recognised by its mean colour
(within a few levels), which still tells frames apart and catches a shifted order.
"""

import json
import math
import pathlib
from typing import Optional

import numpy as np
from PIL import Image
import pytest

from sata_ros.data import bag
from sata_ros.data.readers.common import START_NS
from sata_ros.data.sequence import Frame, Sequence

W, H = 32, 24

# Nominal period at 30 fps, in nanoseconds.
PERIOD_30 = 33_333_333


def flat_rgb(k: int) -> np.ndarray:
    """Return the H x W x 3 uint8 flat colour of frame k (distinct for k < 5)."""
    return np.broadcast_to(np.array([20 + 40 * k, 200 - 30 * k, 90], np.uint8), (H, W, 3)).copy()


def flat_grey(k: int) -> np.ndarray:
    """Return the H x W uint8 flat grey of thermal frame k."""
    return np.full((H, W), 30 + 50 * k, np.uint8)


def textured_rgb(k: int) -> np.ndarray:
    """Return an H x W x 3 uint8 frame with per-pixel content, for lossless formats."""
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([(xx * 7 + k) % 256, (yy * 11 + 3 * k) % 256,
                     np.full_like(xx, 17 * k)], axis=-1).astype(np.uint8)


def save(path: pathlib.Path, array: np.ndarray) -> pathlib.Path:
    """Write `array` as an image (format from the suffix), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_lines(path: pathlib.Path, lines: list[str]) -> pathlib.Path:
    """Write text lines, newline-terminated, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(f'{line}\n' for line in lines))
    return path


def box_line(box) -> str:
    """Format an x,y,w,h box the way the benchmarks do."""
    return ','.join('NaN' if math.isnan(v) else f'{v:g}' for v in box)


def assert_mean_colour(image: np.ndarray, expected: np.ndarray, tol: float = 4.0) -> None:
    """Assert that a decoded JPEG has the expected flat colour (per channel mean)."""
    got = image.reshape(-1, image.shape[-1] if image.ndim == 3 else 1).mean(axis=0)
    want = expected.reshape(-1, expected.shape[-1] if expected.ndim == 3 else 1).mean(axis=0)
    assert np.all(np.abs(got - want) <= tol), (got, want)


def stamps(n: int, period: int = PERIOD_30) -> list[int]:
    """Return the expected stamps of n frames."""
    return [START_NS + k * period for k in range(n)]


# ---------------------------------------------------------------- LasHeR / RGBT234

RGBT_BOXES = [(2, 3, 10, 8), (3, 4, 10.5, 8), (0, 0, 0, 0), (5, 6, 11, 9)]
RGBT_IR_BOXES = [(3, 3, 10, 8), (4, 4, 10.5, 8), (0, 0, 0, 0), (6, 6, 11, 9)]


def rgbt_names(dataset: str, k: int) -> tuple[str, str]:
    """Return the visible and infrared file names of frame k in each dataset's scheme."""
    if dataset == 'lasher':
        return f'v{k:06d}.jpg', f'i{k:06d}.jpg'
    return f'{k + 1:05d}v.jpg', f'{k + 1:05d}i.jpg'


def make_rgbt(root: pathlib.Path, dataset: str, n: int = 4) -> pathlib.Path:
    """Write an n-frame LasHeR or RGBT234 sequence folder; frame 2 has the target absent."""
    for k in range(n):
        vis, ir = rgbt_names(dataset, k)
        save(root / 'visible' / vis, flat_rgb(k))
        # Thermal JPEGs of these datasets are 3-channel greys; the reader makes them 1-channel.
        save(root / 'infrared' / ir, np.repeat(flat_grey(k)[..., None], 3, axis=-1))
    write_lines(root / 'visible.txt', [box_line(b) for b in RGBT_BOXES[:n]])
    write_lines(root / 'infrared.txt', [box_line(b) for b in RGBT_IR_BOXES[:n]])
    write_lines(root / 'init.txt', [box_line(RGBT_BOXES[0])])
    return root


# ---------------------------------------------------------------- DepthTrack

DEPTH_BOXES = [(1, 2, 12, 10), (float('nan'),) * 4, (2, 3, 12, 10)]


def depth_map(k: int) -> np.ndarray:
    """Return frame k's H x W uint16 depth in millimetres, using the full 16-bit range."""
    yy, xx = np.mgrid[0:H, 0:W]
    return ((yy * W + xx) * 80 + 1000 * k).astype(np.uint16)


def make_depthtrack(root: pathlib.Path, n: int = 3) -> pathlib.Path:
    """Write an n-frame DepthTrack sequence; frame 1's target is absent (NaN line)."""
    for k in range(n):
        save(root / 'color' / f'{k + 1:08d}.jpg', flat_rgb(k))
        save(root / 'depth' / f'{k + 1:08d}.png', depth_map(k))
    write_lines(root / 'groundtruth.txt', [box_line(b) for b in DEPTH_BOXES[:n]])
    return root


# ---------------------------------------------------------------- VisEvent

VISEVENT_FIRST = 7  # VisEvent frame names start at arbitrary numbers
VISEVENT_BOXES = [(4, 5, 9, 7), (5, 5, 9, 7), (6, 5, 9, 7), (0, 0, 0, 0)]
VISEVENT_PRESENT = [1, 0, 1, 1]  # frame 1: absent by label; frame 3: absent by empty box


def event_frame(k: int) -> np.ndarray:
    """Return an H x W x 3 uint8 rendered event frame: white, ON events red, OFF blue."""
    image = np.full((H, W, 3), 255, np.uint8)
    image[k, :5] = (220, 30, 30)
    image[H - 1 - k, 5:9] = (30, 30, 200)
    return image


def make_visevent(root: pathlib.Path, n: int = 4) -> pathlib.Path:
    """Write an n-frame VisEvent sequence numbered from frame0007.bmp."""
    for k in range(n):
        name = f'frame{VISEVENT_FIRST + k:04d}.bmp'
        save(root / 'vis_imgs' / name, textured_rgb(k))
        save(root / 'event_imgs' / name, event_frame(k))
    write_lines(root / 'groundtruth.txt', [box_line(b) for b in VISEVENT_BOXES[:n]])
    write_lines(root / 'absent_label.txt', [str(v) for v in VISEVENT_PRESENT[:n]])
    return root


# ---------------------------------------------------------------- DAVIS 2017

DAVIS_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0] * (3 * 251) + [224, 224, 192]


def davis_labels(k: int) -> np.ndarray:
    """
    Return frame k's H x W uint8 object ids: object 1 moves right, object 2 leaves at k = 2.

    A void border (255) surrounds object 1, as DAVIS marks uncertain boundary pixels.
    """
    labels = np.zeros((H, W), np.uint8)
    labels[3:9, 4 + k:10 + k] = 255
    labels[4:8, 5 + k:9 + k] = 1
    if k != 2:
        labels[12:20, 20:23] = 2
    return labels


def save_palettised(path: pathlib.Path, labels: np.ndarray) -> pathlib.Path:
    """Write H x W uint8 ids as a palettised (mode 'P') PNG, as DAVIS ships them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels)
    image.putpalette(DAVIS_PALETTE)
    assert image.mode == 'P'
    image.save(path)
    return path


def make_davis(root: pathlib.Path, sequence: str = 'bear', n: int = 4,
               annotated: Optional[int] = None) -> pathlib.Path:
    """Write a DAVIS root with one n-frame sequence; `annotated` limits the annotated frames."""
    for k in range(n):
        save(root / 'JPEGImages' / '480p' / sequence / f'{k:05d}.jpg', flat_rgb(k))
        if annotated is None or k < annotated:
            save_palettised(root / 'Annotations' / '480p' / sequence / f'{k:05d}.png',
                            davis_labels(k))
    write_lines(root / 'ImageSets' / '2017' / 'val.txt', [sequence])
    return root


# ---------------------------------------------------------------- MOT17

MOT_SEQINFO = """[Sequence]
name=MOT17-99-FRCNN
imDir=img1
frameRate=25
seqLength={n}
imWidth={w}
imHeight={h}
imExt=.jpg
"""

# frame,id,x,y,w,h,conf_flag,class,visibility (frame 1-based), deliberately out of order.
MOT_GT = [
    '2,3,1,2,5,9,1,1,0.5',
    '1,3,0,1,5,9,1,1,1',
    '1,1,10,4,6,12,1,1,0.25',
    '1,7,20,3,4,8,0,1,1',       # zero-marked pedestrian: ignored
    '2,1,11,4,6,12,1,1,0',      # fully occluded but evaluated
    '2,5,25,10,5,10,1,7,0.8',   # static person (distractor class): ignored
    '3,9,2,2,8,8,1,3,1',        # car: ignored
]


def make_mot17(root: pathlib.Path, n: int = 4, gt: Optional[list[str]] = None) -> pathlib.Path:
    """Write an n-frame MOT17 sequence (frame 4 has no boxes); `gt` replaces the gt lines."""
    (root).mkdir(parents=True, exist_ok=True)
    (root / 'seqinfo.ini').write_text(MOT_SEQINFO.format(n=n, w=W, h=H))
    for k in range(n):
        save(root / 'img1' / f'{k + 1:06d}.jpg', flat_rgb(k))
    write_lines(root / 'gt' / 'gt.txt', MOT_GT if gt is None else gt)
    return root


# ---------------------------------------------------------------- bag round trip


def assert_bag_round_trip(sequence: Sequence, tmp_path: pathlib.Path) -> Sequence:
    """
    Write `sequence` with write_bag, read it back with read_bag, compare frames and truth.

    Compares frame count, stamps and every image exactly (bags hold raw images) and, per
    object, id, label, box, visibility (NaN = unknown survives) and mask; objects out of view
    come back too, with their zero-size box.
    """
    path = bag.write_bag(sequence, tmp_path / f'{sequence.name}.mcap', progress=False)
    back = bag.read_bag(path)
    assert back.num_frames == sequence.num_frames
    # Provenance (e.g. MOT17's ignored rows, RGBT234's infrared boxes) survives, as JSON.
    assert back.name == sequence.name
    assert back.metadata == json.loads(json.dumps(sequence.metadata))
    assert back.modalities == sequence.modalities
    originals: list[Frame] = list(sequence.frames())
    copies: list[Frame] = list(back.frames())
    assert len(copies) == len(originals)
    for original, copy in zip(originals, copies):
        assert copy.stamp_ns == original.stamp_ns
        for name in ('rgb', 'depth', 'thermal', 'event_image'):
            mine, theirs = getattr(original, name), getattr(copy, name)
            assert (theirs is None) == (mine is None), name
            if mine is not None:
                assert theirs.dtype == mine.dtype and np.array_equal(theirs, mine), name
        assert [o.target_id for o in copy.objects] == [o.target_id for o in original.objects]
        for mine, theirs in zip(original.objects, copy.objects):
            assert theirs.label == mine.label
            assert np.allclose(theirs.box, mine.box, atol=1e-6), (mine.box, theirs.box)
            assert theirs.visibility == pytest.approx(mine.visibility, nan_ok=True)
            assert (theirs.mask is None) == (mine.mask is None)
            if mine.mask is not None:
                assert np.array_equal(theirs.mask, mine.mask)
    return back
