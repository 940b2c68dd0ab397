"""
The SATA tracker as an rclpy lifecycle node.

Lifecycle: `configure` validates the parameters and loads the model (a bad value fails the
transition with a message naming the parameter); `activate` tracks a few blank frames
(`warmup`: the model's first calls are slow), opens a tracking stream, starts the worker
thread and subscribes; `deactivate` unsubscribes, stops the worker, forgets the targets and
releases the model's device memory; `cleanup` drops the model, publishers and
services. With `autostart` the node configures and activates itself after start-up.

Inputs (relative names, remappable): rgb/image, rgb/camera_info, and per enabled modality
depth/image, thermal/image, events (PointCloud2 x, y, t, p) or events/image. Callbacks only
convert and hand messages to the synchronizer; the worker tracks the newest synchronized set.
Outputs, stamped with the RGB header: detections, instance_mask, label_info (transient local,
when the id -> label map changes), detections_3d, ~/targets, ~/debug_image (only computed
while subscribed) and /diagnostics.
"""

import functools
from typing import Any, Callable, Optional

from lifecycle_msgs.msg import State
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sata_ros.model.default_checkpoint import resolve_checkpoint, UNTRAINED
from sata_ros.msg import TargetStateArray
from sata_ros.ros.diagnostics import device_memory, Diagnostics
from sata_ros.ros.inputs import Inputs
from sata_ros.ros.optional import load_optional
from sata_ros.ros.params import (check_change, declare_all, NodeSettings, ParamError,
                                 read_settings, read_values, TOPICS)
from sata_ros.ros.pipeline import TrackingPipeline
from sata_ros.ros.services import TargetServices
from sata_ros.ros.sync import LatestSlot, Synchronizer
from sata_ros.ros.worker import Worker
from sata_ros.tracking.tracker import Tracker
from sata_ros.tracking.warmup import warm_up
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
THROTTLE_S = 5.0


def build_tracker(settings: NodeSettings) -> Tracker:
    """Build the tracker of the node's settings (the default `tracker_factory`)."""
    path = resolve_checkpoint(settings.checkpoint, settings.variant)
    return Tracker.from_variant(settings.variant, path, config=settings.tracker,
                                runtime=settings.runtime)


class TrackerNode(LifecycleNode):
    """
    Lifecycle node running SATA on synchronized RGB (+ depth, thermal, events) images.

    Args:
        node_name: the node's name.
        tracker_factory: builds the Tracker from the settings at configure (tests inject a
            prepared model here); default `build_tracker`.
        **kwargs: passed to rclpy's LifecycleNode (context, namespace, parameter_overrides...).

    """

    def __init__(self, node_name: str = 'sata_tracker', *,
                 tracker_factory: Optional[Callable[[NodeSettings], Tracker]] = None,
                 **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._factory = tracker_factory or build_tracker
        self._param_errors = declare_all(self)
        for name, text in self._param_errors.items():
            self.get_logger().error(f'parameter {name}: {text} (the default is used until it '
                                    'is set to a valid value; configure fails meanwhile)')
        self.add_on_set_parameters_callback(self._check_params)
        self.add_post_set_parameters_callback(self._params_set)
        self._io_group = ReentrantCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._state = 'unconfigured'
        self._settings: Optional[NodeSettings] = None
        self._tracker: Optional[Tracker] = None
        self._pubs: dict = {}
        self._target_services: Optional[TargetServices] = None
        self._inputs: Optional[Inputs] = None
        self._worker: Optional[Worker] = None
        self._pipeline: Optional[TrackingPipeline] = None
        self._own_subs: list = []
        self._own_timers: list = []
        self._ats = None  # message_filters ApproximateTimeSynchronizer (strict policy)
        self.qos_warnings: list = []  # incompatible-QoS warnings, newest last
        self.last_error = ''  # why the last configure or activate failed
        self.warmup_s: Optional[float] = None  # the last activation's warm-up, seconds
        # One for the node's life: it reports every state, not only active.
        self.diagnostics = Diagnostics(self, self.get_parameter('diagnostics.period').value,
                                       self.snapshot, self._timer_group)
        self._autostart_timer = None
        if self.get_parameter('autostart').value:
            self._autostart_timer = self.create_timer(0.0, self._autostart,
                                                      callback_group=self._timer_group)

    # ------------------------------------------------------------------ parameters

    def _check_params(self, params: list) -> Any:
        return check_change(params)

    def _params_set(self, params: list) -> None:
        for param in params:
            self._param_errors.pop(param.name, None)
        if self._state in ('inactive', 'active'):
            names = ', '.join(p.name for p in params)
            self.get_logger().info(f'parameters {names} changed: they apply at the next '
                                   'configure (deactivate, cleanup, configure, activate)')

    def _autostart(self) -> None:
        self.destroy_timer(self._autostart_timer)
        self._autostart_timer = None
        if self.trigger_configure() == SUCCESS:
            self.trigger_activate()

    # ------------------------------------------------------------------ lifecycle

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate the parameters, load the model, create publishers and services."""
        try:
            if self._param_errors:
                name, text = next(iter(self._param_errors.items()))
                raise ParamError(name, text)
            settings = read_settings(read_values(self))
        except ParamError as exc:
            return self._fail(f'configure failed: {exc}')
        if settings.checkpoint == UNTRAINED:
            self.get_logger().warning(
                f"parameter checkpoint is 'none': {settings.variant} runs with UNTRAINED "
                "weights (tests only); set it to 'default' or a trained checkpoint")
        try:
            self._tracker = self._factory(settings)
        except Exception as exc:  # noqa: B902 - any load failure fails configure, logged
            return self._fail(f'configure failed: cannot load model {settings.variant!r} '
                              f'(parameters variant / checkpoint / device): {exc}')
        self._settings = settings
        results = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        debug = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._pubs = {
            'detections': self.create_lifecycle_publisher(Detection2DArray, 'detections',
                                                          results),
            'instance_mask': self.create_lifecycle_publisher(Image, 'instance_mask', results),
            'label_info': self.create_lifecycle_publisher(LabelInfo, 'label_info', latched),
            'detections_3d': self.create_lifecycle_publisher(Detection3DArray, 'detections_3d',
                                                             results),
            'targets': self.create_lifecycle_publisher(TargetStateArray, '~/targets', results),
            'debug_image': self.create_lifecycle_publisher(Image, '~/debug_image', debug),
        }
        self._target_services = TargetServices(self, self._service_group, self._active,
                                               settings.service_timeout)
        self._state = 'inactive'
        self.get_logger().info(f'configured: {settings.variant} on {settings.runtime.device}, '
                               f'mode {settings.tracker.mode}, modalities rgb'
                               + ''.join(f' + {m}' for m in settings.enabled))
        return SUCCESS

    def _fail(self, text: str) -> TransitionCallbackReturn:
        self.last_error = text
        self.get_logger().error(text)
        return FAILURE

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Warm the model up (parameter warmup), open a stream, start the worker, subscribe."""
        settings = self._settings
        self._tracker.model.to(settings.runtime.torch_device)  # back after a deactivate
        self.warmup_s = None  # not an earlier activation's figure
        if settings.warmup:
            self.get_logger().info('warming up: blank frames through every model part (the '
                                   'first call is slow; with compile_trunk it compiles)')
            try:
                self.warmup_s = warm_up(self._tracker, modalities=settings.enabled)
            except Exception as exc:  # noqa: B902 - e.g. device out of memory: stay inactive
                self._tracker.release()
                return self._fail(f'activate failed: the warm-up frames failed (parameter '
                                  f'warmup: false skips them): {type(exc).__name__}: {exc}')
            self.get_logger().info(f'warm-up done in {self.warmup_s:.2f} s')
        stream = self._tracker.open_stream('camera', settings.tracker)
        sync = Synchronizer(
            settings.policies, settings.event_window_ns, self._now_ns, settings.max_wait_ns,
            rgb_policy=settings.rgb_policy, max_events=settings.max_events,
            future_tolerance_ns=settings.future_tolerance_ns)
        slot: LatestSlot = LatestSlot(settings.queue_size)
        self._inputs = inputs = Inputs(sync, slot, self.get_logger())
        self._pipeline = TrackingPipeline(stream, settings, self._publish, self._wants_debug,
                                          self._now_ns, inputs.report)
        self._worker = Worker(slot, self._pipeline.handle, self._worker_error)
        self._worker.start()
        self._subscribe_inputs(settings, inputs)
        period = max(settings.max_wait_ns / 2e9, 0.005)  # ends the waits of pending frames
        self._own_timers.append(self.create_timer(period, inputs.pump,
                                                  callback_group=self._timer_group))
        self._state = 'active'
        self.get_logger().info('active: subscribed to ' + ', '.join(
            self.resolve_topic_name(TOPICS[n]) for n in ('rgb', 'rgb_info', *settings.enabled)))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, stop the worker, forget the targets, release device memory."""
        self._stop_activity()
        self._state = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Drop the model, publishers and services."""
        self._teardown()
        self._state = 'unconfigured'
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything, whatever the state."""
        self._stop_activity()
        self._teardown()
        self._state = 'finalized'
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything and go back to unconfigured."""
        self._stop_activity()
        self._teardown()
        self._state = 'unconfigured'
        return SUCCESS

    def release_all(self) -> None:
        """Stop the worker, drop the model, publishers and services (process exit)."""
        self._stop_activity()
        self._teardown()
        self._state = 'finalized'

    def _stop_activity(self) -> None:
        for sub in self._own_subs:
            self.destroy_subscription(sub)
        for timer in self._own_timers:
            self.destroy_timer(timer)
        self._own_subs, self._own_timers = [], []
        self._ats = None
        if self._worker is not None and not self._worker.stop():
            self.get_logger().warning('the worker did not stop within 30 s')
        self._worker = self._inputs = self._pipeline = None
        if self._tracker is not None:
            self._tracker.release()

    def _teardown(self) -> None:
        if self._target_services is not None:
            self._target_services.destroy()
            self._target_services = None
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        self._tracker = None
        self._settings = None

    def _active(self) -> Optional[tuple]:
        worker, pipeline = self._worker, self._pipeline
        return None if worker is None or pipeline is None else (worker, pipeline)

    # ------------------------------------------------------------------ inputs

    def _subscribe_inputs(self, settings: NodeSettings, inputs: Inputs) -> None:
        images = [n for n in settings.enabled if n != 'events']
        filters = load_optional('message_filters') if settings.strict else None
        if filters is not None and images:
            # strict: message_filters' ApproximateTimeSynchronizer pairs RGB with the images.
            names = ['rgb'] + images
            subs = [filters.Subscriber(self, Image, TOPICS[n], qos_profile=self._qos(n),
                                       **self._sub_options(n)) for n in names]
            slop = max(p.tolerance_ns for p in settings.policies if p.name in images) / 1e9
            queue = max(p.buffer_size for p in settings.policies if p.name in images)
            self._ats = filters.ApproximateTimeSynchronizer(subs, queue, slop)
            self._ats.registerCallback(functools.partial(inputs.on_strict_set, names))
            self._own_subs += [s.sub for s in subs]
        else:
            if settings.strict:
                self.get_logger().info(
                    'sync.policy strict without message_filters (or without image '
                    'modalities): every enabled modality is required and each message is used '
                    'once, by the built-in synchronizer')
            self._subscribe('rgb', Image, inputs.on_rgb)
            for name in images:
                self._subscribe(name, Image, functools.partial(inputs.on_image, name))
        self._subscribe('rgb_info', CameraInfo, inputs.on_camera_info)
        if 'events' in settings.enabled:
            self._subscribe('events', PointCloud2, inputs.on_events)

    def _qos(self, name: str) -> QoSProfile:
        return self._settings.qos[name].profile()

    def _sub_options(self, name: str) -> dict:
        events = SubscriptionEventCallbacks(
            incompatible_qos=functools.partial(self._on_incompatible_qos, name))
        return {'callback_group': self._io_group, 'event_callbacks': events}

    def _subscribe(self, name: str, msg_type: Any, callback: Callable) -> None:
        self._own_subs.append(self.create_subscription(
            msg_type, TOPICS[name], callback, self._qos(name), **self._sub_options(name)))

    def _on_incompatible_qos(self, name: str, info: Any) -> None:
        policy = getattr(info.last_policy_kind, 'name', str(info.last_policy_kind))
        ours = self._settings.qos[name].reliability if self._settings else '?'
        topic = self.resolve_topic_name(TOPICS[name])
        hint = (f'set parameter {name}.qos_reliability to best_effort (it is {ours}): a '
                'best-effort subscription receives from reliable and best-effort publishers'
                if 'RELIABILITY' in policy else
                f'make the publisher offer {policy.lower()} settings compatible with a '
                f'volatile, keep-last subscription ({name}.qos_reliability={ours})')
        text = (f'{topic}: a publisher offers QoS incompatible with this subscription '
                f'(policy {policy}, {info.total_count} incompatible so far), so nothing is '
                f'received from it; {hint}')
        self.qos_warnings.append(text)
        self.get_logger().warning(text)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _worker_error(self, what: str, exc: BaseException) -> None:
        self.get_logger().error(f'worker: error {what}: {type(exc).__name__}: {exc}',
                                throttle_duration_sec=THROTTLE_S)

    # ------------------------------------------------------------------ outputs

    def _publish(self, name: str, msg: Any) -> None:
        pub = self._pubs.get(name)
        if pub is not None:
            pub.publish(msg)

    def _wants_debug(self) -> bool:
        pub = self._pubs.get('debug_image')
        return pub is not None and pub.get_subscription_count() > 0

    def snapshot(self) -> dict:
        """Return the counters the diagnostics report (any thread)."""
        inputs, worker, pipeline = self._inputs, self._worker, self._pipeline
        conversion = inputs.errors() if inputs is not None else {}
        device = self._settings.runtime.device if self._settings else ''
        out = {'state': self._state, 'device': device, 'conversion': conversion,
               'memory': device_memory(device) if device else {}, 'warmup_s': self.warmup_s}
        if inputs is not None and worker is not None and pipeline is not None:
            out.update(sync=inputs.sync.stats(), slot=inputs.slot.stats(),
                       worker=worker.stats(), pipeline=pipeline.stats())
        return out

    @property
    def lifecycle_state(self) -> str:
        """Return the state machine's label ('unconfigured', 'activating', 'active', ...)."""
        machine = getattr(self, '_state_machine', None)  # rclpy keeps no public getter
        return machine.current_state[1] if machine is not None else self._state


def state_label(state_id: int) -> str:
    """Return the label of a lifecycle_msgs/State id (for logs and tests)."""
    labels = {State.PRIMARY_STATE_UNCONFIGURED: 'unconfigured',
              State.PRIMARY_STATE_INACTIVE: 'inactive', State.PRIMARY_STATE_ACTIVE: 'active',
              State.PRIMARY_STATE_FINALIZED: 'finalized'}
    return labels.get(state_id, 'transitioning')


def main(args: Optional[list] = None) -> int:
    """Run the node until Ctrl-C or shutdown (`ros2 run sata_ros tracker_node`)."""
    rclpy.init(args=args)
    node = TrackerNode()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C shuts the context down, and rclpy moves the state machine to shuttingdown
        # without running on_shutdown: stop the worker and free the model here.
        node.release_all()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
