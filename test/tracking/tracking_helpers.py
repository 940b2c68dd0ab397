"""Shared construction for the tracker tests: a seeded sata_nano and cheap synthetic frames."""

import dataclasses

import numpy as np
from sata_ros.data.sequence import Frame
from sata_ros.model.config import get_config
from sata_ros.model.sata import build_sata
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.tracker import Tracker
import torch

HEIGHT, WIDTH = 96, 128


def make_tracker(presence: float = 10.0, dense_prompts: bool = False, **config) -> Tracker:
    """
    Return a tracker on an untrained sata_nano whose presence head says `presence`.

    `dense_prompts` builds the model with that SataConfig setting (the same weights either way).

    Untrained SAM 2.1 heads give presence logits near zero with an arbitrary sign; tests set
    the bias of the object-score head so that targets are deterministically visible
    (presence > 0) or absent (< 0) while everything else runs unchanged.
    """
    torch.manual_seed(0)
    model = build_sata(dataclasses.replace(get_config('sata_nano'), dense_prompts=dense_prompts))
    tracker = Tracker(model, TrackerConfig(**config))
    head = tracker.model.sam.sam_mask_decoder.pred_obj_score_head.layers[-1]
    set_presence(tracker, presence)
    assert head.bias.shape == (1,)
    return tracker


def set_presence(tracker: Tracker, presence: float) -> None:
    """Make every decoded target visible (presence > 0) or absent (< 0)."""
    head = tracker.model.sam.sam_mask_decoder.pred_obj_score_head.layers[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(presence)


def square_frame(index: int, thermal: bool = False, depth: bool = False,
                 size: tuple[int, int] = (HEIGHT, WIDTH)) -> Frame:
    """Return frame `index` of a scene with a red square moving right and a fixed green one."""
    height, width = size
    rgb = np.full((height, width, 3), 90, np.uint8)
    x = 10 + 2 * index % (width - 40)
    rgb[30:60, x:x + 25] = (200, 60, 60)
    rgb[10:35, 90:115] = (60, 200, 60)
    extra = {}
    if thermal:
        counts = np.full((height // 2, width // 2), 29315, np.uint16)
        counts[15:30, x // 2:x // 2 + 12] = 31000
        extra['thermal'] = counts
    if depth:
        extra['depth'] = np.full((height, width), 2000, np.uint16)
    return Frame(index, 1_000_000 + index * 33_000_000, rgb, **extra)


RED_BOX = (10.0, 30.0, 35.0, 60.0)
GREEN_BOX = (90.0, 10.0, 115.0, 35.0)


def snapshot(stream) -> tuple:
    """Return everything observable about a stream's state (to show it did not change)."""
    return (stream.frame_index, stream.target_ids, stream.held_stamps,
            tuple(sorted(stream.memory_stats().items())))


def same_instances(a, b) -> bool:
    """Whether two InstanceResult lists are identical (ids, states, boxes, masks, scores)."""
    if [i.target_id for i in a] != [i.target_id for i in b]:
        return False
    for x, y in zip(a, b):
        if (x.state, x.label, x.origin) != (y.state, y.label, y.origin):
            return False
        if not np.array_equal(x.mask, y.mask) or not np.allclose(x.box, y.box, atol=1e-4):
            return False
        if abs(x.score - y.score) > 1e-5:
            return False
    return True
