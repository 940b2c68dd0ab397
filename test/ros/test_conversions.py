"""sensor_msgs Image / PointCloud2 / CameraInfo <-> numpy conversions, on the real ROS types."""

import struct
import sys

from builtin_interfaces.msg import Time
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rosbags.highlevel import AnyReader
from sata_ros.data.bag import _Msgs, POINT_CLOUD, TOPICS, write_bag
from sata_ros.data.msgdefs import make_typestore
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.data.sequence import Camera, EVENT_DTYPE
from sata_ros.ros import conversions
from sata_ros.ros.conversions import (
    array_to_image, camera_info_to_intrinsics, ConversionError, depth_image,
    events_from_pointcloud, header_stamp_ns, IMAGE_ENCODINGS, image_to_array, OUTPUT_ENCODINGS,
    rgb_image, thermal_image)
from sata_ros.ros.optional import is_available
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (3, 4, 3), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, (3, 4, 1), dtype=np.uint8)
GREY8 = RNG.integers(0, 256, (3, 4), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (3, 4), dtype=np.uint16)
FLOAT = np.array([[0.5, np.nan, np.inf, -np.inf], [1e-3, 2.25, 7.0, 0.0], [3.5, -1.0, 1e6, 4.0]],
                 np.float32)
# encoding -> (array in the message's channel order, array image_to_array must return)
IMAGE_CASES = {
    'rgb8': (RGB, RGB),
    'bgr8': (RGB[:, :, ::-1], RGB),
    'rgba8': (np.concatenate([RGB, ALPHA], axis=2), RGB),
    'bgra8': (np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2), RGB),
    'mono8': (GREY8, GREY8),
    '8UC1': (GREY8, GREY8),
    'mono16': (GREY16, GREY16),
    '16UC1': (GREY16, GREY16),
    '32FC1': (FLOAT, FLOAT),
}
NUMPY_TYPES = {PointField.INT8: np.int8, PointField.UINT8: np.uint8,
               PointField.UINT16: np.uint16, PointField.INT32: np.int32,
               PointField.UINT32: np.uint32, PointField.FLOAT32: np.float32,
               PointField.FLOAT64: np.float64}
# The /events layout of sata_ros.data.bag: (name, offset, datatype), point_step 9.
BAG_LAYOUT = [('x', 0, PointField.UINT16), ('y', 2, PointField.UINT16),
              ('t', 4, PointField.INT32), ('p', 8, PointField.UINT8)]
# Same fields reordered, with padding between them, an unrelated field and a trailing gap.
PADDED_LAYOUT = [('p', 1, PointField.UINT8), ('z', 4, PointField.FLOAT32),
                 ('t', 8, PointField.INT32), ('y', 14, PointField.UINT16),
                 ('x', 18, PointField.UINT16)]
GARBAGE = 0xEE


def _header(stamp_ns: int = 0, frame_id: str = 'cam_optical_frame') -> Header:
    return Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                  frame_id=frame_id)


def _image(data: bytes, height: int, width: int, encoding: str, step: int,
           bigendian: bool = False) -> Image:
    msg = Image(header=_header(), height=height, width=width, encoding=encoding,
                is_bigendian=int(bigendian), step=step)
    msg.data = data
    return msg


def _pack(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> Image:
    """Build an Image of `arr` (message channel order) with `pad` garbage bytes per row."""
    wire = arr.astype(arr.dtype.newbyteorder('>' if bigendian else '<'))
    rows = wire.view(np.uint8).reshape(arr.shape[0], -1)
    rows = np.concatenate([rows, np.full((arr.shape[0], pad), GARBAGE, np.uint8)], axis=1)
    return _image(rows.tobytes(), arr.shape[0], arr.shape[1], encoding, rows.shape[1],
                  bigendian)


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _cloud(columns: dict, layout: list, point_step: int, height: int = 1, row_pad: int = 0,
           bigendian: bool = False, stamp_ns: int = 0) -> PointCloud2:
    """Build a PointCloud2 of `columns` laid out as `layout`; padding bytes hold garbage."""
    order = '>' if bigendian else '<'
    dtype = np.dtype({'names': [name for name, _, _ in layout],
                      'formats': [np.dtype(NUMPY_TYPES[code]).newbyteorder(order)
                                  for _, _, code in layout],
                      'offsets': [offset for _, offset, _ in layout], 'itemsize': point_step})
    count = len(columns['x'])
    width = count // height
    points = np.full(count * point_step, GARBAGE, np.uint8).view(dtype)
    for name, _, _ in layout:
        points[name] = columns[name]
    rows = points.view(np.uint8).reshape(height, width * point_step)
    rows = np.concatenate([rows, np.full((height, row_pad), GARBAGE, np.uint8)], axis=1)
    fields = [PointField(name=name, offset=offset, datatype=code, count=1)
              for name, offset, code in layout]
    msg = PointCloud2(header=_header(stamp_ns), height=height, width=width, fields=fields,
                      is_bigendian=bigendian, point_step=point_step,
                      row_step=width * point_step + row_pad, is_dense=True)
    msg.data = rows.tobytes()
    return msg


def _bag_cloud(events: np.ndarray, stamp_ns: int, start_ns: int) -> PointCloud2:
    """Return the /events message sata_ros.data.bag writes, as rclpy reads it from a bag."""
    msgs = _Msgs()
    ours = msgs.events(events, stamp_ns, start_ns, 'cam_optical_frame')
    return deserialize_message(bytes(msgs.store.serialize_cdr(ours, POINT_CLOUD)), PointCloud2)


def _events(x, y, t, p) -> np.ndarray:
    out = np.zeros(len(x), EVENT_DTYPE)
    out['x'], out['y'], out['t'], out['p'] = x, y, t, p
    return out


# ----------------------------------------------------------------------------------------------
# Images


def test_the_cases_cover_every_accepted_encoding():
    assert set(IMAGE_CASES) == set(IMAGE_ENCODINGS)


@pytest.mark.parametrize('bigendian', [False, True], ids=['little', 'big'])
@pytest.mark.parametrize('pad', [0, 3], ids=['dense', 'padded'])
@pytest.mark.parametrize('encoding', list(IMAGE_CASES))
def test_every_encoding_decodes_exactly(encoding, pad, bigendian):
    wire, want = IMAGE_CASES[encoding]
    _assert_same(image_to_array(_pack(wire, encoding, pad, bigendian)), want)


def test_hand_written_bytes():
    # One bgr8 pixel: bytes are B, G, R.
    assert image_to_array(_image(bytes([1, 2, 3]), 1, 1, 'bgr8', 3)).tolist() == [[[3, 2, 1]]]
    # Big-endian 16UC1, one padding byte per row: 0x0102 = 258, 0xff00 = 65280.
    msg = _image(bytes([1, 2, 0xff, 0, 9, 0x0a, 0x0b, 0x0c, 0x09, 9]), 2, 2, '16UC1', 5, True)
    _assert_same(image_to_array(msg), np.array([[258, 65280], [0x0a0b, 0x0c09]], np.uint16))
    msg = _image(bytes([2, 1, 0, 0xff]), 1, 2, '16UC1', 4, False)
    _assert_same(image_to_array(msg), np.array([[258, 65280]], np.uint16))
    # Big-endian 32FC1.
    msg = _image(struct.pack('>ff', 1.5, -0.25), 1, 2, '32FC1', 8, True)
    _assert_same(image_to_array(msg), np.array([[1.5, -0.25]], np.float32))


@pytest.mark.parametrize('encoding', ['rgb8', 'mono8', '16UC1', '32FC1'])
def test_decoded_arrays_are_contiguous_copies_the_caller_owns(encoding):
    msg = _pack(IMAGE_CASES[encoding][0], encoding)
    before = bytes(msg.data)
    arr = image_to_array(msg)
    assert arr.flags.c_contiguous and arr.flags.writeable
    assert not np.shares_memory(arr, np.frombuffer(msg.data, np.uint8))
    arr[...] = 0
    assert bytes(msg.data) == before


def test_unsupported_encoding_is_named_with_the_accepted_ones():
    msg = _image(bytes(8), 2, 2, 'yuv422', 4)
    with pytest.raises(ConversionError, match=r"unsupported image encoding 'yuv422'; "
                       r'accepted: rgb8, bgr8, rgba8, bgra8, mono8, 8UC1, mono16, 16UC1, 32FC1'):
        image_to_array(msg)
    assert issubclass(ConversionError, ValueError)


def test_short_data_and_small_step_are_rejected():
    short = _image(bytes(23), 2, 4, 'rgb8', 12)
    with pytest.raises(ConversionError, match='image data has 23 bytes; height 2 x step 12 '
                                              'needs 24'):
        image_to_array(short)
    narrow = _image(bytes(22), 2, 4, 'rgb8', 11)
    with pytest.raises(ConversionError, match='image step 11 is too small for width 4 of rgb8: '
                                              'rows need at least 12 bytes'):
        image_to_array(narrow)
    narrow16 = _image(bytes(14), 2, 4, '16UC1', 7)
    with pytest.raises(ConversionError, match='step 7 is too small .* at least 8 bytes'):
        image_to_array(narrow16)


def test_empty_image():
    _assert_same(image_to_array(_image(b'', 0, 0, 'rgb8', 0)), np.zeros((0, 0, 3), np.uint8))


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
def test_rgb_image_gives_rgb(encoding):
    wire, want = IMAGE_CASES[encoding]
    _assert_same(rgb_image(_pack(wire, encoding, pad=2)), want)


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
def test_rgb_image_replicates_grey(encoding):
    got = rgb_image(_pack(GREY8, encoding))
    _assert_same(got, np.repeat(GREY8[:, :, None], 3, axis=2))
    assert got.flags.c_contiguous


@pytest.mark.parametrize('encoding', ['mono16', '16UC1', '32FC1', 'yuv422'])
def test_rgb_image_rejects_other_encodings(encoding):
    msg = _image(bytes(48), 3, 4, encoding, 16)
    with pytest.raises(ConversionError, match=rf"rgb image: unsupported encoding '{encoding}'; "
                       r'accepted: rgb8, bgr8, rgba8, bgra8, mono8, 8UC1 \(decode 16-bit'):
        rgb_image(msg)


@pytest.mark.parametrize('encoding', ['16UC1', 'mono16', '32FC1'])
def test_depth_image_keeps_units(encoding):
    wire, want = IMAGE_CASES[encoding]
    _assert_same(depth_image(_pack(wire, encoding, pad=1, bigendian=True)), want)


@pytest.mark.parametrize('encoding', ['rgb8', 'mono8', 'yuv422'])
def test_depth_image_rejects_other_encodings(encoding):
    with pytest.raises(ConversionError, match=rf"depth image: unsupported encoding '{encoding}';"
                       r' accepted: 16UC1, mono16, 32FC1 \(16UC1 is millimetres'):
        depth_image(_image(bytes(48), 3, 4, encoding, 16))


@pytest.mark.parametrize('encoding', ['mono16', '16UC1', 'mono8', '8UC1'])
def test_thermal_image_keeps_raw_counts(encoding):
    wire, want = IMAGE_CASES[encoding]
    _assert_same(thermal_image(_pack(wire, encoding, pad=2)), want)


@pytest.mark.parametrize('encoding', ['32FC1', 'rgb8'])
def test_thermal_image_rejects_other_encodings(encoding):
    with pytest.raises(ConversionError, match=r'thermal image: unsupported encoding '
                       rf"'{encoding}'; accepted: mono16, 16UC1, mono8, 8UC1"):
        thermal_image(_image(bytes(48), 3, 4, encoding, 16))


@pytest.mark.parametrize('encoding', list(OUTPUT_ENCODINGS))
def test_array_to_image_round_trip(encoding):
    want = IMAGE_CASES[encoding][1]
    header = _header(1_700_000_000_123_456_789, 'rgb_optical_frame')
    msg = array_to_image(want, encoding, header)
    dtype, channels = OUTPUT_ENCODINGS[encoding]
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian) == (3, 4, encoding, 0)
    assert msg.step == 4 * channels * np.dtype(dtype).itemsize
    assert len(msg.data) == msg.step * msg.height
    assert msg.header == header and msg.header is not header
    _assert_same(image_to_array(msg), want)


def test_array_to_image_writes_bgr_and_little_endian_bytes():
    msg = array_to_image(np.array([[[1, 2, 3]]], np.uint8), 'bgr8')
    assert bytes(msg.data) == bytes([3, 2, 1])
    assert msg.header == Header()
    mask = np.array([[258, 0]], np.dtype('>u2'))  # any input byte order
    msg = array_to_image(mask, '16UC1', _header())
    assert bytes(msg.data) == bytes([2, 1, 0, 0]) and msg.is_bigendian == 0


def test_array_to_image_rejects_bad_input():
    with pytest.raises(ConversionError, match=r"cannot write image encoding 'rgba8'; accepted: "
                       r'rgb8, bgr8, mono8, 8UC1, mono16, 16UC1, 32FC1'):
        array_to_image(RGB, 'rgba8')
    with pytest.raises(ConversionError, match='16UC1 image needs a H x W uint16 array, got '
                                              r'int64 of shape \(3, 4\)'):
        array_to_image(GREY16.astype(np.int64), '16UC1')
    with pytest.raises(ConversionError, match=r'rgb8 image needs a H x W x 3 uint8 array, got '
                                              r'uint8 of shape \(3, 4, 4\)'):
        array_to_image(IMAGE_CASES['rgba8'][0], 'rgb8')
    with pytest.raises(ConversionError, match='mono8 image needs a H x W uint8'):
        array_to_image(RGB, 'mono8')


# ----------------------------------------------------------------------------------------------
# Events


def test_bag_clouds_round_trip_onto_one_time_axis():
    start_ns = 1_700_000_000_000_000_000
    period_ns = 33_333_333
    first = _events([0, 39, 5], [0, 29, 7], [-30_000, -10, 0], [1, 0, 1])
    second = _events([1, 2], [3, 4], [period_ns // 1000 - 5, period_ns // 1000], [0, 1])
    got = []
    for k, events in enumerate([first, second]):
        cloud = _bag_cloud(events, start_ns + k * period_ns, start_ns)
        assert (cloud.point_step, [f.name for f in cloud.fields]) == (9, ['x', 'y', 't', 'p'])
        decoded = events_from_pointcloud(cloud, 40, 30, origin_ns=start_ns)
        assert decoded.dropped == 0
        got.append(decoded.events)
    _assert_same(np.concatenate(got), np.concatenate([first, second]))


@pytest.mark.parametrize('depth_encoding', ['16UC1', '32FC1'])
def test_bag_written_scene_decodes_to_the_scene(tmp_path, depth_encoding):
    cfg = SceneConfig(seed=3, num_frames=4, width=40, height=30, depth_encoding=depth_encoding)
    seq = generate_scene(cfg)
    path = write_bag(seq, tmp_path / 'scene.mcap')
    types = {TOPICS['rgb']: Image, TOPICS['depth']: Image, TOPICS['thermal']: Image,
             TOPICS['events']: PointCloud2, TOPICS['rgb_info']: CameraInfo,
             TOPICS['thermal_info']: CameraInfo}
    msgs = {}
    with AnyReader([path], default_typestore=make_typestore()) as reader:
        for conn, stamp, raw in reader.messages():
            if conn.topic in types:
                msgs[conn.topic, stamp] = deserialize_message(bytes(raw), types[conn.topic])
    checked = 0
    for frame in seq:
        stamp = frame.stamp_ns
        _assert_same(rgb_image(msgs[TOPICS['rgb'], stamp]), frame.rgb)
        _assert_same(depth_image(msgs[TOPICS['depth'], stamp]), frame.depth)
        decoded = events_from_pointcloud(msgs[TOPICS['events'], stamp], cfg.width, cfg.height,
                                         origin_ns=seq.start_ns)
        _assert_same(decoded.events, frame.events)
        assert decoded.dropped == 0
        assert camera_info_to_intrinsics(msgs[TOPICS['rgb_info'], stamp]) == seq.rgb_camera
        if frame.thermal is not None:
            th_msg = msgs[TOPICS['thermal'], frame.thermal_stamp_ns]
            _assert_same(thermal_image(th_msg), frame.thermal)
            info = msgs[TOPICS['thermal_info'], frame.thermal_stamp_ns]
            assert camera_info_to_intrinsics(info) == seq.thermal_camera
        checked += 1
    assert checked == cfg.num_frames and any(len(f.events) for f in seq)


@pytest.mark.parametrize('bigendian', [False, True], ids=['little', 'big'])
def test_reordered_padded_fields_multi_row(bigendian):
    columns = {'x': [0, 1, 2, 3, 4, 5], 'y': [9, 8, 7, 6, 5, 4],
               't': [-70_000, -5, 0, 12, 2**31 - 1, -2**31], 'p': [1, 0, 1, 1, 0, 0],
               'z': np.full(6, np.nan)}
    cloud = _cloud(columns, PADDED_LAYOUT, point_step=24, height=2, row_pad=5,
                   bigendian=bigendian)
    decoded = events_from_pointcloud(cloud, 10, 10)
    want = _events(columns['x'], columns['y'], columns['t'], columns['p'])
    _assert_same(decoded.events, want)
    assert decoded.dropped == 0


def test_big_endian_bag_layout():
    columns = {'x': [258, 1], 'y': [3, 515], 't': [-1, 65536], 'p': [1, 0]}
    cloud = _cloud(columns, BAG_LAYOUT, point_step=9, bigendian=True)
    assert bytes(cloud.data)[:2] == bytes([1, 2])
    decoded = events_from_pointcloud(cloud, 640, 640)
    _assert_same(decoded.events, _events([258, 1], [3, 515], [-1, 65536], [1, 0]))


@pytest.mark.parametrize('t_type, t_values, want_t', [
    (PointField.INT32, [-7, 0, 2**31 - 1], [-7, 0, 2**31 - 1]),
    (PointField.UINT32, [0, 7, 2**32 - 1], [0, 7, 2**32 - 1]),
    (PointField.FLOAT64, [-2.6, 1.4, 1e12], [-3, 1, 10**12]),
], ids=['INT32', 'UINT32', 'FLOAT64'])
@pytest.mark.parametrize('p_type, p_values', [
    (PointField.UINT8, [1, 0, 1]), (PointField.INT8, [1, -1, 1]), (PointField.INT8, [1, 0, 1])
], ids=['UINT8', 'INT8-minus-one', 'INT8-zero'])
def test_time_and_polarity_types(t_type, t_values, want_t, p_type, p_values):
    layout = [('x', 0, PointField.UINT16), ('y', 2, PointField.UINT16), ('t', 4, t_type),
              ('p', 12, p_type)]
    columns = {'x': [1, 2, 3], 'y': [4, 5, 6], 't': t_values, 'p': p_values}
    decoded = events_from_pointcloud(_cloud(columns, layout, point_step=13), 8, 8)
    _assert_same(decoded.events, _events([1, 2, 3], [4, 5, 6], want_t, [1, 0, 1]))


def test_out_of_sensor_and_non_finite_events_are_dropped_and_counted():
    layout = [('x', 0, PointField.UINT16), ('y', 2, PointField.UINT16),
              ('t', 4, PointField.FLOAT64), ('p', 12, PointField.UINT8)]
    columns = {'x': [0, 40, 39, 3, 65535, 4, 5], 'y': [0, 1, 29, 30, 2, 3, 4],
               't': [1.0, 2.0, 3.0, 4.0, 5.0, np.nan, np.inf], 'p': [1, 1, 0, 1, 1, 0, 1]}
    decoded = events_from_pointcloud(_cloud(columns, layout, point_step=13), 40, 30)
    _assert_same(decoded.events, _events([0, 39], [0, 29], [1, 3], [1, 0]))
    assert decoded.dropped == 5


def test_time_offset_against_origin():
    origin = 1_700_000_000_000_000_000
    columns = {'x': [1, 2], 'y': [1, 2], 't': [-100, 0], 'p': [1, 0]}
    # 1.5 s (+ 999 ns, floored) after the origin.
    late = _cloud(columns, BAG_LAYOUT, 9, stamp_ns=origin + 1_500_000_999)
    assert events_from_pointcloud(late, 4, 4, origin_ns=origin).events['t'].tolist() == [
        1_500_000 - 100, 1_500_000]
    # 1.5 us before the origin floors to -2 us, as the bag writer computes it.
    early = _cloud(columns, BAG_LAYOUT, 9, stamp_ns=origin - 1500)
    assert events_from_pointcloud(early, 4, 4, origin_ns=origin).events['t'].tolist() == [
        -102, -2]
    # Default origin 0: absolute microseconds.
    assert events_from_pointcloud(late, 4, 4).events['t'][1] == (origin + 1_500_000_999) // 1000


def test_empty_cloud():
    cloud = _cloud({'x': [], 'y': [], 't': [], 'p': []}, BAG_LAYOUT, 9)
    decoded = events_from_pointcloud(cloud, 4, 4)
    assert decoded.events.dtype == EVENT_DTYPE and len(decoded.events) == 0
    assert decoded.dropped == 0


def test_missing_or_duplicate_field_is_named():
    columns = {'x': [1], 'y': [1], 't': [0], 'p': [1]}
    cloud = _cloud(columns, BAG_LAYOUT[:3], point_step=9)
    with pytest.raises(ConversionError, match=r"event cloud has no field 'p' \(fields: \['x', "
                       r"'y', 't'\]\); needs x \(UINT16\), y \(UINT16\), t \(INT32"):
        events_from_pointcloud(cloud, 4, 4)
    cloud = _cloud(columns, BAG_LAYOUT, point_step=9)
    cloud.fields = list(cloud.fields) + [PointField(name='t', offset=4, datatype=5, count=1)]
    with pytest.raises(ConversionError, match="event cloud has 2 field 't'"):
        events_from_pointcloud(cloud, 4, 4)


def test_wrong_field_type_count_or_offset_is_rejected():
    columns = {'x': [1], 'y': [1], 't': [0], 'p': [1]}
    layout = BAG_LAYOUT[:2] + [('t', 4, PointField.FLOAT32), BAG_LAYOUT[3]]
    with pytest.raises(ConversionError, match="field 't' is FLOAT32 x 1; accepted: one INT32 "
                                              'or UINT32 or FLOAT64'):
        events_from_pointcloud(_cloud(columns, layout, 9), 4, 4)
    cloud = _cloud(columns, BAG_LAYOUT, 9)
    cloud.fields[0].count = 2
    with pytest.raises(ConversionError, match="field 'x' is UINT16 x 2; accepted: one UINT16"):
        events_from_pointcloud(cloud, 4, 4)
    cloud = _cloud(columns, BAG_LAYOUT, 9)
    cloud.fields[3].offset = 9
    with pytest.raises(ConversionError, match="field 'p' at offset 9 ends at byte 10, beyond "
                                              'point_step 9'):
        events_from_pointcloud(cloud, 4, 4)


def test_bad_cloud_sizes_are_rejected():
    columns = {'x': [1, 2], 'y': [1, 2], 't': [0, 0], 'p': [1, 1]}
    cloud = _cloud(columns, BAG_LAYOUT, 9)
    cloud.row_step = 17
    with pytest.raises(ConversionError, match='row_step 17 is smaller than width 2 x '
                                              'point_step 9'):
        events_from_pointcloud(cloud, 4, 4)
    cloud = _cloud(columns, BAG_LAYOUT, 9)
    cloud.data = bytes(cloud.data)[:-1]
    with pytest.raises(ConversionError, match='data has 17 bytes; height 1 x row_step 18 '
                                              'needs 18'):
        events_from_pointcloud(cloud, 4, 4)
    with pytest.raises(ConversionError, match='sensor size must be positive, got 0x4'):
        events_from_pointcloud(_cloud(columns, BAG_LAYOUT, 9), 0, 4)


# ----------------------------------------------------------------------------------------------
# Camera info and stamps


def _camera_info(k: list) -> CameraInfo:
    return CameraInfo(header=_header(5, 'thermal_optical_frame'), width=640, height=512, k=k)


def test_camera_info_to_intrinsics():
    cam = camera_info_to_intrinsics(_camera_info([400.0, 0, 319.5, 0, 410.0, 255.5, 0, 0, 1]))
    assert cam == Camera(640, 512, 400.0, 410.0, 319.5, 255.5, 'thermal_optical_frame')


def test_uncalibrated_or_bad_camera_info_is_rejected():
    with pytest.raises(ConversionError, match="frame 'thermal_optical_frame' has an all-zero K "
                                              r'\(uncalibrated camera\)'):
        camera_info_to_intrinsics(_camera_info([0.0] * 9))
    with pytest.raises(ConversionError, match=r'fx = K\[0\] = -400.0, fy = K\[4\] = 410.0; both '
                                              'must be > 0'):
        camera_info_to_intrinsics(_camera_info([-400.0, 0, 319.5, 0, 410.0, 255.5, 0, 0, 1]))


def test_header_stamp_ns():
    assert header_stamp_ns(_header(1_700_000_000_123_456_789)) == 1_700_000_000_123_456_789


# ----------------------------------------------------------------------------------------------
# Dispatch to the distro helpers, checked with stand-ins that mimic their passthrough contract


class _FakeBridge:
    """Stand-in for cv_bridge.CvBridge: passthrough decode as the ROS 2 cv_bridge does it."""

    def __init__(self) -> None:
        self.calls = 0

    def imgmsg_to_cv2(self, msg: Image, desired_encoding: str) -> np.ndarray:
        assert desired_encoding == 'passthrough'
        assert bool(msg.is_bigendian) == (sys.byteorder == 'big'), 'byte swap fails on NumPy 2'
        self.calls += 1
        dtype, channels = IMAGE_ENCODINGS[msg.encoding]
        itemsize = np.dtype(dtype).itemsize
        im = np.ndarray(shape=(msg.height, msg.step // itemsize // channels, channels),
                        dtype=dtype, buffer=msg.data)[:, :msg.width]
        return im[:, :, 0] if channels == 1 else im


class _FakePointCloud2:
    """Stand-in for sensor_msgs_py.point_cloud2: read_points as it reads a cloud."""

    def __init__(self) -> None:
        self.calls = 0

    def read_points(self, cloud: PointCloud2, field_names: list) -> np.ndarray:
        self.calls += 1
        dtype = np.dtype({'names': [f.name for f in cloud.fields],
                          'formats': [NUMPY_TYPES[f.datatype] for f in cloud.fields],
                          'offsets': [f.offset for f in cloud.fields],
                          'itemsize': cloud.point_step})
        points = np.ndarray(shape=(cloud.width * cloud.height,), dtype=dtype,
                            buffer=cloud.data)
        return points[field_names]


@pytest.mark.parametrize('encoding', list(IMAGE_CASES))
def test_images_go_through_cv_bridge_only_where_it_reads_them(monkeypatch, encoding):
    bridge = _FakeBridge()
    monkeypatch.setattr(conversions, '_bridge', lambda: bridge)
    wire, want = IMAGE_CASES[encoding]
    pixel = wire.itemsize * (wire.shape[2] if wire.ndim == 3 else 1)
    _assert_same(image_to_array(_pack(wire, encoding, pad=pixel)), want)
    assert bridge.calls == 1
    image = image_to_array(_pack(wire, encoding))
    assert not np.shares_memory(image, wire) and image.flags.c_contiguous
    assert bridge.calls == 2
    _assert_same(image_to_array(_pack(wire, encoding), force_numpy=True), want)
    _assert_same(image_to_array(_pack(wire, encoding, bigendian=True)), want)
    if pixel > 1:  # rows that are not a whole number of pixels
        _assert_same(image_to_array(_pack(wire, encoding, pad=1)), want)
    assert bridge.calls == 2


def test_clouds_go_through_sensor_msgs_py_only_where_it_reads_them(monkeypatch):
    point_cloud2 = _FakePointCloud2()
    monkeypatch.setattr(conversions, '_point_cloud2', lambda: point_cloud2)
    events = _events([1, 2, 3], [3, 2, 1], [-5, 0, 7], [1, 0, 1])
    _assert_same(events_from_pointcloud(_bag_cloud(events, 0, 0), 4, 4).events, events)
    columns = {name: events[name] for name in ('x', 'y', 't', 'p')}
    columns['z'] = np.zeros(3)
    _assert_same(events_from_pointcloud(_cloud(columns, PADDED_LAYOUT, 24), 4, 4).events,
                 events)
    assert point_cloud2.calls == 2
    for cloud in (_cloud(columns, PADDED_LAYOUT, 24, bigendian=True),
                  _cloud(columns, PADDED_LAYOUT, 24, row_pad=1)):
        _assert_same(events_from_pointcloud(cloud, 4, 4).events, events)
    _assert_same(events_from_pointcloud(_bag_cloud(events, 0, 0), 4, 4, force_numpy=True).events,
                 events)
    assert point_cloud2.calls == 2


# ----------------------------------------------------------------------------------------------
# The real distro helpers, where installed


@pytest.mark.skipif(not is_available('cv_bridge'),
                    reason='cv_bridge not installed on this machine; the numpy path is tested '
                           'above')
@pytest.mark.parametrize('pad_pixels', [0, 2])
@pytest.mark.parametrize('encoding', list(IMAGE_CASES))
def test_cv_bridge_and_numpy_paths_agree(encoding, pad_pixels):
    wire = IMAGE_CASES[encoding][0]
    pixel = wire.itemsize * (wire.shape[2] if wire.ndim == 3 else 1)
    msg = _pack(wire, encoding, pad=pad_pixels * pixel, bigendian=sys.byteorder == 'big')
    conversions._bridge.cache_clear()
    assert conversions._bridge() is not None
    _assert_same(image_to_array(msg), image_to_array(msg, force_numpy=True))


@pytest.mark.skipif(not is_available('sensor_msgs_py'),
                    reason='sensor_msgs_py not installed on this machine; the numpy path is '
                           'tested above')
def test_sensor_msgs_py_and_numpy_paths_agree():
    conversions._point_cloud2.cache_clear()
    assert conversions._point_cloud2() is not None
    events = _events([1, 2, 3], [3, 2, 1], [-5, 0, 7], [1, 0, 1])
    columns = {name: events[name] for name in ('x', 'y', 't', 'p')}
    columns['z'] = np.zeros(3)
    for cloud in (_bag_cloud(events, 10**9, 0), _cloud(columns, PADDED_LAYOUT, 24)):
        got = events_from_pointcloud(cloud, 4, 4, origin_ns=0)
        want = events_from_pointcloud(cloud, 4, 4, origin_ns=0, force_numpy=True)
        _assert_same(got.events, want.events)
        assert got.dropped == want.dropped
