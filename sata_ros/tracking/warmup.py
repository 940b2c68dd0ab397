"""
Warm-up: run a tracker's every path once on blank frames before real frames arrive.

The first call of each model part is slow: PyTorch allocates and selects kernels, CUDA builds
its context, and with `RuntimeOptions.compile_trunk` the first call compiles the trunk (392 s
on this project's 2-core CPU machine; the second frame took 172 ms). A node that meets that
cost on its first camera frame stalls its worker and times out its service calls, so the node
pays it when it activates instead. The warm-up stream is thrown away: the streams opened
before or after it keep their own ids, targets and memory.
"""

from dataclasses import replace
import time
from typing import Sequence

import numpy as np
from sata_ros.data.sequence import EVENT_DTYPE, Frame
from sata_ros.tracking.config import AUX_MODALITIES
from sata_ros.tracking.prompts import Prompt
from sata_ros.tracking.tracker import Tracker

_PERIOD_NS = 33_333_333  # 30 Hz stamps


def blank_frame(index: int, size: tuple[int, int], modalities: Sequence[str] = ()) -> Frame:
    """
    Return a mid-grey frame with a lighter square, plus an empty input per named modality.

    Args:
        index: frame index; the stamp is index / 30 s.
        size: (height, width) in pixels, each at least 8.
        modalities: any of AUX_MODALITIES; depth and thermal are uint16 zeros, events an
            empty event array, event_image black.

    Raises:
        ValueError: a size below 8 pixels or an unknown modality (the message lists them).

    """
    height, width = size
    if min(height, width) < 8:
        raise ValueError(f'warm-up frame size must be at least 8 x 8 pixels, got {size}')
    unknown = [m for m in modalities if m not in AUX_MODALITIES]
    if unknown:
        raise ValueError(f'unknown modality {unknown[0]!r}; known: {", ".join(AUX_MODALITIES)}')
    rgb = np.full((height, width, 3), 128, np.uint8)
    rgb[height // 4:height // 2, width // 4:width // 2] = 200
    stamp = index * _PERIOD_NS
    inputs: dict = {}
    if 'depth' in modalities:
        inputs['depth'] = np.zeros((height, width), np.uint16)
    if 'thermal' in modalities:
        inputs.update(thermal=np.zeros((height, width), np.uint16), thermal_stamp_ns=stamp)
    if 'events' in modalities:
        inputs['events'] = np.zeros(0, EVENT_DTYPE)
    if 'event_image' in modalities:
        inputs['event_image'] = np.zeros((height, width, 3), np.uint8)
    return Frame(index, stamp, rgb, **inputs)


def warm_up(tracker: Tracker, size: tuple[int, int] = (480, 640),
            modalities: Sequence[str] = (), frames: int = 3) -> float:
    """
    Track `frames` blank frames in a throwaway stream, with one box target from the first.

    The stream runs in mode 'both', so the encoder, the prompt decoder, memory attention, the
    memory encoder and the detection head all run. Frames are resized to the model's input
    before the trunk, so `size` only matters for the steps before it.

    Args:
        tracker: the tracker to warm up (its model on its device already).
        size: (height, width) of the blank frames, pixels.
        modalities: auxiliary inputs to include (the node passes its enabled ones).
        frames: frames to track, at least 2 (one prompted, one tracked from memory).

    Returns:
        Wall-clock seconds the warm-up took.

    Raises:
        ValueError: fewer than 2 frames, or see `blank_frame`.

    """
    if frames < 2:
        raise ValueError(f'warm-up needs at least 2 frames (prompt, then memory), got {frames}')
    start = time.perf_counter()
    blanks = [blank_frame(k, size, modalities) for k in range(frames)]
    stream = tracker.open_stream('warm-up', replace(tracker.config, mode='both'))
    height, width = size
    stream.track(blanks[0])
    stream.add_target(Prompt.from_box((width / 4, height / 4, width / 2, height / 2)))
    for frame in blanks[1:]:
        stream.track(frame)
    return time.perf_counter() - start
