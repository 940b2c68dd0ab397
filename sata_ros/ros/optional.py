"""
Distro pieces that a ROS 2 install from apt has and the registry wheels lack.

`message_filters`, `cv_bridge`, `sensor_msgs_py`, `diagnostic_updater` and `launch` exist on every
ROS 2 Jazzy/Kilted robot but not in the wheels this project's CI uses. Code that can use them asks
for them through `load_optional`, uses the real module when it is importable, and falls back to an
equivalent tested path of its own when it is not.
"""

import importlib
import importlib.util
from types import ModuleType
from typing import Optional

# Importable module -> what it is used for when present.
OPTIONAL_PIECES = {
    'message_filters': 'input caches and the strict ApproximateTime sync policy',
    'cv_bridge': 'sensor_msgs/Image <-> numpy conversions',
    'sensor_msgs_py': 'reading event PointCloud2 messages',
    'diagnostic_updater': 'publishing /diagnostics',
    'launch': 'ros2 launch sata_ros tracker.launch.py',
    'launch_ros': 'ros2 launch sata_ros tracker.launch.py',
    'rosbag2_py': 'recording and replaying bags through ROS (rosbags is used otherwise)',
}


def is_available(name: str) -> bool:
    """Return whether module `name` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def load_optional(name: str) -> Optional[ModuleType]:
    """
    Import and return module `name`, or None when it is not installed.

    Only a missing module counts as absent: an installed module that fails while importing
    raises, because silently falling back would hide a broken install.
    """
    if not is_available(name):
        return None
    return importlib.import_module(name)


def availability() -> dict[str, bool]:
    """Map each optional distro piece to whether it can be imported here."""
    return {name: is_available(name) for name in OPTIONAL_PIECES}
