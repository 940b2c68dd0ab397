"""Bags: synthetic sequences written with standard types and read back unchanged."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from repo import REPO_ROOT
from rosbags.highlevel import AnyReader
from sata_ros.data.bag import read_bag, write_bag
from sata_ros.data.msgdefs import make_typestore, VISION_MSGS
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.data.sequence import Camera, DataError, Frame, Sequence

CFG = SceneConfig(seed=11, num_frames=6, width=48, height=32)


def _same_frames(written, read):
    n = 0
    for a, b in zip(written, read):
        n += 1
        assert (a.index, a.stamp_ns) == (b.index, b.stamp_ns)
        assert np.array_equal(a.rgb, b.rgb)
        assert np.array_equal(a.depth, b.depth, equal_nan=a.depth.dtype.kind == 'f')
        assert a.thermal_stamp_ns == b.thermal_stamp_ns
        assert (a.thermal is None) == (b.thermal is None)
        if a.thermal is not None:
            assert np.array_equal(a.thermal, b.thermal)
        assert np.array_equal(a.events, b.events)
        # Every object comes back, out-of-view ones too (zero-size box, visibility 0).
        assert [o.target_id for o in a.objects] == [o.target_id for o in b.objects]
        for oa, ob in zip(a.objects, b.objects):
            assert (oa.label, oa.box) == (ob.label, ob.box)
            assert ob.visibility == pytest.approx(oa.visibility)
            assert np.array_equal(oa.mask, ob.mask)
    return n


@pytest.mark.parametrize('name', ['scene.mcap', 'scene_dir'])
def test_round_trip_file_and_directory(tmp_path, name):
    seq = generate_scene(CFG)
    path = write_bag(seq, tmp_path / name)
    back = read_bag(path)
    assert back.num_frames == CFG.num_frames
    assert back.modalities == ('rgb', 'depth', 'thermal', 'events')
    assert back.rgb_camera == seq.rgb_camera
    assert back.thermal_camera == seq.thermal_camera
    assert (back.start_ns, back.frame_period_ns) == (seq.start_ns, seq.frame_period_ns)
    assert (back.name, back.metadata) == (seq.name, json.loads(json.dumps(seq.metadata)))
    assert _same_frames(seq, back) == CFG.num_frames
    assert _same_frames(seq, back) == CFG.num_frames, 'a Sequence can be iterated twice'


def test_32fc1_depth_round_trip_keeps_nan_and_inf(tmp_path):
    seq = generate_scene(dataclasses.replace(CFG, depth_encoding='32FC1', depth_max_m=5.0,
                                             modalities=('rgb', 'depth')))
    back = read_bag(write_bag(seq, tmp_path / 'f.mcap'))
    assert _same_frames(seq, back) == CFG.num_frames
    depth = next(iter(back)).depth
    assert depth.dtype == np.float32 and np.isnan(depth).any() and np.isinf(depth).any()


def test_same_seed_same_bytes_different_seed_different_bytes(tmp_path):
    digests = []
    for sub, seed in (('a', 1), ('b', 1), ('c', 2)):
        (tmp_path / sub).mkdir()
        seq = generate_scene(dataclasses.replace(CFG, seed=seed))
        path = write_bag(seq, tmp_path / sub / 'scene.mcap')
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]


def test_topics_types_frames_and_stamps(tmp_path):
    path = write_bag(generate_scene(CFG), tmp_path / 's.mcap')
    store = make_typestore()
    with AnyReader([path], default_typestore=store) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types == {
            '/rgb/image': 'sensor_msgs/msg/Image',
            '/rgb/camera_info': 'sensor_msgs/msg/CameraInfo',
            '/depth/image': 'sensor_msgs/msg/Image',
            '/depth/camera_info': 'sensor_msgs/msg/CameraInfo',
            '/thermal/image': 'sensor_msgs/msg/Image',
            '/thermal/camera_info': 'sensor_msgs/msg/CameraInfo',
            '/events': 'sensor_msgs/msg/PointCloud2',
            '/gt/detections': 'vision_msgs/msg/Detection2DArray',
            '/gt/instance_mask': 'sensor_msgs/msg/Image',
            '/sata/sequence': 'std_msgs/msg/String'}
        rgb_stamps = set()
        for conn, log_time, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == '/sata/sequence':
                assert json.loads(msg.data)['source']['config']['seed'] == CFG.seed
                assert log_time == CFG.start_ns
                continue
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            assert stamp == log_time, f'{conn.topic}: log time differs from header stamp'
            thermal = conn.topic.startswith('/thermal')
            assert msg.header.frame_id == ('sata_synth/thermal_optical_frame' if thermal
                                           else 'sata_synth/rgb_optical_frame')
            if conn.topic == '/rgb/image':
                rgb_stamps.add(stamp)
            elif not thermal:
                assert stamp in rgb_stamps, f'{conn.topic} stamp is not an RGB stamp'
            if conn.topic == '/events':
                assert [f.name for f in msg.fields] == ['x', 'y', 't', 'p']
            if conn.topic == '/gt/detections':
                assert all(d.id.isdigit() for d in msg.detections)


def test_vision_msgs_definitions_match_the_interface_package():
    folder = REPO_ROOT / 'interfaces' / 'vision_msgs' / 'msg'
    for name, text in VISION_MSGS.items():
        path = folder / (name.split('/')[-1] + '.msg')
        fields = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith('#')]
        assert text.splitlines() == fields, f'{name} differs from {path}'


def _tiny_sequence(frames):
    cam = Camera.default(4, 3, 'cam')
    return Sequence(name='tiny', rgb_camera=cam, thermal_camera=None, modalities=('rgb',),
                    num_frames=len(frames), start_ns=0, frame_period_ns=1,
                    metadata={}, frames=lambda: iter(frames))


def test_bad_frames_and_paths_are_reported(tmp_path):
    good = np.zeros((3, 4, 3), np.uint8)
    bad_depth = Frame(0, 0, good, depth=np.zeros((2, 4), np.uint16))
    with pytest.raises(DataError, match=r'tiny frame 0: depth must be .* 3x4'):
        write_bag(_tiny_sequence([bad_depth]), tmp_path / 'a.mcap')
    with pytest.raises(DataError, match=r'tiny frame 0: RGB must be uint8 3x4x3'):
        write_bag(_tiny_sequence([Frame(0, 0, good[:, :, 0])]), tmp_path / 'b.mcap')
    existing = tmp_path / 'exists.mcap'
    existing.write_bytes(b'x')
    with pytest.raises(FileExistsError, match='already exists'):
        write_bag(_tiny_sequence([Frame(0, 0, good)]), existing)
    assert existing.read_bytes() == b'x'
    with pytest.raises(DataError, match='no such bag'):
        read_bag(tmp_path / 'missing.mcap')


def test_bag_without_rgb_is_rejected(tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer
    store = make_typestore()
    path = tmp_path / 'norgb'
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection('/other', 'std_msgs/msg/String', typestore=store)
        msg = store.types['std_msgs/msg/String'](data='x')
        writer.write(conn, 1, store.serialize_cdr(msg, 'std_msgs/msg/String'))
    with pytest.raises(DataError, match="no /rgb/image topic; topics are \\['/other'\\]"):
        read_bag(path)


def test_bag_from_elsewhere_gets_its_timing_from_the_rgb_stamps(tmp_path):
    # No /sata/sequence message: name, start and period are derived from the bag itself.
    from rosbags.rosbag2 import StoragePlugin, Writer
    from sata_ros.data.bag import _Msgs
    msgs = _Msgs()
    cam = Camera.default(4, 3, 'cam')
    path = tmp_path / 'foreign'
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        rgb = writer.add_connection('/rgb/image', 'sensor_msgs/msg/Image', typestore=msgs.store)
        info = writer.add_connection('/rgb/camera_info', 'sensor_msgs/msg/CameraInfo',
                                     typestore=msgs.store)
        for k in range(3):
            stamp = 5 * 10**9 + k * 40_000_000
            writer.write(rgb, stamp, msgs.store.serialize_cdr(
                msgs.image(np.full((3, 4, 3), k, np.uint8), 'rgb8', stamp, 'cam'),
                'sensor_msgs/msg/Image'))
            writer.write(info, stamp, msgs.store.serialize_cdr(
                msgs.camera_info(cam, stamp), 'sensor_msgs/msg/CameraInfo'))
    seq = read_bag(path)
    assert (seq.name, seq.start_ns, seq.frame_period_ns) == ('foreign', 5 * 10**9, 40_000_000)
    assert [int(f.rgb[0, 0, 0]) for f in seq] == [0, 1, 2]


def test_image_decoding_honours_step_and_endianness():
    from sata_ros.data.bag import _image_array, _Msgs
    msgs = _Msgs()
    arr = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    msg = msgs.image(arr, '16UC1', 0, 'cam')
    # Re-pack big-endian with 4 padding bytes per row: the decoder must use step and the flag.
    rows = arr.astype('>u2').view(np.uint8).reshape(3, 8)
    msg.data = np.concatenate([rows, np.zeros((3, 4), np.uint8)], axis=1).reshape(-1)
    msg.step, msg.is_bigendian = 12, 1
    assert np.array_equal(_image_array(msg, '/depth/image'), arr)
    msg.encoding = 'yuv422'
    with pytest.raises(DataError, match="/depth/image: unsupported image encoding 'yuv422'"):
        _image_array(msg, '/depth/image')
