"""
Parameters of the tracker node: declarations with descriptors, and validation into settings.

Every parameter is listed once in `SPECS` (name, default, unit, range or choices, read-only
flag). `declare_all` declares them on a node; a value given at start-up that rclpy refuses (out
of range, wrong type) does not crash the node: the parameter keeps its default and the error is
returned, so that `configure` fails with a message naming the parameter. `read_settings` turns
the values into the engine's `TrackerConfig`, `RuntimeOptions` and the synchronizer policies,
raising `ParamError` (naming the parameter) on anything inconsistent. `check_change` validates
runtime changes (choices; rclpy checks ranges and read-only flags itself).

Parameters apply at `configure`; a change while configured is validated and takes effect at the
next configure. The model and device parameters are read-only: set them at start-up.
"""

from dataclasses import dataclass, fields
import json
import textwrap
from typing import Any, Optional

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sata_ros.data.modality_encoding import EVENT_METHODS
from sata_ros.model.runtime import DTYPES, RuntimeOptions
from sata_ros.ros.sync import ModalityPolicy, SYNC_POLICIES
from sata_ros.tracking.config import (ASSOCIATIONS, AUX_MODALITIES, MEMORY_DTYPES, MODES,
                                      TrackerConfig)

# Inputs with their own QoS parameters, and the topic each subscribes to (relative names).
TOPICS = {'rgb': 'rgb/image', 'rgb_info': 'rgb/camera_info', 'depth': 'depth/image',
          'thermal': 'thermal/image', 'events': 'events', 'event_image': 'events/image'}
# Optional modalities (the synchronizer's partner inputs), in the tracker's naming.
MODALITIES = ('depth', 'thermal', 'events', 'event_image')
RELIABILITIES = ('best_effort', 'reliable', 'system_default')
_NS = 1_000_000_000


class ParamError(ValueError):
    """An invalid parameter value; the message starts with the parameter's name."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f'parameter {name}: {problem}')
        self.name = name


@dataclass(frozen=True)
class Spec:
    """
    One parameter: name, default (its type is the parameter's type) and documentation.

    Attributes:
        name: full parameter name ('tracker.mode', 'depth.tolerance', ...).
        default: default value; bool, int, float, str or a non-empty list of str.
        description: what it does (shown by `ros2 param describe`).
        unit: unit of a number ('s', 'm', 'px', ...), '' when none.
        low, high: inclusive range of a number, or None.
        choices: allowed values of a string (or of each element of a string list).
        read_only: set only at start-up (model and device).

    """

    name: str
    default: Any
    description: str
    unit: str = ''
    low: Optional[float] = None
    high: Optional[float] = None
    choices: tuple = ()
    read_only: bool = False

    def descriptor(self) -> ParameterDescriptor:
        """Return the ROS ParameterDescriptor (description, range, read-only flag)."""
        text = self.description
        if self.unit:
            text += f' [{self.unit}]'
        if self.choices:
            text += f' One of: {", ".join(self.choices)}.'
        desc = ParameterDescriptor(description=text, read_only=self.read_only)
        if self.low is not None and isinstance(self.default, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(self.low),
                                                            to_value=float(self.high))]
        elif self.low is not None and isinstance(self.default, int) and not isinstance(
                self.default, bool):
            desc.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high),
                                               step=1)]
        return desc

    def check_choice(self, value: Any) -> Optional[str]:
        """Return why `value` is not an allowed choice, or None when it is fine."""
        if not self.choices:
            return None
        values = value if isinstance(value, (list, tuple)) else [value]
        bad = [v for v in values if v not in self.choices]
        if bad:
            return f'{bad[0]!r} is not one of {list(self.choices)}'
        return None


_TRACKER_DOC = {
    'mode': ('prompted: targets from ~/add_target; detected: instances from the detection '
             'head (MOT); both', '', None, None, MODES),
    'max_targets': ('Live prompted targets at most; add_target beyond it is refused', '',
                    1, 1024, ()),
    'max_prompt_frames': ('Prompted frames kept per target', 'frames', 1, 64, ()),
    'frame_history': ('Recent frames a prompt stamp may refer to', 'frames', 1, 256, ()),
    'lost_after': ('Frames unseen before a target is lost (occluded before)', 'frames', 1,
                   1_000_000, ()),
    'drop_after': ('Frames unseen after which a target is dropped and its memory freed',
                   'frames', 1, 1_000_000, ()),
    'mask_threshold': ('Mask logit above which a pixel belongs to a target', 'logit', -50.0,
                       50.0, ()),
    'prompt_motion': ('Largest move per frame of a carried mask prompt (dense-prompt models: '
                      'the last mask moved by the last displacement); 0 = unmoved',
                      'fraction of image side', 0.0, 1.0, ()),
    'memory_dtype': ('Storage precision of target memories', '', None, None, MEMORY_DTYPES),
    'aux_priority': ('Auxiliary modality fed to the model when a frame has several, first '
                     'present wins', '', None, None, AUX_MODALITIES),
    'detection_score': ('Minimum detection score (detected mode); chosen for the shipped '
                        'checkpoint (README), retune it for another', '', 0.0, 1.0, ()),
    'detection_nms_iou': ('IoU above which detections are suppressed', '', 0.0, 1.0, ()),
    'max_detections': ('Detections kept per frame', '', 1, 10_000, ()),
    'association': ('How detections are matched to tracklets', '', None, None, ASSOCIATIONS),
    'match_threshold': ('Affinity gate of the Hungarian assignment', '', 0.0, 1.0, ()),
    'affinity_temperature': ('Temperature of the bi-softmax affinity', '', 1e-6, 100.0, ()),
    'prompted_overlap': ('Box IoU above which a detection is a prompted target', '', 0.0, 1.0,
                         ()),
    'max_tracklets': ('Detected instances tracked at once', '', 1, 10_000, ()),
    'tracklet_history': ('Embedding history kept per detected instance', 'frames', 1, 1000,
                         ()),
    'thermal_scale': ('Celsius per raw count of 16-bit thermal images', 'degC/count', -1e6,
                      1e6, ()),
    'thermal_offset': ('Celsius at raw count 0 of 16-bit thermal images', 'degC', -1e6, 1e6,
                       ()),
    'depth_min_m': ('Nearest valid depth (encoding range and 3D detections)', 'm', 1e-3,
                    1000.0, ()),
    'depth_max_m': ('Farthest valid depth (encoding range and 3D detections)', 'm', 1e-3,
                    1000.0, ()),
    'event_method': ('Event encoding', '', None, None, EVENT_METHODS),
}


def _tracker_specs() -> list[Spec]:
    defaults = TrackerConfig()
    specs = []
    for f in fields(TrackerConfig):
        text, unit, low, high, choices = _TRACKER_DOC[f.name]
        value = getattr(defaults, f.name)
        if isinstance(value, tuple):
            value = list(value)
        specs.append(Spec(f'tracker.{f.name}', value, text + '.', unit, low, high, choices))
    return specs


def _input_specs() -> list[Spec]:
    specs = []
    for name, topic in TOPICS.items():
        specs.append(Spec(f'{name}.qos_reliability', 'best_effort',
                          f'Reliability of the {topic} subscription (best_effort receives from '
                          'both kinds of publishers; reliable only from reliable ones).',
                          choices=RELIABILITIES))
        specs.append(Spec(f'{name}.qos_depth', 100 if name == 'events' else 5,
                          f'History depth of the {topic} subscription.', 'messages', 1, 10_000))
    specs += [
        Spec('rgb.buffer_size', 4, 'RGB frames waiting for their partners at most.', 'frames',
             1, 100),
        Spec('rgb.timeout', 1.0, 'Silence after which RGB is reported stale.', 's', 0.001,
             3600.0),
    ]
    tolerances = {'depth': 0.02, 'thermal': 0.05, 'event_image': 0.02}
    for name in MODALITIES:
        specs.append(Spec(f'{name}.enabled', False, f'Subscribe to {TOPICS[name]} and fuse it.'))
        if name in tolerances:
            specs.append(Spec(f'{name}.tolerance', tolerances[name], 'Largest |stamp - RGB '
                              'stamp| of a partner message.', 's', 0.0, 10.0))
        specs.append(Spec(f'{name}.buffer_size', 200 if name == 'events' else 10,
                          'Messages buffered for matching.', 'messages', 1, 100_000))
        specs.append(Spec(f'{name}.timeout', 1.0, 'Silence after which the input is stale: '
                          'frames stop waiting for it and diagnostics warn.', 's', 0.001, 3600.0))
        specs.append(Spec(f'{name}.required', False, 'Drop RGB frames that have no partner of '
                          'this input (false: track without it).'))
        specs.append(Spec(f'{name}.min_period', 0.0, 'Lower bound on the interval between '
                          'messages (0 = unknown); lets frames stop waiting sooner.', 's', 0.0,
                          10.0))
    specs += [
        Spec('events.window', 0.066, 'Longest window of events given to one RGB frame.', 's',
             1e-4, 10.0),
        Spec('events.max_events', 2_000_000, 'Events buffered at most.', 'events', 1,
             100_000_000),
    ]
    return specs


SPECS: tuple[Spec, ...] = (
    Spec('variant', 'sata_nano', 'Model variant (sata_nano, sata_t, sata_s, sata_b+, sata_l).',
         read_only=True),
    Spec('checkpoint', 'default', "'default' = the checkpoint shipped for the variant "
         "(sata_nano: trained on synthetic scenes); 'none' = untrained weights (tests only); "
         'else the path of a sata_ros checkpoint.', read_only=True),
    Spec('device', 'cpu', "Torch device: 'cpu', 'cuda' or 'cuda:N'.", read_only=True),
    Spec('dtype', 'float32', 'Autocast precision.', choices=tuple(DTYPES), read_only=True),
    Spec('channels_last', False, 'NHWC layout for convolutions (GPU).', read_only=True),
    Spec('compile_trunk', False, 'torch.compile the image encoder trunk (GPU).',
         read_only=True),
    Spec('autostart', False, 'Configure and activate right after start-up.', read_only=True),
    Spec('warmup', True, 'Track a few blank frames when activating, so that the first camera '
         "frame does not pay the model's first-call cost (with compile_trunk: the "
         'compilation).'),
    *_tracker_specs(),
    *_input_specs(),
    Spec('sync.policy', 'rgb_anchored', 'rgb_anchored: optional partners within their '
         'tolerance; strict: every enabled modality required, each message used once.',
         choices=SYNC_POLICIES),
    Spec('sync.max_wait', 0.1, 'Longest time an RGB frame waits for undecided partners.', 's',
         0.0, 10.0),
    Spec('sync.future_tolerance', 1.0, 'Stamps later than now + this are rejected.', 's', 0.0,
         3600.0),
    Spec('worker.queue_size', 1, 'Synchronized sets waiting for the worker (1 = latest '
         'only); older ones are dropped and counted.', 'sets', 1, 100),
    Spec('service_timeout', 30.0, 'Longest wait of a service call for the worker.', 's', 0.1,
         3600.0),
    Spec('diagnostics.period', 1.0, 'Period of /diagnostics messages (read at start-up).', 's',
         0.01, 3600.0, read_only=True),
)
SPEC_BY_NAME = {s.name: s for s in SPECS}


@dataclass(frozen=True)
class InputQos:
    """Reliability ('best_effort', 'reliable', 'system_default') and depth of one input."""

    reliability: str
    depth: int

    def profile(self) -> QoSProfile:
        """Return the subscription QoSProfile (keep-last `depth`, volatile)."""
        policy = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                  'reliable': ReliabilityPolicy.RELIABLE,
                  'system_default': ReliabilityPolicy.SYSTEM_DEFAULT}[self.reliability]
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.depth, reliability=policy)


@dataclass(frozen=True)
class NodeSettings:
    """Everything `configure` reads from the parameters, validated."""

    variant: str
    checkpoint: str
    runtime: RuntimeOptions
    tracker: TrackerConfig
    qos: dict  # input name (TOPICS keys) -> InputQos
    enabled: tuple  # enabled modalities, MODALITIES order
    policies: tuple  # ModalityPolicy per enabled modality
    rgb_policy: ModalityPolicy
    max_wait_ns: int
    event_window_ns: int
    max_events: int
    future_tolerance_ns: int
    queue_size: int
    strict: bool  # sync.policy == 'strict'
    service_timeout: float
    diagnostics_period: float
    autostart: bool
    warmup: bool


def declare_all(node: Node) -> dict:
    """
    Declare every parameter of `SPECS` on `node`.

    Returns:
        name -> error text for values given at start-up that rclpy refused; those parameters
        keep their default until set to a valid value.

    """
    errors = {}
    for spec in SPECS:
        try:
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
        except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
            errors[spec.name] = str(exc)
            node.declare_parameter(spec.name, spec.default, spec.descriptor(),
                                   ignore_override=True)
    return errors


def check_change(params: list) -> SetParametersResult:
    """Validate a runtime parameter change (on-set callback): choices of string parameters."""
    for param in params:
        spec = SPEC_BY_NAME.get(param.name)
        if spec is None or param.type_ == Parameter.Type.NOT_SET:
            continue
        problem = spec.check_choice(param.value)
        if problem:
            return SetParametersResult(successful=False,
                                       reason=f'parameter {param.name}: {problem}')
    return SetParametersResult(successful=True)


def read_values(node: Node) -> dict:
    """Return name -> current value of every parameter in `SPECS`."""
    return {spec.name: node.get_parameter(spec.name).value for spec in SPECS}


def read_settings(values: dict) -> NodeSettings:
    """
    Validate parameter values (name -> value, as `read_values` returns) into settings.

    Raises:
        ParamError: the first invalid value, naming the parameter and what is accepted.

    """
    for spec in SPECS:
        problem = spec.check_choice(values[spec.name])
        if problem:
            raise ParamError(spec.name, problem)
    try:
        runtime = RuntimeOptions(values['device'], values['dtype'], values['channels_last'],
                                 values['compile_trunk'])
    except ValueError as exc:
        name = 'dtype' if str(exc).startswith(('dtype', 'float16')) else 'device'
        raise ParamError(name, str(exc)) from None
    tracker = _tracker_config(values)
    enabled = tuple(m for m in MODALITIES if values[f'{m}.enabled'])
    if 'events' in enabled and 'event_image' in enabled:
        raise ParamError('event_image.enabled', 'events and event_image cannot both be '
                         'enabled: the event camera reaches the model one way or the other')
    strict = values['sync.policy'] == 'strict'
    policies = tuple(ModalityPolicy(
        m, _ns(values.get(f'{m}.tolerance', 0.0)), values[f'{m}.buffer_size'],
        _ns(values[f'{m}.timeout']), required=strict or values[f'{m}.required'],
        reuse=not strict, min_period_ns=_ns(values[f'{m}.min_period'])) for m in enabled)
    rgb_policy = ModalityPolicy('rgb', 0, values['rgb.buffer_size'], _ns(values['rgb.timeout']))
    return NodeSettings(
        variant=values['variant'], checkpoint=values['checkpoint'], runtime=runtime,
        tracker=tracker,
        qos={name: InputQos(values[f'{name}.qos_reliability'], values[f'{name}.qos_depth'])
             for name in TOPICS},
        enabled=enabled, policies=policies, rgb_policy=rgb_policy,
        max_wait_ns=_ns(values['sync.max_wait']),
        event_window_ns=_ns(values['events.window']), max_events=values['events.max_events'],
        future_tolerance_ns=_ns(values['sync.future_tolerance']),
        queue_size=values['worker.queue_size'], strict=strict,
        service_timeout=values['service_timeout'],
        diagnostics_period=values['diagnostics.period'], autostart=values['autostart'],
        warmup=values['warmup'])


def _tracker_config(values: dict) -> TrackerConfig:
    names = [f.name for f in fields(TrackerConfig)]
    try:
        return TrackerConfig.from_dict({n: values[f'tracker.{n}'] for n in names})
    except ValueError as exc:
        text = str(exc)
        culprit = next((n for n in sorted(names, key=len, reverse=True)
                        if text.startswith(n)), None)
        if culprit is None and text.startswith('depth range'):
            culprit = 'depth_max_m'
        raise ParamError(f'tracker.{culprit or "*"}', text) from None


def _ns(seconds: float) -> int:
    return int(round(float(seconds) * _NS))


_YAML_HEAD = """\
# Parameters of the sata_ros tracker node, installed to share/sata_ros/config/tracker.yaml.
# Generated by sata_ros.ros.params.yaml_text(), which reads the declarations the node uses (a test
# keeps this file equal to it). Each value is the default; the comment gives the type, the unit
# and the valid range or choices. Parameters apply at configure; read-only ones can only be set
# at start-up (this file, launch arguments, --ros-args -p). Durations are seconds.
/**:
  ros__parameters:
"""


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, list):
        return '[' + ', '.join(value) + ']'
    if isinstance(value, str):
        plain = value.replace('_', '').replace('+', '').isalnum()
        return value if plain and value not in ('true', 'false', 'null') else json.dumps(value)
    return repr(value)


def _yaml_comment(spec: Spec) -> str:
    kind = {bool: 'bool', int: 'int', float: 'double', list: 'string array'}.get(
        type(spec.default), 'string')
    parts = [kind] + ([spec.unit] if spec.unit else [])
    if spec.low is not None:
        show = (lambda x: str(int(x))) if kind == 'int' else (lambda x: f'{x:g}')
        parts.append(f'[{show(spec.low)}, {show(spec.high)}]')
    if spec.choices:
        parts.append('one of ' + ' | '.join(spec.choices))
    if spec.read_only:
        parts.append('read-only')
    return f'# {", ".join(parts)}. {spec.description}'


def yaml_text() -> str:
    """Return config/tracker.yaml: every parameter with its default and a documenting comment."""
    groups: dict = {}
    for spec in SPECS:
        group = spec.name.split('.')[0] if '.' in spec.name else ''
        groups.setdefault(group, []).append(spec)
    lines = []
    for group, specs in groups.items():
        indent = '      ' if group else '    '
        if group:
            lines.append(f'    {group}:')
        for spec in specs:
            lines += [indent + line for line in textwrap.wrap(
                _yaml_comment(spec), 99 - len(indent), subsequent_indent='# ')]
            lines.append(f'{indent}{spec.name.split(".")[-1]}: {_yaml_value(spec.default)}')
    return _YAML_HEAD + '\n'.join(lines) + '\n'
