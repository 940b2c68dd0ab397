"""
Prompts that start or correct a target: a box, foreground/background points, or a mask.

Coordinates are pixels of the stream's input images (x right, y down, origin at the top-left
corner of the top-left pixel), the same frame the results use. `validate` checks a prompt
against an image size and raises ValueError saying what was wrong and what was expected;
nothing is changed when it raises.
"""

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Prompt:
    """
    A target prompt; a box and points may be combined, a mask stands alone.

    Attributes:
        box: (x1, y1, x2, y2) float pixels; parts outside the image are clipped, a box with no
            area inside the image is an error.
        points: (P, 2) float (x, y) pixels, inside the image.
        point_labels: (P,) 1 = foreground, 0 = background; required with points.
        mask: H x W bool (or 0/1 integer) mask of the target, the image's size, not empty.

    """

    box: Optional[tuple[float, float, float, float]] = None
    points: Optional[np.ndarray] = None
    point_labels: Optional[np.ndarray] = None
    mask: Optional[np.ndarray] = None

    @staticmethod
    def from_box(box: Sequence[float]) -> 'Prompt':
        """Return a box prompt (x1, y1, x2, y2 pixels)."""
        return Prompt(box=tuple(float(v) for v in box))

    @staticmethod
    def from_points(points: Sequence[Sequence[float]], labels: Sequence[int]) -> 'Prompt':
        """Return a point prompt ((x, y) pixels; labels 1 foreground, 0 background)."""
        return Prompt(points=np.asarray(points, np.float64),
                      point_labels=np.asarray(labels, np.int64))

    @property
    def kind(self) -> str:
        """Describe the prompt: 'box', 'points', 'box+points' or 'mask'."""
        if self.mask is not None:
            return 'mask'
        parts = [name for name, v in (('box', self.box), ('points', self.points)) if v is not None]
        return '+'.join(parts) or 'empty'

    def validate(self, width: int, height: int) -> 'Prompt':
        """
        Check the prompt against a width x height image and return it with the box clipped.

        Raises:
            ValueError: naming the problem and what was expected.

        """
        if self.box is None and self.points is None and self.mask is None:
            raise ValueError('empty prompt: give a box, points with labels, or a mask')
        if self.mask is not None:
            if self.box is not None or self.points is not None:
                raise ValueError('a mask prompt cannot be combined with a box or points '
                                 '(SAM 2.1 takes either a mask or sparse prompts on a frame)')
            return Prompt(mask=_check_mask(self.mask, width, height))
        box = None if self.box is None else _check_box(self.box, width, height)
        points, labels = None, None
        if self.points is not None or self.point_labels is not None:
            points, labels = _check_points(self.points, self.point_labels, width, height)
        return Prompt(box=box, points=points, point_labels=labels)


def _check_box(box: Sequence[float], width: int, height: int) -> tuple[float, ...]:
    values = np.asarray(box, np.float64)
    if values.shape != (4,) or not np.all(np.isfinite(values)):
        raise ValueError(f'box must be 4 finite numbers (x1, y1, x2, y2) in pixels, got {box}')
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f'box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has zero or negative area; '
                         'expected x2 > x1 and y2 > y1')
    clipped = (min(max(x1, 0.0), width), min(max(y1, 0.0), height),
               min(max(x2, 0.0), width), min(max(y2, 0.0), height))
    if clipped[2] - clipped[0] <= 0 or clipped[3] - clipped[1] <= 0:
        raise ValueError(f'box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the '
                         f'{width} x {height} image; expected a box overlapping '
                         f'[0, {width}] x [0, {height}]')
    return tuple(float(v) for v in clipped)


def _check_points(points: Optional[np.ndarray], labels: Optional[np.ndarray], width: int,
                  height: int) -> tuple[np.ndarray, np.ndarray]:
    if points is None or labels is None:
        raise ValueError('points and point_labels must be given together')
    points = np.asarray(points, np.float64)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f'points must be a (P, 2) array of (x, y) pixels with P >= 1, got '
                         f'shape {points.shape}')
    if labels.shape != (len(points),):
        raise ValueError(f'point_labels must have one label per point ({len(points)}), got '
                         f'shape {labels.shape}')
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f'point labels must be 1 (foreground) or 0 (background), got '
                         f'{sorted(set(labels.tolist()))}')
    inside = (np.isfinite(points).all(axis=1) & (points[:, 0] >= 0) & (points[:, 0] <= width)
              & (points[:, 1] >= 0) & (points[:, 1] <= height))
    if not inside.all():
        bad = points[~inside][0]
        raise ValueError(f'point ({bad[0]:g}, {bad[1]:g}) is outside the {width} x {height} '
                         'image')
    return points, labels.astype(np.int64)


def _check_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != (height, width):
        raise ValueError(f'mask must be {height} x {width} (the image size), got shape '
                         f'{mask.shape}')
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.integer):
            raise ValueError(f'mask must be bool or integer 0/1, got dtype {mask.dtype}')
        mask = mask != 0
    if not mask.any():
        raise ValueError('mask is empty: expected at least one pixel of the target')
    return mask
