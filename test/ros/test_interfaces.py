"""Generated interfaces: installed by colcon, importable, serialised by the C typesupport."""

import pathlib

import pytest
from rclpy.serialization import deserialize_message, serialize_message

from repo import REPO_ROOT

msg = pytest.importorskip('sata_ros.msg', reason='sata_ros.msg missing: run `make setup`')
srv = pytest.importorskip('sata_ros.srv', reason='sata_ros.srv missing: run `make setup`')
vision_msgs_msg = pytest.importorskip('vision_msgs.msg', reason='vision_msgs missing')


def test_generated_and_handwritten_modules_share_one_installed_package():
    import sata_ros
    import sata_ros.cli.main

    pkg = pathlib.Path(sata_ros.__file__).parent
    install = REPO_ROOT / 'install'
    assert pkg.is_relative_to(install), f'sata_ros imported from {pkg}, not the colcon install'
    assert pathlib.Path(msg.__file__).parent == pkg / 'msg'
    assert pathlib.Path(srv.__file__).parent == pkg / 'srv'
    # --symlink-install: the hand-written module is a link back to the source tree.
    cli = pkg / 'cli' / 'main.py'
    assert cli.is_symlink() and cli.resolve() == REPO_ROOT / 'sata_ros' / 'cli' / 'main.py'
    assert sata_ros.__version__ == '0.1.0'


def test_interface_fields_and_constants():
    req = srv.AddTarget.Request
    fields = req.get_fields_and_field_types()
    assert fields['header'] == 'std_msgs/Header'
    assert fields['box'] == 'vision_msgs/BoundingBox2D'
    assert fields['points'] == 'sequence<vision_msgs/Point2D>'
    assert fields['point_labels'] == 'sequence<uint8>'
    assert fields['mask'] == 'sensor_msgs/Image'
    assert (req.PROMPT_BOX, req.PROMPT_POINTS, req.PROMPT_MASK) == (0, 1, 2)
    assert srv.AddTarget.Response.get_fields_and_field_types()['target_ids'] == 'sequence<uint32>'
    assert srv.ListTargets.Response.get_fields_and_field_types()['targets'] == (
        'sequence<sata_ros/TargetState>')
    state = msg.TargetState
    assert (state.STATE_TRACKED, state.STATE_OCCLUDED, state.STATE_LOST) == (0, 1, 2)
    assert (state.ORIGIN_PROMPTED, state.ORIGIN_DETECTED) == (0, 1)


def test_add_target_request_survives_cdr_round_trip():
    req = srv.AddTarget.Request()
    req.header.stamp.sec, req.header.stamp.nanosec = 12, 345
    req.header.frame_id = 'camera_color_optical_frame'
    req.target_id = 7
    req.label = 'person'
    req.prompt_type = req.PROMPT_POINTS
    req.points = [vision_msgs_msg.Point2D(x=1.5, y=2.0), vision_msgs_msg.Point2D(x=3.0, y=4.25)]
    req.point_labels = [1, 0]
    req.mask.height, req.mask.width, req.mask.encoding, req.mask.step = 2, 3, 'mono8', 3
    req.mask.data = bytes([0, 255, 0, 255, 0, 255])

    data = serialize_message(req)
    back = deserialize_message(data, srv.AddTarget.Request)

    assert isinstance(data, bytes) and len(data) > 0
    assert back == req
    assert list(back.point_labels) == [1, 0]
    assert bytes(back.mask.data) == bytes([0, 255, 0, 255, 0, 255])
