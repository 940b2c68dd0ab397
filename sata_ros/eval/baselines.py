"""
Non-learned baseline trackers for the synthetic benchmark: the bar a trained model must clear.

- `StaticBoxTracker`: holds the first box forever; the lower bound of single-object tracking.
- `HistogramTracker`: single-object tracking by colour-histogram back-projection and mean-shift,
  with CamShift-like scale adaptation and a constant-velocity prediction of the search centre.
- `BackgroundMotTracker`: multi-object tracking for a static camera: a median background model,
  foreground by colour distance, connected components, and Hungarian IoU association between
  constant-velocity track predictions and the components.

They read rgb8 images (H x W x 3 uint8, RGB order) and return boxes as (x1, y1, x2, y2) float
pixels in the convention of sata_ros.data.sequence: x right, y down, origin at the top-left
corner of the top-left pixel, so pixel (row r, column c) covers [c, c + 1) x [r, r + 1).
Only numpy and scipy; no learned weights.
"""

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

Box = tuple[float, float, float, float]  # (x1, y1, x2, y2) float pixels


@dataclass
class BaselineOutput:
    """
    A single-object baseline's estimate for one frame.

    Attributes:
        box: (x1, y1, x2, y2) float pixels, clipped to the image.
        mask: H x W bool: the back-projection thresholded inside `box`, or the filled box when
            that is empty.
        score: confidence in [0, 1].
        visible: whether the tracker believes the target is in view in this frame.

    """

    box: Box
    mask: np.ndarray
    score: float
    visible: bool


def _check_rgb(rgb: np.ndarray, size: Optional[tuple[int, int]] = None) -> None:
    """Raise ValueError unless rgb is an H x W x 3 uint8 array of (H, W) `size` when given."""
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f'rgb must be a numpy array (H x W x 3 uint8), got {type(rgb).__name__}')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f'rgb must be H x W x 3 (RGB order), got shape {rgb.shape}')
    if rgb.dtype != np.uint8:
        raise ValueError(f'rgb must be uint8 (rgb8), got dtype {rgb.dtype}')
    if size is not None and rgb.shape[:2] != size:
        raise ValueError(f'rgb must be {size[0]} x {size[1]} (H x W) like the first image, '
                         f'got {rgb.shape[0]} x {rgb.shape[1]}')


def _check_box(box: Sequence[float], width: int, height: int) -> Box:
    """Return box as 4 floats; raise ValueError unless it is non-empty and inside the image."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f'box must be 4 numbers (x1, y1, x2, y2) in pixels, got {box!r}')
    if len(values) != 4 or not all(np.isfinite(values)):
        raise ValueError(f'box must be 4 finite numbers (x1, y1, x2, y2) in pixels, got {box!r}')
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f'box {values} is empty: expected x2 > x1 and y2 > y1')
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise ValueError(f'box {values} lies outside the {width} x {height} image: expected '
                         f'0 <= x1 < x2 <= {width} and 0 <= y1 < y2 <= {height}')
    return values


def _pixel_range(lo: float, hi: float, size: int) -> tuple[int, int]:
    """Return the pixel index range [a, b) whose centres lie in [lo, hi), clipped to [0, size)."""
    a = min(max(int(np.floor(lo + 0.5)), 0), size)
    b = min(max(int(np.floor(hi + 0.5)), 0), size)
    return a, b


def _window(centre: np.ndarray, size: np.ndarray, width: int,
            height: int) -> tuple[int, int, int, int]:
    """Return the pixel window (c0, r0, c1, r1), clipped, of the box of `size` at `centre`."""
    c0, c1 = _pixel_range(centre[0] - size[0] / 2, centre[0] + size[0] / 2, width)
    r0, r1 = _pixel_range(centre[1] - size[1] / 2, centre[1] + size[1] / 2, height)
    return c0, r0, c1, r1


def _weighted_moments(weights: np.ndarray, c0: int,
                      r0: int) -> tuple[float, np.ndarray, np.ndarray]:
    """
    Return (mass, mean (x, y), variance (x, y)) of a weight window at pixel offset (c0, r0).

    Pixel centres are at index + 0.5. Mean and variance are NaN when the mass is zero.
    """
    mass = float(weights.sum())
    if mass <= 0:
        return 0.0, np.full(2, np.nan), np.full(2, np.nan)
    xs = c0 + 0.5 + np.arange(weights.shape[1])
    ys = r0 + 0.5 + np.arange(weights.shape[0])
    px, py = weights.sum(0) / mass, weights.sum(1) / mass
    mean = np.array([px @ xs, py @ ys])
    var = np.array([px @ (xs - mean[0]) ** 2, py @ (ys - mean[1]) ** 2])
    return mass, mean, var


class StaticBoxTracker:
    """
    The lower bound of single-object tracking: report the first box in every frame.

    Same API as HistogramTracker: `init(rgb, box)` then `update(rgb)` per frame.
    """

    def __init__(self) -> None:
        """Create an uninitialised tracker; call `init` first."""
        self._box: Optional[Box] = None
        self._size: Optional[tuple[int, int]] = None

    def init(self, rgb: np.ndarray, box_xyxy: Sequence[float]) -> None:
        """
        Remember the target box.

        Args:
            rgb: H x W x 3 uint8 first image.
            box_xyxy: (x1, y1, x2, y2) float pixels, non-empty and inside the image.

        Raises:
            ValueError: bad image or box.

        """
        _check_rgb(rgb)
        self._box = _check_box(box_xyxy, rgb.shape[1], rgb.shape[0])
        self._size = rgb.shape[:2]

    def update(self, rgb: np.ndarray) -> BaselineOutput:
        """
        Return the first box, its filled mask, score 1 and visible, whatever the image shows.

        Raises:
            ValueError: called before `init`, or rgb is not H x W x 3 uint8 of the first size.

        """
        if self._box is None or self._size is None:
            raise ValueError('update() called before init(): call init(rgb, box_xyxy) first')
        _check_rgb(rgb, self._size)
        mask = np.zeros(self._size, bool)
        c0, c1 = _pixel_range(self._box[0], self._box[2], self._size[1])
        r0, r1 = _pixel_range(self._box[1], self._box[3], self._size[0])
        mask[r0:r1, c0:c1] = True
        return BaselineOutput(self._box, mask, 1.0, True)


class HistogramTracker:
    """
    Colour-histogram back-projection with mean-shift (CamShift-like) for one target.

    Model: a ratio histogram over RGB quantised to `bins` levels per channel. With p the colour
    histogram inside the init box and b the one of the surrounding ring (both normalised, b
    spread over neighbouring cells by a maximum filter of `bg_spread` cells so that the slowly
    varying colours of a textured background are all covered), cell u holds p_u / (p_u + b_u):
    the probability that a pixel of that colour is the target when target and background are
    equally likely. Background colours that also fill the init box count little; colours absent
    from the init box count zero.

    Per frame: predict the centre with a constant-velocity model; from there, run mean-shift
    on the back-projection with a flat window of the current box size; re-estimate the box
    width and height (CamShift-like) from the spread of the pixels whose back-projection
    reaches `mask_threshold` in a window enlarged by `search_margin`, calibrated on the init
    frame so that the init box is a fixed point, and blend the estimate in at `scale_rate`.
    The score is the fraction of the new box's pixels whose back-projection reaches
    `mask_threshold`, relative to that fraction in the init box, clipped to [0, 1]; below
    `min_score` the target is reported not visible and the box coasts on the (decaying)
    velocity instead, keeping its size.
    """

    def __init__(self, bins: int = 16, ring: Optional[float] = 2.0, search_margin: float = 0.5,
                 max_iter: int = 10, scale_rate: float = 0.3, velocity_rate: float = 0.5,
                 mask_threshold: float = 0.5, min_score: float = 0.25,
                 min_size: float = 4.0, bg_spread: int = 3) -> None:
        """
        Set the parameters.

        Args:
            bins: quantisation levels per RGB channel (histogram of bins**3 cells), 2..256.
            ring: width of the background ring around the init box, as a fraction of the box
                width (height) on each side (2.0: the box enlarged five times, clipped to the
                image); None = the whole image outside the box.
            search_margin: margin of the scale-estimation window on each side, as a fraction
                of the box width (height).
            max_iter: mean-shift iterations per frame (it stops earlier below 0.5 px shift).
            scale_rate: weight in [0, 1] of a frame's size estimate in the box size (0 keeps
                the init size).
            velocity_rate: weight in [0, 1] of a frame's displacement (pixels per frame) in
                the velocity estimate.
            mask_threshold: back-projection value in [0, 1] above which a pixel is in the mask.
            min_score: score in [0, 1] below which the target is reported not visible.
            min_size: smallest box width and height, pixels.
            bg_spread: side of the maximum filter over histogram cells applied to the
                background histogram, cells; 1 = none.

        Raises:
            ValueError: a parameter outside its range.

        """
        checks = [
            (2 <= bins <= 256, f'bins must be 2..256, got {bins}'),
            (ring is None or ring > 0, f'ring must be > 0 or None, got {ring}'),
            (search_margin >= 0, f'search_margin must be >= 0, got {search_margin}'),
            (max_iter >= 1, f'max_iter must be >= 1, got {max_iter}'),
            (0 <= scale_rate <= 1, f'scale_rate must be in [0, 1], got {scale_rate}'),
            (0 <= velocity_rate <= 1, f'velocity_rate must be in [0, 1], got {velocity_rate}'),
            (0 <= mask_threshold <= 1, f'mask_threshold must be in [0, 1], got {mask_threshold}'),
            (0 <= min_score <= 1, f'min_score must be in [0, 1], got {min_score}'),
            (min_size >= 1, f'min_size must be >= 1 pixel, got {min_size}'),
            (bg_spread >= 1, f'bg_spread must be >= 1 cell, got {bg_spread}'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.bins = int(bins)
        self.ring = None if ring is None else float(ring)
        self.bg_spread = int(bg_spread)
        self.search_margin = float(search_margin)
        self.max_iter = int(max_iter)
        self.scale_rate = float(scale_rate)
        self.velocity_rate = float(velocity_rate)
        self.mask_threshold = float(mask_threshold)
        self.min_score = float(min_score)
        self.min_size = float(min_size)
        self._ratio: Optional[np.ndarray] = None  # bins**3 float64 in [0, 1]
        self._image_size = (0, 0)  # (H, W)
        self._centre = np.zeros(2)  # (x, y) pixels
        self._box_size = np.zeros(2)  # (w, h) pixels
        self._velocity = np.zeros(2)  # pixels per frame
        self._init_density = 1.0  # fraction of mask pixels in the init box
        self._init_std = np.ones(2)  # back-projection std (x, y) in the init search window
        self._init_box_size = np.ones(2)

    def _quantise(self, rgb: np.ndarray) -> np.ndarray:
        """Return the histogram cell of every pixel (H x W intp)."""
        q = rgb.astype(np.intp) * self.bins // 256
        return (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]

    def _backproject(self, cells: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
        """Return the ratio-histogram value of every pixel in window (c0, r0, c1, r1)."""
        c0, r0, c1, r1 = window
        return self._ratio[cells[r0:r1, c0:c1]]

    def _density(self, cells: np.ndarray, window: tuple[int, int, int, int]) -> float:
        """Return the fraction of the window's pixels whose back-projection is in the mask."""
        return float((self._backproject(cells, window) >= self.mask_threshold).mean())

    def init(self, rgb: np.ndarray, box_xyxy: Sequence[float]) -> None:
        """
        Build the target's colour model from the init box and its surrounding ring.

        Args:
            rgb: H x W x 3 uint8 first image (RGB order).
            box_xyxy: (x1, y1, x2, y2) float pixels of the target, non-empty and inside the
                image.

        Raises:
            ValueError: bad image or box.

        """
        _check_rgb(rgb)
        height, width = rgb.shape[:2]
        x1, y1, x2, y2 = _check_box(box_xyxy, width, height)
        centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        size = np.array([x2 - x1, y2 - y1])
        cells = self._quantise(rgb)
        c0, r0, c1, r1 = _window(centre, size, width, height)
        if c1 <= c0 or r1 <= r0:  # a sub-pixel box: take the pixel under its centre
            c0, r0 = min(int(centre[0]), width - 1), min(int(centre[1]), height - 1)
            c1, r1 = c0 + 1, r0 + 1
        inside = np.zeros((height, width), bool)
        inside[r0:r1, c0:c1] = True
        outer = np.zeros((height, width), bool)
        if self.ring is None:
            outer[:] = True
        else:
            oc0, or0, oc1, or1 = _window(centre, size * (1 + 2 * self.ring), width, height)
            outer[or0:or1, oc0:oc1] = True
        outer &= ~inside
        n_cells = self.bins ** 3
        fg = np.bincount(cells[inside], minlength=n_cells) / inside.sum()
        if outer.any():
            bg = np.bincount(cells[outer], minlength=n_cells) / outer.sum()
        else:  # the box fills the image: nothing to contrast with
            bg = np.zeros(n_cells)
        if self.bg_spread > 1:
            cube = bg.reshape((self.bins,) * 3)
            bg = ndimage.maximum_filter(cube, self.bg_spread, mode='constant').ravel()
        with np.errstate(invalid='ignore', divide='ignore'):
            self._ratio = np.where(fg > 0, fg / (fg + bg), 0.0)
        self._image_size = (height, width)
        self._centre, self._box_size = centre, np.maximum(size, self.min_size)
        self._velocity = np.zeros(2)
        self._init_density = max(self._density(cells, (c0, r0, c1, r1)), 1e-6)
        self._init_box_size = self._box_size.copy()
        self._init_std = self._search_std(cells, centre, self._box_size)
        if not np.all(np.isfinite(self._init_std)) or np.any(self._init_std <= 0):
            self._init_std = np.full(2, np.nan)  # no usable spread: keep the size fixed

    def _search_std(self, cells: np.ndarray, centre: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Return the std (x, y) of the mask pixels in the box enlarged by search_margin."""
        height, width = self._image_size
        window = _window(centre, size * (1 + 2 * self.search_margin), width, height)
        if window[2] <= window[0] or window[3] <= window[1]:
            return np.full(2, np.nan)
        inside = self._backproject(cells, window) >= self.mask_threshold
        _, _, var = _weighted_moments(inside.astype(np.float64), window[0], window[1])
        return np.sqrt(var)

    def update(self, rgb: np.ndarray) -> BaselineOutput:
        """
        Track the target into a new image.

        Args:
            rgb: H x W x 3 uint8 image of the init image's size.

        Returns:
            The box (clipped to the image), mask, score in [0, 1] and visibility.

        Raises:
            ValueError: called before `init`, or rgb is not H x W x 3 uint8 of the init size.

        """
        if self._ratio is None:
            raise ValueError('update() called before init(): call init(rgb, box_xyxy) first')
        _check_rgb(rgb, self._image_size)
        height, width = self._image_size
        cells = self._quantise(rgb)
        predicted = self._centre + self._velocity
        centre, size = predicted.copy(), self._box_size.copy()
        for _ in range(self.max_iter):
            window = _window(centre, size, width, height)
            if window[2] <= window[0] or window[3] <= window[1]:
                break  # the window left the image
            mass, mean, _ = _weighted_moments(self._backproject(cells, window), *window[:2])
            if mass <= 0:
                break
            shift = mean - centre
            centre = mean
            if np.hypot(*shift) < 0.5:
                break
        if np.all(np.isfinite(self._init_std)) and self.scale_rate > 0:
            std = self._search_std(cells, centre, size)
            if np.all(np.isfinite(std)) and np.all(std > 0):
                estimate = self._init_box_size * std / self._init_std
                # At most 25 % per frame either way: a CamShift window cannot jump in scale.
                estimate = np.clip(estimate, size / 1.25, size * 1.25)
                size = (1 - self.scale_rate) * size + self.scale_rate * estimate
                size = np.clip(size, self.min_size, [2.0 * width, 2.0 * height])
        window = _window(centre, size, width, height)
        if window[2] > window[0] and window[3] > window[1]:
            density = self._density(cells, window)
        else:
            density = 0.0
        score = float(np.clip(density / self._init_density, 0.0, 1.0))
        visible = score >= self.min_score
        if visible:
            step = centre - self._centre
            self._velocity = ((1 - self.velocity_rate) * self._velocity
                              + self.velocity_rate * step)
            self._centre, self._box_size = centre, size
        else:  # lost: coast on the prediction, slowing down, and keep the size
            self._centre = predicted
            self._velocity = 0.5 * self._velocity
        # Keep the centre in the image so that the target can be found again.
        self._centre = np.clip(self._centre, 0.0, [float(width), float(height)])
        return self._output(cells, score, visible)

    def _output(self, cells: np.ndarray, score: float, visible: bool) -> BaselineOutput:
        """Return the current box (clipped), its mask, the score and visibility."""
        height, width = self._image_size
        half = self._box_size / 2
        x1, x2 = np.clip([self._centre[0] - half[0], self._centre[0] + half[0]], 0, width)
        y1, y2 = np.clip([self._centre[1] - half[1], self._centre[1] + half[1]], 0, height)
        mask = np.zeros((height, width), bool)
        c0, c1 = _pixel_range(x1, x2, width)
        r0, r1 = _pixel_range(y1, y2, height)
        if c1 > c0 and r1 > r0:
            inside = self._backproject(cells, (c0, r0, c1, r1)) >= self.mask_threshold
            mask[r0:r1, c0:c1] = inside if inside.any() else True
        visible = visible and x2 > x1 and y2 > y1
        return BaselineOutput((float(x1), float(y1), float(x2), float(y2)), mask, score,
                              bool(visible))


@dataclass
class _Track:
    """One track of BackgroundMotTracker."""

    track_id: int
    box: np.ndarray  # (x1, y1, x2, y2) float pixels
    velocity: np.ndarray  # (4,) pixels per frame, per box coordinate
    misses: int = 0  # consecutive frames without a matched component


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """
    Return the IoU matrix of boxes a (N x 4) and b (M x 4), (x1, y1, x2, y2) pixels.

    Returns:
        N x M float64 in [0, 1]; 0 where the union is empty.

    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2])
                 - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3])
                 - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, inter / union, 0.0)


class BackgroundMotTracker:
    """
    Multi-object tracking for a static camera by background subtraction.

    Background: the per-pixel median of the first `warmup` frames (nothing is reported before
    the last of them), then updated every frame: pixels that are not foreground move towards
    the frame at rate `alpha`; foreground pixels that have not changed between consecutive
    frames for `absorb_after` frames are copied into it (a ghost left where an object stood
    during the warmup, or an object that stopped, is absorbed). Foreground: the Euclidean RGB
    distance (8-bit levels) between the frame and the background, after dividing out a global
    illumination gain (the median luminance ratio), above `threshold`; cleaned by a binary
    opening and closing and hole filling. Detections: connected components of at least
    `min_area` pixels. Association: each track's box is predicted with a constant velocity per
    box coordinate; predictions and detections are matched by the Hungarian algorithm on
    1 - IoU, and pairs under `iou_gate` are rejected; an unmatched detection starts a new track
    (ids positive, increasing, never reused); a track unmatched for more than `max_misses`
    consecutive frames is dropped.

    Limits, as for any such baseline: an object that barely moves is part of the background
    (the warmup median or the absorption takes it in), touching or overlapping objects merge
    into one component, and object pixels that match the background colour are missed.
    """

    def __init__(self, warmup: int = 10, threshold: float = 30.0, alpha: float = 0.05,
                 min_area: int = 40, open_size: int = 3, close_size: int = 5,
                 iou_gate: float = 0.3, max_misses: int = 5, velocity_rate: float = 0.5,
                 compensate_gain: bool = True, absorb_after: int = 5,
                 still_threshold: float = 10.0) -> None:
        """
        Set the parameters.

        Args:
            warmup: frames whose per-pixel median is the initial background, >= 1.
            threshold: colour distance (Euclidean, 8-bit RGB levels) above which a pixel is
                foreground.
            alpha: background update rate per frame in [0, 1], on non-foreground pixels.
            min_area: smallest component kept as a detection, pixels.
            open_size: side of the square structuring element of the opening, pixels (removes
                specks); 1 = no opening.
            close_size: side of the square structuring element of the closing, pixels (joins
                fragments of one object); 1 = no closing.
            iou_gate: smallest IoU in (0, 1] between a track's predicted box and a detection
                for them to match.
            max_misses: consecutive unmatched frames a track survives, >= 0.
            velocity_rate: weight in [0, 1] of a frame's box displacement (pixels per frame)
                in the velocity estimate.
            compensate_gain: divide out a global brightness change before comparing colours.
            absorb_after: consecutive unchanged foreground frames after which a pixel joins
                the background; 0 = never.
            still_threshold: colour distance (8-bit RGB levels) between consecutive frames
                under which a pixel counts as unchanged.

        Raises:
            ValueError: a parameter outside its range.

        """
        checks = [
            (warmup >= 1, f'warmup must be >= 1 frame, got {warmup}'),
            (threshold > 0, f'threshold must be > 0 (8-bit RGB levels), got {threshold}'),
            (0 <= alpha <= 1, f'alpha must be in [0, 1], got {alpha}'),
            (min_area >= 1, f'min_area must be >= 1 pixel, got {min_area}'),
            (open_size >= 1 and close_size >= 1,
             f'open_size and close_size must be >= 1, got {open_size}, {close_size}'),
            (0 < iou_gate <= 1, f'iou_gate must be in (0, 1], got {iou_gate}'),
            (max_misses >= 0, f'max_misses must be >= 0, got {max_misses}'),
            (0 <= velocity_rate <= 1, f'velocity_rate must be in [0, 1], got {velocity_rate}'),
            (absorb_after >= 0, f'absorb_after must be >= 0 frames, got {absorb_after}'),
            (still_threshold > 0, f'still_threshold must be > 0, got {still_threshold}'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.warmup = int(warmup)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.min_area = int(min_area)
        self.open_size = int(open_size)
        self.close_size = int(close_size)
        self.iou_gate = float(iou_gate)
        self.max_misses = int(max_misses)
        self.velocity_rate = float(velocity_rate)
        self.compensate_gain = bool(compensate_gain)
        self.absorb_after = int(absorb_after)
        self.still_threshold = float(still_threshold)
        self._size: Optional[tuple[int, int]] = None  # (H, W) of the first frame
        self._buffer: list[np.ndarray] = []  # warmup frames, H x W x 3 float32
        self._background: Optional[np.ndarray] = None  # H x W x 3 float32, 8-bit levels
        self._previous: Optional[np.ndarray] = None  # last frame, H x W x 3 float32
        self._unchanged: Optional[np.ndarray] = None  # H x W int32 frame counts
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def background(self) -> Optional[np.ndarray]:
        """Return the background model, H x W x 3 float32 in 8-bit levels (None in the warmup)."""
        return self._background

    def foreground(self, rgb: np.ndarray) -> np.ndarray:
        """
        Return the cleaned foreground mask (H x W bool) of rgb against the current background.

        The tracker's state does not change.

        Raises:
            ValueError: the warmup is not over, or rgb is not H x W x 3 uint8 of the first
                frame's size.

        """
        if self._background is None:
            raise ValueError('foreground() needs a background: feed the warmup frames first')
        _check_rgb(rgb, self._size)
        return self._foreground(rgb.astype(np.float32))

    def _gain(self, img: np.ndarray, reference: np.ndarray) -> float:
        """Return the global brightness gain from reference to img (1 without compensation)."""
        if not self.compensate_gain:
            return 1.0
        luma = np.array([0.299, 0.587, 0.114], np.float32)
        return float(np.median((img @ luma + 1.0) / (reference @ luma + 1.0)))

    def _foreground(self, img: np.ndarray) -> np.ndarray:
        """Return the cleaned foreground of img (H x W x 3 float32), H x W bool."""
        bg = self._background * self._gain(img, self._background)
        fg = np.sqrt(((img - bg) ** 2).sum(axis=2)) > self.threshold
        if self.open_size > 1:
            fg = ndimage.binary_opening(fg, np.ones((self.open_size,) * 2, bool))
        if self.close_size > 1:
            # Pad so that the closing does not erode objects that touch the image border.
            pad = self.close_size
            padded = ndimage.binary_closing(np.pad(fg, pad, mode='edge'),
                                            np.ones((self.close_size,) * 2, bool))
            fg = padded[pad:-pad, pad:-pad]
        return ndimage.binary_fill_holes(fg)

    def _update_background(self, img: np.ndarray, fg: np.ndarray) -> None:
        """Blend img into the background off the foreground; absorb unchanged foreground."""
        bg = self._background
        off = ~fg
        bg[off] += self.alpha * (img[off] - bg[off])
        if self.absorb_after > 0:
            if self._previous is None or self._unchanged is None:
                self._unchanged = np.zeros(fg.shape, np.int32)
            else:
                before = self._previous * self._gain(img, self._previous)
                still = np.sqrt(((img - before) ** 2).sum(axis=2)) < self.still_threshold
                self._unchanged = np.where(fg & still, self._unchanged + 1, 0)
                absorbed = self._unchanged >= self.absorb_after
                bg[absorbed] = img[absorbed]
                self._unchanged[absorbed] = 0
            self._previous = img

    def update(self, rgb: np.ndarray) -> list[tuple[int, Box, np.ndarray]]:
        """
        Process one frame.

        Args:
            rgb: H x W x 3 uint8 image (RGB order); every frame must have the first one's size.

        Returns:
            (track id, (x1, y1, x2, y2) float pixels, H x W bool component mask) of every track
            detected in this frame, by increasing id; empty for the first warmup - 1 frames.

        Raises:
            ValueError: rgb is not H x W x 3 uint8 of the first frame's size.

        """
        _check_rgb(rgb, self._size)
        self._size = rgb.shape[:2]
        img = rgb.astype(np.float32)
        if self._background is None:
            self._buffer.append(img)
            if len(self._buffer) < self.warmup:
                return []
            self._background = np.median(np.stack(self._buffer), axis=0).astype(np.float32)
            self._buffer = []
        fg = self._foreground(img)
        self._update_background(img, fg)
        labels, count = ndimage.label(fg)
        areas = np.bincount(labels.ravel(), minlength=count + 1)
        boxes, components = [], []
        for index, slices in enumerate(ndimage.find_objects(labels), start=1):
            if slices is None or areas[index] < self.min_area:
                continue
            rows, cols = slices
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            components.append(index)
        return self._associate(np.asarray(boxes, np.float64).reshape(-1, 4), components,
                               labels)

    def _associate(self, boxes: np.ndarray, components: list[int],
                   labels: np.ndarray) -> list[tuple[int, Box, np.ndarray]]:
        """Match detections (N x 4 boxes, their labels) to tracks; update tracks and report."""
        predicted = np.array([t.box + t.velocity for t in self._tracks]).reshape(-1, 4)
        iou = _box_iou(predicted, boxes)
        match = {}  # detection index -> track index
        if iou.size:
            rows, cols = linear_sum_assignment(1.0 - iou)
            match = {int(c): int(r) for r, c in zip(rows, cols) if iou[r, c] >= self.iou_gate}
        matched = set(match.values())
        survivors = []
        for index, track in enumerate(self._tracks):
            if index not in matched:
                track.box = predicted[index]
                track.misses += 1
            if track.misses <= self.max_misses:
                survivors.append(track)
        out = []
        for d, box in enumerate(boxes):
            if d in match:
                track = self._tracks[match[d]]
                track.velocity = ((1 - self.velocity_rate) * track.velocity
                                  + self.velocity_rate * (box - track.box))
                track.box, track.misses = box.copy(), 0
            else:
                track = _Track(self._next_id, box.copy(), np.zeros(4))
                self._next_id += 1
                survivors.append(track)
            out.append((track.track_id, tuple(float(v) for v in box), labels == components[d]))
        self._tracks = survivors
        return sorted(out, key=lambda item: item[0])
