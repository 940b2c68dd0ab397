"""
`sata bench`: measured latencies, printed as JSON (timings never live in the test suite).

`sata bench encoder` times the image encoder of each variant next to the plain SAM 2.1 model of
the same size built from the same sam2 configuration, in one run on one machine, and reports the
ratios: RGB only (one stream, and RGB duplicated into both streams) and RGB + an auxiliary
modality. Each figure is the median of --repeats runs after one warm-up run.
"""

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any, Callable

from sata_ros.model.config import VARIANTS


def register(subparsers: Any) -> None:
    """Add the `bench` subcommand to `subparsers`."""
    p = subparsers.add_parser('bench', help='measure latencies (JSON)',
                              description=__doc__.strip().splitlines()[0])
    p.add_argument('what', choices=('encoder',), help='what to measure')
    p.add_argument('--variants', default='sata_nano,sata_t',
                   help='comma-separated variants (default sata_nano,sata_t)')
    p.add_argument('--size', type=int, default=0,
                   help="input side in pixels (default: each variant's image size)")
    p.add_argument('--repeats', type=int, default=5, help='timed runs per figure (default 5)')
    p.add_argument('--device', default='cpu', help="'cpu' (default) or 'cuda'")
    p.add_argument('--dtype', default='float32', help='float32, bfloat16 or float16 autocast')
    p.add_argument('--channels-last', action='store_true', help='NHWC layout')
    p.add_argument('--compile', action='store_true', help='torch.compile the trunk')
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


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per variant, then one with the machine. Exit 0, or 1 on error."""
    names = [v.strip() for v in args.variants.split(',') if v.strip()]
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
