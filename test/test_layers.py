"""Imports point down the layers of DESIGN.md; only sata_ros.ros touches ROS."""

import ast
import pathlib
import subprocess
import sys

from repo import REPO_ROOT

PKG = REPO_ROOT / 'sata_ros'
# Lower rank = lower layer. A module may import sata_ros modules of its own rank or lower.
RANK = {'data': 0, 'model': 1, 'tracking': 2, 'train': 3, 'eval': 4, 'ros': 5, 'cli': 6}
ROS_MODULE_PREFIXES = ('rclpy', 'rosidl', 'message_filters', 'cv_bridge', 'sensor_msgs_py',
                       'diagnostic_updater', 'launch', 'rosbag2_py', 'ament_index_python')


def _imports(path: pathlib.Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _is_ros(name: str) -> bool:
    top = name.split('.')[0]
    return (top.startswith(ROS_MODULE_PREFIXES) or top.endswith(('_msgs', '_srvs'))
            or name.startswith(('sata_ros.msg', 'sata_ros.srv')))


def _layer(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in RANK else ''


def layer_violations(root: pathlib.Path) -> list[str]:
    """Return one line per import that breaks the layer rules, for every module under root."""
    bad = []
    for path in sorted(root.rglob('*.py')):
        rel = path.relative_to(root.parent).with_suffix('')
        module = '.'.join(rel.parts)
        own = _layer(module)
        for name in _imports(path):
            if _is_ros(name) and own != 'ros':
                bad.append(f'{module} imports {name}: only sata_ros.ros may import ROS')
            target = _layer(name)
            if target and own and RANK[target] > RANK[own]:
                bad.append(f'{module} imports {name}: {own} is below {target}')
            if target and not own:
                bad.append(f'{module} imports {name}: top-level modules import no layer')
    return bad


def test_package_follows_layer_rules():
    assert layer_violations(PKG) == []


def test_checker_catches_upward_and_ros_imports(tmp_path):
    pkg = tmp_path / 'sata_ros'
    (pkg / 'model').mkdir(parents=True)
    (pkg / 'model' / 'bad.py').write_text(
        'import rclpy\nfrom sata_ros.tracking import stream\nfrom sata_ros.data import scene\n')
    found = layer_violations(pkg)
    assert found == [
        'sata_ros.model.bad imports rclpy: only sata_ros.ros may import ROS',
        'sata_ros.model.bad imports sata_ros.tracking: model is below tracking',
    ]


def test_core_imports_without_ros():
    # Every module outside sata_ros.ros imports without pulling in rclpy.
    modules = sorted('.'.join(p.relative_to(REPO_ROOT).with_suffix('').parts)
                     for p in PKG.rglob('*.py') if 'ros' not in p.relative_to(PKG).parts[:1])
    code = ('import importlib, sys\n'
            f'for m in {modules!r}:\n'
            '    importlib.import_module(m.removesuffix(".__init__"))\n'
            'print(sorted(m for m in sys.modules if m.startswith(("rclpy", "rosidl"))))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'
