"""The launch file: its arguments, the command it runs without launch_ros, and that command."""

import importlib.util
import os
import signal
import subprocess
import sys

import pytest
from repo import REPO_ROOT
from ros_helpers import wait_for

LAUNCH_FILE = REPO_ROOT / 'launch' / 'tracker.launch.py'
EXPECTED = ['namespace', 'params_file', 'use_sim_time', 'device', 'checkpoint', 'autostart',
            'log_level']


def _load():
    spec = importlib.util.spec_from_file_location('tracker_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_declares_the_documented_arguments():
    module = _load()
    assert [name for name, _, _ in module.ARGUMENTS] == EXPECTED
    assert all(text for _, _, text in module.ARGUMENTS)
    assert module.default_params_file().endswith(os.path.join('config', 'tracker.yaml'))
    assert os.path.exists(module.default_params_file())


def test_fallback_command_line():
    module = _load()
    cmd = module.tracker_command({'namespace': '/front', 'params_file': '', 'device': 'cuda:1',
                                  'checkpoint': "/m/it's.pt", 'autostart': 'false',
                                  'use_sim_time': 'true', 'log_level': 'debug'})
    assert cmd[0].endswith('tracker_node') and os.access(cmd[0], os.X_OK)
    assert cmd[1] == '--ros-args'
    pairs = list(zip(cmd[1:], cmd[2:]))
    assert ('-r', '__ns:=/front') in pairs and ('-r', '__node:=sata_tracker') in pairs
    assert ('--params-file', module.default_params_file()) in pairs
    for value in ('device:=cuda:1', "checkpoint:='/m/it''s.pt'", 'autostart:=false',
                  'use_sim_time:=true'):
        assert ('-p', value) in pairs
    assert ('--log-level', 'debug') in pairs


def test_launch_description_builds_with_the_launch_package():
    launch = pytest.importorskip('launch', reason='the launch package is not installed here')
    if getattr(launch, '__file__', None) is None:  # the repository's launch/ folder
        pytest.skip('the launch package is not installed here')
    description = _load().generate_launch_description()
    names = [arg.name for arg in description.get_launch_arguments()]
    assert names == EXPECTED


def test_fallback_command_starts_the_node_and_it_activates(participants):
    from lifecycle_msgs.msg import State
    from lifecycle_msgs.srv import GetState
    module = _load()
    namespace = f'launch_test_{os.getpid()}'
    cmd = module.tracker_command({'namespace': namespace, 'autostart': 'true'})
    proc = subprocess.Popen([sys.executable] + cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        client = participants[0].node.create_client(GetState,
                                                    f'/{namespace}/sata_tracker/get_state')
        assert client.wait_for_service(timeout_sec=60.0), 'the node did not come up'

        def active() -> bool:
            future = client.call_async(GetState.Request())
            return wait_for(future.done, 5.0) and \
                future.result().current_state.id == State.PRIMARY_STATE_ACTIVE
        assert wait_for(active, 60.0), 'the node did not reach active'
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
    assert 'Error' not in out and 'Traceback' not in out, out
    # checkpoint 'default': the shipped checkpoint loads, so no untrained-weights warning.
    assert 'UNTRAINED' not in out and 'active: subscribed to' in out
