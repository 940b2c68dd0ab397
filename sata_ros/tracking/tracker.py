"""
The Tracker: one SATA model serving any number of independent streams (one per camera).

    tracker = Tracker.from_variant('sata_nano')
    stream = tracker.open_stream('front')
    stream.track(frame0)                                  # encodes and holds the frame
    stream.add_target(Prompt.from_box((40, 50, 120, 140)), label='person')
    result = stream.track(frame1)                         # FrameResult, ids stable

The model holds no per-stream state, so two streams never see each other's targets.
"""

import itertools
import pathlib
from typing import Optional, Union

from sata_ros.model.runtime import RuntimeOptions
from sata_ros.model.sam_steps import check_sam21
from sata_ros.model.sata import build_sata, SataModel
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.stream import Stream
import torch


class Tracker:
    """
    Holds the model and its runtime options; opens streams.

    Args:
        model: a SataModel (eval mode is set here).
        config: default TrackerConfig of the streams it opens.
        runtime: device, precision, layout and compilation (CPU float32 by default).

    """

    def __init__(self, model: SataModel, config: Optional[TrackerConfig] = None,
                 runtime: Optional[RuntimeOptions] = None) -> None:
        check_sam21(model.sam)
        self.config = config or TrackerConfig()
        self.runtime = runtime or RuntimeOptions()
        self.model = self.runtime.prepare(model).eval()
        self._names = itertools.count(1)

    @staticmethod
    def from_variant(variant: str = 'sata_nano',
                     checkpoint: Optional[Union[str, pathlib.Path]] = None,
                     config: Optional[TrackerConfig] = None,
                     runtime: Optional[RuntimeOptions] = None) -> 'Tracker':
        """Build the model of `variant` (optionally loading a sata_ros checkpoint) and wrap it."""
        return Tracker(build_sata(variant, checkpoint), config, runtime)

    def open_stream(self, name: Optional[str] = None,
                    config: Optional[TrackerConfig] = None) -> Stream:
        """Return a new, empty stream (its own targets, ids and memory)."""
        return Stream(self, name or f'stream{next(self._names)}', config or self.config)

    def release(self) -> None:
        """Move the model to the CPU and return cached GPU memory (e.g. on node deactivate)."""
        self.model.to('cpu')
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
