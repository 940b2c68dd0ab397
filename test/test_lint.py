"""The linters `colcon test` runs on a ROS install: ament_flake8 and ament_pep257."""

import subprocess
import sys

import pytest

from repo import REPO_ROOT

LINT_PATHS = [str(REPO_ROOT / p)
              for p in ('sata_ros', 'test', 'tools', 'scripts', 'launch', 'setup.py')]
# The ament convention, plus Google-style sections ("Args:", "Returns:" without a dashed
# underline), which style.md prescribes and numpy-style rules D406/D407 would reject.
PEP257_ARGS = ['--add-ignore', 'D406', 'D407']


def run_linter(module: str, argv: list) -> subprocess.CompletedProcess:
    """
    Run an ament linter's main() in a fresh interpreter.

    flake8 forks worker processes; forked from this pytest process, which by now holds torch
    and rclpy threads, the workers can crash while collecting garbage. A clean interpreter has
    nothing to inherit.
    """
    pytest.importorskip(module, reason=f'{module} missing: run `make setup`')
    code = f'import sys; from {module} import main; sys.exit(main(argv=sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, *argv], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.linter
def test_flake8():
    result = run_linter('ament_flake8.main', LINT_PATHS)
    assert result.returncode == 0, f'flake8 errors:\n{result.stdout}\n{result.stderr}'


@pytest.mark.linter
def test_pep257():
    # Paths first: --add-ignore takes every argument after it.
    result = run_linter('ament_pep257.main', LINT_PATHS + PEP257_ARGS)
    assert result.returncode == 0, f'pep257 errors:\n{result.stdout}\n{result.stderr}'
