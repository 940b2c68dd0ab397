#!/usr/bin/env bash
# `make demo`: the whole package in one command, on this machine (CPU is fine).
#
# 1. `make setup` (already done by the Makefile: a no-op when the environment is current);
# 2. synthesizes a multi-modal scene bag (RGB, depth, thermal, events, ground truth);
# 3. `sata eval --mode live`: starts the tracker node through launch/tracker.launch.py with the
#    default checkpoint and use_sim_time, plays the bag into it in lock-step with /clock, adds
#    target 1 through ~/add_target on its first well-visible frame and lets the detection head
#    track every other object (protocol 'combined', node mode 'both'), matches the outputs to
#    the ground truth by stamp;
# 4. writes demo_out/report.json, report.md, PNG plots and animation.gif, and prints the
#    headline numbers (the same numbers as report.json).
# Environment: DEMO_OUT (default demo_out), DEMO_SEED (scene seed, default 2026),
# DEMO_FRAMES (default 60), DEMO_RATE (0 = lock-step, default; R = real time at R x).
set -eo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT="${DEMO_OUT:-demo_out}"
# Keep the demo's DDS traffic on this machine unless the caller chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"

# shellcheck disable=SC1091
source .venv/bin/activate
# shellcheck disable=SC1091
source install/setup.bash
sata() { python -m sata_ros.cli.main "$@"; }

start=$(date +%s)
mkdir -p "$OUT"
# The demo owns its bag: a second run replaces it (sata synth refuses to overwrite a file).
rm -f "$OUT/scene.mcap"
echo "[demo] synthesizing a 4-modality scene bag: $OUT/scene.mcap"
sata synth --seed "${DEMO_SEED:-2026}" --frames "${DEMO_FRAMES:-60}" --size 256x192 \
    --objects 3 --distractors 1 --out "$OUT/scene.mcap" >/dev/null
echo "[demo] live replay into the tracker node (tracker.launch.py, default checkpoint)"
sata eval "$OUT/scene.mcap" --mode live --protocol combined --prompts 1 \
    --rate "${DEMO_RATE:-0}" --animation --out "$OUT"
echo "[demo] done in $(( $(date +%s) - start )) s; the numbers above are $OUT/report.json's;" \
    "animation: $OUT/animation.gif"
