"""Live replay: the player's schedule, the recorder, and `sata eval --mode live` end to end."""

import json
import time

import numpy as np
import pytest
from ros_helpers import wait_for
from sata_ros.cli.main import main
from sata_ros.data.bag import write_bag
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.eval.replay import THERMAL_TOLERANCE_NS
from sata_ros.ros.bag_player import BagMessage, longest_gap_ns, read_inputs, schedule
from sata_ros.ros.output_recorder import OutputRecorder
from sata_ros.ros.params import SPEC_BY_NAME
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2D, Detection2DArray

# Every modality; thermal at its default half rate with its own stamps.
SCENE = SceneConfig(seed=7, num_frames=10, width=128, height=96, num_objects=2,
                    num_distractors=1)


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    return write_bag(generate_scene(SCENE), tmp_path_factory.mktemp('live') / 's.mcap')


def _eval(capsys, *args):
    assert main(['eval', *map(str, args), '--json']) == 0
    return json.loads(capsys.readouterr().out)


def _scores(result):
    """Everything but timing, paths and the live entry."""
    skip = ('timing_ms', 'live', 'bag')
    return {k: v for k, v in result.items() if k not in skip}


def _assert_same(live, offline, path=''):
    if isinstance(offline, dict):
        assert live.keys() == offline.keys(), path
        for key in offline:
            _assert_same(live[key], offline[key], f'{path}/{key}')
    elif isinstance(offline, list):
        assert len(live) == len(offline), path
        for i, (a, b) in enumerate(zip(live, offline)):
            _assert_same(a, b, f'{path}[{i}]')
    elif isinstance(offline, float):
        assert live == pytest.approx(offline, abs=1e-9), path
    else:
        assert live == offline, path


def test_the_offline_thermal_rule_is_the_nodes_default():
    assert THERMAL_TOLERANCE_NS == round(1e9 * SPEC_BY_NAME['thermal.tolerance'].default)


def _msg(name, stamp):
    return BagMessage(name, stamp, b'')


def test_schedule_sends_partners_ahead_up_to_the_longest_gap():
    msgs = [_msg('thermal', 90), _msg('depth', 100), _msg('rgb_info', 100), _msg('rgb', 100),
            _msg('depth', 200), _msg('rgb_info', 200), _msg('rgb', 200), _msg('thermal', 250),
            _msg('depth', 300), _msg('rgb', 300), _msg('thermal', 410)]
    assert longest_gap_ns(msgs) == 160  # thermal 90 -> 250 (rgb is not a partner)
    batches = schedule(msgs)
    assert [b.stamp_ns for b in batches] == [100, 200, 300]
    assert [[(m.name, m.stamp_ns) for m in b.partners] for b in batches] == [
        [('thermal', 90), ('depth', 100), ('depth', 200), ('thermal', 250)],
        [('depth', 300)],
        [('thermal', 410)]]  # the last frame takes whatever is left
    assert batches[0].info.stamp_ns == 100 and batches[2].info is None
    tight = schedule(msgs, lookahead_ns=0)
    assert [[m.stamp_ns for m in b.partners] for b in tight] == [[90, 100], [200], [250, 300,
                                                                                    410]]


def test_read_inputs_keeps_the_node_inputs_only(bag):
    messages, types = read_inputs(bag)
    names = {m.name for m in messages}
    assert names == {'rgb', 'rgb_info', 'depth', 'thermal', 'events'}  # no /gt, no metadata
    assert set(types) == names
    assert sum(m.name == 'rgb' for m in messages) == SCENE.num_frames
    assert all(a.stamp_ns <= b.stamp_ns for a, b in zip(messages, messages[1:]))


def test_recorder_matches_by_stamp_and_keeps_at_most_its_capacity(participants):
    pub_side, sub_side = participants
    recorder = OutputRecorder(sub_side.node, '/rec_test', capacity=3)
    dets = pub_side.node.create_publisher(Detection2DArray, '/rec_test/detections', 10)
    masks = pub_side.node.create_publisher(Image, '/rec_test/instance_mask', 10)
    assert wait_for(lambda: dets.get_subscription_count() and masks.get_subscription_count())
    for stamp in (5, 1, 2, 3, 4):  # out of order: matched by stamp, not arrival
        msg = Detection2DArray()
        msg.header.stamp.nanosec = stamp
        det = Detection2D(id=str(stamp + 10))
        det.bbox.center.position.x, det.bbox.center.position.y = 10.0, 20.0
        det.bbox.size_x, det.bbox.size_y = 4.0, 6.0
        msg.detections.append(det)
        dets.publish(msg)
        image = Image(height=2, width=3, encoding='16UC1', step=6,
                      data=np.full(6, stamp, np.uint16).tobytes())
        image.header.stamp.nanosec = stamp
        masks.publish(image)
        assert recorder.wait(stamp, 10.0)
    assert recorder.stamps() == [3, 4, 5] and recorder.evicted == 2
    out = recorder.get(4)
    assert out.boxes == {14: (8.0, 17.0, 12.0, 23.0)}
    assert out.labels.shape == (2, 3) and (out.labels == 4).all()
    assert not recorder.wait(99, 0.05)
    recorder.clear()
    assert recorder.stamps() == []


@pytest.mark.parametrize('protocol', ['separate', 'combined'])
def test_live_lock_step_equals_offline(bag, tmp_path, capsys, protocol):
    offline = _eval(capsys, bag, '--out', tmp_path / 'off', '--protocol', protocol)
    start = time.monotonic()
    live = _eval(capsys, bag, '--mode', 'live', '--out', tmp_path / 'on', '--protocol',
                 protocol, '--animation')
    assert time.monotonic() - start < 300
    passes = 2 if protocol == 'separate' else 1
    assert live['live']['pace'] == 'lock-step' and live['live']['dropped'] == 0
    assert [p['answered'] for p in live['live']['passes']] == [SCENE.num_frames] * passes
    _assert_same(_scores(live), _scores(offline))
    # Non-trivial: prompted targets were scored, and the MOT run saw something.
    assert live['targets'] and live['sot'] and live['mot']['TP'] + live['mot']['FP'] > 0
    assert live['timing_ms']['calls'] > 0 and live['live']['latency_ms']['p50'] > 0
    assert (tmp_path / 'on' / 'animation.gif').exists()
    log = (tmp_path / 'on' / 'node.log').read_text()
    assert 'Traceback' not in log and 'UNTRAINED' not in log, log


def test_live_real_time_reports_dropped_frames_and_latency(bag, tmp_path, capsys):
    live = _eval(capsys, bag, '--mode', 'live', '--rate', '1', '--tasks', 'mot', '--out',
                 tmp_path)
    info = live['live']
    assert info['pace'] == 'real-time' and info['rate'] == 1.0
    (run,) = info['passes']
    assert run['published'] == SCENE.num_frames
    assert run['answered'] + run['dropped'] == SCENE.num_frames and run['answered'] >= 1
    assert info['dropped'] == run['dropped'] == len(run['dropped_frames'])
    # The worker keeps the newest set, so the last frame is never the one dropped.
    assert SCENE.num_frames - 1 not in run['dropped_frames']
    assert 0 < info['latency_ms']['p50'] <= info['latency_ms']['p95']
    assert live['mot'] is not None


def test_live_without_a_node_is_a_clear_error(bag, tmp_path, capsys):
    code = main(['eval', str(bag), '--mode', 'live', '--node', '/no_such/sata_tracker',
                 '--startup-timeout', '1', '--out', str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert 'no tracker node /no_such/sata_tracker' in err and 'use_sim_time' in err
