#!/usr/bin/env bash
# One-command developer/CI environment for sata_ros (what `make setup` runs).
#
# Creates .venv at the repository root, installs the pinned ROS 2 Kilted wheels, colcon, CPU torch,
# sam2 and the test tools, applies the two fixes the ROS wheels need, builds the interface
# packages the registry lacks (vision_msgs) and then sata_ros with `colcon build
# --symlink-install`. Idempotent: the pip step is skipped while the requirement files are
# unchanged, and colcon only rebuilds what changed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="${SATA_VENV:-$ROOT/.venv}"  # override only for tests of this script
PY="${PYTHON:-python3.11}"
# Bump when the install steps below change in a way the requirement files do not show.
STEPS_REV=1

say() { echo "[setup] $*"; }
die() {
    echo "sata_ros setup: error: $*" >&2
    exit 1
}

check_python() {
    command -v "$PY" >/dev/null 2>&1 \
        || die "'$PY' not found. sata_ros needs CPython 3.11 (the ROS 2 Kilted wheels are built \
for cp311). Install Python 3.11, or point to one: make setup PYTHON=/path/to/python3.11"
    local ver
    ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$ver" = "3.11" ] \
        || die "'$PY' is Python $ver, but sata_ros needs CPython 3.11 (the ROS 2 Kilted wheels \
are built for cp311). Install Python 3.11, or point to one: make setup PYTHON=/path/to/python3.11"
}

make_venv() {
    if [ -x "$VENV/bin/python" ]; then
        local ver
        ver=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
              2>/dev/null || echo broken)
        if [ "$ver" = "3.11" ]; then
            return
        fi
        say "existing .venv is Python $ver, not 3.11: recreating it"
        rm -rf "$VENV"
    fi
    say "creating .venv with $("$PY" --version)"
    "$PY" -m venv "$VENV"
}

check_registry() {
    # A quick index lookup tells an unreachable registry apart from a failing install.
    local out
    if ! out=$(timeout 120 "$VENV/bin/pip" index versions ros-rclpy 2>&1); then
        die "cannot reach the Python package registry (pip index versions ros-rclpy said: \
$(echo "$out" | tail -n 1)). sata_ros installs ROS 2 Kilted from registry wheels: check the \
network or PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, then run make setup again."
    fi
}

pip_install() {
    # This machine's pip config names local index folders that lack most projects: hide the
    # resulting "is ignored" warnings, keep everything else.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}

install_deps() {
    local pip=(pip_install)
    local find_links=()
    # Machines of this project keep the CPU torch wheel in /opt/wheels.
    [ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)
    say "installing torch 2.13.0 (CPU build where available)"
    "${pip[@]}" "${find_links[@]}" torch==2.13.0 || die "installing torch==2.13.0 failed (above)"
    say "installing the ROS 2 Kilted wheels, colcon and the pinned Python packages"
    "${pip[@]}" -r "$ROOT/requirements/ros-kilted.txt" -r "$ROOT/requirements/core.txt" \
        -r "$ROOT/requirements/dev.txt" || die "pip install of requirements/*.txt failed (above)"
    # torchvision and sam2 without their dependencies: unpinned, they would replace the CPU
    # torch with a CUDA build. sam2 is a source distribution: build it against this torch and
    # without its optional CUDA extension.
    say "installing torchvision 0.28.0 and sam2 1.1.0 (--no-deps)"
    "${pip[@]}" --no-deps torchvision==0.28.0 || die "installing torchvision failed (above)"
    SAM2_BUILD_CUDA=0 "${pip[@]}" --no-deps --no-build-isolation sam2==1.1.0 \
        || die "building sam2==1.1.0 failed (above)"
    "$VENV/bin/pip" check >/dev/null || {
        "$VENV/bin/pip" check >&2 || true
        die "the installed packages have conflicting requirements (above)"
    }
}

patch_activate() {
    # The ROS wheels install their share/ into the venv root: ament_cmake and ament_index need
    # it on AMENT_PREFIX_PATH and CMAKE_PREFIX_PATH (ros2-on-this-machine.md, fix 2).
    local act="$VENV/bin/activate"
    grep -q '>>> sata_ros' "$act" && return
    cat >>"$act" <<'ACT'
# >>> sata_ros: the ROS 2 Kilted wheels live in this venv (written by tools/setup.sh) >>>
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# <<< sata_ros <<<
ACT
}

setup_deps() {
    local want have
    want=$(cat "$ROOT"/requirements/*.txt <(echo "$STEPS_REV") | sha256sum | cut -d' ' -f1)
    have=$(cat "$VENV/.sata-deps" 2>/dev/null || true)
    if [ "$want" = "$have" ]; then
        say "Python packages up to date"
        return
    fi
    check_registry
    install_deps
    "$VENV/bin/python" "$ROOT/tools/fix_ros_wheels.py" "$VENV" "$(numpy_include_link)"
    patch_activate
    echo "$want" >"$VENV/.sata-deps"
}

numpy_include_link() {
    # CMake refuses to export a target whose include path lies inside the source tree, and the
    # venv (with numpy's headers) lives inside this repository, which is the package root. The
    # generated Python typesupport therefore gets numpy's headers through a link outside it.
    local cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sata_ros"
    local link
    link="$cache/$(echo "$VENV" | sha256sum | cut -c1-12)-numpy-include"
    mkdir -p "$cache"
    ln -sfn "$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')" "$link"
    echo "$link"
}

colcon_build() {
    # shellcheck disable=SC1091
    source "$VENV/bin/activate"
    cd "$ROOT"
    local numpy_inc
    numpy_inc=$(numpy_include_link)
    local paths=(.)
    # Interface packages the registry lacks are built here only when the environment has none.
    if ! env -u PYTHONPATH python -c 'import vision_msgs.msg' >/dev/null 2>&1; then
        paths+=(interfaces/vision_msgs)
    fi
    say "colcon build --symlink-install (${paths[*]})"
    colcon --log-level error build --symlink-install --base-paths "${paths[@]}" \
        --event-handlers console_cohesion- status- summary+ \
        --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
        -DPython3_NumPy_INCLUDE_DIR="$numpy_inc" \
        -Wno-dev --no-warn-unused-cli \
        || die "colcon build failed (above; full logs under log/latest_build)"
}

check_python
make_venv
setup_deps
colcon_build
say "done. For a shell: source .venv/bin/activate && source install/setup.bash"
