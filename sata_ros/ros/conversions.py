"""
Conversions between ROS 2 sensor messages and the numpy arrays the tracker works on.

Inputs:
- `sensor_msgs/Image` -> numpy: `image_to_array` decodes every accepted encoding;
  `rgb_image`, `depth_image` and `thermal_image` also check that the encoding fits the
  modality. Colour images always come back RGB (channel order fixed here, not by the sender).
- `sensor_msgs/PointCloud2` of events -> `EVENT_DTYPE` array: `events_from_pointcloud`.
- `sensor_msgs/CameraInfo` -> `Camera`: `camera_info_to_intrinsics`.

Outputs: `array_to_image` builds `sensor_msgs/Image` messages (instance masks, debug images).

Byte order: decoded arrays are in host byte order. Output messages are always written
little-endian with `is_bigendian = 0`, whatever the host (the robots and CI machines this
package runs on are little-endian, so that is also the host order there).

Distro helpers: `cv_bridge` (images) and `sensor_msgs_py` (clouds) ship with every ROS 2 install
from apt but not with the registry wheels. Each decoder uses them when they are importable and
the message layout is one they read correctly (host byte order; image rows a whole number of
pixels; cloud rows without padding), and an equivalent numpy path otherwise. cv_bridge swaps
bytes with `ndarray.newbyteorder`, which NumPy 2 removed, and sensor_msgs_py swaps them in place
inside the message buffer and ignores `row_step`, hence those limits. Validation runs before
either path, so both raise the same `ConversionError`s; `force_numpy=True` skips the helpers.
Every returned array is a C-contiguous copy the caller owns, never a view into `msg.data`.
"""

import copy
import functools
import sys
from typing import Any, NamedTuple, Optional

import numpy as np
from sata_ros.data.sequence import Camera, EVENT_DTYPE
from sata_ros.ros.optional import load_optional
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

# Image encoding -> (numpy dtype, channels) for every encoding `image_to_array` decodes.
IMAGE_ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4),
    'bgra8': (np.uint8, 4), 'mono8': (np.uint8, 1), '8UC1': (np.uint8, 1),
    'mono16': (np.uint16, 1), '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1),
}
# Colour encoding -> indices of R, G, B in the message's channel order (alpha is dropped).
_RGB_ORDER = {'rgb8': [0, 1, 2], 'bgr8': [2, 1, 0], 'rgba8': [0, 1, 2], 'bgra8': [2, 1, 0]}
RGB_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', '8UC1')
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
THERMAL_ENCODINGS = ('mono16', '16UC1', 'mono8', '8UC1')
# Encoding -> (numpy dtype, channels) that `array_to_image` writes.
OUTPUT_ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'mono8': (np.uint8, 1),
    '8UC1': (np.uint8, 1), 'mono16': (np.uint16, 1), '16UC1': (np.uint16, 1),
    '32FC1': (np.float32, 1),
}

# sensor_msgs/PointField datatype code -> (name, numpy type).
_POINT_TYPES = {
    PointField.INT8: ('INT8', np.int8), PointField.UINT8: ('UINT8', np.uint8),
    PointField.INT16: ('INT16', np.int16), PointField.UINT16: ('UINT16', np.uint16),
    PointField.INT32: ('INT32', np.int32), PointField.UINT32: ('UINT32', np.uint32),
    PointField.FLOAT32: ('FLOAT32', np.float32), PointField.FLOAT64: ('FLOAT64', np.float64),
}
# Event cloud field -> accepted PointField datatypes.
EVENT_FIELDS = {
    'x': (PointField.UINT16,),
    'y': (PointField.UINT16,),
    't': (PointField.INT32, PointField.UINT32, PointField.FLOAT64),
    'p': (PointField.UINT8, PointField.INT8),
}
_EVENT_FIELDS_TEXT = ('x (UINT16), y (UINT16), t (INT32, UINT32 or FLOAT64 microseconds '
                      'relative to header.stamp), p (UINT8 or INT8)')
_HOST_BIG_ENDIAN = sys.byteorder == 'big'


class ConversionError(ValueError):
    """A message that cannot be converted; the text names the field and what is accepted."""


class DecodedEvents(NamedTuple):
    """Events of one PointCloud2 message and how many were dropped."""

    events: np.ndarray  # EVENT_DTYPE, in message order
    dropped: int  # events outside the sensor (x >= width or y >= height) or with non-finite t


# ----------------------------------------------------------------------------------------------
# Images


def image_to_array(msg: Image, force_numpy: bool = False) -> np.ndarray:
    """
    Decode a sensor_msgs/Image of any encoding in `IMAGE_ENCODINGS`.

    Args:
        msg: the image; rows may be padded (`step` >= width x bytes per pixel), data of either
            byte order (`is_bigendian`).
        force_numpy: decode with numpy even when cv_bridge is importable.

    Returns:
        rgb8 / bgr8 / rgba8 / bgra8: H x W x 3 uint8, RGB order, alpha dropped;
        mono8 / 8UC1: H x W uint8; mono16 / 16UC1: H x W uint16; 32FC1: H x W float32.
        Values are passed through unscaled, in host byte order.

    Raises:
        ConversionError: unsupported encoding, `step` too small, or data shorter than
            step x height.

    """
    dtype, channels = _image_layout(msg)
    if not force_numpy and _bridge() is not None and _bridge_reads(msg, dtype, channels):
        arr = _bridge_decode(msg, dtype, channels)
    else:
        arr = _numpy_decode(msg, dtype, channels)
    if msg.encoding in _RGB_ORDER and msg.encoding != 'rgb8':
        arr = np.ascontiguousarray(arr[:, :, _RGB_ORDER[msg.encoding]])
    return arr


def rgb_image(msg: Image, force_numpy: bool = False) -> np.ndarray:
    """
    Decode a colour image to H x W x 3 uint8 RGB.

    Accepts rgb8, bgr8, rgba8, bgra8 (alpha dropped) and mono8 / 8UC1, whose grey value is
    replicated to the three channels so a grey camera can feed the RGB input. 16-bit and float
    encodings are rejected: their scaling is modality-specific (`depth_image`, `thermal_image`).

    Raises:
        ConversionError: another encoding, or a malformed message (see `image_to_array`).

    """
    _require_encoding(msg, RGB_ENCODINGS, 'rgb image',
                      'decode 16-bit and float images with depth_image or thermal_image')
    arr = image_to_array(msg, force_numpy)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return arr


def depth_image(msg: Image, force_numpy: bool = False) -> np.ndarray:
    """
    Decode a depth image in its own units (REP 118).

    Returns:
        16UC1 / mono16: H x W uint16 millimetres, 0 = no return;
        32FC1: H x W float32 metres, NaN = no return, +/-Inf = beyond max / below min range.

    Raises:
        ConversionError: another encoding, or a malformed message (see `image_to_array`).

    """
    _require_encoding(msg, DEPTH_ENCODINGS, 'depth image',
                      '16UC1 is millimetres and 32FC1 metres, REP 118')
    return image_to_array(msg, force_numpy)


def thermal_image(msg: Image, force_numpy: bool = False) -> np.ndarray:
    """
    Decode a thermal image without any scaling (radiometric scaling is device-specific).

    Returns:
        mono16 / 16UC1: H x W uint16 raw sensor counts; mono8 / 8UC1: H x W uint8 (AGC image).

    Raises:
        ConversionError: another encoding, or a malformed message (see `image_to_array`).

    """
    _require_encoding(msg, THERMAL_ENCODINGS, 'thermal image',
                      'thermal drivers publish raw counts as mono16 or AGC images as mono8')
    return image_to_array(msg, force_numpy)


def array_to_image(array: np.ndarray, encoding: str,
                   header: Optional[Header] = None) -> Image:
    """
    Build a sensor_msgs/Image from an array (instance masks, debug images).

    Args:
        array: rgb8 / bgr8: H x W x 3 uint8 in RGB order (bgr8 swaps the channels when
            writing, so `image_to_array` gives the same array back); mono8 / 8UC1: H x W uint8;
            mono16 / 16UC1: H x W uint16 (e.g. an instance mask, pixel = target id,
            0 = background); 32FC1: H x W float32. Any byte order.
        encoding: one of `OUTPUT_ENCODINGS`.
        header: copied into the message (use the input image's header); empty when None.

    Returns:
        The image with step = width x bytes per pixel and little-endian data
        (is_bigendian = 0) on any host.

    Raises:
        ConversionError: unsupported encoding, or an array whose dtype or shape does not fit.

    """
    if encoding not in OUTPUT_ENCODINGS:
        raise ConversionError(f'cannot write image encoding {encoding!r}; accepted: '
                              f'{", ".join(OUTPUT_ENCODINGS)}')
    dtype, channels = OUTPUT_ENCODINGS[encoding]
    arr = np.asarray(array)
    shape = 'H x W' if channels == 1 else f'H x W x {channels}'
    if arr.dtype.type is not np.dtype(dtype).type or arr.ndim != (2 if channels == 1 else 3) \
            or (channels > 1 and arr.shape[2] != channels):
        raise ConversionError(f'{encoding} image needs a {shape} {np.dtype(dtype).name} array, '
                              f'got {arr.dtype.name} of shape {arr.shape}')
    if encoding == 'bgr8':
        arr = arr[:, :, ::-1]
    data = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder('<'))
    height, width = arr.shape[:2]
    msg = Image(header=Header() if header is None else copy.deepcopy(header), height=height,
                width=width, encoding=encoding, is_bigendian=0,
                step=width * channels * data.itemsize)
    msg.data = data.tobytes()
    return msg


def _image_layout(msg: Image) -> tuple[Any, int]:
    """Return (numpy dtype, channels) of `msg` after checking encoding, step and data size."""
    if msg.encoding not in IMAGE_ENCODINGS:
        raise ConversionError(f'unsupported image encoding {msg.encoding!r}; accepted: '
                              f'{", ".join(IMAGE_ENCODINGS)}')
    dtype, channels = IMAGE_ENCODINGS[msg.encoding]
    row_bytes = msg.width * channels * np.dtype(dtype).itemsize
    if msg.step < row_bytes:
        raise ConversionError(f'image step {msg.step} is too small for width {msg.width} of '
                              f'{msg.encoding}: rows need at least {row_bytes} bytes')
    if len(msg.data) < msg.step * msg.height:
        raise ConversionError(f'image data has {len(msg.data)} bytes; height {msg.height} x '
                              f'step {msg.step} needs {msg.step * msg.height}')
    return dtype, channels


def _image_shape(msg: Image, channels: int) -> tuple[int, ...]:
    return (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)


def _numpy_decode(msg: Image, dtype: Any, channels: int) -> np.ndarray:
    """Decode a validated image: drop row padding, convert to host order, copy."""
    wire = np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<')
    row_bytes = msg.width * channels * wire.itemsize
    raw = np.frombuffer(msg.data, np.uint8, count=msg.step * msg.height)
    rows = np.ascontiguousarray(raw.reshape(msg.height, msg.step)[:, :row_bytes])
    return rows.view(wire).astype(dtype).reshape(_image_shape(msg, channels))


def _bridge_reads(msg: Image, dtype: Any, channels: int) -> bool:
    """Whether cv_bridge decodes `msg` correctly: host byte order, whole-pixel rows."""
    pixel_bytes = channels * np.dtype(dtype).itemsize
    return bool(msg.is_bigendian) == _HOST_BIG_ENDIAN and msg.step % pixel_bytes == 0


def _bridge_decode(msg: Image, dtype: Any, channels: int) -> np.ndarray:
    """Decode a validated image with cv_bridge (passthrough: no scaling); return a copy."""
    arr = _bridge().imgmsg_to_cv2(msg, desired_encoding='passthrough')
    return np.array(arr, dtype=dtype, order='C', copy=True).reshape(_image_shape(msg, channels))


def _require_encoding(msg: Image, accepted: tuple[str, ...], what: str, hint: str) -> None:
    if msg.encoding not in accepted:
        raise ConversionError(f'{what}: unsupported encoding {msg.encoding!r}; accepted: '
                              f'{", ".join(accepted)} ({hint})')


@functools.lru_cache(maxsize=1)
def _bridge() -> Any:
    """Return a shared cv_bridge.CvBridge, or None when cv_bridge is not installed."""
    module = load_optional('cv_bridge')
    return None if module is None else module.CvBridge()


# ----------------------------------------------------------------------------------------------
# Events


def events_from_pointcloud(msg: PointCloud2, width: int, height: int, origin_ns: int = 0,
                           force_numpy: bool = False) -> DecodedEvents:
    """
    Decode an event PointCloud2 (the `/events` layout of sata_ros.data.bag) to EVENT_DTYPE.

    The cloud needs fields x (UINT16), y (UINT16) pixels; t (INT32, UINT32 or FLOAT64; FLOAT64
    is rounded to the nearest microsecond) in microseconds relative to `header.stamp`; and
    p (UINT8 or INT8) polarity, > 0 = ON, 0 or -1 = OFF. Fields may come in any order at any
    offset, with padding; `point_step`, `row_step` and `is_bigendian` are honoured and other
    fields are ignored.

    Args:
        msg: the cloud; any height (points are read row by row).
        width, height: sensor size in pixels; events outside it are dropped and counted.
        origin_ns: stamp (ns) of the output time axis, e.g. the sequence start, so that events
            of successive messages share one axis.
        force_numpy: decode with numpy even when sensor_msgs_py is importable.

    Returns:
        `DecodedEvents`: events with x, y (uint16), t = t_rel + floor((stamp - origin_ns) /
        1000) (int64 microseconds; the same floor as the bag writer, so its clouds round-trip
        exactly) and p (uint8, 1 = ON, 0 = OFF), in message order; and the number dropped
        (outside the sensor or with a non-finite t).

    Raises:
        ConversionError: a missing field, a field of another type or count, a field beyond
            point_step, row_step too small, data shorter than row_step x height, or a
            non-positive sensor size.

    """
    if width <= 0 or height <= 0:
        raise ConversionError(f'sensor size must be positive, got {width}x{height}')
    fields = _event_fields(msg)
    columns = _read_event_columns(msg, fields, force_numpy)
    offset_us = (header_stamp_ns(msg.header) - origin_ns) // 1000
    t_rel = columns['t']
    finite = np.isfinite(t_rel) if t_rel.dtype.kind == 'f' else np.ones(len(t_rel), bool)
    keep = finite & (columns['x'] < width) & (columns['y'] < height)
    events = np.zeros(int(keep.sum()), EVENT_DTYPE)
    events['x'], events['y'] = columns['x'][keep], columns['y'][keep]
    t_keep = t_rel[keep]
    if t_keep.dtype.kind == 'f':
        t_keep = np.rint(t_keep)
    events['t'] = t_keep.astype(np.int64) + offset_us
    events['p'] = columns['p'][keep] > 0
    return DecodedEvents(events, int(len(keep) - len(events)))


def _event_fields(msg: PointCloud2) -> dict[str, PointField]:
    """Return the x, y, t, p PointFields after checking them and the cloud's sizes."""
    by_name: dict[str, list[PointField]] = {}
    for field in msg.fields:
        by_name.setdefault(field.name, []).append(field)
    chosen = {}
    for name, accepted in EVENT_FIELDS.items():
        found = by_name.get(name, [])
        if len(found) != 1:
            problem = 'no' if not found else f'{len(found)}'
            raise ConversionError(f'event cloud has {problem} field {name!r} (fields: '
                                  f'{[f.name for f in msg.fields]}); needs {_EVENT_FIELDS_TEXT}')
        chosen[name] = _check_field(found[0], accepted, msg.point_step)
    _check_cloud_size(msg)
    return chosen


def _check_field(field: PointField, accepted: tuple[int, ...], point_step: int) -> PointField:
    names = ' or '.join(_POINT_TYPES[code][0] for code in accepted)
    if field.datatype not in accepted or field.count != 1:
        got = _POINT_TYPES.get(field.datatype, (f'datatype {field.datatype}',))[0]
        raise ConversionError(f'event cloud field {field.name!r} is {got} x {field.count}; '
                              f'accepted: one {names}')
    end = field.offset + np.dtype(_POINT_TYPES[field.datatype][1]).itemsize
    if end > point_step:
        raise ConversionError(f'event cloud field {field.name!r} at offset {field.offset} ends '
                              f'at byte {end}, beyond point_step {point_step}')
    return field


def _check_cloud_size(msg: PointCloud2) -> None:
    if msg.row_step < msg.width * msg.point_step:
        raise ConversionError(f'event cloud row_step {msg.row_step} is smaller than width '
                              f'{msg.width} x point_step {msg.point_step}')
    if len(msg.data) < msg.row_step * msg.height:
        raise ConversionError(f'event cloud data has {len(msg.data)} bytes; height '
                              f'{msg.height} x row_step {msg.row_step} needs '
                              f'{msg.row_step * msg.height}')


def _read_event_columns(msg: PointCloud2, fields: dict[str, PointField],
                        force_numpy: bool) -> dict[str, np.ndarray]:
    """Return x, y, t, p as host-order arrays the caller owns, one entry per point."""
    point_cloud2 = None if force_numpy else _point_cloud2()
    if point_cloud2 is not None and _read_points_reads(msg):
        points = point_cloud2.read_points(msg, field_names=list(fields))
    else:
        points = _numpy_points(msg, fields)
    return {name: np.array(points[name], dtype=_POINT_TYPES[field.datatype][1], copy=True)
            for name, field in fields.items()}


def _numpy_points(msg: PointCloud2, fields: dict[str, PointField]) -> np.ndarray:
    """View the validated cloud as a structured array of `fields` (padding dropped, copied)."""
    count = msg.width * msg.height
    order = '>' if msg.is_bigendian else '<'
    dtype = np.dtype({
        'names': list(fields),
        'formats': [np.dtype(_POINT_TYPES[f.datatype][1]).newbyteorder(order)
                    for f in fields.values()],
        'offsets': [f.offset for f in fields.values()],
        'itemsize': msg.point_step})
    if count == 0:
        return np.zeros(0, dtype)
    raw = np.frombuffer(msg.data, np.uint8, count=msg.row_step * msg.height)
    rows = raw.reshape(msg.height, msg.row_step)[:, :msg.width * msg.point_step]
    return np.ascontiguousarray(rows).view(dtype).reshape(count)


def _read_points_reads(msg: PointCloud2) -> bool:
    """
    Whether sensor_msgs_py.read_points decodes `msg` correctly and without side effects.

    It needs host byte order (it byte-swaps inside the message buffer otherwise), rows without
    padding (it ignores row_step), and fields it can type, with unique names.
    """
    names = [f.name for f in msg.fields]
    return (bool(msg.is_bigendian) == _HOST_BIG_ENDIAN
            and msg.row_step == msg.width * msg.point_step
            and len(set(names)) == len(names)
            and all(f.datatype in _POINT_TYPES and f.count >= 1 for f in msg.fields))


@functools.lru_cache(maxsize=1)
def _point_cloud2() -> Any:
    """Return sensor_msgs_py.point_cloud2, or None when sensor_msgs_py is not installed."""
    return load_optional('sensor_msgs_py.point_cloud2')


# ----------------------------------------------------------------------------------------------
# Camera info and stamps


def camera_info_to_intrinsics(msg: CameraInfo) -> Camera:
    """
    Read pinhole intrinsics from a sensor_msgs/CameraInfo.

    Returns:
        Camera with fx = K[0], fy = K[4], cx = K[2], cy = K[5] (pixels), width and height
        (pixels) and frame_id = header.frame_id. Distortion (D) is not carried.

    Raises:
        ConversionError: K is all zero (an uncalibrated camera) or a focal length is not
            positive.

    """
    k = np.asarray(msg.k, np.float64)
    if not np.any(k):
        raise ConversionError(f'camera_info of frame {msg.header.frame_id!r} has an all-zero K '
                              '(uncalibrated camera); calibrate it or publish its intrinsics')
    if not (k[0] > 0 and k[4] > 0):
        raise ConversionError(f'camera_info of frame {msg.header.frame_id!r} has focal lengths '
                              f'fx = K[0] = {k[0]}, fy = K[4] = {k[4]}; both must be > 0')
    return Camera(int(msg.width), int(msg.height), float(k[0]), float(k[4]), float(k[2]),
                  float(k[5]), msg.header.frame_id)


def header_stamp_ns(header: Header) -> int:
    """Return `header.stamp` as integer nanoseconds."""
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)
