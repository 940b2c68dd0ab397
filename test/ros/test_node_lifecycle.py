"""The tracker node's lifecycle, parameters, QoS handling and modes over real DDS."""

import importlib.machinery
import sys
import time
import types

import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from ros_helpers import wait_for

node_helpers = pytest.importorskip('node_helpers', reason='sata_ros.ros node: run make setup')
srv = pytest.importorskip('sata_ros.srv', reason='sata_ros.srv missing: run `make setup`')
vm = pytest.importorskip('vision_msgs.msg', reason='vision_msgs missing')

from builtin_interfaces.msg import Time  # noqa: E402, I100
from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from node_helpers import NodeRunner, rgb_msg, stamp_ns_of  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
import torch  # noqa: E402

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture
def runners():
    made = []

    def make(name: str, params: dict = None) -> NodeRunner:
        made.append(NodeRunner(name, params))
        return made[-1]

    try:
        yield make
    finally:
        for runner in made:
            runner.close()


def _activate_and_wire(runner, side, rgb_qos):
    """Bring the node to active; subscribe `side` to detections and give it an RGB publisher."""
    node = runner.node
    node.trigger_configure()
    node.trigger_activate()
    got = []
    side.create_subscription(vm.Detection2DArray, 'detections', got.append, RELIABLE)
    return node, got, side.create_publisher(Image, 'rgb/image', rgb_qos)


def _call(participant, client, request, resend: bool = False):
    """
    Return the reply to `request`, waiting up to 60 s.

    With `resend`, a request with no reply in 10 s is sent again (at most 6 times). Only for
    requests that change nothing: rmw_fastrtps can drop the first response of a new client
    whose response reader has not matched yet (ros2/rmw_fastrtps#467), and waiting longer
    does not bring it back.
    """
    assert client.wait_for_service(timeout_sec=10.0)
    for _ in range(6 if resend else 1):
        future = client.call_async(request)
        if wait_for(future.done, 10.0 if resend else 60.0):
            return future.result()
        client.remove_pending_request(future)
    raise AssertionError(f'no reply from {client.service_name}')


def test_lifecycle_transitions_over_the_lifecycle_services(runners, participants):
    runner = runners('sata_tracker_lc')
    side = participants[0].node
    change = side.create_client(ChangeState, 'sata_tracker_lc/change_state')
    get = side.create_client(GetState, 'sata_tracker_lc/get_state')

    def go(transition: int) -> bool:
        return _call(side, change, ChangeState.Request(
            transition=Transition(id=transition))).success

    def state() -> int:
        return _call(side, get, GetState.Request()).current_state.id

    assert state() == State.PRIMARY_STATE_UNCONFIGURED
    assert go(Transition.TRANSITION_CONFIGURE) and state() == State.PRIMARY_STATE_INACTIVE
    assert side.count_subscribers('/rgb/image') == 0
    assert go(Transition.TRANSITION_ACTIVATE) and state() == State.PRIMARY_STATE_ACTIVE
    assert wait_for(lambda: side.count_subscribers('/rgb/image') == 1)
    assert wait_for(lambda: side.count_publishers('/detections') == 1)
    assert go(Transition.TRANSITION_DEACTIVATE) and state() == State.PRIMARY_STATE_INACTIVE
    assert wait_for(lambda: side.count_subscribers('/rgb/image') == 0)
    # Deactivate released the model's device memory (tracker.release moves it to the CPU).
    assert runner.node.snapshot()['state'] == 'inactive'
    assert go(Transition.TRANSITION_ACTIVATE) and state() == State.PRIMARY_STATE_ACTIVE
    assert go(Transition.TRANSITION_DEACTIVATE)
    assert go(Transition.TRANSITION_CLEANUP) and state() == State.PRIMARY_STATE_UNCONFIGURED
    assert wait_for(lambda: side.count_publishers('/detections') == 0)
    assert go(Transition.TRANSITION_CONFIGURE) and state() == State.PRIMARY_STATE_INACTIVE
    assert go(Transition.TRANSITION_INACTIVE_SHUTDOWN)
    assert state() == State.PRIMARY_STATE_FINALIZED


def test_services_answer_cleanly_while_not_active(runners, participants):
    runner = runners('sata_tracker_idle')
    assert runner.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    side = participants[0].node
    add = side.create_client(srv.AddTarget, 'sata_tracker_idle/add_target')
    # Both requests are refused, so they change nothing and may be resent.
    reply = _call(side, add, srv.AddTarget.Request(prompt_type=0), resend=True)
    assert not reply.success and 'not active' in reply.message
    runner.node.trigger_activate()
    reply = _call(side, add, srv.AddTarget.Request(prompt_type=0), resend=True)
    assert not reply.success and 'no frame has been tracked yet' in reply.message


def test_autostart_brings_the_node_to_active(runners):
    runner = runners('sata_tracker_auto', {'autostart': True})
    assert wait_for(lambda: runner.node.lifecycle_state == 'active', 30.0)


@pytest.mark.parametrize('params, name', [
    ({'tracker.detection_score': 5.0}, 'tracker.detection_score'),  # out of range
    ({'tracker.max_targets': 'many'}, 'tracker.max_targets'),  # wrong type
    ({'tracker.mode': 'psychic'}, 'tracker.mode'),  # not a choice
    ({'tracker.lost_after': 50, 'tracker.drop_after': 10}, 'tracker.drop_after'),
    ({'rgb.qos_reliability': 'sometimes'}, 'rgb.qos_reliability'),
    ({'events.enabled': True, 'event_image.enabled': True}, 'event_image.enabled'),
    ({'dtype': 'float16'}, 'dtype'),
    ({'variant': 'sata_huge'}, 'variant'),
])
def test_invalid_parameters_fail_configure_naming_the_parameter(runners, params, name):
    runner = runners('sata_tracker_bad', params)
    node = runner.node
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node.lifecycle_state == 'unconfigured'
    assert name in node.last_error, node.last_error


def test_device_without_cuda_fails_configure(runners):
    if torch.cuda.is_available():
        pytest.skip('a GPU is present')
    runner = runners('sata_tracker_gpu', {'device': 'cuda'})
    assert runner.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert 'parameter device' in runner.node.last_error


def test_runtime_parameter_changes_are_validated(runners):
    node = runners('sata_tracker_params').node
    bad = node.set_parameters([Parameter('tracker.mode', value='psychic')])[0]
    assert not bad.successful and 'tracker.mode' in bad.reason
    assert not node.set_parameters([Parameter('tracker.match_threshold', value=3.0)])[0] \
        .successful
    assert not node.set_parameters([Parameter('device', value='cuda')])[0].successful
    assert node.set_parameters([Parameter('tracker.mode', value='both')])[0].successful
    # A start-up error is cleared by setting a valid value.
    runner = runners('sata_tracker_fix', {'tracker.detection_score': 5.0})
    assert runner.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert runner.node.set_parameters([Parameter('tracker.detection_score', value=0.5)])[0] \
        .successful
    assert runner.node.trigger_configure() == TransitionCallbackReturn.SUCCESS


def test_activate_warms_the_model_up_unless_told_not_to(runners):
    ok = TransitionCallbackReturn.SUCCESS
    warm = runners('sata_tracker_warm', {'depth.enabled': True}).node
    cold = runners('sata_tracker_cold', {'warmup': False}).node
    for node in (warm, cold):
        assert node.trigger_configure() == ok and node.trigger_activate() == ok
    assert warm.warmup_s > 0 and warm.snapshot()['warmup_s'] == warm.warmup_s
    assert cold.warmup_s is None and cold.snapshot()['warmup_s'] is None
    # Switched off, the next activation reports no warm-up, not the earlier one.
    assert warm.trigger_deactivate() == ok and warm.trigger_cleanup() == ok
    assert warm.set_parameters([Parameter('warmup', value=False)])[0].successful
    assert warm.trigger_configure() == ok and warm.trigger_activate() == ok
    assert warm.warmup_s is None and warm.snapshot()['warmup_s'] is None


def test_a_failed_warm_up_fails_activate_and_says_how_to_skip_it(runners, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise RuntimeError('CUDA out of memory')

    monkeypatch.setattr('sata_ros.ros.node.warm_up', out_of_memory)
    node = runners('sata_tracker_warm_fail').node
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.FAILURE
    assert node.lifecycle_state == 'inactive'
    assert 'warmup: false' in node.last_error and 'CUDA out of memory' in node.last_error
    assert node.set_parameters([Parameter('warmup', value=False)])[0].successful
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS


def test_incompatible_qos_warns_how_to_fix_it(runners, participants):
    runner = runners('sata_tracker_qos', {'rgb.qos_reliability': 'reliable'})
    node = runner.node
    node.trigger_configure()
    node.trigger_activate()
    participants[0].node.create_publisher(Image, 'rgb/image', qos_profile_sensor_data)
    assert wait_for(lambda: node.qos_warnings)
    text = node.qos_warnings[0]
    assert '/rgb/image' in text and 'RELIABILITY' in text
    assert 'rgb.qos_reliability to best_effort' in text


def _publish_until(pub, make, done, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pub.publish(make())
        if wait_for(done, 0.5):
            return True
    return False


def test_best_effort_input_receives_from_a_reliable_publisher(runners, participants):
    runner = runners('sata_tracker_be')
    side = participants[0].node
    node, got, pub = _activate_and_wire(runner, side, RELIABLE)
    assert wait_for(lambda: pub.get_subscription_count() == 1)
    assert _publish_until(pub, lambda: rgb_msg(0, time.time_ns()), lambda: bool(got))
    assert node.qos_warnings == []


def test_detected_mode_publishes_ids_without_any_prompt(runners, participants):
    runner = runners('sata_tracker_mot', {'tracker.mode': 'detected',
                                          'tracker.detection_score': 0.0,
                                          'tracker.max_detections': 3})
    side = participants[0].node
    node, got, pub = _activate_and_wire(runner, side, qos_profile_sensor_data)
    assert wait_for(lambda: pub.get_subscription_count() == 1)
    assert _publish_until(pub, lambda: rgb_msg(0, time.time_ns()),
                          lambda: any(m.detections for m in got))
    ids = [d.id for m in got for d in m.detections]
    assert ids and all(i.isdigit() and int(i) >= 1 for i in ids)


def test_sim_time_drives_the_synchronizer(runners, participants):
    runner = runners('sata_tracker_sim', {'use_sim_time': True})
    side = participants[0].node
    sim_ns = 1_000 * 10**9  # far from the wall clock: wall time would reject it as the past
    clock = side.create_publisher(Clock, '/clock', RELIABLE)
    node, got, pub = _activate_and_wire(runner, side, RELIABLE)
    assert wait_for(lambda: pub.get_subscription_count() == 1 and clock.get_subscription_count())
    stamps = []

    def frame() -> Image:
        stamp = sim_ns + len(stamps) * 33_000_000
        stamps.append(stamp)
        clock.publish(Clock(clock=Time(sec=stamp // 10**9, nanosec=stamp % 10**9)))
        return rgb_msg(len(stamps), stamp)

    assert _publish_until(pub, frame, lambda: bool(got))
    assert stamp_ns_of(got[0].header) in stamps
    assert node.snapshot()['sync']['rgb']['future'] == 0


def test_event_images_are_fused(runners, participants):
    runner = runners('sata_tracker_evimg', {'event_image.enabled': True,
                                            'event_image.qos_reliability': 'reliable',
                                            'rgb.qos_reliability': 'reliable'})
    side = participants[0].node
    node, got, rgb = _activate_and_wire(runner, side, RELIABLE)
    events = side.create_publisher(Image, 'events/image', RELIABLE)
    assert wait_for(lambda: rgb.get_subscription_count() and events.get_subscription_count())
    stamp = time.time_ns()
    frame = np.zeros((node_helpers.HEIGHT, node_helpers.WIDTH, 3), np.uint8)
    frame[30:60, 10:35, 0] = 255
    events.publish(node_helpers.image_msg(frame, 'rgb8', stamp))
    assert wait_for(lambda: node.snapshot()['sync']['event_image']['received'] == 1)
    rgb.publish(rgb_msg(0, stamp))
    assert wait_for(lambda: any(stamp_ns_of(m.header) == stamp for m in got))
    assert wait_for(lambda: node.snapshot()['pipeline']['aux_modality'] == 'event_image')


class _FakeSubscriber:
    """message_filters.Subscriber's interface: wraps create_subscription, fans out."""

    def __init__(self, node, msg_type, topic, qos_profile=10, **kwargs) -> None:
        self.callbacks = []
        self.sub = node.create_subscription(msg_type, topic, self._deliver, qos_profile,
                                            **kwargs)

    def _deliver(self, msg) -> None:
        for callback in self.callbacks:
            callback(msg)


class _FakeApproximateTime:
    """message_filters.ApproximateTimeSynchronizer's interface, matching equal stamps."""

    made: list = []

    def __init__(self, subs, queue_size, slop) -> None:
        self.args = (len(subs), queue_size, slop)
        self._pending: dict = {}
        self._callback = None
        for index, sub in enumerate(subs):
            sub.callbacks.append(lambda msg, i=index: self._add(i, msg))
        _FakeApproximateTime.made.append(self)

    def registerCallback(self, callback) -> None:  # noqa: N802 - message_filters' name
        self._callback = callback

    def _add(self, index: int, msg) -> None:
        entry = self._pending.setdefault(stamp_ns_of(msg.header), {})
        entry[index] = msg
        if len(entry) == self.args[0]:
            self._callback(*[entry[i] for i in range(self.args[0])])


def test_strict_policy_uses_message_filters_when_installed(runners, participants,
                                                           monkeypatch):
    fake = types.ModuleType('message_filters')
    fake.__spec__ = importlib.machinery.ModuleSpec('message_filters', None)
    fake.Subscriber, fake.ApproximateTimeSynchronizer = _FakeSubscriber, _FakeApproximateTime
    monkeypatch.setitem(sys.modules, 'message_filters', fake)
    runner = runners('sata_tracker_strict', {'sync.policy': 'strict', 'thermal.enabled': True,
                                             'thermal.tolerance': 0.03,
                                             'rgb.qos_reliability': 'reliable',
                                             'thermal.qos_reliability': 'reliable'})
    side = participants[0].node
    node, got, rgb = _activate_and_wire(runner, side, RELIABLE)
    ats = _FakeApproximateTime.made[-1]
    assert ats.args == (2, 10, pytest.approx(0.03))
    thermal = side.create_publisher(Image, 'thermal/image', RELIABLE)
    assert wait_for(lambda: rgb.get_subscription_count() and thermal.get_subscription_count())
    lonely = time.time_ns()
    rgb.publish(rgb_msg(0, lonely))  # no thermal partner: strict never emits it
    stamp = lonely + 10_000_000
    thermal.publish(node_helpers.thermal_msg(stamp))
    rgb.publish(rgb_msg(1, stamp))
    assert wait_for(lambda: any(stamp_ns_of(m.header) == stamp for m in got))
    assert all(stamp_ns_of(m.header) != lonely for m in got)
    assert node.snapshot()['sync']['thermal']['matched'] == 1
