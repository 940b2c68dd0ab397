"""Streaming tracker on sata_nano: ids, batching, independence, determinism, lifecycle."""

import numpy as np
import pytest
from sata_ros.model import sam_steps
from sata_ros.tracking.prompts import Prompt
import torch
from tracking_helpers import (GREEN_BOX, make_tracker, RED_BOX, same_instances, set_presence,
                              square_frame)


@pytest.fixture(scope='module')
def tracker():
    return make_tracker()


def test_ids_in_order_never_reused(tracker):
    stream = tracker.open_stream()
    stream.track(square_frame(0))
    assert stream.add_target(Prompt.from_box(RED_BOX)).target_id == 1
    assert stream.add_target(Prompt.from_box(GREEN_BOX), label='green').target_id == 2
    stream.remove_target(1)
    assert stream.add_target(Prompt.from_box(RED_BOX)).target_id == 3
    with pytest.raises(ValueError, match='already used'):
        stream.add_target(Prompt.from_box(RED_BOX), target_id=1)
    assert stream.add_target(Prompt.from_box(RED_BOX), target_id=10).target_id == 10
    assert stream.add_target(Prompt.from_box(RED_BOX)).target_id == 11
    # A live id is a correction of that target, not a new one.
    corrected = stream.add_target(Prompt.from_box(GREEN_BOX), target_id=2)
    assert corrected.target_id == 2 and corrected.label == 'green'
    assert stream.target_ids == [2, 3, 10, 11]
    stream.reset()
    assert stream.target_ids == []
    stream.track(square_frame(1))
    assert stream.add_target(Prompt.from_box(RED_BOX)).target_id == 12


def test_first_result_comes_from_the_prompt(tracker):
    stream = tracker.open_stream()
    result = stream.track(square_frame(0))
    assert result.instances == [] and result.frame_index == 0
    added = stream.add_target(Prompt(mask=square_frame(0).rgb[..., 0] == 200), label='red')
    # SAM 2.1 outputs a mask prompt as the mask itself on the prompted frame (resampled to
    # the model's 1/4-resolution logits and back, so the edges may move by a pixel).
    assert added.state == 'tracked' and added.origin == 'prompted'
    truth = square_frame(0).rgb[..., 0] == 200
    assert (added.mask & truth).sum() / (added.mask | truth).sum() > 0.9
    assert added.box == pytest.approx(RED_BOX)
    result = stream.track(square_frame(1))
    inst = result.get(1)
    assert inst.state == 'tracked' and inst.mask.shape == (96, 128) and inst.mask.any()
    x1, y1, x2, y2 = inst.box
    assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 96 and 0 < inst.score <= 1
    assert set(np.unique(result.instance_mask())) <= {0, 1}


def run(stream, frames, actions=None):
    """Track `frames`; actions[i] is called with the stream after frame i."""
    results = []
    for i in frames:
        results.append(stream.track(square_frame(i)))
        if actions and i in actions:
            actions[i](stream)
    return results


@pytest.fixture(scope='module')
def dense_tracker():
    return make_tracker(dense_prompts=True)


@pytest.mark.parametrize('dense', [False, True], ids=['memory', 'dense-prompts'])
def test_add_remove_mid_stream_leaves_others_unchanged(tracker, dense_tracker, dense):
    tracker = dense_tracker if dense else tracker

    def start(stream):
        stream.add_target(Prompt.from_box(RED_BOX))
        stream.add_target(Prompt.from_box(GREEN_BOX))

    alone = run(tracker.open_stream(), range(8), {0: start})
    busy_actions = {0: start,
                    2: lambda s: s.add_target(Prompt.from_box((40, 60, 70, 90))),
                    3: lambda s: s.add_target(Prompt.from_points([[64, 20]], [1])),
                    5: lambda s: s.remove_target(3)}
    busy = run(tracker.open_stream(), range(8), busy_actions)
    assert [i.target_id for i in busy[4].instances] == [1, 2, 3, 4]
    assert [i.target_id for i in busy[6].instances] == [1, 2, 4]
    for a, b in zip(alone, busy):
        assert same_instances(a.instances, [i for i in b.instances if i.target_id <= 2])


def test_two_streams_are_independent(tracker):
    def start(stream):
        stream.add_target(Prompt.from_box(RED_BOX))

    expected = run(tracker.open_stream(), range(5), {0: start})
    one, two = tracker.open_stream(), tracker.open_stream()
    got = []
    for i in range(5):
        got.append(one.track(square_frame(i)))
        if i == 0:
            start(one)
        two.track(square_frame(i, size=(64, 80)))
        if i == 1:
            two.add_target(Prompt.from_box((0, 0, 30, 30)))
            two.add_target(Prompt.from_box((30, 30, 60, 60)))
    for a, b in zip(expected, got):
        assert same_instances(a.instances, b.instances)
    assert one.target_ids == [1] and two.target_ids == [1, 2]


def test_same_input_same_output(tracker):
    def start(stream):
        stream.add_target(Prompt.from_box(RED_BOX))
        stream.add_target(Prompt.from_points([[100, 20], [5, 5]], [1, 0]))

    first = run(tracker.open_stream(), range(5), {0: start})
    second = run(tracker.open_stream(), range(5), {0: start})
    for a, b in zip(first[1:], second[1:]):
        assert same_instances(a.instances, b.instances)
        assert len(a.instances) == 2


@pytest.mark.parametrize('dense', [False, True], ids=['memory', 'dense-prompts'])
def test_prompt_on_an_older_held_frame_catches_up(tracker, dense_tracker, dense):
    tracker = dense_tracker if dense else tracker
    live = tracker.open_stream()
    expected = run(live, range(6), {2: lambda s: s.add_target(Prompt.from_box(RED_BOX))})
    late = tracker.open_stream()
    run(late, range(4))
    added = late.add_target(Prompt.from_box(RED_BOX), stamp_ns=square_frame(2).stamp_ns)
    assert same_instances([added], expected[3].instances)
    got = run(late, range(4, 6))
    assert same_instances(got[-1].instances, expected[-1].instances)


def test_dense_prompts_feed_each_target_its_previous_mask(tracker, dense_tracker):
    def start(stream):
        stream.add_target(Prompt.from_box(RED_BOX))
        stream.add_target(Prompt.from_points([[100, 20]], [1]))

    plain_stream = tracker.open_stream()
    plain = run(plain_stream, range(3), {0: start})
    assert all(t.last_mask is None for t in plain_stream._targets.values())
    stream = dense_tracker.open_stream()
    dense = run(stream, range(3), {0: start})
    # Same weights, other decoder inputs: the prompt frame sees the box's rectangle (the
    # click-only target an empty one) and each later frame the target's own last mask.
    assert not same_instances(plain[1].instances, dense[1].instances)
    side = dense_tracker.model.image_size // 4
    for target in stream._targets.values():
        assert target.last_mask.shape == (1, side, side)
        assert set(target.last_mask.unique().tolist()) <= {0.0, 1.0}


def test_lifecycle_occluded_lost_recovered_dropped():
    tracker = make_tracker(presence=10.0, lost_after=2, drop_after=5)
    stream = tracker.open_stream()
    stream.track(square_frame(0))
    stream.add_target(Prompt.from_box(RED_BOX))
    stream.add_target(Prompt.from_box(GREEN_BOX))
    set_presence(tracker, -10.0)  # both targets disappear
    states = [stream.track(square_frame(i)).get(1).state for i in range(1, 4)]
    assert states == ['occluded', 'lost', 'lost']
    gone = stream.track(square_frame(4)).get(1)
    assert gone.frames_missing == 4 and not gone.mask.any() and gone.score == 0.0
    set_presence(tracker, 10.0)  # they come back before the TTL: same ids
    back = stream.track(square_frame(5))
    assert [(i.target_id, i.state) for i in back.instances] == [(1, 'tracked'), (2, 'tracked')]
    set_presence(tracker, -10.0)
    results = [stream.track(square_frame(i)) for i in range(6, 11)]
    assert results[-1].dropped_ids == [1, 2] and results[-1].instances == []
    assert all(r.dropped_ids == [] for r in results[:-1])
    set_presence(tracker, 10.0)
    assert stream.add_target(Prompt.from_box(RED_BOX)).target_id == 3


def test_memory_stays_bounded_over_a_long_stream():
    tracker = make_tracker(frame_history=3, max_prompt_frames=2)
    sam = tracker.model.sam
    stream = tracker.open_stream()
    stream.track(square_frame(0))
    stream.add_target(Prompt.from_box(RED_BOX))
    stream.add_target(Prompt.from_box(GREEN_BOX))
    sizes = []
    for i in range(1, 121):
        stream.track(square_frame(i))
        if i % 20 == 0:  # corrections add prompted frames; the first prompt must stay
            stream.add_target(Prompt.from_box(GREEN_BOX), target_id=2)
        stats = stream.memory_stats()
        assert stats['held_frames'] <= 3
        assert stats['max_prompt_frames'] <= 2
        assert stats['max_feature_maps'] <= 2 + sam.num_maskmem - 1
        assert stats['max_pointers'] <= sam.max_obj_ptrs_in_encoder - 1
        sizes.append(stats['memory_bytes'])
    assert 0 in stream._targets[2].memory.cond  # noqa: SLF001 - the reference prompt stays
    assert max(sizes[40:]) == max(sizes[20:40])


def test_modality_that_disappears_is_reported(tracker):
    stream = tracker.open_stream()
    first = stream.track(square_frame(0, thermal=True))
    assert first.aux_modality == 'thermal' and first.modalities == ('rgb', 'thermal')
    stream.add_target(Prompt.from_box(RED_BOX))
    second = stream.track(square_frame(1, thermal=False))
    assert second.aux_modality is None and second.missing_modalities == ('thermal',)
    assert second.get(1).state == 'tracked'
    third = stream.track(square_frame(2, thermal=True, depth=True))
    assert third.aux_modality == 'thermal' and third.missing_modalities == ()


def test_timing_is_reported(tracker):
    stream = tracker.open_stream()
    result = stream.track(square_frame(0))
    assert set(result.timing_ms) == {'preprocess', 'encode', 'prompted', 'detected', 'total'}
    assert result.timing_ms['total'] >= result.timing_ms['encode'] > 0


@pytest.mark.parametrize('motion, expected', [(0.1, (14, 16)), (0.0, (12, 13))])
def test_dense_prompts_move_the_carried_mask_with_the_target(monkeypatch, motion, expected):
    tracker = make_tracker(dense_prompts=True, prompt_motion=motion)
    stream = tracker.open_stream()
    run(stream, range(2), {0: lambda s: s.add_target(Prompt.from_box(RED_BOX))})
    target = stream._targets[1]
    grid = target.last_mask.shape[-1]
    square = {}
    for name, (row, col) in {'before': (10, 10), 'last': (12, 13), 'want': expected}.items():
        square[name] = torch.zeros(1, grid, grid)
        square[name][0, row:row + 5, col:col + 5] = 1.0
    # The target moved by (+2, +3) cells between its last two frames.
    target.mask_before, target.last_mask = square['before'], square['last']
    seen = []
    real_decode = sam_steps.decode

    def decode(*args, **kwargs):
        seen.append(kwargs['mask_inputs'].clone())
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(sam_steps, 'decode', decode)
    stream.track(square_frame(2))
    assert torch.equal(seen[0][0], square['want'])
    # The new frame's own mask is carried next, the one before becomes its motion's start.
    assert torch.equal(target.mask_before, square['last'])
    assert not torch.equal(target.last_mask, square['last'])
