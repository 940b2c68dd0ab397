"""
`sata synth`: write a deterministic synthetic multi-modal scene as a rosbag2 file.

Example: `sata synth --seed 7 --frames 120 --out scene.mcap` writes RGB, registered depth,
thermal (own resolution and rate), events and ground truth (see sata_ros/data/bag.py for the
topic layout). The same arguments always give the same bytes.
"""

import argparse
import json
import pathlib
import sys
from typing import Any

from sata_ros.data.bag import write_bag
from sata_ros.data.scene import generate_scene, MODALITIES, SceneConfig
from sata_ros.data.sequence import DataError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT such as 320x240, got {text!r}')
    return w, h


def _modalities(text: str) -> tuple[str, ...]:
    mods = tuple(m.strip() for m in text.split(',') if m.strip())
    unknown = sorted(set(mods) - set(MODALITIES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f'unknown modalities {unknown}; choose from {",".join(MODALITIES)}')
    return mods


def register(subparsers: Any) -> None:
    """Add the `synth` subcommand to `subparsers`."""
    defaults = SceneConfig()
    p = subparsers.add_parser('synth', help='write a synthetic multi-modal scene as a bag',
                              description=__doc__.strip().splitlines()[0])
    p.add_argument('--seed', type=int, default=defaults.seed, help='scene seed (default 0)')
    p.add_argument('--frames', type=int, default=defaults.num_frames,
                   help=f'number of RGB frames (default {defaults.num_frames})')
    p.add_argument('--out', type=pathlib.Path, required=True,
                   help='output: FILE.mcap (single MCAP file) or a new rosbag2 directory')
    p.add_argument('--size', type=_size, default=(defaults.width, defaults.height),
                   help='RGB/depth/event size WxH (default 320x240)')
    p.add_argument('--fps', type=float, default=defaults.fps, help='RGB rate, Hz (default 30)')
    p.add_argument('--modalities', type=_modalities, default=defaults.modalities,
                   help='comma-separated subset of rgb,depth,thermal,events (default all)')
    p.add_argument('--objects', type=int, default=defaults.num_objects,
                   help=f'tracked objects (default {defaults.num_objects})')
    p.add_argument('--distractors', type=int, default=defaults.num_distractors,
                   help=f'look-alikes of object 1 (default {defaults.num_distractors})')
    p.add_argument('--depth-encoding', choices=('16UC1', '32FC1'),
                   default=defaults.depth_encoding, help='16UC1 mm (default) or 32FC1 m')
    p.add_argument('--thermal-size', type=_size, default=None,
                   help='thermal camera size WxH (default half the RGB size)')
    p.add_argument('--thermal-fps', type=float, default=0.0,
                   help='thermal rate, Hz (default half the RGB rate)')
    p.add_argument('--no-noise', action='store_true', help='render without sensor noise')
    p.add_argument('--no-illumination-change', action='store_true',
                   help='keep the lighting constant')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the scene and write the bag; print a JSON summary. Exit 0, or 1 on error."""
    th_w, th_h = args.thermal_size or (0, 0)
    try:
        cfg = SceneConfig(
            seed=args.seed, num_frames=args.frames, width=args.size[0], height=args.size[1],
            fps=args.fps, num_objects=args.objects, num_distractors=args.distractors,
            modalities=args.modalities, depth_encoding=args.depth_encoding,
            thermal_width=th_w, thermal_height=th_h, thermal_fps=args.thermal_fps,
            sensor_noise=not args.no_noise,
            illumination_change=not args.no_illumination_change)
        path = write_bag(generate_scene(cfg), args.out, progress=sys.stderr.isatty())
    except (ValueError, FileExistsError, DataError) as exc:
        print(f'sata synth: error: {exc}', file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in path.rglob('*')) if path.is_dir() else \
        path.stat().st_size
    print(json.dumps({'out': str(path), 'frames': cfg.num_frames, 'seed': cfg.seed,
                      'modalities': list(cfg.modalities), 'bytes': size}))
    return 0
