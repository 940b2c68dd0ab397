"""Detected instances (MOT/MOTS): box prompts, MEM embeddings, gated matching, shared ids."""

import numpy as np
import pytest
from sata_ros.tracking.prompts import Prompt
from sata_ros.tracking.stream import Detections
from tracking_helpers import make_tracker, RED_BOX, square_frame


@pytest.fixture(scope='module')
def tracker():
    return make_tracker(mode='both', association='iou', match_threshold=0.3, lost_after=2,
                        drop_after=4)


def red_box(index):
    x = 10 + 2 * index % 88
    return [x, 30, x + 25, 60]


def detections(boxes, labels=None):
    return Detections(np.array(boxes, float), np.full(len(boxes), 0.9),
                      labels or ['thing'] * len(boxes))


def test_ids_follow_detections_and_new_instances_get_new_ids(tracker):
    stream = tracker.open_stream(config=tracker.config.__class__(
        mode='detected', association='iou', match_threshold=0.3, lost_after=2, drop_after=4))
    green = [90, 10, 115, 35]
    ids = []
    for i in range(6):
        boxes = [red_box(i), green] if i < 3 else [red_box(i), green, [20, 70, 50, 95]]
        result = stream.track(square_frame(i), detections(boxes))
        ids.append([inst.target_id for inst in result.instances if inst.state == 'tracked'])
        assert all(inst.origin == 'detected' for inst in result.instances)
    assert ids[:3] == [[1, 2]] * 3 and ids[3:] == [[1, 2, 3]] * 3
    red = result.get(1)
    assert red.label == 'thing' and red.score == pytest.approx(0.9)
    assert red.mask.shape == (96, 128) and red.box[2] > red.box[0]
    # Green vanishes: occluded, lost, then dropped after drop_after frames.
    states = []
    for i in range(6, 10):
        result = stream.track(square_frame(i), detections([red_box(i), [20, 70, 50, 95]]))
        states.append(result.get(2).state if result.get(2) else 'dropped')
    assert states == ['occluded', 'lost', 'lost', 'dropped']
    assert result.dropped_ids == [2] and 2 not in stream.target_ids
    # It comes back as a new instance; its old id is never reused.
    result = stream.track(square_frame(10), detections([red_box(10), green, [20, 70, 50, 95]]))
    assert [i.target_id for i in result.instances] == [1, 3, 4]


def test_prompted_and_detected_share_ids_without_duplicates(tracker):
    def start():
        stream = tracker.open_stream()
        stream.track(square_frame(0), detections([]))
        assert stream.add_target(Prompt.from_box(RED_BOX), label='red').target_id == 1
        return stream

    # Where the (untrained) model puts target 1 on frame 1, found by a first identical run.
    prompted_box = list(start().track(square_frame(1), detections([])).get(1).box)
    stream = start()
    result = stream.track(square_frame(1), detections([prompted_box, [90, 10, 115, 35]]))
    # The detection on the prompted target is that target; only the other one is new.
    origins = [(i.target_id, i.origin) for i in result.instances]
    assert origins == [(1, 'prompted'), (2, 'detected')]
    assert stream.add_target(Prompt.from_box(RED_BOX)).target_id == 3
    stream.remove_target(2)
    assert stream.target_ids == [1, 3]


def test_detection_head_feeds_the_tracker():
    tracker = make_tracker(mode='detected', detection_score=0.0, max_detections=3)
    stream = tracker.open_stream()
    first = stream.track(square_frame(0))
    second = stream.track(square_frame(1))
    # An untrained head scores everything about equally; with no threshold it still yields
    # max_detections boxes, each becoming an instance with a valid box inside the image.
    assert len([i for i in first.instances if i.state == 'tracked']) == 3
    assert all(i.label == 'object' for i in second.instances)
    for inst in second.instances:
        if inst.state == 'tracked':
            x1, y1, x2, y2 = inst.box
            assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 96


def test_bad_detections_are_rejected(tracker):
    stream = tracker.open_stream()
    stream.track(square_frame(0), detections([red_box(0)]))
    before = stream.target_ids
    with pytest.raises(ValueError, match='one score and label per box'):
        stream.track(square_frame(1), Detections(np.array([red_box(1)], float),
                                                 np.array([0.9, 0.8]), ['a']))
    with pytest.raises(ValueError, match='x2 > x1'):
        stream.track(square_frame(1), detections([[50, 50, 40, 60]]))
    assert stream.target_ids == before and stream.frame_index == 1
    prompted = make_tracker().open_stream()
    with pytest.raises(ValueError, match="mode is 'prompted'"):
        prompted.track(square_frame(0), detections([red_box(0)]))
