"""The linters `colcon test` runs on a ROS install: ament_flake8 and ament_pep257."""

import pytest

from repo import REPO_ROOT

LINT_PATHS = [str(REPO_ROOT / p) for p in ('sata_ros', 'test', 'tools', 'scripts', 'setup.py')]
# The ament convention, plus Google-style sections ("Args:", "Returns:" without a dashed
# underline), which style.md prescribes and numpy-style rules D406/D407 would reject.
PEP257_ARGS = ['--add-ignore', 'D406', 'D407']


@pytest.mark.linter
def test_flake8():
    main_with_errors = pytest.importorskip(
        'ament_flake8.main', reason='ament_flake8 missing: run `make setup`').main_with_errors
    rc, errors = main_with_errors(argv=LINT_PATHS)
    assert rc == 0, f'{len(errors)} flake8 error(s):\n' + '\n'.join(errors)


@pytest.mark.linter
def test_pep257():
    main = pytest.importorskip(
        'ament_pep257.main', reason='ament_pep257 missing: run `make setup`').main
    # Paths first: --add-ignore takes every argument after it.
    assert main(argv=LINT_PATHS + PEP257_ARGS) == 0, 'pep257 errors (listed above)'
