"""Fixtures for tests over real rclpy and real DDS (loopback only, see test/conftest.py)."""

from typing import Iterator

import pytest

pytest.importorskip(
    'rclpy', reason='rclpy is not importable: run `make setup` or source a ROS 2 install')

from ros_helpers import Participant  # noqa: E402


@pytest.fixture
def participants() -> Iterator[tuple[Participant, Participant]]:
    """Two participants, e.g. a publisher side and a subscriber side."""
    a, b = Participant('sata_test_a'), Participant('sata_test_b')
    try:
        yield a, b
    finally:
        a.close()
        b.close()
