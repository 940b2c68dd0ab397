"""Every bad input is a ValueError saying what was wrong, and the stream is unchanged."""

import dataclasses

import numpy as np
import pytest
from sata_ros.data.sequence import EVENT_DTYPE
from sata_ros.tracking.prompts import Prompt
from tracking_helpers import (GREEN_BOX, make_tracker, RED_BOX, same_instances, snapshot,
                              square_frame)


@pytest.fixture(scope='module')
def tracker():
    return make_tracker()


@pytest.fixture
def stream(tracker):
    stream = tracker.open_stream()
    stream.track(square_frame(0))
    stream.add_target(Prompt.from_box(RED_BOX))
    stream.add_target(Prompt.from_box(GREEN_BOX))
    stream.track(square_frame(1))
    return stream


def frame_with(**changes):
    return dataclasses.replace(square_frame(2), **changes)


BAD_FRAMES = {
    'other size': (square_frame(2, size=(64, 80)), 'receives 128 x 96 frames'),
    'float rgb': (frame_with(rgb=np.zeros((96, 128, 3), np.float32)), 'uint8'),
    'rgba': (frame_with(rgb=np.zeros((96, 128, 4), np.uint8)), 'H x W x 3'),
    'depth size': (frame_with(depth=np.zeros((48, 64), np.uint16)), 'depth must be 96 x 128'),
    'depth dtype': (frame_with(depth=np.zeros((96, 128), np.int32)), 'uint16 mm'),
    'thermal rgb': (frame_with(thermal=np.zeros((48, 64, 3), np.uint16)), 'thermal must be'),
    'events dtype': (frame_with(events=np.zeros(5, np.float32)), 'events must be'),
    'events outside': (frame_with(events=np.array([(500, 5, 10, 1), (3, 4, 20, 0)],
                                                  EVENT_DTYPE)), 'outside'),
}


@pytest.mark.parametrize('case', sorted(BAD_FRAMES))
def test_bad_frames(stream, tracker, case):
    frame, message = BAD_FRAMES[case]
    before = snapshot(stream)
    with pytest.raises(ValueError, match=message):
        stream.track(frame)
    assert snapshot(stream) == before
    # The stream goes on exactly as one that never saw the bad frame.
    control = tracker.open_stream()
    control.track(square_frame(0))
    control.add_target(Prompt.from_box(RED_BOX))
    control.add_target(Prompt.from_box(GREEN_BOX))
    control.track(square_frame(1))
    assert same_instances(stream.track(square_frame(2)).instances,
                          control.track(square_frame(2)).instances)


BAD_PROMPTS = {
    'box outside': (Prompt.from_box((200, 200, 300, 300)), 'lies outside the 128 x 96 image'),
    'zero-area box': (Prompt.from_box((10, 10, 10, 40)), 'zero or negative area'),
    'nan box': (Prompt(box=(np.nan, 1, 2, 3)), '4 finite numbers'),
    'empty mask': (Prompt(mask=np.zeros((96, 128), bool)), 'mask is empty'),
    'mask size': (Prompt(mask=np.ones((10, 10), bool)), 'mask must be 96 x 128'),
    'mask and box': (Prompt(box=RED_BOX, mask=np.ones((96, 128), bool)), 'cannot be combined'),
    'point outside': (Prompt.from_points([[5, 500]], [1]), 'outside the 128 x 96 image'),
    'point label': (Prompt.from_points([[5, 5]], [7]), '1 .foreground. or 0'),
    'labels missing': (Prompt(points=np.array([[5.0, 5.0]])), 'together'),
    'empty': (Prompt(), 'empty prompt'),
}


@pytest.mark.parametrize('case', sorted(BAD_PROMPTS))
def test_bad_prompts(stream, case):
    prompt, message = BAD_PROMPTS[case]
    before = snapshot(stream)
    with pytest.raises(ValueError, match=message):
        stream.add_target(prompt)
    assert snapshot(stream) == before


def test_bad_ids_and_frames(stream, tracker):
    before = snapshot(stream)
    with pytest.raises(ValueError, match=r'unknown target id 7; live ids: \[1, 2\]'):
        stream.remove_target(7)
    with pytest.raises(ValueError, match='positive integer'):
        stream.add_target(Prompt.from_box(RED_BOX), target_id=-3)
    with pytest.raises(ValueError, match='no held frame has stamp 5 ns'):
        stream.add_target(Prompt.from_box(RED_BOX), stamp_ns=5)
    assert snapshot(stream) == before
    with pytest.raises(ValueError, match='no frame has been tracked yet'):
        tracker.open_stream().add_target(Prompt.from_box(RED_BOX))


def test_stream_full(tracker):
    small = tracker.open_stream(config=dataclasses.replace(tracker.config, max_targets=2))
    small.track(square_frame(0))
    small.add_target(Prompt.from_box(RED_BOX))
    small.add_target(Prompt.from_box(GREEN_BOX))
    before = snapshot(small)
    with pytest.raises(ValueError, match='already tracks 2 prompted targets'):
        small.add_target(Prompt.from_box(RED_BOX))
    assert snapshot(small) == before
