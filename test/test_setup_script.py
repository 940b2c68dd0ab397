"""tools/setup.sh stops early, with a message that says what to do, on a wrong environment."""

import os
import subprocess

from repo import REPO_ROOT

SETUP = REPO_ROOT / 'tools' / 'setup.sh'


def _run_setup(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith('PIP_')}
    full.update(SATA_VENV=str(tmp_path / 'venv'), **env)
    return subprocess.run(['bash', str(SETUP)], env=full, capture_output=True, text=True,
                          timeout=300)


def test_missing_python_is_named(tmp_path):
    res = _run_setup(tmp_path, PYTHON='python3.11-does-not-exist')
    assert res.returncode == 1
    assert "'python3.11-does-not-exist' not found" in res.stderr
    assert 'make setup PYTHON=' in res.stderr
    assert not (tmp_path / 'venv').exists()


def test_wrong_python_version_is_named(tmp_path):
    fake = tmp_path / 'python3.12'
    fake.write_text('#!/bin/sh\necho 3.12\n')
    fake.chmod(0o755)
    res = _run_setup(tmp_path, PYTHON=str(fake))
    assert res.returncode == 1
    assert 'is Python 3.12, but sata_ros needs CPython 3.11' in res.stderr
    assert not (tmp_path / 'venv').exists()


def test_unreachable_registry_is_named(tmp_path):
    # A registry address that refuses at once (the discard port on loopback), no other index.
    res = _run_setup(tmp_path, PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL='http://127.0.0.1:9/',
                     PIP_RETRIES='0', PIP_TIMEOUT='5')
    assert res.returncode == 1, res.stdout + res.stderr
    assert 'cannot reach the Python package registry' in res.stderr
    assert 'PIP_INDEX_URL' in res.stderr
