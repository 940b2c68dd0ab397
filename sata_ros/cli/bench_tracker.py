"""
`sata bench tracker`: per-frame latency and memory of the streaming tracker, next to SAM 2.1.

Measured in one process, on one model of one variant: the shipped checkpoint where the variant
has one (--checkpoint default), otherwise untrained weights (speed hardly depends on them):

- `latency_ms`: wall time of `Stream.track` per frame (p50, p95) for each target count of
  --targets: frame 0 is tracked, the targets are added on it as a grid of small boxes, 3 frames
  warm up (memory windows fill) and the next --frames frames are timed;
- the long run: --long-frames frames with --long-targets targets on one stream; the resident set
  size after its first 50 frames (`rss_mb_start`) and after the last (`rss_mb_end`), and the
  stream's `memory_stats()` at the end (bounded memory means no growth);
- `vs_sam2_video_predictor`: SATA's time per frame over SAM 2.1's video predictor's time on the
  same JPEG frames, same Hiera configuration, same resolution, same boxes and number of objects
  and the same weights in the shared parts (`ratio` = sata / sam2, p50 of --sam2-frames frames
  after 2 warm-up frames; the two run frame by frame in turn, so load on the machine hits both
  alike). SATA's encoder runs RGB through both DeMoE streams by default
  ('duplicate', twice the trunk work); `vs_sam2_video_predictor_single_stream` repeats the
  comparison with one stream.

The frames are a synthetic RGB scene (data/scene.py) cycled with increasing stamps. Targets are
never dropped during the run (drop_after is raised), so every frame tracks all of them.
"""

import argparse
import dataclasses
import gc
import os
import pathlib
import sys
import tempfile
import time
from typing import Any, Callable, Sequence

import numpy as np

SCENE_FRAMES = 60
FRAME_WIDTH, FRAME_HEIGHT = 320, 240
LATENCY_WARMUP = 3  # frames tracked untimed after the prompts (memory windows fill)
SAM2_WARMUP = 2  # frames after the prompted frame left out of the SAM 2.1 comparison
RSS_START_FRAMES = 50  # long-run frames before rss_mb_start is read


def parse_targets(text: str) -> list[int]:
    """Return the sorted distinct target counts of a comma-separated list ('1,5,10,20')."""
    try:
        counts = sorted({int(v) for v in text.split(',') if v.strip()})
    except ValueError:
        raise ValueError(f'--targets must be comma-separated integers, got {text!r}') from None
    if not counts or counts[0] < 1:
        raise ValueError(f'--targets must list target counts >= 1, got {text!r}')
    return counts


def rss_mb() -> float:
    """Return this process's resident set size in MiB."""
    gc.collect()
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2 ** 20
    except (OSError, ValueError, IndexError):  # not Linux: peak RSS is the best we have
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2 ** 20 if sys.platform == 'darwin' else 2 ** 10)


def box_grid(count: int, width: int, height: int) -> list[tuple[float, float, float, float]]:
    """Return `count` small boxes (x1, y1, x2, y2 pixels) on a grid covering the image."""
    cols = int(np.ceil(np.sqrt(count * width / height)))
    rows = int(np.ceil(count / cols))
    cell_w, cell_h = width / cols, height / rows
    boxes = []
    for k in range(count):
        cx, cy = (k % cols + 0.5) * cell_w, (k // cols + 0.5) * cell_h
        half_w, half_h = max(4.0, cell_w / 4), max(4.0, cell_h / 4)
        boxes.append((round(cx - half_w, 1), round(cy - half_h, 1),
                      round(cx + half_w, 1), round(cy + half_h, 1)))
    return boxes


def scene_frames() -> list:
    """Render the benchmark's RGB scene once (SCENE_FRAMES frames, FRAME_WIDTH x HEIGHT)."""
    from sata_ros.data.scene import generate_scene, SceneConfig
    return list(generate_scene(SceneConfig(seed=0, num_frames=SCENE_FRAMES, modalities=('rgb',),
                                           width=FRAME_WIDTH, height=FRAME_HEIGHT)))


def cycled(frames: Sequence, index: int) -> Any:
    """Return frame `index` of `frames` played in a loop, with its own index and stamp."""
    first, period = frames[0].stamp_ns, frames[1].stamp_ns - frames[0].stamp_ns
    return dataclasses.replace(frames[index % len(frames)], index=index,
                               stamp_ns=first + index * period)


def percentiles(times_ms: Sequence[float]) -> dict[str, float]:
    """Return p50 and p95 (numpy percentiles, ms) of `times_ms`."""
    p50, p95 = np.percentile(np.asarray(times_ms, np.float64), [50, 95])
    return {'p50': round(float(p50), 2), 'p95': round(float(p95), 2)}


def _progress(message: str) -> None:
    print(f'sata bench tracker: {message}', file=sys.stderr, flush=True)


def open_with_targets(tracker: Any, first: Any, boxes: Sequence[Sequence[float]]) -> Any:
    """Open a stream, track `first` and add one box target per box on it."""
    from sata_ros.tracking.prompts import Prompt
    stream = tracker.open_stream()
    stream.track(first)
    for box in boxes:
        stream.add_target(Prompt.from_box(box))
    return stream


def time_tracker(tracker: Any, frame_at: Callable[[int], Any], count: int, warmup: int,
                 timed: int) -> tuple[list[float], list[dict]]:
    """
    Time `Stream.track` per frame with `count` box targets added on frame 0.

    Returns:
        (wall ms of each timed frame, the FrameResult.timing_ms of each timed frame).

    """
    first = frame_at(0)
    height, width = first.rgb.shape[:2]
    stream = open_with_targets(tracker, first, box_grid(count, width, height))
    times, stages = [], []
    for k in range(1, 1 + warmup + timed):
        frame = frame_at(k)
        start = time.perf_counter()
        result = stream.track(frame)
        elapsed = (time.perf_counter() - start) * 1e3
        if k > warmup:
            times.append(elapsed)
            stages.append(result.timing_ms)
    if len(stream.target_ids) != count:
        raise RuntimeError(f'the stream tracks {len(stream.target_ids)} targets, expected '
                           f'{count}')
    return times, stages


def long_run(tracker: Any, frames: Sequence, count: int, targets: int) -> dict:
    """Track `count` frames with `targets` targets on one stream; report RSS and memory."""
    first = cycled(frames, 0)
    height, width = first.rgb.shape[:2]
    stream = open_with_targets(tracker, first, box_grid(targets, width, height))
    start_after = min(RSS_START_FRAMES, count)
    rss_start = 0.0
    times = []
    began = time.perf_counter()
    for k in range(1, count + 1):
        frame = cycled(frames, k)
        tick = time.perf_counter()
        stream.track(frame)
        times.append((time.perf_counter() - tick) * 1e3)
        if k == start_after:
            rss_start = rss_mb()
        if k % 500 == 0:
            _progress(f'long run: {k}/{count} frames, {rss_mb():.1f} MiB')
    rss_end = rss_mb()
    stats = stream.memory_stats()
    if stats['targets'] != targets:
        raise RuntimeError(f'the long run ends with {stats["targets"]} targets, expected '
                           f'{targets}')
    return {'frames': count, 'targets': targets, 'rss_start_after_frames': start_after,
            'rss_mb_start': round(rss_start, 2), 'rss_mb_end': round(rss_end, 2),
            'rss_growth_pct': round(100.0 * (rss_end - rss_start) / rss_start, 2),
            'latency_ms': percentiles(times), 'seconds': round(time.perf_counter() - began, 1),
            'memory_stats': stats}


def sata_to_sam2_keys(state: dict) -> dict:
    """Map a SATA `model.sam` state dict to SAM 2.1's: shared experts become block MLPs."""
    import re
    mlp = re.compile(r'^(image_encoder\.trunk\.blocks\.\d+\.mlp\.)(.*)$')
    out = {}
    for key, value in state.items():
        key = key.replace('_orig_mod.', '')  # a torch.compile'd trunk
        match = mlp.match(key)
        if match is None:
            out[key] = value
        elif match.group(2).startswith('shared.'):
            out[match.group(1) + match.group(2)[len('shared.'):]] = value
        # Other block-MLP keys are DeMoE's (experts, routers, prompt projections): SATA only.
    return out


def build_sam2_predictor(tracker: Any) -> Any:
    """Build SAM 2.1's video predictor of the tracker's variant with the tracker's weights."""
    from sam2.build_sam import build_sam2_video_predictor
    config = tracker.model.config
    runtime = tracker.runtime
    predictor = build_sam2_video_predictor(
        config.sam2_config, None, device='cpu',
        hydra_overrides_extra=[f'++{o}' for o in config.overrides])
    own = {k: v.detach().to('cpu') for k, v in tracker.model.sam.state_dict().items()}
    missing, unexpected = predictor.load_state_dict(sata_to_sam2_keys(own), strict=False)
    if missing or unexpected:
        raise RuntimeError(f'SATA weights do not fit SAM 2.1 {config.sam2_config}: missing '
                           f'{missing[:5]}, unexpected {unexpected[:5]}')
    if predictor.image_size != tracker.model.image_size:
        raise RuntimeError(f'SAM 2.1 works on {predictor.image_size} px, SATA on '
                           f'{tracker.model.image_size} px')
    if runtime.compile_trunk:
        import torch
        predictor.image_encoder.trunk = torch.compile(predictor.image_encoder.trunk)
        runtime = dataclasses.replace(runtime, compile_trunk=False)
    return runtime.prepare(predictor).eval()


MODES = ('duplicate', 'single')  # SATA's RGB-only encoder modes compared with SAM 2.1


def time_side_by_side(tracker: Any, predictor: Any, video_dir: str,
                      frame_at: Callable[[int], Any], count: int, timed: int
                      ) -> dict[str, list[float]]:
    """
    Time SAM 2.1's video predictor and SATA (each RGB mode) per frame, interleaved.

    Frame k goes through SAM 2.1 (one step of propagate_in_video), then through one SATA stream
    per mode, before frame k + 1: a load burst on the machine hits all of them alike. The same
    `count` boxes prompt every one on frame 0; SAM2_WARMUP frames follow untimed.

    Returns:
        wall ms of each timed frame, keyed 'sam2' and by mode.

    """
    import torch
    runtime = tracker.runtime
    sync = torch.cuda.synchronize if runtime.device.startswith('cuda') else (lambda: None)
    encoder = tracker.model.encoder
    first = frame_at(0)
    height, width = first.rgb.shape[:2]
    boxes = box_grid(count, width, height)
    times: dict[str, list[float]] = {name: [] for name in ('sam2',) + MODES}
    with runtime.autocast():
        state = predictor.init_state(video_path=video_dir)
        for obj_id, box in enumerate(boxes, start=1):
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=obj_id,
                                            box=np.array(box, np.float32))
        frames = predictor.propagate_in_video(state)
        next(frames)  # frame 0: the prompted outputs, computed above
        streams = {}
        for mode in MODES:
            encoder.rgb_only = mode
            streams[mode] = open_with_targets(tracker, first, boxes)
        for k in range(1, 1 + SAM2_WARMUP + timed):
            sync()
            tick = time.perf_counter()
            frame_idx, obj_ids, _ = next(frames)
            sync()
            elapsed = {'sam2': (time.perf_counter() - tick) * 1e3}
            if frame_idx != k or len(obj_ids) != count:
                raise RuntimeError(f'SAM 2.1 yielded frame {frame_idx} with {len(obj_ids)} '
                                   f'objects, expected frame {k} with {count}')
            frame = frame_at(k)
            for mode in MODES:
                encoder.rgb_only = mode
                tick = time.perf_counter()
                result = streams[mode].track(frame)
                elapsed[mode] = (time.perf_counter() - tick) * 1e3
                if len(result.instances) != count:
                    raise RuntimeError(f'SATA tracked {len(result.instances)} targets, '
                                       f'expected {count}')
            if k > SAM2_WARMUP:
                for name, ms in elapsed.items():
                    times[name].append(ms)
        frames.close()
    return times


def compare_sam2(tracker: Any, frames: Sequence, counts: Sequence[int], timed: int) -> dict:
    """Time SATA (two-stream and single-stream RGB) and SAM 2.1 on the same JPEG frames."""
    from PIL import Image
    from sata_ros.data.sequence import Frame
    predictor = build_sam2_predictor(tracker)
    encoder = tracker.model.encoder
    default_mode = encoder.rgb_only
    rows: dict[str, list] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix='sata_bench_') as video_dir:
        decoded = []
        for k in range(1 + SAM2_WARMUP + timed):
            path = pathlib.Path(video_dir, f'{k:05d}.jpg')
            Image.fromarray(cycled(frames, k).rgb).save(path, quality=95)
            with Image.open(path) as image:  # SATA reads what SAM 2.1 reads
                decoded.append(np.asarray(image.convert('RGB')))
        first, period = frames[0].stamp_ns, frames[1].stamp_ns - frames[0].stamp_ns

        def frame_at(k: int) -> Frame:
            return Frame(k, first + k * period, decoded[k])

        try:
            for count in counts:
                _progress(f'SAM 2.1 video predictor and SATA side by side, {count} targets')
                times = time_side_by_side(tracker, predictor, video_dir, frame_at, count, timed)
                sam2_ms = percentiles(times['sam2'])['p50']
                for mode in MODES:
                    sata_ms = percentiles(times[mode])['p50']
                    rows[mode].append({'targets': count, 'sata_ms_p50': sata_ms,
                                       'sam2_ms_p50': sam2_ms,
                                       'ratio': round(sata_ms / sam2_ms, 3), 'frames': timed})
        finally:
            encoder.rgb_only = default_mode
    return {'vs_sam2_video_predictor': rows['duplicate'],
            'vs_sam2_video_predictor_single_stream': rows['single']}


def bench_tracker(args: argparse.Namespace, variant: str = 'sata_nano') -> dict:
    """
    Run the tracker benchmark of `variant` (see the module docstring) and return its report.

    Args:
        args: `sata bench` options: frames, long_frames, long_targets, targets, sam2_frames,
            device, dtype, channels_last, compile, checkpoint.
        variant: the model variant.

    Raises:
        ValueError: an option out of range (the message names it).

    """
    counts = parse_targets(args.targets)
    for name in ('frames', 'long_frames', 'long_targets', 'sam2_frames'):
        if getattr(args, name) < 1:
            raise ValueError(f'--{name.replace("_", "-")} must be >= 1, got '
                             f'{getattr(args, name)}')
    import torch
    from sata_ros.model.runtime import RuntimeOptions
    from sata_ros.tracking.config import TrackerConfig
    from sata_ros.tracking.tracker import Tracker
    began = time.perf_counter()
    runtime = RuntimeOptions(args.device, args.dtype, args.channels_last, args.compile)
    most = max(counts + [args.long_targets])
    # drop_after: untrained heads may call targets absent; they must stay tracked throughout.
    config = TrackerConfig(max_targets=max(32, most), drop_after=10 ** 9)
    from sata_ros.model.default_checkpoint import resolve_checkpoint, SHIPPED
    setting = getattr(args, 'checkpoint', 'default')
    if setting == 'default' and variant not in SHIPPED:
        setting = 'none'
    checkpoint = resolve_checkpoint(setting, variant)
    torch.manual_seed(0)
    tracker = Tracker.from_variant(variant, checkpoint, config=config, runtime=runtime)
    frames = scene_frames()
    report: dict[str, Any] = {
        'variant': variant, 'checkpoint': str(checkpoint) if checkpoint else 'untrained',
        'device': runtime.device, 'dtype': runtime.dtype,
        'channels_last': runtime.channels_last, 'compile': runtime.compile_trunk,
        'image_size': tracker.model.image_size,
        'frame_size': {'width': FRAME_WIDTH, 'height': FRAME_HEIGHT},
        'rgb_only': tracker.model.encoder.rgb_only}

    latency, stages = {}, {}
    for count in counts:
        _progress(f'latency, {count} targets')
        times, timing = time_tracker(tracker, lambda k: cycled(frames, k), count,
                                     LATENCY_WARMUP, args.frames)
        latency[str(count)] = percentiles(times)
        stages[str(count)] = {key: round(float(np.median([t[key] for t in timing])), 2)
                              for key in ('preprocess', 'encode', 'prompted')}
    report['latency_ms'] = latency
    report['stage_ms_p50'] = stages
    report['latency_frames'] = {'warmup': LATENCY_WARMUP, 'timed': args.frames}
    base = counts[0]
    top = max([c for c in counts if c <= 10] or [base])
    if top != base:
        report[f'targets_ratio_{top}_vs_{base}'] = round(
            latency[str(top)]['p50'] / latency[str(base)]['p50'], 3)

    _progress(f'long run, {args.long_frames} frames, {args.long_targets} targets')
    run = long_run(tracker, frames, args.long_frames, args.long_targets)
    for key in ('rss_mb_start', 'rss_mb_end', 'rss_growth_pct'):
        report[key] = run.pop(key)
    report['long_run'] = run

    sam2_counts = sorted({1, top})
    report.update(compare_sam2(tracker, frames, sam2_counts, args.sam2_frames))
    mode = report['rgb_only']
    report['notes'] = (
        'latency_ms: wall time of Stream.track per frame (preprocessing, encoder, every target, '
        'results at input resolution). vs_sam2_video_predictor: SATA as configured '
        f"(rgb_only={mode!r}; 'duplicate' runs RGB through both DeMoE streams, twice the trunk "
        "work) over SAM 2.1's video predictor, same frames, boxes and shared weights; "
        '*_single_stream: SATA with one RGB stream. Weights: '
        f"{report['checkpoint']}.")
    report['seconds'] = round(time.perf_counter() - began, 1)
    return report
