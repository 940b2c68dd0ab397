"""
sata_ros: track and segment anything in any modality, as a ROS 2 package.

The hand-written modules share this Python package with the interfaces rosidl generates
(`sata_ros.msg`, `sata_ros.srv`) when the package is built with colcon. Importing it has no side
effects: no ROS, torch or CUDA initialisation happens here.

Layers (imports point down only; only `sata_ros.ros` imports rclpy or ROS messages):
`ros` > `eval` > `train` > `tracking` > `model` > `data`, with `cli` on top of all of them.
"""

import pkgutil

# Run from a source checkout (the repository root first on sys.path), this file is the source
# copy, which has no generated interfaces; extending __path__ with every other `sata_ros` folder
# on sys.path lets `sata_ros.msg` / `sata_ros.srv` resolve to the colcon install.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = '0.1.0'
