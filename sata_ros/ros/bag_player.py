"""
Publish a bag's input topics into the ROS graph, one RGB frame at a time, with /clock.

This is the player of the live evaluation (ros/live_replay.py) for machines without
`ros2 bag play` (no rosbag2_py here): it reads the bag with rosbags and publishes the stored
CDR bytes unchanged (`Publisher.publish(bytes)`), so the node receives exactly the recorded
messages. Only the node's inputs are published (`INPUTS`; ground truth stays with the
evaluator), on the node's relative topic names under its namespace.

A `FrameBatch` is one RGB frame: the camera_info and image of that stamp, and before them the
partner messages (depth, thermal, events, event images) that must already be in the node's
buffers for its synchroniser to decide the frame without waiting on the clock: every partner
message stamped up to `stamp + lookahead_ns` not yet published. `lookahead_ns` defaults to the
longest gap between two messages of one partner input in the bag, so the next message after
the frame is always among them (this is what settles a nearest-stamp choice; ros/sync.py). The
whole bag's input messages are held in memory (the live evaluation holds every frame anyway).
"""

from dataclasses import dataclass, field
import pathlib
from typing import Optional

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader, AnyReaderError
from rosgraph_msgs.msg import Clock
from sata_ros.data.bag import TOPICS as BAG_TOPICS
from sata_ros.data.msgdefs import make_typestore
from sata_ros.data.sequence import DataError
from sata_ros.ros.outputs import ns_to_time
from sata_ros.ros.params import TOPICS as NODE_TOPICS
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

# Bag topic -> the node's input name (ros/params.py TOPICS) for every input the node reads.
INPUTS = {BAG_TOPICS[name]: name for name in NODE_TOPICS}
_TYPES = {'sensor_msgs/msg/Image': Image, 'sensor_msgs/msg/CameraInfo': CameraInfo,
          'sensor_msgs/msg/PointCloud2': PointCloud2}
RGB, RGB_INFO = 'rgb', 'rgb_info'


@dataclass(frozen=True)
class BagMessage:
    """One stored input message: the node's input name, its stamp (ns) and its CDR bytes."""

    name: str
    stamp_ns: int
    raw: bytes


@dataclass
class FrameBatch:
    """One RGB frame to publish: partners first, then camera_info, then the image."""

    index: int
    stamp_ns: int
    rgb: BagMessage
    info: Optional[BagMessage] = None
    partners: list[BagMessage] = field(default_factory=list)


def read_inputs(path: pathlib.Path) -> tuple[list[BagMessage], dict[str, type]]:
    """
    Read every input message of the bag in log-time order.

    Returns:
        The messages (stamp = log time, which data.bag.write_bag sets to header.stamp), and
        input name -> rclpy message class of the inputs present.

    Raises:
        DataError: the bag cannot be read, has no RGB images, or an input has an unexpected
            type.

    """
    out: list[BagMessage] = []
    types: dict[str, type] = {}
    try:
        with AnyReader([pathlib.Path(path)], default_typestore=make_typestore()) as reader:
            conns = [c for c in reader.connections if c.topic in INPUTS]
            for conn in conns:
                if conn.msgtype not in _TYPES:
                    raise DataError(f'{path}: {conn.topic} has type {conn.msgtype}; the node '
                                    f'reads {sorted(_TYPES)}')
                types[INPUTS[conn.topic]] = _TYPES[conn.msgtype]
            for conn, log_time, raw in reader.messages(connections=conns):
                out.append(BagMessage(INPUTS[conn.topic], int(log_time), bytes(raw)))
    except (AnyReaderError, OSError) as exc:
        raise DataError(f'{path}: cannot read the bag: {exc}') from None
    if RGB not in types:
        raise DataError(f'{path}: no {BAG_TOPICS[RGB]} messages: nothing to replay')
    return out, types


def longest_gap_ns(messages: list[BagMessage]) -> int:
    """Return the longest interval between two consecutive messages of one partner input."""
    last: dict[str, int] = {}
    gap = 0
    for msg in messages:
        if msg.name not in (RGB, RGB_INFO):
            if msg.name in last:
                gap = max(gap, msg.stamp_ns - last[msg.name])
            last[msg.name] = msg.stamp_ns
    return gap


def schedule(messages: list[BagMessage], lookahead_ns: Optional[int] = None
             ) -> list[FrameBatch]:
    """
    Group the input messages into RGB frames (see the module docstring).

    Args:
        messages: `read_inputs` output, in log-time order.
        lookahead_ns: how far past a frame's stamp partner messages go out with it; None =
            `longest_gap_ns(messages)`.

    Returns:
        One batch per RGB image, in order; partner messages after the last lookahead window
        go with the last frame.

    """
    if lookahead_ns is None:
        lookahead_ns = longest_gap_ns(messages)
    rgbs = [m for m in messages if m.name == RGB]
    infos = {m.stamp_ns: m for m in messages if m.name == RGB_INFO}
    partners = [m for m in messages if m.name not in (RGB, RGB_INFO)]
    batches, next_partner = [], 0
    for index, rgb in enumerate(rgbs):
        batch = FrameBatch(index, rgb.stamp_ns, rgb, infos.get(rgb.stamp_ns))
        last = index == len(rgbs) - 1
        while next_partner < len(partners) and (
                last or partners[next_partner].stamp_ns <= rgb.stamp_ns + lookahead_ns):
            batch.partners.append(partners[next_partner])
            next_partner += 1
        batches.append(batch)
    return batches


class BagPlayer:
    """
    Publishers of the node's inputs and of /clock, on `node`.

    Args:
        node: the evaluator's node.
        namespace: the tracker node's namespace ('' or '/front'); inputs are published on
            its relative topic names there (e.g. /front/rgb/image).
        types: input name -> message class (`read_inputs`).
        depth: history depth of the reliable publishers; at least the messages of one batch.

    """

    def __init__(self, node: Node, namespace: str, types: dict[str, type],
                 depth: int = 50) -> None:
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                         reliability=ReliabilityPolicy.RELIABLE)
        prefix = '/' + namespace.strip('/') if namespace.strip('/') else ''
        self.topics = {name: f'{prefix}/{NODE_TOPICS[name]}' for name in types}
        self._pubs = {name: node.create_publisher(cls, self.topics[name], qos)
                      for name, cls in types.items()}
        self._clock = node.create_publisher(Clock, '/clock', QoSProfile(depth=10))
        self.clock_ns = 0

    def subscribers(self, name: str) -> int:
        """Return how many subscriptions listen to input `name` ('clock' for /clock)."""
        pub = self._clock if name == 'clock' else self._pubs[name]
        return pub.get_subscription_count()

    def set_clock(self, stamp_ns: int) -> None:
        """Publish /clock = stamp_ns unless the clock is already later (it never goes back)."""
        if stamp_ns > self.clock_ns:
            self.clock_ns = stamp_ns
            msg = Clock()
            msg.clock = ns_to_time(stamp_ns)
            self._clock.publish(msg)

    def publish(self, msg: BagMessage) -> None:
        """Publish one stored message (its CDR bytes, unchanged)."""
        self._pubs[msg.name].publish(msg.raw)

    def publish_frame(self, batch: FrameBatch) -> None:
        """Publish the clock at the frame's stamp, its partners, camera_info, then the image."""
        self.set_clock(batch.stamp_ns)
        for msg in batch.partners:
            self.publish(msg)
        if batch.info is not None:
            self.publish(batch.info)
        self.publish(batch.rgb)
