"""Warm-up: every model part runs once on blank frames, and no stream sees it."""

import numpy as np
import pytest
from sata_ros.data.sequence import EVENT_DTYPE
from sata_ros.tracking.prompts import Prompt
from sata_ros.tracking.warmup import blank_frame, warm_up
import torch
from tracking_helpers import make_tracker, square_frame

RED_BOX = (10, 30, 35, 60)


@pytest.fixture(scope='module')
def tracker():
    return make_tracker()


def _count_calls(tracker) -> tuple[dict, list]:
    """Return call counts per model part and the hook handles that keep them."""
    model = tracker.model
    parts = {'encoder': model.encoder, 'memory_attention': model.sam.memory_attention,
             'memory_encoder': model.sam.memory_encoder,
             'mask_decoder': model.sam.sam_mask_decoder, 'detector': model.detector}
    calls = dict.fromkeys(parts, 0)

    def hook(name):
        def count(*_):
            calls[name] += 1
        return count

    handles = [part.register_forward_hook(hook(name)) for name, part in parts.items()]
    return calls, handles


def test_warm_up_runs_every_model_part(tracker):
    calls, handles = _count_calls(tracker)
    try:
        seconds = warm_up(tracker, size=(48, 64), modalities=('thermal',), frames=3)
    finally:
        for handle in handles:
            handle.remove()
    assert seconds > 0
    assert calls['encoder'] == 3  # one encode per frame
    assert all(count >= 1 for count in calls.values()), calls


def test_warm_up_leaves_streams_and_weights_untouched(tracker):
    before = {k: v.clone() for k, v in tracker.model.state_dict().items()}

    def run(with_warm_up: bool):
        stream = tracker.open_stream()
        stream.track(square_frame(0))
        stream.add_target(Prompt.from_box(RED_BOX))
        if with_warm_up:
            warm_up(tracker, size=(48, 64))
        return stream.track(square_frame(1))

    plain, warmed = run(False), run(True)
    assert [i.target_id for i in warmed.instances] == [i.target_id for i in plain.instances]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(plain.instances, warmed.instances))
    after = tracker.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    fresh = tracker.open_stream()
    fresh.track(square_frame(0))
    assert fresh.add_target(Prompt.from_box(RED_BOX)).target_id == 1


def test_blank_frames_carry_each_named_modality():
    frame = blank_frame(2, (40, 50), ('depth', 'thermal', 'events', 'event_image'))
    assert frame.rgb.shape == (40, 50, 3) and frame.rgb.dtype == np.uint8
    assert frame.depth.shape == (40, 50) and frame.depth.dtype == np.uint16
    assert frame.thermal.dtype == np.uint16 and frame.thermal_stamp_ns == frame.stamp_ns
    assert frame.events.dtype == EVENT_DTYPE and len(frame.events) == 0
    assert frame.event_image.shape == (40, 50, 3)
    assert frame.stamp_ns == 2 * 33_333_333
    plain = blank_frame(0, (40, 50))
    assert plain.depth is None and plain.thermal is None and plain.events is None


@pytest.mark.parametrize('kwargs, text', [
    ({'frames': 1}, 'at least 2 frames'),
    ({'modalities': ('radar',)}, "unknown modality 'radar'; known: thermal, depth"),
    ({'size': (4, 64)}, 'at least 8 x 8 pixels'),
])
def test_bad_warm_up_arguments_name_the_problem(tracker, kwargs, text):
    with pytest.raises(ValueError, match=text):
        warm_up(tracker, **kwargs)
