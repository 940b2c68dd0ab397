"""Publish/subscribe and service calls between two DDS participants on loopback."""

import threading

import pytest
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from ros_helpers import wait_for

msg = pytest.importorskip('sata_ros.msg', reason='sata_ros.msg missing: run `make setup`')
srv = pytest.importorskip('sata_ros.srv', reason='sata_ros.srv missing: run `make setup`')
vm = pytest.importorskip('vision_msgs.msg', reason='vision_msgs missing')


def _detections() -> 'vm.Detection2DArray':
    arr = vm.Detection2DArray()
    arr.header.stamp.sec, arr.header.stamp.nanosec = 1700000000, 500
    arr.header.frame_id = 'camera_color_optical_frame'
    for target_id, label, score in ((3, 'person', 0.9), (11, 'box', 0.25)):
        det = vm.Detection2D(header=arr.header, id=str(target_id))
        det.bbox.center.position.x, det.bbox.center.position.y = 320.5, 240.25
        det.bbox.size_x, det.bbox.size_y = 40.0, 80.0
        hyp = vm.ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = label, score
        det.results.append(hyp)
        arr.detections.append(det)
    return arr


def _round_trip(participants, msg_type, message, qos):
    """Publish `message` from one participant until the other receives it; return what arrived."""
    pub_side, sub_side = participants
    received = []
    sub_side.node.create_subscription(msg_type, 'sata_test/topic', received.append, qos)
    pub = pub_side.node.create_publisher(msg_type, 'sata_test/topic', qos)
    assert wait_for(lambda: pub.get_subscription_count() == 1), 'DDS discovery did not match'

    def publish_until_received() -> bool:
        if not received:
            pub.publish(message)
        return bool(received)

    # Best-effort QoS may drop the first sample while the reader matches: publish until one lands.
    assert wait_for(publish_until_received, timeout=15.0), 'nothing received over DDS'
    return received[0]


def test_detection2d_array_round_trip(participants):
    sent = _detections()
    got = _round_trip(participants, vm.Detection2DArray, sent, qos_profile_sensor_data)
    assert got == sent
    assert [d.id for d in got.detections] == ['3', '11']
    assert got.detections[0].results[0].hypothesis.class_id == 'person'
    assert got.detections[1].bbox.size_y == 80.0


def test_target_state_round_trip(participants):
    sent = msg.TargetState(id=42, label='drone', state=msg.TargetState.STATE_OCCLUDED,
                           origin=msg.TargetState.ORIGIN_DETECTED, score=0.5,
                           frames_tracked=120, frames_since_seen=3)
    sent.bbox.center.position.x = 10.0
    sent.last_seen.sec = 99
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    got = _round_trip(participants, msg.TargetState, sent, reliable)
    assert got == sent
    assert got.state == msg.TargetState.STATE_OCCLUDED and got.last_seen.sec == 99


class _StubTargetService:
    """A minimal add_target server: checks the box and hands out increasing ids."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, request, response):
        with self.lock:
            if request.prompt_type != request.PROMPT_BOX:
                response.success = False
                response.message = f'unsupported prompt_type {request.prompt_type}'
            elif request.box.size_x <= 0 or request.box.size_y <= 0:
                response.success = False
                response.message = (f'box size must be positive, got {request.box.size_x} x '
                                    f'{request.box.size_y} px')
            else:
                new_id = request.target_id or (max(self.ids, default=0) + 1)
                self.ids.append(new_id)
                response.success, response.target_id = True, new_id
                response.message = f'added target {new_id}'
            response.target_ids = list(self.ids)
        return response


def test_add_target_service_answers_a_real_client(participants):
    server_side, client_side = participants
    server_side.node.create_service(srv.AddTarget, 'sata_test/add_target', _StubTargetService())
    client = client_side.node.create_client(srv.AddTarget, 'sata_test/add_target')
    assert client.wait_for_service(timeout_sec=15.0), 'service not discovered over DDS'

    def call(req):
        future = client.call_async(req)
        assert wait_for(future.done, timeout=15.0), 'no reply from the service'
        return future.result()

    req = srv.AddTarget.Request(label='cup', prompt_type=srv.AddTarget.Request.PROMPT_BOX)
    req.box.size_x, req.box.size_y = 30.0, 20.0
    first = call(req)
    assert (first.success, first.target_id, list(first.target_ids)) == (True, 1, [1])

    second = call(req)
    assert (second.success, second.target_id, list(second.target_ids)) == (True, 2, [1, 2])

    req.box.size_y = 0.0
    bad = call(req)
    assert not bad.success and bad.target_id == 0
    assert 'box size must be positive' in bad.message
    assert list(bad.target_ids) == [1, 2], 'a rejected request must not disturb other targets'
