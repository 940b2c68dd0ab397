"""
Launch the SATA tracker lifecycle node: `ros2 launch sata_ros tracker.launch.py`.

Arguments: namespace, params_file (default share/sata_ros/config/tracker.yaml), use_sim_time,
device, checkpoint, autostart (default true: the node configures and activates itself) and
log_level. Topics are relative, so `namespace:=front` gives /front/rgb/image, /front/detections
and so on; remap inputs on the command line or in a wrapping launch file.

With launch_ros (every ROS 2 install) the node is a launch_ros Node action. Without it (the
registry wheels this project's CI uses have no launch_ros) the same command line is run as an
ExecuteProcess of the installed `tracker_node` executable with --ros-args; `tracker_command`
builds it and is tested without either package.
"""

import importlib.util
import pathlib
from typing import Any

# (name, default, description); the default of params_file is resolved at launch time.
ARGUMENTS = (
    ('namespace', '', 'Namespace of the node and its relative topics (empty = none).'),
    ('params_file', '', 'YAML parameter file (default: share/sata_ros/config/tracker.yaml).'),
    ('use_sim_time', 'false', 'Use /clock (e.g. ros2 bag play --clock).'),
    ('device', 'cpu', "Torch device: 'cpu', 'cuda' or 'cuda:N'."),
    ('checkpoint', 'default', "'default' = the shipped checkpoint of the variant, 'none' = "
     'untrained weights (tests only), else a sata_ros checkpoint path.'),
    ('autostart', 'true', 'Configure and activate the lifecycle node at start-up.'),
    ('log_level', 'info', 'Logging level: debug, info, warn, error or fatal.'),
)
NODE_NAME = 'sata_tracker'
_HERE = pathlib.Path(__file__).resolve().parent


def _package_path(kind: str) -> pathlib.Path:
    """Return the installed share or prefix folder of sata_ros, or the source tree."""
    if importlib.util.find_spec('ament_index_python') is not None:
        from ament_index_python.packages import (get_package_prefix, get_package_share_directory,
                                                 PackageNotFoundError)
        try:
            if kind == 'share':
                return pathlib.Path(get_package_share_directory('sata_ros'))
            return pathlib.Path(get_package_prefix('sata_ros'))
        except PackageNotFoundError:
            pass
    return _HERE.parent


def default_params_file() -> str:
    """Return share/sata_ros/config/tracker.yaml (the source tree's copy when not installed)."""
    return str(_package_path('share') / 'config' / 'tracker.yaml')


def tracker_executable() -> str:
    """Return the installed lib/sata_ros/tracker_node (the source tree's script otherwise)."""
    installed = _package_path('prefix') / 'lib' / 'sata_ros' / 'tracker_node'
    return str(installed if installed.exists() else _HERE.parent / 'scripts' / 'tracker_node')


def tracker_command(values: dict) -> list:
    """
    Return the argv that starts the node with these launch argument values (all strings).

    The launch_ros-less fallback runs exactly this; it is the command `ros2 run sata_ros
    tracker_node --ros-args ...` would give.
    """
    namespace = values.get('namespace', '').strip('/')
    params_file = values.get('params_file') or default_params_file()
    checkpoint = values.get('checkpoint', 'default').replace("'", "''")
    return [tracker_executable(), '--ros-args',
            '-r', f'__node:={NODE_NAME}', '-r', f'__ns:=/{namespace}',
            '--params-file', params_file,
            '-p', f'use_sim_time:={values.get("use_sim_time", "false")}',
            '-p', f'device:={values.get("device", "cpu")}',
            '-p', f"checkpoint:='{checkpoint}'",
            '-p', f'autostart:={values.get("autostart", "true")}',
            '--log-level', values.get('log_level', 'info')]


def _launch_ros_node(values: dict) -> Any:
    from launch_ros.actions import Node
    return Node(package='sata_ros', executable='tracker_node', name=NODE_NAME,
                namespace=values['namespace'].strip('/'), output='screen', emulate_tty=True,
                parameters=[values['params_file'] or default_params_file(),
                            {'use_sim_time': values['use_sim_time'] == 'true',
                             'device': values['device'], 'checkpoint': values['checkpoint'],
                             'autostart': values['autostart'] == 'true'}],
                arguments=['--ros-args', '--log-level', values['log_level']])


def _node_action(context: Any) -> list:
    """Build the node action from the evaluated launch arguments (an OpaqueFunction body)."""
    from launch.actions import ExecuteProcess
    from launch.substitutions import LaunchConfiguration
    values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    if importlib.util.find_spec('launch_ros') is not None:
        return [_launch_ros_node(values)]
    return [ExecuteProcess(cmd=tracker_command(values), name=NODE_NAME, output='screen',
                           sigterm_timeout='10')]


def generate_launch_description() -> Any:
    """Return the LaunchDescription: the arguments, then the node."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    defaults = {'params_file': default_params_file()}
    actions = [DeclareLaunchArgument(name, default_value=defaults.get(name, default),
                                     description=text) for name, default, text in ARGUMENTS]
    return LaunchDescription(actions + [OpaqueFunction(function=_node_action)])
