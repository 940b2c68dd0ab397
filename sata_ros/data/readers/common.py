"""
Helpers shared by the benchmark readers: layout checks, numbered frames, GT text, images, stamps.

Every check raises `DataError` with a message that names the file or folder (and the 1-based
line for text files) and says what was expected, so a broken download is found at import time
instead of surfacing as a shifted ground truth in an evaluation.

Time stamps: a benchmark ships no capture times, so frame k gets
`stamp_ns = START_NS + k * frame_period_ns` with a nominal frame rate per dataset (overridable).
START_NS is one second, not zero, because a zero stamp means "latest frame" to the node's
services and "unset" to many ROS tools.
"""

import math
import pathlib
import re
from typing import Iterable, Optional, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from sata_ros.data.sequence import Camera, DataError, ObjectTruth

PathLike = Union[str, pathlib.Path]

# Stamp of frame 0 of every imported sequence, integer nanoseconds (see module docstring).
START_NS = 1_000_000_000

# Optical frame ids of imported cameras. Benchmarks publish no intrinsics, so cameras are
# Camera.default() pinholes of the image size.
RGB_FRAME_ID = 'rgb_optical_frame'
THERMAL_FRAME_ID = 'thermal_optical_frame'

# Label and id of the single target of single-object tracking benchmarks (no class names).
SOT_LABEL = 'target'
SOT_TARGET_ID = 1

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')

_DIGITS = re.compile(r'\d+')
_SEPARATORS = re.compile(r'[,\s]+')


# ---------------------------------------------------------------- layout


def require_dir(path: PathLike, expected: str) -> pathlib.Path:
    """
    Return `path` as a Path after checking that it is an existing, non-empty directory.

    `expected` describes the layout that should be there; it ends every error message.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f'{path}: no such directory; expected {expected}')
    if not path.is_dir():
        raise DataError(f'{path}: not a directory; expected {expected}')
    if not any(path.iterdir()):
        raise DataError(f'{path}: directory is empty; expected {expected}')
    return path


def require_entries(root: pathlib.Path, dirs: Iterable[str], files: Iterable[str],
                    expected: str) -> None:
    """
    Check that the sub-folders `dirs` and files `files` exist under `root`.

    All missing entries are named in one message, followed by `expected` (the whole layout), so
    a wrong dataset format is recognised at a glance.
    """
    missing = [f'{d}/' for d in dirs if not (root / d).is_dir()]
    missing += [f for f in files if not (root / f).is_file()]
    if missing:
        raise DataError(f'{root}: missing {", ".join(missing)}; expected {expected}')


# ---------------------------------------------------------------- numbered frames


def frame_number(path: pathlib.Path) -> int:
    """
    Return the frame number in a file name: the last run of digits of its stem.

    Covers every benchmark naming scheme in use: `00000001.jpg`, `v000123.jpg`, `00012v.jpg`,
    `frame0042.bmp`.
    """
    runs = _DIGITS.findall(path.stem)
    if not runs:
        raise DataError(f'{path}: file name has no frame number; expected numbered frames '
                        'such as 00000001.jpg')
    return int(runs[-1])


def list_frames(folder: pathlib.Path, suffixes: Iterable[str] = IMAGE_SUFFIXES,
                first: Optional[int] = None) -> list[pathlib.Path]:
    """
    Return the numbered image files of `folder`, sorted by frame number.

    Files whose suffix (case-insensitive) is not in `suffixes` are ignored. Numbers must be
    consecutive (a gap is a missing frame and would shift every later ground-truth line) and
    unique; `first`, when given, is the number the first file must carry (e.g. 1 for
    DepthTrack's 00000001.jpg).
    """
    suffixes = tuple(s.lower() for s in suffixes)
    if not folder.is_dir():
        raise DataError(f'{folder}: no such directory; expected numbered frames')
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes]
    if not files:
        raise DataError(f'{folder}: no {"/".join(suffixes)} frames found; expected numbered '
                        'frames')
    numbered = sorted((frame_number(p), p.name, p) for p in files)
    for (n0, name0, _), (n1, name1, _) in zip(numbered, numbered[1:]):
        if n1 == n0:
            raise DataError(f'{folder}: {name0} and {name1} both carry frame number {n0}; '
                            'expected one file per frame')
        if n1 != n0 + 1:
            missing = n0 + 1 if n1 == n0 + 2 else f'{n0 + 1}..{n1 - 1}'
            raise DataError(f'{folder}: frame {missing} missing between {name0} and {name1}; '
                            'expected consecutively numbered frames')
    if first is not None and numbered[0][0] != first:
        raise DataError(f'{folder}: first frame is {numbered[0][1]} (number {numbered[0][0]}); '
                        f'expected numbering to start at {first}')
    return [p for _, _, p in numbered]


def pair_frames(main: list[pathlib.Path], other: list[pathlib.Path]) -> None:
    """
    Check that two numbered frame lists (e.g. colour and depth) carry the same frame numbers.

    The lists come from `list_frames`, so each is consecutive; comparing numbers pairs frame k
    of one modality with frame k of the other even when their name prefixes differ.
    """
    main_numbers = {frame_number(p): p for p in main}
    other_numbers = {frame_number(p): p for p in other}
    for numbers, present, folder in ((other_numbers, main_numbers, other[0].parent),
                                     (main_numbers, other_numbers, main[0].parent)):
        lacking = sorted(set(present) - set(numbers))
        if lacking:
            name = present[lacking[0]].name
            raise DataError(f'{folder}: no frame {lacking[0]} (the counterpart of {name}); '
                            f'expected the same frame numbers as {present[lacking[0]].parent}')


# ---------------------------------------------------------------- ground-truth text


def read_lines(path: pathlib.Path) -> list[tuple[int, str]]:
    """
    Return the (1-based line number, stripped text) of every line of a text file.

    Trailing empty lines are dropped (files often end with one); an empty line anywhere else is
    an error because it would shift every later line by one frame.
    """
    try:
        text = path.read_text(encoding='utf-8-sig')
    except FileNotFoundError:
        raise DataError(f'{path}: no such file') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f'{path}: cannot read text ({exc})') from None
    lines = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]
    while lines and not lines[-1][1]:
        lines.pop()
    for number, line in lines:
        if not line:
            raise DataError(f'{path}:{number}: empty line; expected one line per frame')
    return lines


def parse_error(path: pathlib.Path, number: int, line: str, expected: str) -> DataError:
    """Return the DataError for a line that does not parse: file:line, the line, expectation."""
    return DataError(f'{path}:{number}: cannot parse {line!r}; expected {expected}')


def parse_numbers(path: pathlib.Path, number: int, line: str, count: int,
                  expected: str) -> list[float]:
    """
    Split one line on commas and/or white space into exactly `count` floats.

    'nan' / 'NaN' parse as NaN; the caller decides whether NaN is allowed.
    """
    fields = [f for f in _SEPARATORS.split(line) if f]
    if len(fields) != count:
        raise parse_error(path, number, line, expected)
    try:
        return [float(f) for f in fields]
    except ValueError:
        raise parse_error(path, number, line, expected) from None


def parse_boxes(path: pathlib.Path, allow_nan: bool = False) -> np.ndarray:
    """
    Parse a one-box-per-line x,y,w,h ground-truth file into an N x 4 float64 array (pixels).

    Values are separated by commas (the benchmarks' format) or white space. With `allow_nan`, a
    line of four NaNs (DepthTrack's "target absent") parses to NaNs; a partly NaN line, an
    infinite value or a negative width/height is an error naming the line.
    """
    expected = 'x,y,w,h (4 numbers, w and h >= 0' + (', or NaN,NaN,NaN,NaN)' if allow_nan
                                                     else ')')
    rows = []
    for number, line in read_lines(path):
        values = parse_numbers(path, number, line, 4, expected)
        nans = sum(math.isnan(v) for v in values)
        if nans == 4 and allow_nan:
            rows.append(values)
            continue
        if nans or any(math.isinf(v) for v in values) or values[2] < 0 or values[3] < 0:
            raise parse_error(path, number, line, expected)
        rows.append(values)
    return np.asarray(rows, np.float64).reshape(-1, 4)


def check_line_count(gt_path: pathlib.Path, lines: int, frames: int,
                     frames_dir: pathlib.Path) -> None:
    """Require one ground-truth line per frame."""
    if lines != frames:
        raise DataError(f'{gt_path}: {lines} lines, but {frames_dir} holds {frames} frames; '
                        'expected one line per frame')


def sot_truth(box: np.ndarray, present: bool = True) -> ObjectTruth:
    """
    Return the ObjectTruth of the single SOT target from one x,y,w,h row (float pixels).

    The target is absent when `present` is False, when the row is NaN, or when w or h is 0:
    its box is then (0, 0, 0, 0) and visibility 0. Otherwise visibility is NaN, because these
    benchmarks do not annotate the visible fraction.
    """
    values = [float(v) for v in box]
    if not present or any(math.isnan(v) for v in values) or values[2] <= 0 or values[3] <= 0:
        return ObjectTruth(SOT_TARGET_ID, SOT_LABEL, (0.0, 0.0, 0.0, 0.0), visibility=0.0)
    return ObjectTruth(SOT_TARGET_ID, SOT_LABEL, tuple(values), visibility=float('nan'))


# ---------------------------------------------------------------- images


def open_image(path: pathlib.Path) -> Image.Image:
    """Open an image lazily (header only); DataError when missing or not an image."""
    try:
        return Image.open(path)
    except FileNotFoundError:
        raise DataError(f'{path}: no such file') from None
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f'{path}: not a readable image ({exc})') from None


def image_size(path: pathlib.Path) -> tuple[int, int]:
    """Return (width, height) in pixels from the image header, without decoding pixels."""
    with open_image(path) as img:
        return img.size


def require_size(path: pathlib.Path, size: tuple[int, int], what: str) -> None:
    """Check from the header that an image is `size` (width, height) pixels; `what` says why."""
    with open_image(path) as img:
        _check_size(path, img, size, what)


def _check_size(path: pathlib.Path, img: Image.Image, size: Optional[tuple[int, int]],
                what: str) -> None:
    if size is not None and img.size != tuple(size):
        raise DataError(f'{path}: image is {img.size[0]}x{img.size[1]}, expected '
                        f'{size[0]}x{size[1]} ({what})')


def _decode(path: pathlib.Path, img: Image.Image, mode: Optional[str]) -> np.ndarray:
    try:
        return np.array(img.convert(mode) if mode else img)
    except (OSError, ValueError) as exc:
        raise DataError(f'{path}: cannot decode image ({exc})') from None


def load_rgb(path: pathlib.Path, size: Optional[tuple[int, int]] = None,
             what: str = 'the sequence size') -> np.ndarray:
    """
    Load an image as H x W x 3 uint8 RGB (grey and palettised images are expanded).

    `size` (width, height) is the size the image must have; `what` says why, for the message.
    """
    with open_image(path) as img:
        _check_size(path, img, size, what)
        return _decode(path, img, 'RGB')


def load_grey(path: pathlib.Path, size: Optional[tuple[int, int]] = None,
              what: str = 'the sequence size') -> np.ndarray:
    """Load an image as H x W uint8 grey (colour images are converted with ITU-R 601 luma)."""
    with open_image(path) as img:
        _check_size(path, img, size, what)
        return _decode(path, img, 'L')


def load_depth_mm(path: pathlib.Path, size: Optional[tuple[int, int]] = None,
                  what: str = 'the colour image size') -> np.ndarray:
    """
    Load a 16-bit single-channel PNG as H x W uint16 millimetres (0 = no return).

    Pillow opens 16-bit PNGs as mode 'I;16' (or 'I', 32-bit signed); any other mode (8-bit,
    colour) means the file is not a raw depth map and is an error.
    """
    with open_image(path) as img:
        _check_size(path, img, size, what)
        if img.mode not in ('I;16', 'I;16L', 'I;16B', 'I'):
            raise DataError(f'{path}: image mode {img.mode!r}; expected a 16-bit single-channel '
                            'PNG of depth in millimetres')
        depth = _decode(path, img, None)
    if depth.dtype != np.uint16:
        if depth.size and (depth.min() < 0 or depth.max() > 65535):
            raise DataError(f'{path}: depth values outside 0..65535; expected 16-bit '
                            'millimetres')
        depth = depth.astype(np.uint16)
    return depth


def load_labels(path: pathlib.Path, size: Optional[tuple[int, int]] = None,
                what: str = 'the image size') -> np.ndarray:
    """
    Load a palettised (mode 'P') or grey ('L') label PNG as H x W uint8 label indices.

    The palette is ignored: the pixel value is the label. Colour label images would need a
    colour-to-id table, so they are an error.
    """
    with open_image(path) as img:
        _check_size(path, img, size, what)
        if img.mode not in ('P', 'L'):
            raise DataError(f'{path}: image mode {img.mode!r}; expected a palettised (P) or '
                            'grey (L) PNG of object ids')
        return _decode(path, img, None).astype(np.uint8, copy=False)


# ---------------------------------------------------------------- cameras and stamps


def rgb_camera(width: int, height: int) -> Camera:
    """Return the default pinhole of an imported RGB stream (benchmarks give no intrinsics)."""
    return Camera.default(width, height, RGB_FRAME_ID)


def frame_period_ns(fps: float) -> int:
    """Return the frame period in integer nanoseconds for `fps` frames per second (> 0)."""
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f'fps must be a positive number, got {fps}')
    return int(round(1e9 / fps))


def stamp_ns(index: int, period_ns: int) -> int:
    """Return the stamp of 0-based frame `index`: START_NS + index * period_ns."""
    return START_NS + index * period_ns
