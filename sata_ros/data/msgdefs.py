"""
ROS 2 message definitions that the rosbags type stores lack, for writing and reading bags.

rosbags ships the core ROS 2 packages (std, sensor, geometry, ...) but not vision_msgs. These are
the field lists of vision_msgs 4.x, the same as interfaces/vision_msgs/msg (a test keeps the two
equal), so the type hashes in bags written here match the real vision_msgs.
"""

from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

# Type name -> .msg text (comments dropped; they do not enter the type hash).
VISION_MSGS = {
    'vision_msgs/msg/Point2D': (
        'float64 x\n'
        'float64 y\n'
    ),
    'vision_msgs/msg/Pose2D': (
        'vision_msgs/Point2D position\n'
        'float64 theta\n'
    ),
    'vision_msgs/msg/BoundingBox2D': (
        'vision_msgs/Pose2D center\n'
        'float64 size_x\n'
        'float64 size_y\n'
    ),
    'vision_msgs/msg/ObjectHypothesis': (
        'string class_id\n'
        'float64 score\n'
    ),
    'vision_msgs/msg/ObjectHypothesisWithPose': (
        'ObjectHypothesis hypothesis\n'
        'geometry_msgs/PoseWithCovariance pose\n'
    ),
    'vision_msgs/msg/Detection2D': (
        'std_msgs/Header header\n'
        'ObjectHypothesisWithPose[] results\n'
        'BoundingBox2D bbox\n'
        'string id\n'
    ),
    'vision_msgs/msg/Detection2DArray': (
        'std_msgs/Header header\n'
        'Detection2D[] detections\n'
    ),
    'vision_msgs/msg/LabelInfo': (
        'std_msgs/Header header\n'
        'VisionClass[] class_map\n'
        'float32 threshold\n'
    ),
    'vision_msgs/msg/VisionClass': (
        'uint16 class_id\n'
        'string class_name\n'
    ),
}


def make_typestore() -> Typestore:
    """Return a ROS 2 Kilted type store with the vision_msgs types registered."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name, text in VISION_MSGS.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store
