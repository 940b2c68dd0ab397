"""
Suite-wide settings: keep every DDS participant of the tests on this machine's loopback.

Set before any test imports rclpy. A per-run domain id keeps two suites running at once on one
machine (two CI jobs, a developer and CI) from discovering each other's nodes.
"""

import os

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
