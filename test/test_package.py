"""The ROS package shape: manifest, colcon identification, install layout, pip-installable core."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from repo import REPO_ROOT

INSTALL = REPO_ROOT / 'install' / 'sata_ros'
RUNTIME_DEPS = {'rclpy', 'sensor_msgs', 'std_msgs', 'std_srvs', 'geometry_msgs', 'vision_msgs',
                'message_filters', 'cv_bridge', 'sensor_msgs_py', 'diagnostic_msgs',
                'diagnostic_updater', 'lifecycle_msgs', 'launch', 'launch_ros',
                'rosidl_default_runtime', 'builtin_interfaces'}


def test_manifest_is_format3_ament_cmake_with_every_runtime_dependency():
    catkin_pkg = pytest.importorskip('catkin_pkg.package', reason='catkin_pkg: run make setup')
    pkg = catkin_pkg.parse_package(str(REPO_ROOT / 'package.xml'))
    pkg.validate()
    assert (pkg.name, pkg.package_format) == ('sata_ros', 3)
    assert pkg.get_build_type() == 'ament_cmake'
    runtime = {d.name for d in pkg.exec_depends + pkg.build_export_depends}
    assert RUNTIME_DEPS - runtime == set()
    assert 'rosidl_interface_packages' in {g.name for g in pkg.member_of_groups}


def test_colcon_identifies_one_ament_cmake_package_at_the_root():
    colcon = shutil.which('colcon')
    if colcon is None:
        pytest.skip('colcon not on PATH: run `make setup` and activate .venv')
    out = subprocess.run([colcon, 'list'], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ['sata_ros\t.\t(ros.ament_cmake)']


@pytest.mark.skipif(not INSTALL.is_dir(), reason='no colcon install: run `make setup`')
def test_install_layout_and_executable():
    share = INSTALL / 'share' / 'sata_ros'
    for rel in ('package.xml', 'launch', 'config', 'msg/TargetState.msg', 'srv/AddTarget.srv'):
        assert (share / rel).exists(), f'share/sata_ros/{rel} not installed'
    exe = INSTALL / 'lib' / 'sata_ros' / 'sata'
    assert os.access(exe, os.X_OK)
    out = subprocess.run([sys.executable, str(exe), '--version'], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip().startswith('sata_ros ')


def test_core_pip_installs_without_ros(tmp_path):
    """`pip install .` gives the ROS-free core with the `sata` console script."""
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'setup.cfg', 'README.md'):
        shutil.copy(REPO_ROOT / name, src / name)
    shutil.copytree(REPO_ROOT / 'sata_ros', src / 'sata_ros',
                    ignore=shutil.ignore_patterns('__pycache__'))
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                    '--no-build-isolation', '--target', str(target), str(src)],
                   check=True, capture_output=True)
    assert (target / 'bin' / 'sata').exists()
    assert not (target / 'sata_ros' / 'msg').exists()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'AMENT_PREFIX_PATH')}
    env['PYTHONPATH'] = str(target)
    code = ('import sys, sata_ros, sata_ros.cli.main as m;'
            'print(pathlib.Path(sata_ros.__file__).parent);'
            'print(any(k.startswith("rclpy") for k in sys.modules))')
    # cwd outside the checkout, so the source tree is not importable by accident.
    out = subprocess.run([sys.executable, '-c', 'import pathlib;' + code], env=env,
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert pathlib.Path(out[0]) == target / 'sata_ros'
    assert out[1] == 'False'
