"""Streaming multi-target tracking engine (no ROS): Tracker, streams, targets, memory."""
