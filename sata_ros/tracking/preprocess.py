"""
Turn one multi-modal `Frame` into the model's input tensors, validating it first.

RGB and each auxiliary modality are encoded at their own resolution (data/modality_encoding.py)
and resized to the model's square input (S x S, as SAM 2's video predictor does: no letterbox,
the aspect ratio is not kept). Auxiliary images are assumed registered to the RGB view (depth
and events on the RGB pixel grid; thermal covering the same field of view at its own size).
The model takes RGB plus one auxiliary modality; when a frame carries several, the first of
`aux_priority` present is used.
"""

from typing import NamedTuple, Optional

import numpy as np
from sata_ros.data import modality_encoding as enc
from sata_ros.data.sequence import EVENT_DTYPE, Frame
from sata_ros.model.encoder import group_index
from sata_ros.tracking.config import TrackerConfig
import torch
import torch.nn.functional as F


class FrameInputs(NamedTuple):
    """
    Model inputs of one frame.

    Attributes:
        rgb: (1, 3, S, S) float32 ImageNet-normalised RGB.
        aux: (1, 3, S, S) float32 encoded auxiliary modality, or None.
        aux_group: (1,) int64 DeMoE group of `aux`, or None.
        aux_modality: name of the auxiliary modality used, or None.
        present: modalities the frame carried.

    """

    rgb: torch.Tensor
    aux: Optional[torch.Tensor]
    aux_group: Optional[torch.Tensor]
    aux_modality: Optional[str]
    present: tuple[str, ...]


def frame_size(frame: Frame) -> tuple[int, int]:
    """Return (height, width) of the frame's RGB image after checking its layout."""
    rgb = frame.rgb
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or (
            rgb.dtype != np.uint8):
        shape = getattr(rgb, 'shape', None)
        dtype = getattr(rgb, 'dtype', type(rgb).__name__)
        raise ValueError(f'rgb must be an H x W x 3 uint8 array, got shape {shape} '
                         f'dtype {dtype}')
    if rgb.shape[0] < 16 or rgb.shape[1] < 16:
        raise ValueError(f'rgb must be at least 16 x 16 pixels, got {rgb.shape[1]} x '
                         f'{rgb.shape[0]}')
    return rgb.shape[0], rgb.shape[1]


def _resize(image: np.ndarray, size: int) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(image))[None]
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False,
                         antialias=True)


def _present(frame: Frame) -> tuple[str, ...]:
    names = ['rgb']
    for name in ('depth', 'thermal', 'events', 'event_image'):
        if getattr(frame, name) is not None:
            names.append(name)
    return tuple(names)


def _check_aux(name: str, frame: Frame) -> None:
    """Raise ValueError when auxiliary input `name` has the wrong shape or dtype."""
    height, width = frame.rgb.shape[:2]
    data = getattr(frame, name)
    if not isinstance(data, np.ndarray):
        raise ValueError(f'{name} must be a numpy array, got {type(data).__name__}')
    if name == 'depth' and (data.shape != (height, width)
                            or data.dtype not in (np.uint16, np.float32)):
        raise ValueError(f'depth must be {height} x {width} (registered to rgb) uint16 mm '
                         f'or float32 m, got shape {data.shape} dtype {data.dtype}')
    if name == 'thermal' and (data.ndim != 2 or data.dtype not in (np.uint16, np.uint8)
                              or min(data.shape) < 2):
        raise ValueError(f'thermal must be a 2-D uint16 (raw counts) or uint8 image, got '
                         f'shape {data.shape} dtype {data.dtype}')
    if name == 'events' and (data.dtype != EVENT_DTYPE or data.ndim != 1):
        raise ValueError(f'events must be a 1-D array of dtype {EVENT_DTYPE}, got shape '
                         f'{data.shape} dtype {data.dtype}')
    if name == 'event_image' and (data.shape != (height, width, 3) or data.dtype != np.uint8):
        raise ValueError(f'event_image must be {height} x {width} x 3 uint8, got shape '
                         f'{data.shape} dtype {data.dtype}')


def _encode_aux(name: str, frame: Frame, config: TrackerConfig) -> enc.Encoded:
    height, width = frame.rgb.shape[:2]
    data = getattr(frame, name)
    if name == 'depth':
        return enc.encode_depth(data, min_m=config.depth_min_m, max_m=config.depth_max_m)
    if name == 'thermal':
        if data.dtype == np.uint8:
            return enc.encode_thermal(data)
        return enc.encode_thermal(data, scale=config.thermal_scale, offset=config.thermal_offset)
    if name == 'events':
        # The array holds the frame's window of events; the encoding window is its span.
        t1 = int(data['t'].max()) if len(data) else 1
        t0 = int(data['t'].min()) if len(data) else 0
        return enc.encode_events(data, height, width, t0, max(t1, t0 + 1),
                                 method=config.event_method)
    return enc.encode_event_image(data)


def prepare_frame(frame: Frame, image_size: int, config: TrackerConfig) -> FrameInputs:
    """
    Validate and encode a frame for the model.

    Raises:
        ValueError: the frame's arrays have the wrong shape or dtype (the message names the
            modality and what was expected).

    """
    frame_size(frame)
    present = _present(frame)
    for name in present[1:]:
        _check_aux(name, frame)
    rgb = _resize(enc.encode_rgb(frame.rgb).image, image_size)
    aux_name = next((m for m in config.aux_priority if m in present), None)
    aux = group = None
    if aux_name is not None:
        aux = _resize(_encode_aux(aux_name, frame, config).image, image_size)
        group_name = 'event' if aux_name in ('events', 'event_image') else aux_name
        group = torch.tensor([group_index(group_name)])
    return FrameInputs(rgb, aux, group, aux_name, present)
