"""
`sata bench`: measured latencies, printed as JSON (timings never live in the test suite).

`sata bench encoder` times the image encoder of each variant next to the plain SAM 2.1 model of
the same size built from the same sam2 configuration, in one run on one machine, and reports the
ratios: RGB only (one stream, and RGB duplicated into both streams) and RGB + an auxiliary
modality. Each figure is the median of --repeats runs after one warm-up run.

`sata bench tracker` measures the streaming tracker of one variant (sata_nano unless --variants
names one): latency per frame against the number of targets, memory over a long run, and the
time per frame next to SAM 2.1's video predictor (see bench_tracker.py). It prints progress to
stderr and exactly one line to stdout: one JSON object with every result and the machine.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

from sata_ros.cli.bench_tracker import bench_tracker
from sata_ros.model.config import VARIANTS

ENCODER_VARIANTS = 'sata_nano,sata_t'


def register(subparsers: Any) -> None:
    """Add the `bench` subcommand to `subparsers`."""
    p = subparsers.add_parser('bench', help='measure latencies (JSON)',
                              description=__doc__.strip().splitlines()[0])
    p.add_argument('what', choices=('encoder', 'tracker'), help='what to measure')
    p.add_argument('--variants', default=None,
                   help='comma-separated variants (default sata_nano,sata_t for encoder; '
                   'tracker measures the first, default sata_nano)')
    p.add_argument('--size', type=int, default=0,
                   help="input side in pixels (default: each variant's image size)")
    p.add_argument('--repeats', type=int, default=5, help='timed runs per figure (default 5)')
    p.add_argument('--device', default='cpu', help="'cpu' (default) or 'cuda'")
    p.add_argument('--dtype', default='float32', help='float32, bfloat16 or float16 autocast')
    p.add_argument('--channels-last', action='store_true', help='NHWC layout')
    p.add_argument('--compile', action='store_true', help='torch.compile the trunk')
    p.add_argument('--json', action='store_true',
                   help='JSON output (always: the last line of stdout is one JSON object)')
    p.add_argument('--frames', type=int, default=30,
                   help='tracker: timed frames per target count (default 30)')
    p.add_argument('--long-frames', type=int, default=2000,
                   help='tracker: frames of the memory run (default 2000)')
    p.add_argument('--long-targets', type=int, default=5,
                   help='tracker: targets of the memory run (default 5)')
    p.add_argument('--targets', default='1,5,10,20',
                   help='tracker: comma-separated target counts (default 1,5,10,20)')
    p.add_argument('--sam2-frames', type=int, default=20,
                   help='tracker: timed frames per SAM 2.1 comparison (default 20)')
    p.add_argument('--checkpoint', default='default',
                   help="tracker: 'default' (the shipped checkpoint of the variant; untrained "
                        "where none ships), 'none' (untrained) or a checkpoint path")
    p.set_defaults(func=run)


def _median_ms(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return round(statistics.median(times), 2)


def machine() -> dict:
    """Describe where the numbers were measured."""
    import torch
    info = {'python': platform.python_version(), 'torch': torch.__version__,
            'cpu': platform.processor() or platform.machine(), 'cpu_count': os.cpu_count(),
            'torch_threads': torch.get_num_threads()}
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def bench_encoder(variant: str, args: argparse.Namespace) -> dict:
    """Time SAM 2.1 and SATA image encoders of one size, same weights, same inputs."""
    import torch
    from sata_ros.model.checkpoint import sam2_to_sata_keys
    from sata_ros.model.runtime import RuntimeOptions
    from sata_ros.model.sata import build_sam2_base, build_sata
    opts = RuntimeOptions(args.device, args.dtype, args.channels_last, args.compile)
    model = build_sata(variant)
    reference = build_sam2_base(model.config)
    model.sam.load_state_dict(sam2_to_sata_keys(reference.state_dict()), strict=False)
    model, reference = opts.prepare(model), opts.prepare(reference)
    size = args.size or model.config.image_size
    rgb = opts.inputs(torch.randn(1, 3, size, size))
    aux = opts.inputs(torch.randn(1, 3, size, size))
    group = torch.tensor([1], device=opts.torch_device)
    sync = torch.cuda.synchronize if opts.device.startswith('cuda') else (lambda: None)

    def timed(fn: Callable[[], Any]) -> float:
        with opts.autocast():
            return _median_ms(fn, args.repeats, sync)

    sam2_ms = timed(lambda: reference.forward_image(rgb))
    model.encoder.rgb_only = 'single'
    single_ms = timed(lambda: model.encode(rgb))
    model.encoder.rgb_only = 'duplicate'
    duplicate_ms = timed(lambda: model.encode(rgb))
    aux_ms = timed(lambda: model.encode(rgb, aux, group))
    return {'variant': variant, 'input': [1, 3, size, size], 'device': opts.device,
            'dtype': opts.dtype, 'sam2_1_ms': sam2_ms, 'sata_rgb_single_ms': single_ms,
            'sata_rgb_duplicate_ms': duplicate_ms, 'sata_rgb_x_ms': aux_ms,
            'ratio_rgb_single': round(single_ms / sam2_ms, 3),
            'ratio_rgb_duplicate': round(duplicate_ms / sam2_ms, 3),
            'ratio_rgb_x': round(aux_ms / sam2_ms, 3), 'repeats': args.repeats}


def run_tracker(args: argparse.Namespace) -> int:
    """Print one JSON object: the tracker benchmark and the machine. Exit 0, or 1 on error."""
    names = [v.strip() for v in (args.variants or 'sata_nano').split(',') if v.strip()]
    if not names or names[0] not in VARIANTS:
        print(f'sata bench: error: unknown variant {names[:1]}; known variants: '
              f'{sorted(VARIANTS)}', file=sys.stderr)
        return 1
    try:
        report = bench_tracker(args, names[0])
    except ValueError as exc:
        print(f'sata bench: error: {exc}', file=sys.stderr)
        return 1
    print(json.dumps({**report, 'machine': machine()}), flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """
    Run `sata bench`; exit 0, or 1 on error.

    encoder: one JSON line per variant, then one with the machine; tracker: see run_tracker.
    """
    if args.what == 'tracker':
        return run_tracker(args)
    names = [v.strip() for v in (args.variants or ENCODER_VARIANTS).split(',') if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown or args.repeats < 1:
        print(f'sata bench: error: unknown variants {unknown} or repeats < 1; known variants: '
              f'{sorted(VARIANTS)}')
        return 1
    try:
        for name in names:
            print(json.dumps(bench_encoder(name, args)), flush=True)
    except ValueError as exc:
        print(f'sata bench: error: {exc}')
        return 1
    print(json.dumps({'machine': machine()}))
    return 0
