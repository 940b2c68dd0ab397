"""The tracker node over real DDS: multi-modal inputs, outputs, services, diagnostics, drops."""

import threading
import time

import numpy as np
import pytest
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from ros_helpers import Participant, wait_for

node_helpers = pytest.importorskip('node_helpers', reason='sata_ros.ros node: run make setup')
srv = pytest.importorskip('sata_ros.srv', reason='sata_ros.srv missing: run `make setup`')
vm = pytest.importorskip('vision_msgs.msg', reason='vision_msgs missing')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402, I100
from node_helpers import (camera_info_msg, depth_msg, events_msg, HEIGHT, image_msg,  # noqa: E402
                          NodeRunner, rgb_msg, stamp_ns_of, thermal_msg, WIDTH)
from sata_ros.msg import TargetStateArray  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
NODE = 'sata_tracker_mm'
PARAMS = {'depth.enabled': True, 'thermal.enabled': True, 'events.enabled': True,
          'thermal.timeout': 0.6, 'events.timeout': 0.6, 'depth.timeout': 0.6,
          'diagnostics.period': 0.2, 'sync.max_wait': 0.05}
for _name in ('rgb', 'rgb_info', 'depth', 'thermal', 'events'):
    PARAMS[f'{_name}.qos_reliability'] = 'reliable'


def restamped(msg: Image, stamp: int) -> Image:
    """Return `msg` with its header stamped `stamp` (integer nanoseconds)."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
    return msg


class Rig:
    """The node under test and a participant that feeds it and listens to it."""

    def __init__(self) -> None:
        self.runner = NodeRunner(NODE, PARAMS)
        self.side = Participant('sata_test_rig')
        n = self.side.node
        self.pubs = {'rgb': n.create_publisher(Image, 'rgb/image', RELIABLE),
                     'info': n.create_publisher(CameraInfo, 'rgb/camera_info', RELIABLE),
                     'depth': n.create_publisher(Image, 'depth/image', RELIABLE),
                     'thermal': n.create_publisher(Image, 'thermal/image', RELIABLE),
                     'events': n.create_publisher(PointCloud2, 'events', RELIABLE)}
        self.got = {'detections': [], 'instance_mask': [], 'detections_3d': [], 'targets': [],
                    'diagnostics': [], 'label_info': []}
        self._lock = threading.Lock()
        for key, msg_type, topic in (
                ('detections', vm.Detection2DArray, 'detections'),
                ('instance_mask', Image, 'instance_mask'),
                ('detections_3d', vm.Detection3DArray, 'detections_3d'),
                ('targets', TargetStateArray, f'{NODE}/targets'),
                ('diagnostics', DiagnosticArray, '/diagnostics')):
            n.create_subscription(msg_type, topic, self._keep(key), RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        n.create_subscription(vm.LabelInfo, 'label_info', self._keep('label_info'), latched)
        self.clients = {
            'add': n.create_client(srv.AddTarget, f'{NODE}/add_target'),
            'remove': n.create_client(srv.RemoveTarget, f'{NODE}/remove_target'),
            'list': n.create_client(srv.ListTargets, f'{NODE}/list_targets'),
            'reset': n.create_client(Trigger, f'{NODE}/reset')}
        self.index = 0

    def _keep(self, key: str):
        def store(msg) -> None:
            with self._lock:
                self.got[key].append(msg)
        return store

    def start(self) -> None:
        node = self.runner.node
        node.trigger_configure()
        assert node.lifecycle_state == 'inactive', node.last_error
        node.trigger_activate()
        assert node.lifecycle_state == 'active'
        assert wait_for(lambda: all(p.get_subscription_count() for p in self.pubs.values())), \
            'the node did not subscribe'
        assert all(c.wait_for_service(timeout_sec=10.0) for c in self.clients.values())

    def send(self, with_=('info', 'depth', 'thermal', 'events'), rgb: Image = None,
             depth: Image = None) -> int:
        """
        Publish one frame (partners first, RGB once they arrived); return its stamp.

        `rgb` and `depth` replace the default images (restamped with the frame's stamp).
        """
        stamp = time.time_ns()
        self.index += 1
        node = self.runner.node
        before = {k: v['received'] for k, v in node.snapshot()['sync'].items() if k != 'sync'}
        if 'info' in with_:
            self.pubs['info'].publish(camera_info_msg(stamp))
        if 'depth' in with_:
            self.pubs['depth'].publish(restamped(depth, stamp) if depth else depth_msg(stamp))
        if 'thermal' in with_:
            self.pubs['thermal'].publish(thermal_msg(stamp))
        if 'events' in with_:
            self.pubs['events'].publish(events_msg(stamp + 1_000_000))
        # Topics are not ordered with each other: let the partners arrive first, so that a
        # modality back from silence (stale) is matched instead of skipped.
        partners = [k for k in ('depth', 'thermal', 'events') if k in with_]
        assert wait_for(lambda: all(node.snapshot()['sync'][k]['received'] > before[k]
                                    for k in partners)), 'partners did not arrive'
        self.pubs['rgb'].publish(restamped(rgb, stamp) if rgb else rgb_msg(self.index % 40, stamp))
        return stamp

    def output(self, key: str, stamp: int, timeout: float = 30.0):
        """Return the output `key` stamped `stamp`, waiting for it."""
        def find():
            with self._lock:
                return next((m for m in self.got[key] if stamp_ns_of(m.header) == stamp), None)
        assert wait_for(lambda: find() is not None, timeout), f'no {key} stamped {stamp}'
        return find()

    def call(self, name: str, request):
        future = self.clients[name].call_async(request)
        assert wait_for(future.done, 60.0), f'{name} did not answer'
        return future.result()

    def add_box(self, box, label: str = 'red', target_id: int = 0):
        req = srv.AddTarget.Request(prompt_type=srv.AddTarget.Request.PROMPT_BOX, label=label,
                                    target_id=target_id)
        x1, y1, x2, y2 = box
        req.box.center.position.x, req.box.center.position.y = (x1 + x2) / 2, (y1 + y2) / 2
        req.box.size_x, req.box.size_y = x2 - x1, y2 - y1
        return self.call('add', req)

    def fresh(self) -> int:
        """Reset the targets and track one frame; return its stamp."""
        assert self.call('reset', Trigger.Request()).success
        stamp = self.send()
        self.output('detections', stamp)
        return stamp

    def close(self) -> None:
        self.side.close()
        self.runner.close()


@pytest.fixture(scope='module')
def rig():
    r = Rig()
    try:
        r.start()
        yield r
    finally:
        r.close()


def test_outputs_carry_the_rgb_header(rig):
    rig.fresh()
    stamp = rig.send()
    dets = rig.output('detections', stamp)
    mask = rig.output('instance_mask', stamp)
    states = rig.output('targets', stamp)
    for msg in (dets, mask, states):
        assert msg.header.frame_id == node_helpers.FRAME_ID
    assert (mask.encoding, mask.height, mask.width) == ('16UC1', HEIGHT, WIDTH)
    assert dets.detections == [] and states.targets == []


def test_added_box_target_is_tracked_with_its_id_in_every_output(rig):
    rig.fresh()
    resp = rig.add_box(node_helpers.RED_BOX, label='red')
    assert resp.success, resp.message
    target = resp.target_id
    assert target >= 1 and list(resp.target_ids) == [target]
    stamp = rig.send()
    dets = rig.output('detections', stamp).detections
    assert [d.id for d in dets] == [str(target)]
    assert dets[0].results[0].hypothesis.class_id == 'red'
    assert 0.0 < dets[0].results[0].hypothesis.score <= 1.0
    assert dets[0].bbox.size_x > 0 and dets[0].bbox.size_y > 0
    mask = rig.output('instance_mask', stamp)
    pixels = np.frombuffer(bytes(mask.data), '<u2').reshape(HEIGHT, WIDTH)
    assert set(np.unique(pixels)) <= {0, target} and (pixels == target).any()
    dets3d = rig.output('detections_3d', stamp).detections
    assert [d.id for d in dets3d] == [str(target)]
    assert dets3d[0].bbox.center.position.z == pytest.approx(2.0)  # flat 2000 mm depth
    assert dets3d[0].bbox.size.x == pytest.approx(dets[0].bbox.size_x * 2.0 / 100.0)
    states = rig.output('targets', stamp).targets
    assert [(s.id, s.label, s.state) for s in states] == [(target, 'red', 0)]
    labels = rig.output('label_info', stamp).class_map
    assert [(c.class_id, c.class_name) for c in labels] == [(0, 'background'), (target, 'red')]
    listed = rig.call('list', srv.ListTargets.Request())
    assert [s.id for s in listed.targets] == [target]
    assert stamp_ns_of(listed.header) == stamp


def test_bad_prompts_fail_with_a_message_and_leave_targets_untouched(rig):
    rig.fresh()
    good = rig.add_box(node_helpers.RED_BOX)
    assert good.success
    zero = rig.add_box((40.0, 30.0, 40.0, 60.0))
    assert not zero.success and 'zero or negative area' in zero.message
    assert zero.target_id == 0 and list(zero.target_ids) == [good.target_id]
    outside = rig.add_box((500.0, 500.0, 600.0, 600.0))
    assert not outside.success and 'outside' in outside.message
    kind = rig.call('add', srv.AddTarget.Request(prompt_type=7))
    assert not kind.success and 'unknown prompt_type 7' in kind.message
    points = srv.AddTarget.Request(prompt_type=srv.AddTarget.Request.PROMPT_POINTS,
                                   points=[vm.Point2D(x=5.0, y=5.0)], point_labels=[])
    reply = rig.call('add', points)
    assert not reply.success and 'point_labels' in reply.message
    mask = srv.AddTarget.Request(prompt_type=srv.AddTarget.Request.PROMPT_MASK,
                                 mask=image_msg(np.ones((HEIGHT, WIDTH), np.uint16), '16UC1', 0))
    reply = rig.call('add', mask)
    assert not reply.success and 'mono8' in reply.message
    used = rig.add_box((90.0, 10.0, 115.0, 35.0), target_id=good.target_id - 1)
    assert not used.success and 'target id' in used.message
    stamp = rig.send()
    assert [d.id for d in rig.output('detections', stamp).detections] == [str(good.target_id)]


def test_points_mask_and_thermal_prompts(rig):
    rig.fresh()
    points = srv.AddTarget.Request(prompt_type=srv.AddTarget.Request.PROMPT_POINTS,
                                   points=[vm.Point2D(x=20.0, y=45.0)], point_labels=[1])
    by_points = rig.call('add', points)
    assert by_points.success, by_points.message
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[30:60, 10:35] = 255
    by_mask = rig.call('add', srv.AddTarget.Request(
        prompt_type=srv.AddTarget.Request.PROMPT_MASK, mask=image_msg(mask, 'mono8', 0)))
    assert by_mask.success, by_mask.message
    thermal = srv.AddTarget.Request(prompt_type=srv.AddTarget.Request.PROMPT_BOX,
                                    modality='thermal')
    thermal.box.center.position.x, thermal.box.center.position.y = 11.0, 22.0
    thermal.box.size_x, thermal.box.size_y = 12.0, 14.0
    by_thermal = rig.call('add', thermal)
    assert by_thermal.success, by_thermal.message
    assert len(by_thermal.target_ids) == 3
    unknown = srv.AddTarget.Request(prompt_type=0, modality='radar')
    reply = rig.call('add', unknown)
    assert not reply.success and 'radar' in reply.message


def test_remove_list_and_reset(rig):
    rig.fresh()
    first, second = rig.add_box(node_helpers.RED_BOX), rig.add_box((90.0, 10.0, 115.0, 35.0))
    assert first.success and second.success
    removed = rig.call('remove', srv.RemoveTarget.Request(target_id=first.target_id))
    assert removed.success and list(removed.target_ids) == [second.target_id]
    again = rig.call('remove', srv.RemoveTarget.Request(target_id=first.target_id))
    assert not again.success and f'unknown target id {first.target_id}' in again.message
    listed = rig.call('list', srv.ListTargets.Request())
    assert [s.id for s in listed.targets] == [second.target_id]
    assert rig.call('reset', Trigger.Request()).success
    assert rig.call('list', srv.ListTargets.Request()).targets == []
    stamp = rig.send()
    assert rig.output('detections', stamp).detections == []


def _status(rig, suffix: str, since: float):
    """Return the newest diagnostics status whose name ends with `suffix`, received after."""
    with rig._lock:
        arrays = [a for a in rig.got['diagnostics'] if stamp_ns_of(a.header) > since]
    for array in reversed(arrays):
        for status in array.status:
            if status.name.endswith(suffix):
                return status
    return None


def test_silent_thermal_warns_in_diagnostics_and_tracking_continues(rig):
    rig.fresh()
    assert rig.add_box(node_helpers.RED_BOX).success
    time.sleep(0.8)  # longer than thermal.timeout: thermal is stale
    stamp = rig.send(with_=('info', 'depth', 'events'))
    assert len(rig.output('detections', stamp).detections) == 1
    # The statistics are updated right after publishing: wait for them.
    assert wait_for(lambda: rig.runner.node.snapshot()['pipeline']['aux_modality'] == 'depth')
    since = time.time_ns()
    assert wait_for(lambda: _status(rig, 'input thermal', since) is not None)
    status = _status(rig, 'input thermal', since)
    assert status.level == DiagnosticStatus.WARN and 'silent' in status.message
    tracker = _status(rig, ': tracker', since)
    values = {kv.key: kv.value for kv in tracker.values}
    assert 'thermal' in values['stale_modalities'] and int(values['frames']) >= 1
    assert _status(rig, 'input rgb', since).level == DiagnosticStatus.OK
    stamp = rig.send()  # thermal is back
    rig.output('detections', stamp)
    assert wait_for(
        lambda: rig.runner.node.snapshot()['pipeline']['aux_modality'] == 'thermal')


def test_events_reach_the_tracker(rig):
    rig.fresh()
    stats = rig.runner.node.snapshot()['sync']['events']
    assert stats['events_emitted'] > 0 and stats['accepted'] > 0


def test_bad_inputs_are_counted_and_the_node_keeps_tracking(rig):
    rig.fresh()
    node = rig.runner.node
    bad_rgb = image_msg(np.zeros((HEIGHT, WIDTH * 2), np.uint8), 'yuv422', 0)
    rig.send(with_=(), rgb=bad_rgb)
    assert wait_for(lambda: node.snapshot()['conversion'].get('rgb', {}).get('count', 0) >= 1)
    assert 'yuv422' in node.snapshot()['conversion']['rgb']['last']
    # Depth of another size than RGB: dropped from the frame, counted, the frame is tracked.
    # (send waits for the partners to arrive before RGB, so the set is matched, not raced.)
    small = image_msg(np.full((48, 64), 1000, np.uint16), '16UC1', 0)
    rig.output('detections', rig.send(with_=('depth', 'thermal'), depth=small))
    depth_errors = node.snapshot()['conversion']['depth']
    assert depth_errors['count'] >= 1 and 'registered to rgb' in depth_errors['last']
    # NaN depth (32FC1, no returns): tracked, no 3D detection without valid depth.
    assert rig.add_box(node_helpers.RED_BOX).success
    no_returns = image_msg(np.full((HEIGHT, WIDTH), np.nan, np.float32), '32FC1', 0)
    stamp = rig.send(with_=('info', 'depth'), depth=no_returns)
    assert len(rig.output('detections', stamp).detections) == 1
    assert rig.output('detections_3d', stamp).detections == []
    assert node.lifecycle_state == 'active'


def test_a_flood_of_frames_drops_sets_and_counts_them(rig):
    rig.fresh()
    node = rig.runner.node
    before = node.snapshot()['slot']['dropped']
    stamps = []
    for _ in range(25):
        stamps.append(rig.send(with_=('depth', 'thermal')))
        time.sleep(0.005)
    rig.output('detections', stamps[-1], timeout=60.0)  # latest-only: the newest is tracked
    snap = node.snapshot()
    assert snap['slot']['dropped'] > before
    with rig._lock:
        seen = {stamp_ns_of(m.header) for m in rig.got['detections']}
    assert len(seen & set(stamps)) < len(stamps)


def test_prompts_refer_to_held_frames_by_stamp_and_bad_stamps_are_counted(rig):
    first = rig.fresh()
    rig.output('detections', rig.send())
    req = srv.AddTarget.Request(prompt_type=srv.AddTarget.Request.PROMPT_BOX, label='old')
    req.header = node_helpers.stamp_header(first)
    req.box.center.position.x, req.box.center.position.y = 22.5, 45.0
    req.box.size_x, req.box.size_y = 25.0, 30.0
    reply = rig.call('add', req)
    assert reply.success, reply.message
    req.header = node_helpers.stamp_header(first - 12_345)
    reply = rig.call('add', req)
    assert not reply.success and 'no held frame has stamp' in reply.message
    node = rig.runner.node
    zero_before = node.snapshot()['sync']['rgb']['zero']
    rig.pubs['rgb'].publish(rgb_msg(0, 0))
    assert wait_for(lambda: node.snapshot()['sync']['rgb']['zero'] == zero_before + 1)
    stamp = rig.send()
    assert [d.id for d in rig.output('detections', stamp).detections] == [str(reply.target_ids[0])]


def test_debug_image_is_published_while_someone_subscribes(rig):
    rig.fresh()
    assert rig.add_box(node_helpers.RED_BOX).success
    got = []
    sub = rig.side.node.create_subscription(Image, f'{NODE}/debug_image', got.append,
                                            qos_profile_sensor_data)  # debug is best effort
    try:
        assert wait_for(lambda: rig.runner.node._wants_debug())
        stamps = []

        def arrived() -> bool:
            stamps.append(rig.send())
            return wait_for(lambda: any(stamp_ns_of(m.header) in stamps for m in got), 2.0)
        assert wait_for(arrived, 30.0)
        image = next(m for m in got if stamp_ns_of(m.header) in stamps)
        assert (image.encoding, image.height, image.width) == ('rgb8', HEIGHT, WIDTH)
        assert image.header.frame_id == node_helpers.FRAME_ID
    finally:
        rig.side.node.destroy_subscription(sub)
    assert wait_for(lambda: not rig.runner.node._wants_debug())
