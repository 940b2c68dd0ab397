"""
Configuration of the streaming tracker: modes, capacities, lifecycle, association, encodings.

Every bound the engine keeps is here, with its unit; the node exposes the same names as ROS
parameters and `config/tracker.yaml` documents them.
"""

from dataclasses import dataclass, fields, MISSING
from typing import Any

MODES = ('prompted', 'detected', 'both')
ASSOCIATIONS = ('embedding', 'iou', 'embedding+iou')
AUX_MODALITIES = ('thermal', 'depth', 'events', 'event_image')
MEMORY_DTYPES = ('float32', 'bfloat16')


@dataclass(frozen=True)
class TrackerConfig:
    """
    Tracker settings (frames count tracked frames of one stream).

    Attributes:
        mode: 'prompted' (targets from add_target: SOT/VOS), 'detected' (instances from the
            detection head or caller-supplied boxes: MOT/MOTS) or 'both'.
        max_targets: live prompted targets per stream; add_target beyond it is refused.
        max_prompt_frames: prompted (conditioning) frames kept per target; when a correction
            prompt exceeds it, the oldest one after the first prompt is evicted (the first
            prompt is the user's reference and stays).
        frame_history: recent frames whose features a stream holds, so that a prompt may refer
            to a frame up to this many frames old (the target then catches up through them).
        lost_after: consecutive frames without the target before its state becomes 'lost'
            (before that it is 'occluded').
        drop_after: consecutive frames without the target after which it is dropped and its
            memory freed (the lost TTL); its id is never reused.
        mask_threshold: mask logit above which a pixel belongs to a target.
        prompt_motion: models with dense prompts carry each target's mask to its next frame
            as the prompt, moved by the target's last displacement (tracking/prompt_motion.py);
            this caps that move per frame and axis, as a fraction of the model's input side
            (0.1 = 6 cells of sata_nano's 64 x 64 prompt grid); 0 carries the mask unmoved.
        memory_dtype: storage precision of memory features ('bfloat16' halves memory).
        aux_priority: which auxiliary modality feeds the second stream when a frame carries
            several (the model takes RGB plus one).
        detection_score: minimum detection score for detected mode (score in [0, 1]). 0.5 was
            chosen for the shipped sata_nano checkpoint by MOT HOTA on validation scenes
            (README): 0.4 keeps about 3 boxes per true object, and above 0.5 its detections
            vanish in the dark; another checkpoint's scores may need another value.
        detection_nms_iou: IoU above which the detection head's boxes are suppressed.
        max_detections: detections kept per frame.
        association: 'embedding' (SATA: bi-softmax + cosine of MEM embeddings), 'iou' (box
            overlap with the tracklet's last box) or 'embedding+iou' (their mean).
        match_threshold: affinity gate of the Hungarian assignment (SATA: 0.75).
        affinity_temperature: divides embedding dot products in the bi-softmax (> 0).
        prompted_overlap: a detection whose box IoU with a prompted target's box exceeds this
            is that target, not a new instance (mode 'both').
        max_tracklets: detected instances tracked at once per stream.
        tracklet_history: MEM query states kept per detected tracklet (SATA: 15).
        thermal_scale, thermal_offset: Celsius per raw count and at count 0 (uint16 thermal).
        depth_min_m, depth_max_m: depth encoding range, metres.
        event_method: event encoding ('hist_surface', 'voxel', 'visevent').

    """

    mode: str = 'prompted'
    max_targets: int = 32
    max_prompt_frames: int = 4
    frame_history: int = 8
    lost_after: int = 30
    drop_after: int = 300
    mask_threshold: float = 0.0
    prompt_motion: float = 0.1
    memory_dtype: str = 'float32'
    aux_priority: tuple[str, ...] = AUX_MODALITIES
    detection_score: float = 0.5
    detection_nms_iou: float = 0.7
    max_detections: int = 50
    association: str = 'embedding+iou'
    match_threshold: float = 0.75
    affinity_temperature: float = 0.05
    prompted_overlap: float = 0.5
    max_tracklets: int = 128
    tracklet_history: int = 15
    thermal_scale: float = 0.01
    thermal_offset: float = -273.15
    depth_min_m: float = 0.3
    depth_max_m: float = 10.0
    event_method: str = 'hist_surface'

    def __post_init__(self) -> None:
        """Reject impossible settings with a message naming the field and the valid range."""
        choices = {'mode': MODES, 'association': ASSOCIATIONS, 'memory_dtype': MEMORY_DTYPES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f'{name} must be one of {list(allowed)}, '
                                 f'got {getattr(self, name)!r}')
        for name in ('max_targets', 'max_prompt_frames', 'frame_history', 'lost_after',
                     'drop_after', 'max_detections', 'max_tracklets', 'tracklet_history'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.drop_after < self.lost_after:
            raise ValueError(f'drop_after ({self.drop_after}) must be >= lost_after '
                             f'({self.lost_after})')
        for name in ('detection_score', 'detection_nms_iou', 'prompted_overlap',
                     'prompt_motion'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if self.affinity_temperature <= 0:
            raise ValueError(f'affinity_temperature must be > 0, got {self.affinity_temperature}')
        unknown = [m for m in self.aux_priority if m not in AUX_MODALITIES]
        if unknown:
            raise ValueError(f'aux_priority has unknown modalities {unknown}; known: '
                             f'{list(AUX_MODALITIES)}')
        if not self.depth_max_m > self.depth_min_m > 0:
            raise ValueError('depth range must satisfy 0 < depth_min_m < depth_max_m, got '
                             f'{self.depth_min_m}, {self.depth_max_m}')

    @staticmethod
    def from_dict(values: dict[str, Any]) -> 'TrackerConfig':
        """Build a config from plain values (YAML, ROS parameters); unknown keys are an error."""
        known = {f.name for f in fields(TrackerConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f'unknown tracker settings {unknown}; known: {sorted(known)}')
        return TrackerConfig(**typed_settings(TrackerConfig, values))


def typed_settings(cls: type, values: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    """
    Return `values` (keys: fields of the dataclass `cls`) as their fields' types.

    Each value goes through `typed_setting` against its field's default; errors name the
    setting as `prefix` + field name.
    """
    defaults = {f.name: f.default if f.default is not MISSING else f.default_factory()
                for f in fields(cls)}
    return {k: typed_setting(prefix + k, v, defaults[k]) for k, v in values.items()}


def typed_setting(name: str, value: Any, default: Any) -> Any:
    """
    Return a plain (YAML, ROS parameter) `value` as the type of the setting's `default`.

    An int is accepted for a float and a list for a tuple; a None default takes None or a
    string (an optional path). Anything else of the wrong type raises ValueError naming the
    setting, what was expected and what came.
    """
    if default is None:
        if value is None or isinstance(value, str):
            return value
        raise ValueError(f'{name} must be a string or null, got {value!r}')
    kind = type(default)
    if kind is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not kind:
        expected = {tuple: 'a list', float: 'a number', int: 'an integer', str: 'a string',
                    bool: 'true or false', dict: 'a mapping'}
        raise ValueError(f'{name} must be {expected.get(kind, kind.__name__)}, got {value!r}')
    return value
