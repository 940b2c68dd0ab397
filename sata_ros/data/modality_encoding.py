"""
Modality encodings: raw RGB, depth, thermal and event data as SAM 2.1 Hiera trunk inputs.

Every encoder returns an `Encoded(image, valid)` pair:

- `image`: (3, H, W) float32, C-contiguous. Each encoder first renders its modality as a
  3-channel picture with values in [0, 1] (the "unit image", the range of an RGB photo divided
  by 255) and then applies the ImageNet normalisation SAM 2.1 was trained with,
  `(v - IMAGENET_MEAN[c]) / IMAGENET_STD[c]` per channel c. Whatever the modality, the trunk
  therefore sees exactly what SAM 2's own transform makes of a photo: a unit value v lies in
  [-2.118, 2.249] (channel 0), [-2.036, 2.429] (channel 1) and [-1.804, 2.640] (channel 2), about
  zero-mean and unit-scale over natural images. Grey modalities (depth, thermal) are replicated to
  three channels, so they look to the pretrained trunk like a grey photo.
- `valid`: (H, W) bool, True where the input measured something. Pixels without data (depth
  with no return, dead thermal pixels) are filled with `FILL_VALUE` (0.0) in every channel after
  normalisation, i.e. the ImageNet mean colour, which carries the least information for a trunk
  trained on normalised photos; the mask lets later stages ignore them.

The mappings are fixed (parameters with documented defaults, never per-frame statistics such as
the min-max normalisation of the ViPT-family loaders) so that a value means the same distance,
temperature or event rate in every frame, sequence and camera: a per-frame min-max would make
one object's appearance change as other objects enter the view.

All functions are pure numpy (no torch, no OpenCV) so that data loaders, the node and tests share
them. See docs/metrics-and-datasets.md section 4 and docs/ros-conventions.md section 4 for the
input conventions (REP 117/118 depth, radiometric thermal counts, event arrays).
"""

from typing import Callable, NamedTuple, Optional

import numpy as np

from sata_ros.data.sequence import EVENT_DTYPE

# SAM 2.1 (like most ImageNet-pretrained trunks) normalises RGB in [0, 1] with these.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
# Normalised value of pixels without data: the ImageNet mean colour (see the module docstring).
FILL_VALUE = 0.0

MODALITIES = ('rgb', 'depth', 'thermal', 'events', 'event_image')
DEPTH_ENCODINGS = ('16UC1', '32FC1')
DEPTH_MAPPINGS = ('inverse', 'log', 'linear')
EVENT_METHODS = ('hist_surface', 'voxel', 'visevent')

# VisEvent `event_imgs` colours in RGB order (the files hold BGR (30, 30, 220) for ON and
# (200, 30, 30) for OFF on a white background); `render_event_image` reproduces them so that
# live events and the dataset's pre-rendered frames give the trunk the same picture.
VISEVENT_ON_RGB = (220, 30, 30)
VISEVENT_OFF_RGB = (30, 30, 200)
VISEVENT_BACKGROUND = 255


class Encoded(NamedTuple):
    """
    One encoded modality.

    Attributes:
        image: (3, H, W) float32 ImageNet-normalised trunk input (see the module docstring).
        valid: (H, W) bool, True where the input had data.

    """

    image: np.ndarray
    valid: np.ndarray


class EventSelection(NamedTuple):
    """
    Events kept by `select_events` and how many were dropped, by reason.

    Attributes:
        events: EVENT_DTYPE array of the events inside the sensor and the time window, in input
            order.
        outside_sensor: number of events with x >= width or y >= height.
        outside_window: number of events inside the sensor but with t outside [t0_us, t1_us].

    """

    events: np.ndarray
    outside_sensor: int
    outside_window: int


# ---------------------------------------------------------------------------------------------
# Shared helpers


def normalize(unit: np.ndarray) -> np.ndarray:
    """
    Apply the ImageNet normalisation to a unit image.

    Args:
        unit: (3, H, W) float array, values in [0, 1] (RGB / 255 or a rendered modality).

    Returns:
        (3, H, W) float32, `(unit[c] - IMAGENET_MEAN[c]) / IMAGENET_STD[c]`.

    """
    if unit.ndim != 3 or unit.shape[0] != 3:
        raise ValueError(f'expected a (3, H, W) unit image, got shape {unit.shape}')
    out = (unit.astype(np.float32) - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    return np.ascontiguousarray(out, np.float32)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """
    Undo `normalize` for display (debug images, visual checks).

    Args:
        image: (3, H, W) normalised float array, as in `Encoded.image`.

    Returns:
        H x W x 3 uint8, the unit image times 255, rounded and clipped to [0, 255].

    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f'expected a (3, H, W) image, got shape {image.shape}')
    unit = image.astype(np.float32) * IMAGENET_STD[:, None, None] + IMAGENET_MEAN[:, None, None]
    return np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8).transpose(1, 2, 0).copy()


def _grey_encoded(unit: np.ndarray, valid: np.ndarray) -> Encoded:
    """Replicate an (H, W) unit image to 3 channels, normalise, fill invalid pixels."""
    image = normalize(np.broadcast_to(unit, (3,) + unit.shape))
    image[:, ~valid] = FILL_VALUE
    return Encoded(image, valid)


def _require_2d(data: np.ndarray, what: str) -> None:
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        shape = getattr(data, 'shape', None)
        raise ValueError(f'{what} must be an H x W numpy array, got shape {shape}')


# ---------------------------------------------------------------------------------------------
# RGB


def encode_rgb(rgb: np.ndarray) -> Encoded:
    """
    Encode an RGB image as the trunk expects it.

    Args:
        rgb: H x W x 3 uint8, RGB channel order.

    Returns:
        `Encoded`: image (3, H, W) float32 = (rgb / 255 - mean) / std per channel, in
        [-2.118, 2.640]; valid all True.

    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3:
        raise ValueError('rgb must be an H x W x 3 uint8 array, got '
                         f'{getattr(rgb, "dtype", type(rgb))} {getattr(rgb, "shape", None)}')
    unit = rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
    return Encoded(normalize(unit), np.ones(rgb.shape[:2], bool))


def encode_event_image(image: np.ndarray) -> Encoded:
    """
    Encode a pre-rendered event frame (VisEvent `event_imgs`, `Frame.event_image`).

    Args:
        image: H x W x 3 uint8 RGB, events painted on a white background.

    Returns:
        `Encoded`: image as `encode_rgb`; valid where the pixel is not pure white, i.e. where
        an event was painted (the same mask `encode_events(method='visevent')` gives).

    """
    encoded = encode_rgb(image)
    return Encoded(encoded.image, np.any(image != VISEVENT_BACKGROUND, axis=2))


# ---------------------------------------------------------------------------------------------
# Depth


def depth_to_metres(depth: np.ndarray, encoding: Optional[str] = None,
                    unit_m: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """
    Convert a ROS depth image to metres and its validity mask (REP 117 / REP 118).

    Args:
        depth: H x W depth image: uint16 counts of `unit_m` metres ('16UC1', 0 = no return) or
            float32 metres ('32FC1'; NaN = no return, +inf = beyond the maximum range, -inf =
            below the minimum range).
        encoding: '16UC1' or '32FC1'; None infers it from the dtype (uint16 or float32). An
            encoding that does not match the dtype is an error.
        unit_m: metres per count of a '16UC1' image (0.001: millimetres, the OpenNI / RealSense
            convention); ignored for '32FC1'.

    Returns:
        (metres, valid): H x W float32 metres, 0 where invalid; H x W bool. Invalid are 16UC1
        zeros and 32FC1 NaN, +-inf and values <= 0 (no physical return is at or behind the
        camera).

    """
    _require_2d(depth, 'depth')
    inferred = {np.dtype(np.uint16): '16UC1', np.dtype(np.float32): '32FC1'}.get(depth.dtype)
    if encoding is None:
        encoding = inferred
    if encoding not in DEPTH_ENCODINGS or inferred != encoding:
        raise ValueError(f'depth of dtype {depth.dtype} with encoding {encoding!r} is not '
                         f'supported; accepted: 16UC1 (uint16, {unit_m:g} m per count, '
                         '0 = invalid) or 32FC1 (float32 metres, NaN/inf = invalid)')
    if encoding == '16UC1':
        if not unit_m > 0:
            raise ValueError(f'unit_m must be > 0, got {unit_m}')
        valid = depth > 0
        metres = depth.astype(np.float32) * np.float32(unit_m)
    else:
        valid = np.isfinite(depth) & (depth > 0)
        metres = np.where(valid, depth, np.float32(0.0)).astype(np.float32)
    return metres, valid


def depth_to_unit(metres: np.ndarray, min_m: float = 0.3, max_m: float = 10.0,
                  mapping: str = 'inverse') -> np.ndarray:
    """
    Map depth in metres to [0, 1] with a fixed curve: near = 1 (bright), far = 0.

    Depth is clipped to [min_m, max_m] first, so valid returns closer than `min_m` give 1 and
    farther than `max_m` give 0. Mappings, with d the clipped depth:

    - 'inverse' (default): (1/d - 1/max_m) / (1/min_m - 1/max_m). Inverse depth is proportional
      to stereo / structured-light disparity, whose noise is roughly constant, and it spends the
      range on the near field where tracked objects usually are.
    - 'log': log(max_m / d) / log(max_m / min_m), equal resolution per depth ratio.
    - 'linear': (max_m - d) / (max_m - min_m).

    Args:
        metres: H x W float depth in metres (invalid pixels may hold anything finite).
        min_m: nearest depth of the window, metres (> 0; 0.3 m is about where RealSense and ZED
            cameras start returning).
        max_m: farthest depth of the window, metres (> min_m; 10 m is DepthTrack's clip).
        mapping: one of DEPTH_MAPPINGS.

    Returns:
        H x W float32 in [0, 1].

    """
    if not 0 < min_m < max_m:
        raise ValueError(f'need 0 < min_m < max_m, got min_m={min_m}, max_m={max_m}')
    d = np.clip(metres.astype(np.float64), min_m, max_m)
    if mapping == 'inverse':
        unit = (1.0 / d - 1.0 / max_m) / (1.0 / min_m - 1.0 / max_m)
    elif mapping == 'log':
        unit = np.log(max_m / d) / np.log(max_m / min_m)
    elif mapping == 'linear':
        unit = (max_m - d) / (max_m - min_m)
    else:
        raise ValueError(f'unknown depth mapping {mapping!r}; known: {", ".join(DEPTH_MAPPINGS)}')
    # Rounding can leave 1 + 1e-16 at d = min_m; the range promise is exact.
    return np.clip(unit, 0.0, 1.0).astype(np.float32)


def encode_depth(depth: np.ndarray, encoding: Optional[str] = None, min_m: float = 0.3,
                 max_m: float = 10.0, mapping: str = 'inverse', unit_m: float = 0.001) -> Encoded:
    """
    Encode a depth image: metres -> fixed [0, 1] mapping -> grey x 3 -> ImageNet normalisation.

    Args:
        depth: H x W uint16 ('16UC1') or float32 ('32FC1') depth; see `depth_to_metres`.
        encoding: '16UC1', '32FC1' or None (inferred from the dtype).
        min_m, max_m, mapping: the depth window and curve; see `depth_to_unit`.
        unit_m: metres per count of a '16UC1' image.

    Returns:
        `Encoded`: image (3, H, W) float32, the unit value of `depth_to_unit` replicated and
        normalised (near = high values, up to 2.249 / 2.429 / 2.640; far = -2.118 / -2.036 /
        -1.804), `FILL_VALUE` (0.0) at invalid pixels; valid from `depth_to_metres`.

    """
    metres, valid = depth_to_metres(depth, encoding, unit_m)
    return _grey_encoded(depth_to_unit(metres, min_m, max_m, mapping), valid)


# ---------------------------------------------------------------------------------------------
# Thermal


def encode_thermal(thermal: np.ndarray, scale: Optional[float] = None,
                   offset: Optional[float] = None, min_c: float = -20.0, max_c: float = 120.0,
                   invalid_counts: Optional[int] = 0) -> Encoded:
    """
    Encode a thermal image with a fixed temperature window.

    uint16 radiometric counts become Celsius, `celsius = counts * scale + offset` (default
    scale 0.01, offset -273.15: FLIR Lepton TLinear and `sata synth`, counts = kelvin x 100), and
    the window [min_c, max_c] maps linearly to [0, 1], clipped. The default window, -20 to 120 C,
    spans outdoor backgrounds, people (30 - 37 C) and warm machinery with a fixed contrast.
    uint8 images are taken as already AGC'd grey, unit = grey / 255; they carry no temperature,
    so passing `scale` or `offset` with them is an error rather than silently ignored.

    Args:
        thermal: H x W uint16 raw counts or H x W uint8 grey.
        scale: Celsius per count (uint16 only; None = 0.01).
        offset: Celsius at count 0 (uint16 only; None = -273.15).
        min_c: temperature mapped to 0, Celsius.
        max_c: temperature mapped to 1, Celsius (> min_c).
        invalid_counts: uint16 value marking pixels without data (0: a zero count would be
            absolute zero with the default scaling, so drivers use it for dead or unfilled
            pixels); None = every pixel valid.

    Returns:
        `Encoded`: image (3, H, W) float32, the unit value replicated and normalised (hot =
        high), `FILL_VALUE` (0.0) at invalid pixels; valid all True for uint8, and
        `counts != invalid_counts` for uint16.

    """
    _require_2d(thermal, 'thermal')
    if not min_c < max_c:
        raise ValueError(f'need min_c < max_c, got min_c={min_c}, max_c={max_c}')
    if thermal.dtype == np.uint16:
        scale = 0.01 if scale is None else scale
        offset = -273.15 if offset is None else offset
        if scale == 0:
            raise ValueError('thermal scale must not be 0')
        # float64 so that e.g. 29315 * 0.01 - 273.15 is 20.0 to 1e-12, not to float32 rounding.
        celsius = thermal.astype(np.float64) * scale + offset
        unit = np.clip((celsius - min_c) / (max_c - min_c), 0.0, 1.0).astype(np.float32)
        if invalid_counts is None:
            valid = np.ones(thermal.shape, bool)
        else:
            valid = thermal != invalid_counts
    elif thermal.dtype == np.uint8:
        if scale is not None or offset is not None:
            raise ValueError('thermal scale/offset apply to uint16 radiometric counts; a uint8 '
                             'image is already AGC grey and has no temperature scale')
        unit = thermal.astype(np.float32) / np.float32(255.0)
        valid = np.ones(thermal.shape, bool)
    else:
        raise ValueError(f'thermal of dtype {thermal.dtype} is not supported; accepted: uint16 '
                         '(raw radiometric counts, mono16/16UC1) or uint8 (AGC grey, mono8)')
    return _grey_encoded(unit, valid)


# ---------------------------------------------------------------------------------------------
# Events


def _event_fields(events: np.ndarray, height: int, width: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """
    Check an event array's type and polarities; return x, y, t, p as int64 arrays.

    Coordinates and times are checked by the callers (`_check_inside` or `select_events`).
    """
    names = getattr(getattr(events, 'dtype', None), 'names', None) or ()
    if not isinstance(events, np.ndarray) or events.ndim != 1 \
            or not all(n in names for n in EVENT_DTYPE.names):
        raise ValueError('events must be a 1-D structured array with fields x, y, t, p '
                         f'(EVENT_DTYPE), got {getattr(events, "dtype", type(events))}')
    if height <= 0 or width <= 0:
        raise ValueError(f'sensor size must be positive, got {height} x {width}')
    x, y, t, p = (events[n].astype(np.int64) for n in EVENT_DTYPE.names)
    bad = (p != 0) & (p != 1)
    if bad.any():
        raise ValueError(f'{int(bad.sum())} event(s) have polarity other than 0 (OFF) or 1 '
                         f'(ON), e.g. {int(p[bad][0])}')
    return x, y, t, p


def _check_inside(x: np.ndarray, y: np.ndarray, t: np.ndarray, height: int, width: int,
                  t0_us: Optional[int], t1_us: int) -> None:
    """Raise ValueError unless every event is on the sensor and in [t0_us, t1_us]."""
    off = (x < 0) | (x >= width) | (y < 0) | (y >= height)
    if off.any():
        k = int(np.argmax(off))
        raise ValueError(f'{int(off.sum())} event(s) outside the {width} x {height} sensor, e.g. '
                         f'x={int(x[k])}, y={int(y[k])}; use select_events to drop them')
    late = t > t1_us if t0_us is None else (t < t0_us) | (t > t1_us)
    if late.any():
        k = int(np.argmax(late))
        window = f'<= {t1_us}' if t0_us is None else f'in [{t0_us}, {t1_us}]'
        raise ValueError(f'{int(late.sum())} event(s) not {window} us, e.g. t={int(t[k])}; use '
                         'select_events to drop them')


def _check_window(t0_us: int, t1_us: int) -> None:
    if not t1_us > t0_us:
        raise ValueError(f'the event window needs t1_us > t0_us, got [{t0_us}, {t1_us}]')


def select_events(events: np.ndarray, height: int, width: int, t0_us: int,
                  t1_us: int) -> EventSelection:
    """
    Keep the events on a height x width sensor inside [t0_us, t1_us]; count the others.

    The encoders below raise on any event outside their sensor or window (a mismatch there
    usually means wrong slicing or a wrong sensor size, which must not pass silently); this is
    the explicit way to drop such events, with the counts for diagnostics.

    Args:
        events: EVENT_DTYPE array (t in microseconds, p 1 = ON, 0 = OFF).
        height, width: sensor size, pixels.
        t0_us, t1_us: closed time window, microseconds (t1_us > t0_us).

    Returns:
        `EventSelection` (kept events, number outside the sensor, number outside the window).

    """
    _check_window(t0_us, t1_us)
    x, y, t, _ = _event_fields(events, height, width)
    on_sensor = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    in_window = (t >= t0_us) & (t <= t1_us)
    keep = on_sensor & in_window
    return EventSelection(events[keep], int((~on_sensor).sum()),
                          int((on_sensor & ~in_window).sum()))


def voxel_grid(events: np.ndarray, height: int, width: int, t0_us: int, t1_us: int,
               bins: int) -> np.ndarray:
    """
    Voxel grid with bilinear interpolation in time (Zhu et al., CVPR 2019).

    Each event's normalised time t* = (bins - 1) * (t - t0_us) / (t1_us - t0_us) lies in
    [0, bins - 1]; its polarity (ON = +1, OFF = -1) is split between bin floor(t*), weight
    1 - frac, and bin floor(t*) + 1, weight frac (frac = t* - floor(t*)). An event at t1_us falls
    wholly on the last bin.

    Args:
        events: EVENT_DTYPE array, every event on the sensor and in [t0_us, t1_us] (else
            ValueError; see `select_events`).
        height, width: sensor size, pixels.
        t0_us, t1_us: closed time window, microseconds (t1_us > t0_us).
        bins: number of temporal bins B (>= 1; B = 1 gives the signed event count).

    Returns:
        (B, H, W) float32 of signed, time-weighted event sums; no scaling.

    """
    if bins < 1:
        raise ValueError(f'bins must be >= 1, got {bins}')
    _check_window(t0_us, t1_us)
    x, y, t, p = _event_fields(events, height, width)
    _check_inside(x, y, t, height, width, t0_us, t1_us)
    n_pix = height * width
    t_star = (bins - 1) * (t - t0_us).astype(np.float64) / float(t1_us - t0_us)
    lower = np.floor(t_star).astype(np.int64)
    frac = t_star - lower
    polarity = 2.0 * p - 1.0
    pixel = y * width + x
    grid = np.bincount(lower * n_pix + pixel, weights=polarity * (1.0 - frac),
                       minlength=bins * n_pix)
    # Only events at t1_us have floor(t*) = B - 1, and their frac is 0: no upper bin to fill.
    up = lower + 1 < bins
    grid += np.bincount((lower[up] + 1) * n_pix + pixel[up], weights=polarity[up] * frac[up],
                        minlength=bins * n_pix)
    return grid.reshape(bins, height, width).astype(np.float32)


def polarity_histogram(events: np.ndarray, height: int, width: int, t0_us: int,
                       t1_us: int) -> np.ndarray:
    """
    Count ON and OFF events per pixel.

    Args:
        events: EVENT_DTYPE array, every event on the sensor and in [t0_us, t1_us] (else
            ValueError; see `select_events`).
        height, width: sensor size, pixels.
        t0_us, t1_us: closed time window, microseconds (t1_us > t0_us).

    Returns:
        (2, H, W) float32 counts: channel 0 ON (p = 1), channel 1 OFF (p = 0).

    """
    _check_window(t0_us, t1_us)
    x, y, t, p = _event_fields(events, height, width)
    _check_inside(x, y, t, height, width, t0_us, t1_us)
    n_pix = height * width
    counts = np.bincount((1 - p) * n_pix + y * width + x, minlength=2 * n_pix)
    return counts.reshape(2, height, width).astype(np.float32)


def time_surface(events: np.ndarray, height: int, width: int, t_ref_us: int,
                 tau_us: float) -> np.ndarray:
    """
    Exponential-decay time surface per polarity (the SAE of Lagorce et al., 2016).

    Each pixel and polarity holds exp(-(t_ref_us - t_last) / tau_us), where t_last is the time of
    that pixel's latest event of that polarity (the maximum t, whatever the array order), and 0
    where it has none.

    Args:
        events: EVENT_DTYPE array, every event on the sensor with t <= t_ref_us (else
            ValueError: a future event would give a value above 1).
        height, width: sensor size, pixels.
        t_ref_us: reference time, microseconds (usually the frame's stamp).
        tau_us: decay constant, microseconds (> 0).

    Returns:
        (2, H, W) float32 in [0, 1]: channel 0 ON, channel 1 OFF.

    """
    if not tau_us > 0:
        raise ValueError(f'tau_us must be > 0, got {tau_us}')
    x, y, t, p = _event_fields(events, height, width)
    _check_inside(x, y, t, height, width, None, t_ref_us)
    n_pix = height * width
    never = np.iinfo(np.int64).min
    last = np.full(2 * n_pix, never, np.int64)
    np.maximum.at(last, (1 - p) * n_pix + y * width + x, t)
    seen = last != never
    surface = np.zeros(2 * n_pix, np.float64)
    surface[seen] = np.exp(-(t_ref_us - last[seen]) / float(tau_us))
    return surface.reshape(2, height, width).astype(np.float32)


def render_event_image(events: np.ndarray, height: int, width: int, t0_us: int,
                       t1_us: int) -> np.ndarray:
    """
    Paint events VisEvent-style: white background, ON red, OFF blue, latest event wins.

    Reproduces the dataset's `event_imgs` (binary paint, not counts) so that a model trained on
    VisEvent's pre-rendered frames sees the same picture from live events. Ties in time keep
    the later event in array order.

    Args:
        events: EVENT_DTYPE array, every event on the sensor and in [t0_us, t1_us] (else
            ValueError; see `select_events`).
        height, width: sensor size, pixels.
        t0_us, t1_us: closed time window, microseconds (t1_us > t0_us).

    Returns:
        H x W x 3 uint8 RGB: VISEVENT_ON_RGB, VISEVENT_OFF_RGB or white (255, 255, 255).

    """
    _check_window(t0_us, t1_us)
    x, y, t, p = _event_fields(events, height, width)
    _check_inside(x, y, t, height, width, t0_us, t1_us)
    order = np.argsort(t, kind='stable')
    pixel = (y * width + x)[order]
    # First occurrence in the reversed order = each pixel's last event in time order.
    painted, first_rev = np.unique(pixel[::-1], return_index=True)
    last_p = p[order][len(pixel) - 1 - first_rev]
    image = np.full((height * width, 3), VISEVENT_BACKGROUND, np.uint8)
    image[painted] = np.where(last_p[:, None] == 1, np.array(VISEVENT_ON_RGB, np.uint8),
                              np.array(VISEVENT_OFF_RGB, np.uint8))
    return image.reshape(height, width, 3)


def encode_events(events: np.ndarray, height: int, width: int, t0_us: int, t1_us: int,
                  method: str = 'hist_surface', count_max: float = 15.0,
                  tau_us: float = 10_000.0, voxel_max: float = 2.0) -> Encoded:
    """
    Encode the events of one time window as the trunk's 3-channel input.

    Methods (each renders a unit image in [0, 1], which is then ImageNet-normalised):

    - 'hist_surface' (default): [ON count, OFF count, merged time surface]. Counts n map to
      min(1, log(1 + n) / log(1 + count_max)): the log keeps a single event visible (0.25 with
      the default count_max 15) while busy edges and hot pixels saturate at count_max. The third
      channel is the later of the two polarities' time surfaces at t_ref = t1_us with a fixed
      tau_us (default 10 ms, a third of a 30 Hz frame interval), so it says how recently each
      pixel fired, in physical time rather than as a fraction of the window. Pixels without
      events are 0 (black): no brightness change is a measurement, not missing data.
    - 'voxel': a 3-bin `voxel_grid`, each bin mapped to 0.5 + 0.5 * clip(v / voxel_max, -1, 1):
      mid-grey = no events, brighter = net ON, darker = net OFF, early / middle / late in the
      window as the three channels.
    - 'visevent': `render_event_image` / 255, the VisEvent benchmark rendering (white = none).

    Args:
        events: EVENT_DTYPE array, every event on the sensor and in [t0_us, t1_us] (else
            ValueError; see `select_events`).
        height, width: sensor size, pixels.
        t0_us, t1_us: closed time window, microseconds (t1_us > t0_us); for a frame, usually
            (previous frame stamp, this frame stamp).
        method: one of EVENT_METHODS.
        count_max: events per pixel and polarity that saturate a 'hist_surface' count (> 0).
        tau_us: time-surface decay of 'hist_surface', microseconds (> 0).
        voxel_max: absolute voxel value that saturates a 'voxel' channel (> 0).

    Returns:
        `Encoded`: image (3, H, W) float32; valid (H, W) bool, True at pixels with at least one
        event in the window.

    """
    if method == 'hist_surface':
        if not count_max > 0:
            raise ValueError(f'count_max must be > 0, got {count_max}')
        counts = polarity_histogram(events, height, width, t0_us, t1_us).astype(np.float64)
        surface = time_surface(events, height, width, t1_us, tau_us).max(axis=0)
        unit = np.empty((3, height, width), np.float32)
        unit[:2] = np.minimum(np.log1p(counts) / np.log1p(count_max), 1.0)
        unit[2] = surface
        valid = counts.sum(axis=0) > 0
    elif method == 'voxel':
        if not voxel_max > 0:
            raise ValueError(f'voxel_max must be > 0, got {voxel_max}')
        grid = voxel_grid(events, height, width, t0_us, t1_us, bins=3).astype(np.float64)
        unit = (0.5 + 0.5 * np.clip(grid / voxel_max, -1.0, 1.0)).astype(np.float32)
        valid = _event_mask(events, height, width)
    elif method == 'visevent':
        rgb = render_event_image(events, height, width, t0_us, t1_us)
        unit = rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
        valid = _event_mask(events, height, width)
    else:
        raise ValueError(f'unknown event encoding method {method!r}; known: '
                         f'{", ".join(EVENT_METHODS)}')
    return Encoded(normalize(unit), valid)


def _event_mask(events: np.ndarray, height: int, width: int) -> np.ndarray:
    """Return the (H, W) bool mask of pixels with at least one event (already checked)."""
    valid = np.zeros(height * width, bool)
    valid[events['y'].astype(np.int64) * width + events['x'].astype(np.int64)] = True
    return valid.reshape(height, width)


# ---------------------------------------------------------------------------------------------
# Dispatcher

_ENCODERS: dict[str, Callable[..., Encoded]] = {
    'rgb': encode_rgb,
    'depth': encode_depth,
    'thermal': encode_thermal,
    'events': encode_events,
    'event_image': encode_event_image,
}


def encode(modality: str, data: np.ndarray, **params) -> Encoded:
    """
    Encode one raw modality (names as in `Sequence.modalities`) for the trunk.

    Args:
        modality: one of MODALITIES: 'rgb', 'depth', 'thermal', 'events', 'event_image'.
        data: the raw array, as the matching `encode_*` function takes it.
        **params: keyword arguments of that function (e.g. `min_m` for depth; `height`,
            `width`, `t0_us`, `t1_us` are required for events).

    Returns:
        `Encoded` (image (3, H, W) float32, valid (H, W) bool).

    """
    encoder = _ENCODERS.get(modality)
    if encoder is None:
        raise ValueError(f'unknown modality {modality!r}; known: {", ".join(MODALITIES)}')
    return encoder(data, **params)
