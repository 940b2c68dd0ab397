"""Helpers for tests over real rclpy and real DDS (loopback only, see test/conftest.py)."""

import threading
import time
from typing import Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def spin_in_thread(executor: Executor, context: Context) -> threading.Thread:
    """Spin `executor` on a daemon thread until `context` shuts down; return the thread."""
    def spin() -> None:
        try:
            while context.ok():
                executor.spin_once(timeout_sec=0.05)
        except ExternalShutdownException:
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread


class Participant:
    """
    One rclpy context (one DDS participant) with one node, spun on its own thread.

    Two of these in one process talk through DDS discovery and transport on loopback, as two
    processes on one robot would.
    """

    def __init__(self, name: str) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = spin_in_thread(self._executor, self.context)

    def close(self) -> None:
        """Stop spinning and shut the context down."""
        self.context.try_shutdown()
        self._thread.join(timeout=5.0)
        self._executor.shutdown()
        self.node.destroy_node()


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll `predicate` every 20 ms until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
