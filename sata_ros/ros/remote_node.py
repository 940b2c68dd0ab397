"""
Drive a running tracker node from another process: lifecycle, parameters and ~/add_target.

The live evaluation uses only the node's public ROS interfaces, so it works the same on a node
it started (`start_tracker_process`, through launch/tracker.launch.py) and on one a user
launched. Every call has a timeout and raises `RemoteError` with what failed and what to check.
"""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any, Optional

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.node import Node
from sata_ros.ros.params import SPEC_BY_NAME
from sata_ros.srv import AddTarget

LAUNCH_FILE = 'tracker.launch.py'


class RemoteError(RuntimeError):
    """A call to the tracker node failed or timed out; the message says which and why."""


def parameter(name: str, value: Any) -> Parameter:
    """Return the rcl_interfaces Parameter of a bool, int, float, str or list of str."""
    val = ParameterValue()
    if isinstance(value, bool):
        val.type, val.bool_value = ParameterType.PARAMETER_BOOL, value
    elif isinstance(value, int):
        val.type, val.integer_value = ParameterType.PARAMETER_INTEGER, value
    elif isinstance(value, float):
        val.type, val.double_value = ParameterType.PARAMETER_DOUBLE, value
    elif isinstance(value, str):
        val.type, val.string_value = ParameterType.PARAMETER_STRING, value
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        val.type, val.string_array_value = ParameterType.PARAMETER_STRING_ARRAY, list(value)
    else:
        raise TypeError(f'parameter {name}: unsupported value {value!r}')
    return Parameter(name=name, value=val)


def _value(val: ParameterValue) -> Any:
    return {ParameterType.PARAMETER_BOOL: val.bool_value,
            ParameterType.PARAMETER_INTEGER: val.integer_value,
            ParameterType.PARAMETER_DOUBLE: val.double_value,
            ParameterType.PARAMETER_STRING: val.string_value,
            ParameterType.PARAMETER_STRING_ARRAY: list(val.string_array_value)}.get(val.type)


class RemoteTracker:
    """
    Clients of one tracker node's services (its fully qualified name, e.g. /sata_tracker).

    Args:
        node: the evaluator's node; something must spin it (the calls wait on futures).
        name: the tracker node's fully qualified name.
        timeout_s: longest wait per call, s.

    """

    def __init__(self, node: Node, name: str, timeout_s: float = 60.0) -> None:
        self.name = '/' + name.strip('/')
        self.timeout_s = timeout_s
        self._clients = {
            'get_state': node.create_client(GetState, f'{self.name}/get_state'),
            'change_state': node.create_client(ChangeState, f'{self.name}/change_state'),
            'get_parameters': node.create_client(GetParameters, f'{self.name}/get_parameters'),
            'set_parameters': node.create_client(SetParameters, f'{self.name}/set_parameters'),
            'add_target': node.create_client(AddTarget, f'{self.name}/add_target'),
        }

    @property
    def namespace(self) -> str:
        """Return where the node's relative topics live ('' at the root)."""
        return self.name.rsplit('/', 1)[0]

    def wait_until_up(self, timeout_s: float) -> None:
        """Wait for the lifecycle services (RemoteError when they do not appear)."""
        if not self._clients['get_state'].wait_for_service(timeout_sec=timeout_s):
            raise RemoteError(f'no tracker node {self.name} within {timeout_s:g} s: start it '
                              '(ros2 launch sata_ros tracker.launch.py use_sim_time:=true) or '
                              'check the node name and the ROS_DOMAIN_ID')

    def _call(self, what: str, request: Any, timeout_s: Optional[float] = None) -> Any:
        client = self._clients[what]
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        if not client.wait_for_service(timeout_sec=min(timeout_s, 10.0)):
            raise RemoteError(f'{self.name}: service {what} is not available (is the tracker '
                              'node running and configured?)')
        future = client.call_async(request)
        deadline = time.monotonic() + timeout_s
        while not future.done():
            if time.monotonic() > deadline:
                future.cancel()
                raise RemoteError(f'{self.name}: {what} did not answer within {timeout_s:g} s')
            time.sleep(0.002)
        if future.exception() is not None:
            raise RemoteError(f'{self.name}: {what} failed: {future.exception()}')
        return future.result()

    def state(self) -> str:
        """Return the lifecycle state label ('unconfigured', 'inactive', 'active', ...)."""
        return self._call('get_state', GetState.Request()).current_state.label

    def transition(self, transition_id: int, label: str) -> None:
        """Run one lifecycle transition; RemoteError when the node refuses it."""
        req = ChangeState.Request()
        req.transition.id = transition_id
        if not self._call('change_state', req).success:
            raise RemoteError(f'{self.name}: the {label} transition failed (see the node log; '
                              'a configure failure names the bad parameter)')

    def restart(self, values: dict[str, Any]) -> None:
        """Bring the node to unconfigured, set `values`, then configure and activate it."""
        state = self.state()
        if state == 'active':
            self.transition(Transition.TRANSITION_DEACTIVATE, 'deactivate')
            state = 'inactive'
        if state == 'inactive':
            self.transition(Transition.TRANSITION_CLEANUP, 'cleanup')
            state = 'unconfigured'
        if state != 'unconfigured':
            raise RemoteError(f'{self.name}: lifecycle state {state!r}; expected unconfigured, '
                              'inactive or active')
        self.set_parameters(values)
        self.transition(Transition.TRANSITION_CONFIGURE, 'configure')
        self.transition(Transition.TRANSITION_ACTIVATE, 'activate')

    def get_parameters(self, names: list[str]) -> dict[str, Any]:
        """Return name -> value of the node's parameters."""
        resp = self._call('get_parameters', GetParameters.Request(names=list(names)))
        return {name: _value(val) for name, val in zip(names, resp.values)}

    def set_parameters(self, values: dict[str, Any]) -> None:
        """Set parameters; RemoteError naming each refused one and why."""
        for name in values:
            if name not in SPEC_BY_NAME and name != 'use_sim_time':
                raise RemoteError(f'unknown tracker parameter {name!r}')
        req = SetParameters.Request(parameters=[parameter(n, v) for n, v in values.items()])
        results = self._call('set_parameters', req).results
        refused = [f'{name}: {r.reason}' for name, r in zip(values, results) if not r.successful]
        if refused:
            raise RemoteError(f'{self.name} refused parameters: ' + '; '.join(refused))

    def add_target_async(self, request: AddTarget.Request) -> Any:
        """Call ~/add_target without waiting; return the rclpy Future of the response."""
        return self._clients['add_target'].call_async(request)

    def add_target(self, request: AddTarget.Request) -> AddTarget.Response:
        """Call ~/add_target; RemoteError when the node answers success false."""
        resp = self._call('add_target', request)
        if not resp.success:
            raise RemoteError(f'{self.name}: {resp.message}')
        return resp


def _launch_file() -> pathlib.Path:
    """Return the installed launch/tracker.launch.py (the source tree's otherwise)."""
    here = pathlib.Path(__file__).resolve().parents[2] / 'launch' / LAUNCH_FILE
    if importlib.util.find_spec('ament_index_python') is not None:
        from ament_index_python.packages import (get_package_share_directory,
                                                 PackageNotFoundError)
        try:
            installed = pathlib.Path(get_package_share_directory('sata_ros')) / 'launch'
            if (installed / LAUNCH_FILE).exists():
                return installed / LAUNCH_FILE
        except PackageNotFoundError:
            pass
    return here


def launch_command(values: dict[str, str]) -> list[str]:
    """
    Return the argv that starts the node through launch/tracker.launch.py with `values`.

    With the `ros2` command and the launch package: `ros2 launch sata_ros tracker.launch.py
    name:=value ...`. Without them (this project's CI has no launch package): the command the
    launch file itself runs in that case (`tracker_command`), loaded from the same file.
    """
    if shutil.which('ros2') and importlib.util.find_spec('launch') is not None \
            and getattr(importlib.import_module('launch'), '__file__', None):
        return ['ros2', 'launch', 'sata_ros', LAUNCH_FILE] + [f'{k}:={v}' for k, v in
                                                              values.items()]
    spec = importlib.util.spec_from_file_location('sata_tracker_launch', _launch_file())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [sys.executable] + module.tracker_command(values)


def start_tracker_process(values: dict[str, str], log_path: pathlib.Path) -> subprocess.Popen:
    """Start the tracker node (launch arguments `values`), its output going to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, 'w')  # noqa: SIM115 - the child writes to it for its whole life
    try:
        return subprocess.Popen(launch_command(values), stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ), start_new_session=True)
    finally:
        log.close()


def stop_process(proc: subprocess.Popen, timeout_s: float = 30.0) -> Optional[int]:
    """SIGINT the process (as Ctrl-C) and wait; kill it after `timeout_s`. Return its code."""
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: the node releases its model and exits 0
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


__all__ = ['launch_command', 'parameter', 'RemoteError', 'RemoteTracker', 'start_tracker_process',
           'stop_process']
