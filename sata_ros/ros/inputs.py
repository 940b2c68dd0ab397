"""
Input callbacks of the tracker node: convert each message and hand it to the synchronizer.

Nothing here runs the model. Each callback decodes its message (`conversions`), gives it to the
`Synchronizer` and moves every set that became ready into the worker's `LatestSlot`. A message
that cannot be converted is counted per input and logged at most once per `THROTTLE_S` per
input (rclpy's own throttling is per call site, which would let one bad input hide another);
the node never stops on a bad message.

With `sync.policy: strict` and message_filters installed, message_filters'
ApproximateTimeSynchronizer pairs RGB with the image modalities first and `on_strict_set`
receives its sets (events still go through `on_events`, never through ATS).
"""

import threading
import time
from typing import Any, Optional

from sata_ros.data.sequence import Camera
from sata_ros.ros import conversions as conv
from sata_ros.ros.pipeline import RgbInput
from sata_ros.ros.sync import LatestSlot, Synchronizer
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

THROTTLE_S = 5.0
EVENT_GRID = 65536  # bound of event coordinates before they meet an RGB frame
# Image modality -> decoder of its sensor_msgs/Image.
DECODERS = {'rgb': conv.rgb_image, 'depth': conv.depth_image, 'thermal': conv.thermal_image,
            'event_image': conv.rgb_image}


class Inputs:
    """
    Callbacks for every input of one activation (any executor thread may call them).

    Args:
        sync: the synchronizer the messages go to.
        slot: the worker's latest-only slot the ready sets go to.
        logger: the node's logger.

    """

    def __init__(self, sync: Synchronizer, slot: LatestSlot, logger: Any) -> None:
        self.sync = sync
        self.slot = slot
        self._logger = logger
        self._pump_lock = threading.Lock()
        self._errors_lock = threading.Lock()
        self._errors: dict = {}
        self.camera: Optional[Camera] = None

    def errors(self) -> dict:
        """Return input name -> {'count': errors so far, 'last': the last message}."""
        with self._errors_lock:
            return {k: {'count': v['count'], 'last': v['last']} for k, v in self._errors.items()}

    def report(self, name: str, text: str) -> None:
        """Count a problem with input `name` and log it (throttled per input)."""
        with self._errors_lock:
            entry = self._errors.setdefault(name, {'count': 0, 'last': '', 'logged': None})
            entry['count'] += 1
            entry['last'] = text
            now = time.monotonic()
            loud = entry['logged'] is None or now - entry['logged'] >= THROTTLE_S
            if loud:
                entry['logged'] = now
            count = entry['count']
        if loud:
            self._logger.warning(f'{name}: {text} ({count} so far)')

    def on_rgb(self, msg: Image) -> None:
        """Decode an RGB image and queue it as the anchor of a set."""
        self._add_rgb(msg)
        self.pump()

    def _add_rgb(self, msg: Image) -> bool:
        try:
            rgb = conv.rgb_image(msg)
        except conv.ConversionError as exc:
            self.report('rgb', str(exc))
            return False
        return self.sync.add_rgb(conv.header_stamp_ns(msg.header),
                                 RgbInput(msg.header, rgb, self.camera))

    def on_camera_info(self, msg: CameraInfo) -> None:
        """Keep the latest RGB intrinsics (for 3D detections)."""
        try:
            self.camera = conv.camera_info_to_intrinsics(msg)
        except conv.ConversionError as exc:
            self.report('rgb_info', str(exc))

    def on_image(self, name: str, msg: Image) -> None:
        """Decode a depth, thermal or event image and buffer it."""
        self._add_image(name, msg)
        self.pump()

    def _add_image(self, name: str, msg: Image) -> bool:
        try:
            array = DECODERS[name](msg)
        except conv.ConversionError as exc:
            self.report(name, str(exc))
            return False
        return self.sync.add(name, conv.header_stamp_ns(msg.header), array)

    def on_events(self, msg: PointCloud2) -> None:
        """Decode an event packet and buffer its events."""
        try:
            # Every uint16 coordinate is kept here; the worker keeps the events inside the RGB
            # frame they are matched to (events are read on the RGB pixel grid).
            decoded = conv.events_from_pointcloud(msg, EVENT_GRID, EVENT_GRID)
        except conv.ConversionError as exc:
            self.report('events', str(exc))
            return
        self.sync.add_events(conv.header_stamp_ns(msg.header), decoded.events)
        self.pump()

    def on_strict_set(self, names: list, *msgs: Image) -> None:
        """Take one ApproximateTimeSynchronizer set (RGB first, then `names[1:]`)."""
        for name, msg in list(zip(names, msgs))[1:]:
            self._add_image(name, msg)
        self._add_rgb(msgs[0])
        self.pump()

    def pump(self) -> None:
        """Move every decided set into the slot (poll and put under one lock, in order)."""
        with self._pump_lock:
            for synced in self.sync.poll():
                self.slot.put(synced)
