"""
Sequences to and from rosbag2 files, with standard message types only (no ROS install needed).

Layout (topic: type, header.frame_id); every message of frame k carries the RGB stamp of frame k,
except thermal, which carries its own capture stamp:

- `/rgb/image`: sensor_msgs/Image rgb8; `/rgb/camera_info`: sensor_msgs/CameraInfo
- `/depth/image`: sensor_msgs/Image 16UC1 (mm) or 32FC1 (m), registered to RGB (RGB frame id);
  `/depth/camera_info` (the RGB intrinsics)
- `/thermal/image`: sensor_msgs/Image mono16 (raw counts) or mono8; `/thermal/camera_info`
- `/events`: sensor_msgs/PointCloud2, one point per event with fields x (UINT16), y (UINT16),
  t (INT32, microseconds relative to header.stamp, so <= 0 for the window (t_{k-1}, t_k]) and
  p (UINT8, 1 = ON); height 1, point_step 9, on the RGB pixel grid (RGB frame id)
- `/events/image`: sensor_msgs/Image rgb8, pre-rendered event frames (datasets that ship them)
- `/gt/detections`: vision_msgs/Detection2DArray with every annotated object of the frame:
  `id` = target id as a decimal string, `results[0].hypothesis.class_id` = label,
  `results[0].hypothesis.score` = visibility in [0, 1] (NaN = the source does not say), bbox =
  the box (centre + size, pixels); an object out of view has a zero-size box and visibility 0
- `/gt/instance_mask`: sensor_msgs/Image 16UC1, pixel = target id of the visible object, 0 = none
  (only when the source has masks)
- `/sata/sequence`: std_msgs/String, once, at the first stamp: JSON with the sequence name,
  modalities, timing and the source's metadata (generator settings, dataset provenance)

A path ending in `.mcap` becomes a single MCAP file (`ros2 bag play FILE.mcap`, Foxglove and
rosbags open it); any other path becomes a rosbag2 directory (metadata.yaml + .mcap). Writing is
deterministic: the same sequence gives the same bytes.
"""

import json
import pathlib
import shutil
import tempfile
from typing import Any, Iterator, Optional

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from sata_ros.data.msgdefs import make_typestore
from sata_ros.data.sequence import Camera, DataError, EVENT_DTYPE, Frame, ObjectTruth, Sequence
from tqdm import tqdm

TOPICS = {
    'rgb': '/rgb/image', 'rgb_info': '/rgb/camera_info',
    'depth': '/depth/image', 'depth_info': '/depth/camera_info',
    'thermal': '/thermal/image', 'thermal_info': '/thermal/camera_info',
    'events': '/events', 'event_image': '/events/image',
    'gt': '/gt/detections', 'gt_mask': '/gt/instance_mask', 'info': '/sata/sequence',
}
IMAGE = 'sensor_msgs/msg/Image'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
POINT_CLOUD = 'sensor_msgs/msg/PointCloud2'
DETECTIONS = 'vision_msgs/msg/Detection2DArray'
STRING = 'std_msgs/msg/String'
# PointCloud2 layout of one event: x u16 @0, y u16 @2, t i32 @4 (us rel. to stamp), p u8 @8.
_CLOUD_DTYPE = np.dtype({'names': ['x', 'y', 't', 'p'], 'formats': ['<u2', '<u2', '<i4', 'u1'],
                         'offsets': [0, 2, 4, 8], 'itemsize': 9})
# sensor_msgs/PointField datatype codes.
_UINT8, _UINT16, _INT32 = 2, 4, 5
# Image encodings: numpy dtype and channels per encoding written or read here.
ENCODINGS = {'rgb8': (np.uint8, 3), 'mono8': (np.uint8, 1), 'mono16': (np.uint16, 1),
             '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1)}


class _Msgs:
    """Builders of rosbags message objects from numpy data."""

    def __init__(self) -> None:
        self.store = make_typestore()
        self.t = self.store.types

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        time = self.t['builtin_interfaces/msg/Time'](sec=stamp_ns // 10**9,
                                                     nanosec=stamp_ns % 10**9)
        return self.t['std_msgs/msg/Header'](stamp=time, frame_id=frame_id)

    def image(self, arr: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Any:
        dtype, channels = ENCODINGS[encoding]
        arr = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder('<'))
        height, width = arr.shape[:2]
        return self.t[IMAGE](
            header=self.header(stamp_ns, frame_id), height=height, width=width,
            encoding=encoding, is_bigendian=0, step=width * channels * arr.itemsize,
            data=arr.view(np.uint8).reshape(-1))

    def camera_info(self, cam: Camera, stamp_ns: int) -> Any:
        k = np.array([cam.fx, 0, cam.cx, 0, cam.fy, cam.cy, 0, 0, 1], np.float64)
        p = np.array([cam.fx, 0, cam.cx, 0, 0, cam.fy, cam.cy, 0, 0, 0, 1, 0], np.float64)
        roi = self.t['sensor_msgs/msg/RegionOfInterest'](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return self.t[CAMERA_INFO](
            header=self.header(stamp_ns, cam.frame_id), height=cam.height, width=cam.width,
            distortion_model='plumb_bob', d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=p,
            binning_x=0, binning_y=0, roi=roi)

    def events(self, events: np.ndarray, stamp_ns: int, start_ns: int, frame_id: str) -> Any:
        cloud = np.zeros(len(events), _CLOUD_DTYPE)
        cloud['x'], cloud['y'], cloud['p'] = events['x'], events['y'], events['p']
        stamp_us = (stamp_ns - start_ns) // 1000
        cloud['t'] = events['t'] - stamp_us
        field = self.t['sensor_msgs/msg/PointField']
        fields = [field(name='x', offset=0, datatype=_UINT16, count=1),
                  field(name='y', offset=2, datatype=_UINT16, count=1),
                  field(name='t', offset=4, datatype=_INT32, count=1),
                  field(name='p', offset=8, datatype=_UINT8, count=1)]
        return self.t[POINT_CLOUD](
            header=self.header(stamp_ns, frame_id), height=1, width=len(events), fields=fields,
            is_bigendian=False, point_step=9, row_step=9 * len(events),
            data=np.frombuffer(cloud.tobytes(), np.uint8), is_dense=True)

    def detections(self, objects: list[ObjectTruth], stamp_ns: int, frame_id: str) -> Any:
        t = self.t
        header = self.header(stamp_ns, frame_id)
        dets = []
        for obj in objects:
            x, y, w, h = obj.box
            center = t['vision_msgs/msg/Pose2D'](
                position=t['vision_msgs/msg/Point2D'](x=x + w / 2, y=y + h / 2), theta=0.0)
            hyp = t['vision_msgs/msg/ObjectHypothesisWithPose'](
                hypothesis=t['vision_msgs/msg/ObjectHypothesis'](
                    class_id=obj.label, score=float(obj.visibility)),
                pose=_zero_pose(t))
            dets.append(t['vision_msgs/msg/Detection2D'](
                header=header, results=[hyp],
                bbox=t['vision_msgs/msg/BoundingBox2D'](center=center, size_x=w, size_y=h),
                id=str(obj.target_id)))
        return t[DETECTIONS](header=header, detections=dets)


def _zero_pose(t: dict) -> Any:
    point = t['geometry_msgs/msg/Point'](x=0.0, y=0.0, z=0.0)
    quat = t['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0)
    return t['geometry_msgs/msg/PoseWithCovariance'](
        pose=t['geometry_msgs/msg/Pose'](position=point, orientation=quat),
        covariance=np.zeros(36))


def write_bag(seq: Sequence, out: pathlib.Path, progress: bool = False) -> pathlib.Path:
    """
    Write `seq` to `out` (a .mcap file or a rosbag2 directory); return the path written.

    Raises:
        FileExistsError: `out` exists (nothing is overwritten).
        DataError: a frame does not match the sequence (size, dtype, missing RGB).

    """
    out = pathlib.Path(out)
    if out.exists():
        raise FileExistsError(f'{out} already exists; choose a new output path')
    single_file = out.suffix == '.mcap'
    if single_file:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix='.sata_bag_') as tmp:
            bag_dir = pathlib.Path(tmp) / out.stem
            _write_dir(seq, bag_dir, progress)
            shutil.move(str(bag_dir / f'{out.stem}.mcap'), out)
        return out
    _write_dir(seq, out, progress)
    return out


def _write_dir(seq: Sequence, bag_dir: pathlib.Path, progress: bool) -> None:
    msgs = _Msgs()
    store = msgs.store
    rgb_id = seq.rgb_camera.frame_id
    with Writer(bag_dir, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns: dict[str, Any] = {}

        def write(key: str, msgtype: str, msg: Any, stamp_ns: int) -> None:
            if key not in conns:
                conns[key] = writer.add_connection(TOPICS[key], msgtype, typestore=store)
            writer.write(conns[key], stamp_ns, store.serialize_cdr(msg, msgtype))

        info = msgs.t[STRING](data=json.dumps(_metadata(seq), sort_keys=True))
        write('info', STRING, info, seq.start_ns)
        frames = tqdm(seq, total=seq.num_frames, desc=f'writing {bag_dir.name}', unit='frame',
                      disable=not progress)
        for frame in frames:
            _check_frame(seq, frame)
            stamp = frame.stamp_ns
            if frame.thermal is not None:
                th_stamp = frame.thermal_stamp_ns if frame.thermal_stamp_ns is not None else stamp
                enc = 'mono16' if frame.thermal.dtype == np.uint16 else 'mono8'
                cam = seq.thermal_camera
                write('thermal', IMAGE, msgs.image(frame.thermal, enc, th_stamp, cam.frame_id),
                      th_stamp)
                write('thermal_info', CAMERA_INFO, msgs.camera_info(cam, th_stamp), th_stamp)
            write('rgb', IMAGE, msgs.image(frame.rgb, 'rgb8', stamp, rgb_id), stamp)
            write('rgb_info', CAMERA_INFO, msgs.camera_info(seq.rgb_camera, stamp), stamp)
            if frame.depth is not None:
                enc = '16UC1' if frame.depth.dtype == np.uint16 else '32FC1'
                write('depth', IMAGE, msgs.image(frame.depth, enc, stamp, rgb_id), stamp)
                write('depth_info', CAMERA_INFO, msgs.camera_info(seq.rgb_camera, stamp), stamp)
            if frame.events is not None:
                write('events', POINT_CLOUD,
                      msgs.events(frame.events, stamp, seq.start_ns, rgb_id), stamp)
            if frame.event_image is not None:
                write('event_image', IMAGE, msgs.image(frame.event_image, 'rgb8', stamp, rgb_id),
                      stamp)
            if frame.objects or 'gt' in conns:
                write('gt', DETECTIONS, msgs.detections(frame.objects, stamp, rgb_id), stamp)
            if any(o.mask is not None for o in frame.objects) or 'gt_mask' in conns:
                write('gt_mask', IMAGE, msgs.image(frame.instance_mask(), '16UC1', stamp,
                                                   rgb_id), stamp)


def _metadata(seq: Sequence) -> dict:
    return {'name': seq.name, 'modalities': list(seq.modalities), 'num_frames': seq.num_frames,
            'start_ns': seq.start_ns, 'frame_period_ns': seq.frame_period_ns,
            'source': seq.metadata}


def _check_frame(seq: Sequence, frame: Frame) -> None:
    cam = seq.rgb_camera
    where = f'{seq.name} frame {frame.index}'
    if frame.rgb is None or frame.rgb.shape != (cam.height, cam.width, 3) \
            or frame.rgb.dtype != np.uint8:
        got = None if frame.rgb is None else (frame.rgb.shape, str(frame.rgb.dtype))
        raise DataError(f'{where}: RGB must be uint8 {cam.height}x{cam.width}x3, got {got}')
    if frame.depth is not None:
        if frame.depth.shape != (cam.height, cam.width) or frame.depth.dtype not in (
                np.uint16, np.float32):
            raise DataError(f'{where}: depth must be uint16 mm or float32 m of '
                            f'{cam.height}x{cam.width} (registered to RGB), got '
                            f'{frame.depth.dtype} {frame.depth.shape}')
    if frame.thermal is not None:
        th = seq.thermal_camera
        if th is None or frame.thermal.shape != (th.height, th.width) \
                or frame.thermal.dtype not in (np.uint8, np.uint16):
            want = 'no thermal camera' if th is None else f'uint8/uint16 {th.height}x{th.width}'
            raise DataError(f'{where}: thermal must be {want}, got {frame.thermal.dtype} '
                            f'{frame.thermal.shape}')


# ----------------------------------------------------------------------------------------------
# Reading


def _image_array(msg: Any, topic: str) -> np.ndarray:
    """Decode a sensor_msgs/Image honouring step and endianness; H x W (x C) array."""
    if msg.encoding not in ENCODINGS:
        raise DataError(f'{topic}: unsupported image encoding {msg.encoding!r}; '
                        f'expected one of {sorted(ENCODINGS)}')
    dtype, channels = ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<')
    row_bytes = msg.width * channels * dt.itemsize
    raw = np.asarray(msg.data, np.uint8)
    if msg.step < row_bytes or len(raw) < msg.step * msg.height:
        raise DataError(f'{topic}: image data of {len(raw)} bytes does not hold {msg.height} '
                        f'rows of step {msg.step} ({msg.width}x{channels} {dt})')
    rows = raw[:msg.step * msg.height].reshape(msg.height, msg.step)[:, :row_bytes]
    arr = np.ascontiguousarray(rows).view(dt).astype(dtype)
    shape = (msg.height, msg.width, channels) if channels > 1 else (msg.height, msg.width)
    return arr.reshape(shape)


def _camera(msg: Any) -> Camera:
    k = np.asarray(msg.k, np.float64)
    return Camera(int(msg.width), int(msg.height), float(k[0]), float(k[4]), float(k[2]),
                  float(k[5]), msg.header.frame_id)


def _stamp(msg: Any) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def _events(msg: Any, start_ns: int) -> np.ndarray:
    names = [f.name for f in msg.fields]
    if names[:4] != ['x', 'y', 't', 'p'] or msg.point_step != 9:
        raise DataError(f'/events: expected PointCloud2 fields x, y, t, p with point_step 9, '
                        f'got {names} with point_step {msg.point_step}')
    cloud = np.frombuffer(np.asarray(msg.data, np.uint8).tobytes(), _CLOUD_DTYPE)
    out = np.zeros(len(cloud), EVENT_DTYPE)
    out['x'], out['y'], out['p'] = cloud['x'], cloud['y'], cloud['p']
    out['t'] = cloud['t'].astype(np.int64) + (_stamp(msg) - start_ns) // 1000
    return out


def _objects(msg: Any, mask: Optional[np.ndarray]) -> list[ObjectTruth]:
    objects = []
    for det in msg.detections:
        w, h = det.bbox.size_x, det.bbox.size_y
        x, y = det.bbox.center.position.x - w / 2, det.bbox.center.position.y - h / 2
        hyp = det.results[0].hypothesis if len(det.results) else None
        target_id = int(det.id)
        objects.append(ObjectTruth(
            target_id=target_id, label=hyp.class_id if hyp else '', box=(x, y, w, h),
            visibility=hyp.score if hyp else float('nan'),
            mask=None if mask is None else mask == target_id))
    return objects


def read_bag(path: pathlib.Path) -> Sequence:
    """
    Open a bag written by `write_bag` (or any bag with this layout) as a Sequence.

    Frames stream from the file when iterated. Ground truth comes back as visible boxes,
    visibility, labels and (with `/gt/instance_mask`) visible masks; full boxes and full masks
    are not stored in bags.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f'{path}: no such bag')
    store = make_typestore()
    with AnyReader([path], default_typestore=store) as reader:
        by_topic = {c.topic: c for c in reader.connections}
        if TOPICS['rgb'] not in by_topic:
            raise DataError(f'{path}: no {TOPICS["rgb"]} topic; topics are {sorted(by_topic)}')
        num_frames = by_topic[TOPICS['rgb']].msgcount
        cams = {}
        for key in ('rgb_info', 'thermal_info'):
            if TOPICS[key] in by_topic:
                conn, _, raw = next(reader.messages(connections=[by_topic[TOPICS[key]]]))
                cams[key] = _camera(reader.deserialize(raw, conn.msgtype))
        meta = {}
        if TOPICS['info'] in by_topic:
            conn, _, raw = next(reader.messages(connections=[by_topic[TOPICS['info']]]))
            meta = json.loads(reader.deserialize(raw, conn.msgtype).data)
        if 'start_ns' in meta and 'frame_period_ns' in meta:
            start_ns, period_ns = meta['start_ns'], meta['frame_period_ns']
        else:  # a bag from elsewhere: derive the timing from the RGB stamps
            start_ns, period_ns = _rgb_timing(reader, by_topic[TOPICS['rgb']])
    if 'rgb_info' not in cams:
        raise DataError(f'{path}: no {TOPICS["rgb_info"]} topic')
    modalities = tuple(m for m in ('rgb', 'depth', 'thermal', 'events', 'event_image')
                       if TOPICS[m] in by_topic)
    return Sequence(
        name=meta.get('name', path.stem), rgb_camera=cams['rgb_info'],
        thermal_camera=cams.get('thermal_info'), modalities=modalities, num_frames=num_frames,
        start_ns=start_ns, frame_period_ns=period_ns, metadata=meta.get('source', {}),
        frames=lambda: _read_frames(path, store, start_ns))


def _rgb_timing(reader: AnyReader, rgb: Any) -> tuple[int, int]:
    """Return (first RGB stamp, mean RGB period) in ns, from log times (= header stamps)."""
    times = [t for _, t, _ in reader.messages(connections=[rgb])]
    period = (times[-1] - times[0]) // (len(times) - 1) if len(times) > 1 else 0
    return times[0], period


def _read_frames(path: pathlib.Path, store: Any, start_ns: int) -> Iterator[Frame]:
    """
    Stream frames: messages are grouped by log time, which write_bag sets to header.stamp.

    A group with an RGB image is a frame; a thermal image with its own stamp (its own clock)
    joins the next frame, as it arrived before that frame's RGB.
    """
    with AnyReader([path], default_typestore=store) as reader:
        index = 0
        thermal: Optional[tuple[np.ndarray, int]] = None
        group: list[tuple[str, Any]] = []
        group_time: Optional[int] = None
        stream = ((conn.topic, conn.msgtype, t, raw) for conn, t, raw in reader.messages()
                  if not conn.topic.endswith('camera_info') and conn.topic != TOPICS['info'])
        for topic, msgtype, log_time, raw in _with_sentinel(stream):
            if group and log_time != group_time:
                frame, thermal = _assemble(path, group, index, thermal, start_ns)
                group = []
                if frame is not None:
                    yield frame
                    index += 1
            if topic is None:
                break
            group.append((topic, reader.deserialize(raw, msgtype)))
            group_time = log_time


def _with_sentinel(stream: Iterator) -> Iterator:
    yield from stream
    yield None, None, None, None


def _assemble(path: pathlib.Path, group: list[tuple[str, Any]], index: int,
              thermal: Optional[tuple[np.ndarray, int]],
              start_ns: int) -> tuple[Optional[Frame], Optional[tuple[np.ndarray, int]]]:
    """Build the frame of one log-time group; return it (or None) and the pending thermal."""
    msgs = dict(group)
    if TOPICS['thermal'] in msgs:
        msg = msgs[TOPICS['thermal']]
        thermal = (_image_array(msg, TOPICS['thermal']), _stamp(msg))
    if TOPICS['rgb'] not in msgs:
        stray = sorted(set(msgs) - {TOPICS['thermal']})
        if stray:
            raise DataError(f'{path}: {stray} at stamp {_stamp(msgs[stray[0]])} have no RGB '
                            f'image with the same stamp')
        return None, thermal
    rgb = msgs[TOPICS['rgb']]
    frame = Frame(index=index, stamp_ns=_stamp(rgb), rgb=_image_array(rgb, TOPICS['rgb']))
    if thermal is not None:
        frame.thermal, frame.thermal_stamp_ns = thermal
    if TOPICS['depth'] in msgs:
        frame.depth = _image_array(msgs[TOPICS['depth']], TOPICS['depth'])
    if TOPICS['events'] in msgs:
        frame.events = _events(msgs[TOPICS['events']], start_ns)
    if TOPICS['event_image'] in msgs:
        frame.event_image = _image_array(msgs[TOPICS['event_image']], TOPICS['event_image'])
    if TOPICS['gt'] in msgs:
        mask = msgs.get(TOPICS['gt_mask'])
        frame.objects = _objects(msgs[TOPICS['gt']],
                                 None if mask is None else _image_array(mask, TOPICS['gt_mask']))
    return frame, None
