"""
DAVIS 2017 (video object segmentation) sequences as `Sequence`s with per-object masks.

Layout: `<root>/JPEGImages/<res>/<seq>/00000.jpg...` and `<root>/Annotations/<res>/<seq>/00000.png`
(palettised PNG, pixel value = object id 1..N, 0 = background, 255 = void), `<res>` being
`480p` or `Full-Resolution`. The reader takes either the DAVIS root plus `sequence=<seq>` (and
optionally `resolution=`), or the frame folder `<root>/JPEGImages/<res>/<seq>` itself.

Objects: the ids of the first annotation are the sequence's targets, as in the semi-supervised
protocol. Each annotated frame lists every first-frame target, sorted by id: when present, its
mask (H x W bool), its tight box and visibility 1; when absent, an all-False mask, box
(0, 0, 0, 0) and visibility 0, so trackers and VOS metrics see the absence. An id that first
appears later is listed from the frame it appears in. Void pixels (255) belong to no object.
Label: 'object' (DAVIS annotations carry no class).

Either every frame has an annotation, or only the first does (test-dev / test-challenge): then
later frames carry no objects and `metadata['annotated_frames']` is [0].
"""

import functools
import pathlib
from typing import Iterator, Optional

import numpy as np

from sata_ros.data.readers import common
from sata_ros.data.sequence import DataError, Frame, ObjectTruth, Sequence

DEFAULT_FPS = 24.0  # DAVIS videos were captured at 24 fps
DEFAULT_RESOLUTION = '480p'
LABEL = 'object'
VOID = 255

_EXPECTED = ('a DAVIS 2017 root with JPEGImages/<res>/<seq>/00000.jpg... and '
             'Annotations/<res>/<seq>/00000.png... (palettised object ids), plus sequence=<seq>; '
             'or a JPEGImages/<res>/<seq> folder')


def read_davis2017(path: common.PathLike, sequence: Optional[str] = None,
                   resolution: str = DEFAULT_RESOLUTION,
                   fps: Optional[float] = None) -> Sequence:
    """
    Read one DAVIS 2017 sequence (see the module docstring); `fps` default 24.

    Frames carry `rgb` (H x W x 3 uint8) and objects with `mask` (H x W bool).
    """
    root, resolution, sequence = _locate(pathlib.Path(path), sequence, resolution)
    image_dir = root / 'JPEGImages' / resolution / sequence
    annotation_dir = root / 'Annotations' / resolution / sequence
    expected = (f'the frames of {sequence} in {image_dir} and one palettised PNG per frame '
                f'(or for the first frame only) in {annotation_dir}')
    common.require_dir(image_dir, expected)
    common.require_dir(annotation_dir, expected)
    images = common.list_frames(image_dir, ('.jpg', '.jpeg'), first=0)
    annotations = common.list_frames(annotation_dir, ('.png',), first=0)
    if len(annotations) == len(images):
        common.pair_frames(images, annotations)
    elif len(annotations) != 1:
        raise DataError(f'{annotation_dir}: {len(annotations)} annotations for {len(images)} '
                        f'frames in {image_dir}; expected one per frame, or only the first')
    size = common.image_size(images[0])
    first_ids = _object_ids(common.load_labels(annotations[0], size, 'the JPEG frame size'))
    fps = DEFAULT_FPS if fps is None else fps
    period = common.frame_period_ns(fps)
    annotated = 'all' if len(annotations) == len(images) else [0]
    return Sequence(
        name=sequence,
        rgb_camera=common.rgb_camera(*size),
        thermal_camera=None,
        modalities=('rgb',),
        num_frames=len(images),
        start_ns=common.START_NS,
        frame_period_ns=period,
        metadata={'dataset': 'davis2017', 'source': str(image_dir.resolve()), 'fps': float(fps),
                  'resolution': resolution, 'object_ids': first_ids,
                  'annotated_frames': annotated, 'void_label': VOID},
        frames=functools.partial(_frames, images, annotations, first_ids, size, period),
    )


def _locate(path: pathlib.Path, sequence: Optional[str],
            resolution: str) -> tuple[pathlib.Path, str, str]:
    """Return (root, resolution, sequence) from a DAVIS root or a JPEGImages/<res>/<seq> path."""
    common.require_dir(path, _EXPECTED)
    if (path / 'JPEGImages').is_dir():
        available = sorted(p.name for p in (path / 'JPEGImages' / resolution).glob('*')
                           if p.is_dir())
        if sequence is None:
            raise DataError(f'{path}: a DAVIS root needs sequence=<name> (--sequence); '
                            f'sequences in JPEGImages/{resolution}: {_preview(available)}')
        if sequence not in available:
            raise DataError(f'{path / "JPEGImages" / resolution}: no sequence {sequence!r}; '
                            f'available: {_preview(available)}')
        return path, resolution, sequence
    resolved = path.resolve()  # so that '.' or 'bear' given from inside JPEGImages/480p work
    if resolved.parent.parent.name == 'JPEGImages':
        if sequence is not None and sequence != resolved.name:
            raise DataError(f'{path}: is sequence {resolved.name!r}, but sequence={sequence!r} '
                            'was asked for')
        return resolved.parents[2], resolved.parent.name, resolved.name
    raise DataError(f'{path}: neither a DAVIS root (no JPEGImages/ folder) nor a '
                    f'JPEGImages/<res>/<seq> folder; expected {_EXPECTED}')


def _preview(names: list[str], limit: int = 20) -> str:
    if not names:
        return '(none)'
    more = f', ... ({len(names)} in all)' if len(names) > limit else ''
    return ', '.join(names[:limit]) + more


def _object_ids(labels: np.ndarray) -> list[int]:
    """Return the sorted object ids of an H x W uint8 label image (0 and void excluded)."""
    return [int(v) for v in np.unique(labels) if v not in (0, VOID)]


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """
    Return the tight (x, y, w, h) box in pixels of an H x W bool mask, (0, 0, 0, 0) if empty.

    Pixel (r, c) covers [c, c + 1) x [r, r + 1), so a one-pixel mask has w = h = 1.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
            float(rows[-1] - rows[0] + 1))


def _frames(images: list[pathlib.Path], annotations: list[pathlib.Path], first_ids: list[int],
            size: tuple[int, int], period: int) -> Iterator[Frame]:
    every_frame = len(annotations) == len(images)
    for k, image_path in enumerate(images):
        objects = []
        if every_frame or k == 0:
            labels = common.load_labels(annotations[k], size, 'the JPEG frame size')
            for target_id in sorted(set(first_ids) | set(_object_ids(labels))):
                mask = labels == target_id
                box = mask_box(mask)
                objects.append(ObjectTruth(target_id, LABEL, box,
                                           visibility=1.0 if box[2] > 0 else 0.0, mask=mask))
        yield Frame(index=k, stamp_ns=common.stamp_ns(k, period),
                    rgb=common.load_rgb(image_path, size), objects=objects)
