"""The `sata` command line."""

import json
import subprocess
import sys

import pytest

from sata_ros import __version__
from sata_ros.cli.main import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['--version'])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f'sata_ros {__version__}'


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['frobnicate'])
    assert exc.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_info_reports_this_installation():
    # In a subprocess: `sata info` must work as a fresh program, and torch import is costly.
    out = subprocess.run([sys.executable, '-m', 'sata_ros.cli.main', 'info'],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report['sata_ros'] == __version__
    assert report['python'].startswith(f'{sys.version_info.major}.{sys.version_info.minor}')
    torch = pytest.importorskip('torch')
    assert report['torch']['version'] == torch.__version__
    assert report['torch']['cuda_available'] == torch.cuda.is_available()
    ros = report['ros']
    assert set(ros['optional']) >= {'message_filters', 'cv_bridge', 'sensor_msgs_py', 'launch'}
    assert all(isinstance(v, bool) for v in ros['optional'].values())
    try:
        import rclpy  # noqa: F401
    except ImportError:
        assert ros['rclpy'] is False
    else:
        assert ros['rclpy'] is True


def test_info_without_torch(capsys):
    assert main(['info', '--no-torch']) == 0
    assert json.loads(capsys.readouterr().out)['torch'] is None
