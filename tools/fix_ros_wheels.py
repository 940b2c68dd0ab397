"""
Rewrite the build-container paths baked into the ROS 2 wheels' CMake export files.

The registry wheels were built in a container whose Python lived under /opt/python/cp311-cp311;
their `share/*/cmake/*.cmake` files name its include directories, and CMake's generate step fails
on a path that does not exist. This rewrites those paths, once, to this interpreter's include
directory and numpy's (or NUMPY_INCLUDE, a link to it outside the source tree: see setup.sh).
Running it again changes nothing.

Usage: python tools/fix_ros_wheels.py VENV_ROOT [NUMPY_INCLUDE]
"""

import pathlib
import sys
import sysconfig

import numpy

BAKED_NUMPY = '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include'
BAKED_PYTHON = '/opt/python/cp311-cp311/include/python3.11'


def fix(venv: pathlib.Path, numpy_include: str) -> int:
    """Rewrite every baked path under `venv`/share/*/cmake; return the number of files changed."""
    real = {BAKED_NUMPY: numpy_include, BAKED_PYTHON: sysconfig.get_paths()['include']}
    changed = 0
    for path in sorted(venv.glob('share/*/cmake/*.cmake')):
        text = path.read_text()
        new = text
        for old, new_path in real.items():
            new = new.replace(old, new_path)
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


def main() -> int:
    """Command-line entry point."""
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    venv = pathlib.Path(sys.argv[1]).resolve()
    n = fix(venv, sys.argv[2] if len(sys.argv) == 3 else numpy.get_include())
    print(f'[setup] ROS wheel CMake files fixed: {n} file(s) rewritten under {venv}/share')
    return 0


if __name__ == '__main__':
    sys.exit(main())
