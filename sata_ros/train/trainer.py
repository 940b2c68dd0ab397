"""
The training loop: `sata train --config config/train/<name>.yaml` runs `Trainer(cfg).run()`.

One optimiser step = `optim.accumulate` clips (clips.ClipSampler), each through ClipLoss, then
gradient clipping and an AdamW step with a linear-warmup + cosine learning rate (the decoder
stage draws encoded frames from a bounded pool, feature_pool.py, through DecoderLoss
instead). Every random draw of step s is seeded from (run.seed, s, rank): the clips by the
sampler, and torch's generator (router noise, dropout, L_CM masks, prompt jitter) by
`torch.manual_seed` at the start of the step. So a run resumed from `last.pt` continues with
the same clips, the same noise and the same optimiser state as if it had never stopped, and
its losses match the uninterrupted run's.

Multi-GPU: launched with PyTorch's own `torchrun --nproc_per_node N -m sata_ros.cli.main train
...`, each process finds its rank in the environment torchrun sets, wraps ClipLoss in
DistributedDataParallel and draws its own clips; rank 0 alone logs and writes checkpoints.

Outputs in run.out_dir: `config.yaml` (the resolved config), `train.csv` (one row per
`log_every` steps: step, lr, loss and every term, seconds), `val.csv`, TensorBoard event files
under `tb/` when tensorboard is installed, `last.pt` (resumable: model, optimiser, step) and
the exported model checkpoint (`model.pt`, or run.export).
"""

import contextlib
import csv
import dataclasses
import math
import os
import pathlib
import platform
import time
from typing import Any, Iterator, Optional

from sata_ros.model import sam_steps
from sata_ros.model.checkpoint import load_checkpoint_into, load_sam2_weights, save_checkpoint
from sata_ros.model.config import get_config
from sata_ros.model.sata import build_sata, SataModel
from sata_ros.train.clip_loss import ClipLoss, ClipOutput, WEIGHTS
from sata_ros.train.clips import Clip, ClipSampler, ClipTensors, to_tensors
from sata_ros.train.config import TrainConfig
from sata_ros.train.decoder_loss import DecoderLoss
from sata_ros.train.feature_pool import FeaturePool
import torch
from torch import nn
import yaml

STATE_FORMAT = 'sata_ros.train_state/1'
LOG_COLUMNS = ['step', 'lr', 'loss'] + list(WEIGHTS) + ['clips', 'seconds']


@dataclasses.dataclass
class TrainResult:
    """
    What a finished run reports.

    Attributes:
        step: optimiser steps completed (the run's total when it finished).
        last_loss: mean loss of the last logged interval.
        checkpoint: path of the exported model checkpoint.
        seconds: wall time of this invocation (a resumed run counts only its own part).

    """

    step: int
    last_loss: float
    checkpoint: pathlib.Path
    seconds: float


def build_model(cfg: TrainConfig) -> SataModel:
    """Build the model of `cfg.model` and load its initial weights (SAM 2.1 or sata_ros)."""
    section = cfg.model
    config = dataclasses.replace(get_config(section.variant), **section.overrides)
    model = build_sata(config)
    if section.sam2_checkpoint:
        load_sam2_weights(model, section.sam2_checkpoint)
    if section.init_checkpoint:
        load_checkpoint_into(model, section.init_checkpoint, initialise=True)
    elif section.common_init_std > 0:
        generator = torch.Generator().manual_seed(cfg.run.seed)
        for layer in model.demoe_layers():
            with torch.no_grad():
                w2 = layer.common.w2
                w2.copy_(torch.randn(w2.shape, generator=generator) * section.common_init_std)
    set_trainable(model, section.stage)
    return model


def set_trainable(model: SataModel, stage: str) -> list[str]:
    """
    Mark what a stage trains (see ModelSection.stage); return the trainable parameter names.

    'detection' trains the detection head only; 'mixture' trains DeMoE (its shared expert stays
    frozen), the SAM 2.1 prompt encoder, decoder and memory modules, the FPN neck, the
    detection head and the MEM; 'heads' trains all of that except the image encoder (trunk,
    DeMoE and neck stay frozen); 'decoder' trains the SAM 2.1 prompt encoder and mask decoder
    only; 'full' trains everything, the Hiera trunk included.
    """
    for name, param in model.named_parameters():
        if stage == 'full':
            train = True
        elif stage == 'detection':
            train = name.startswith('detector.')
        elif stage == 'heads':
            train = not name.startswith('sam.image_encoder.')
        elif stage == 'decoder':
            train = name.startswith(('sam.sam_mask_decoder.', 'sam.sam_prompt_encoder.'))
        else:
            in_trunk = name.startswith('sam.image_encoder.trunk.')
            demoe = '.mlp.' in name and '.mlp.shared.' not in name
            train = not in_trunk or demoe
        param.requires_grad_(train)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Return the learning rate of optimiser step `step` (0-based): warmup, then cosine."""
    o = cfg.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    span = max(1, cfg.run.steps - o.warmup_steps)
    progress = min(1.0, (step - o.warmup_steps) / span)
    floor = o.lr * o.min_lr_ratio
    return floor + (o.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        # Norm scales, biases, positional / temporal encodings and learned tokens are not
        # weights a decay should pull towards zero.
        if param.ndim <= 1 or name.endswith(('pos_embed', 'tpos_enc', 'queries', 'token_pos',
                                             'age_embed', 'null_memory', 'embed_window')):
            no_decay.append(param)
        else:
            decay.append(param)
    return [{'params': decay, 'weight_decay': weight_decay},
            {'params': no_decay, 'weight_decay': 0.0}]


def _to_device(batch: ClipTensors, device: torch.device) -> ClipTensors:
    return ClipTensors(*[v.to(device) if isinstance(v, torch.Tensor) else v for v in batch])


class Trainer:
    """
    Runs a training config.

    Args:
        cfg: the resolved training config.
        resume: continue from run.out_dir/last.pt (an error if it does not exist).
        progress: show a progress bar (rank 0 only).
        stop_at: stop after this optimiser step (saving last.pt and the export) although the
            schedule spans run.steps; a later `resume` continues as if never stopped. None runs
            to run.steps.

    """

    def __init__(self, cfg: TrainConfig, resume: bool = False, progress: bool = True,
                 stop_at: Optional[int] = None) -> None:
        self.cfg = cfg
        self.stop_at = cfg.run.steps if stop_at is None else min(stop_at, cfg.run.steps)
        self.out_dir = pathlib.Path(cfg.run.out_dir)
        self.resume = resume
        self.progress = progress
        self.pool: Optional[FeaturePool] = None  # the decoder stage's encoded frames
        self.distributed = int(os.environ.get('WORLD_SIZE', '1')) > 1
        self.rank = int(os.environ.get('RANK', '0'))
        self.device = self._device()
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)

    def _device(self) -> torch.device:
        want = self.cfg.run.device
        if want == 'cuda' and not torch.cuda.is_available():
            raise ValueError("run.device is 'cuda' but torch sees no CUDA device")
        if want == 'cpu' or (want == 'auto' and not torch.cuda.is_available()):
            return torch.device('cpu')
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', '0')))

    # ------------------------------------------------------------------ setup

    def _autocast(self) -> contextlib.AbstractContextManager:
        amp = self.cfg.optim.amp
        if self.device.type != 'cuda' or amp == 'off':
            return contextlib.nullcontext()
        dtype = torch.float16 if amp == 'fp16' else torch.bfloat16
        return torch.autocast('cuda', dtype=dtype)

    def _init_distributed(self) -> None:
        if self.distributed and not torch.distributed.is_initialized():
            backend = 'nccl' if self.device.type == 'cuda' else 'gloo'
            torch.distributed.init_process_group(backend)
            if self.device.type == 'cuda':
                torch.cuda.set_device(self.device)

    # ------------------------------------------------------------------ run

    def run(self) -> TrainResult:
        """Train to run.steps (from last.pt when resuming) and export the model."""
        start_time = time.perf_counter()
        cfg = self.cfg
        self._init_distributed()
        # The initial weights come from torch's generator: the same seed, the same model on
        # every rank and in every run of this config.
        torch.manual_seed(cfg.run.seed)
        model = build_model(cfg).to(self.device)
        decoder_stage = cfg.model.stage == 'decoder'
        loss_fn: nn.Module = (DecoderLoss(model, cfg.loss, cfg.data) if decoder_stage
                              else ClipLoss(model, cfg.loss))
        optimizer = torch.optim.AdamW(_param_groups(model, cfg.optim.weight_decay),
                                      lr=cfg.optim.lr, betas=cfg.optim.betas)
        scaler = torch.amp.GradScaler('cuda', enabled=(self.device.type == 'cuda'
                                                       and cfg.optim.amp == 'fp16'))
        step = 0
        if self.resume:
            step = self._load_state(model, optimizer, scaler)
        if self.distributed:
            loss_fn = nn.parallel.DistributedDataParallel(
                loss_fn, device_ids=[self.device.index] if self.device.type == 'cuda' else None,
                find_unused_parameters=True)
        sampler = ClipSampler(cfg.data, cfg.run.seed, self.rank)
        self.pool = (FeaturePool(sampler, cfg.data, lambda batch: self._encode(model, batch),
                                 lambda clip: self._tensors(clip, model))
                     if decoder_stage else None)
        lead = self.rank == 0
        if lead:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / 'config.yaml').write_text(yaml.safe_dump(cfg.to_dict(),
                                                                     sort_keys=False))
        logger = _Logger(self.out_dir, cfg, enabled=lead, append=self.resume)
        val_clips = sampler.validation(cfg.run.val_clips) if cfg.run.val_every else []
        with_heads = cfg.model.stage != 'detection'
        model.train()
        last_loss = float('nan')
        with _progress(cfg.run.steps, step, self.progress and lead) as bar:
            while step < self.stop_at:
                tick = time.perf_counter()
                lr = learning_rate(cfg, step)
                for group in optimizer.param_groups:
                    group['lr'] = lr
                if self.pool is not None:
                    self.pool.advance(step)
                torch.manual_seed(_step_seed(cfg.run.seed, step, self.rank))
                totals = self._step(loss_fn, sampler, step, optimizer, scaler, model, with_heads)
                step += 1
                logger.add(step, lr, totals, time.perf_counter() - tick)
                if step % cfg.run.log_every == 0 or step == self.stop_at:
                    row = logger.flush()
                    last_loss = row.get('loss', last_loss)
                    bar.set_postfix(loss=f'{last_loss:.4f}', lr=f'{lr:.2e}')
                if cfg.run.val_every and step % cfg.run.val_every == 0:
                    logger.validation(step, self._validate(loss_fn, val_clips, model,
                                                           with_heads))
                    model.train()
                if lead and cfg.run.ckpt_every and step % cfg.run.ckpt_every == 0:
                    self._save_state(model, optimizer, scaler, step)
                bar.update(1)
        export = pathlib.Path(cfg.run.export or self.out_dir / 'model.pt')
        if lead:
            self._save_state(model, optimizer, scaler, step)
            export.parent.mkdir(parents=True, exist_ok=True)
            save_checkpoint(model, export, extra=self._provenance(step, start_time),
                            half=cfg.run.export_half)
        logger.close()
        if self.distributed:
            torch.distributed.barrier()
        return TrainResult(step, last_loss, export, time.perf_counter() - start_time)

    def _step(self, loss_fn: nn.Module, sampler: ClipSampler, step: int,
              optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
              model: SataModel, with_heads: bool) -> dict[str, float]:
        """Run one optimiser step; return the summed loss and terms of its clips."""
        cfg = self.cfg
        totals: dict[str, float] = {'clips': 0.0}
        optimizer.zero_grad(set_to_none=True)
        stepped = False
        for micro in range(cfg.optim.accumulate):
            with self._autocast():
                if self.pool is not None:
                    out = loss_fn(self.pool.draw())
                else:
                    out = loss_fn(self._tensors(sampler.sample(step, micro), model),
                                  with_heads)
            # A clip with nothing trainable in it (a prompted clip in the detection stage)
            # still counts as drawn, so the sampling stays a function of the step.
            if out.loss.requires_grad:
                scaler.scale(out.loss / cfg.optim.accumulate).backward()
                stepped = True
            totals['clips'] += 1
            _add_terms(totals, out)
        if stepped:
            if cfg.optim.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], cfg.optim.grad_clip)
            scaler.step(optimizer)
            scaler.update()
        return totals

    @torch.no_grad()
    def _validate(self, loss_fn: nn.Module, clips: list, model: SataModel,
                  with_heads: bool) -> dict[str, float]:
        """Mean loss and terms over the fixed validation clips, the model in eval mode."""
        model.eval()
        torch.manual_seed(_step_seed(self.cfg.run.seed, -1, 0))
        sums: dict[str, float] = {}
        count = 0
        for clip in clips:
            with self._autocast():
                if self.pool is None:
                    outs = [loss_fn(self._tensors(clip, model), with_heads)]
                else:  # the decoder stage: every frame of the clip with an object on it
                    outs = [loss_fn(frame) for frame in self.pool.encode_clip(clip)]
            for out in outs:
                _add_terms(sums, out)
            count += len(outs)
        return {k: v / max(1, count) for k, v in sums.items()}

    def _tensors(self, clip: Clip, model: SataModel) -> ClipTensors:
        return _to_device(to_tensors(clip, model.image_size), self.device)

    def _encode(self, model: SataModel, batch: ClipTensors) -> sam_steps.FrameFeatures:
        """Return the frozen encoder's features of a clip (inference mode, no gradient)."""
        was_training = model.training
        model.eval()  # no router noise: the decoder learns on the features inference sees
        try:
            with torch.no_grad(), self._autocast():
                return sam_steps.frame_features(
                    model.sam, model.encode(batch.rgb, batch.aux, batch.aux_group))
        finally:
            model.train(was_training)

    # ------------------------------------------------------------------ state

    def _save_state(self, model: SataModel, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, step: int) -> None:
        path = self.out_dir / 'last.pt'
        tmp = path.with_suffix('.tmp')
        torch.save({'format': STATE_FORMAT, 'step': step, 'config': self.cfg.to_dict(),
                    'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                    'scaler': scaler.state_dict()}, tmp)
        # Rename after a complete write: an interrupted save never leaves a broken last.pt.
        tmp.replace(path)

    def _load_state(self, model: SataModel, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler) -> int:
        path = self.out_dir / 'last.pt'
        if not path.is_file():
            raise ValueError(f'cannot resume: {path} does not exist (run without --resume '
                             'to start)')
        state = torch.load(path, map_location=self.device, weights_only=True)
        if not isinstance(state, dict) or state.get('format') != STATE_FORMAT:
            raise ValueError(f'{path}: not a sata_ros training state')
        if state['config']['model'] != self.cfg.to_dict()['model']:
            raise ValueError(f'{path} was written for model settings {state["config"]["model"]}'
                             f', this config has {self.cfg.to_dict()["model"]}')
        model.load_state_dict(state['model'])
        optimizer.load_state_dict(state['optimizer'])
        scaler.load_state_dict(state['scaler'])
        return int(state['step'])

    def _provenance(self, step: int, start_time: float) -> dict[str, Any]:
        return {'trained_steps': step, 'train_config': self.cfg.to_dict(),
                'seconds_this_invocation': round(time.perf_counter() - start_time, 1),
                'machine': f'{platform.machine()} {platform.processor() or ""}'.strip(),
                'cpu_count': os.cpu_count(), 'device': str(self.device),
                'torch': str(torch.__version__)}


def _add_terms(sums: dict[str, float], out: ClipOutput) -> None:
    """Add a clip's total loss and each of its terms to running sums."""
    sums['loss'] = sums.get('loss', 0.0) + float(out.loss.detach())
    for name, value in out.parts.items():
        sums[name] = sums.get(name, 0.0) + float(value)


def _step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + (step + 2) * 7_919 + rank * 104_729) % (2 ** 63)


@contextlib.contextmanager
def _progress(total: int, initial: int, enabled: bool) -> Iterator[Any]:
    from tqdm import tqdm
    bar = tqdm(total=total, initial=initial, disable=not enabled, unit='step',
               dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


class _Logger:
    """Writes train.csv / val.csv and, when tensorboard is installed, TensorBoard events."""

    def __init__(self, out_dir: pathlib.Path, cfg: TrainConfig, enabled: bool,
                 append: bool) -> None:
        self.enabled = enabled
        self.out_dir = out_dir
        self._sums: dict[str, float] = {}
        self._steps = 0
        self._seconds = 0.0
        self._step = 0
        self._lr = 0.0
        self._writer = None
        if enabled and cfg.run.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional: CSV always works
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self._writer = SummaryWriter(str(out_dir / 'tb'))
        if enabled:
            mode = 'a' if append and (out_dir / 'train.csv').is_file() else 'w'
            self._train = open(out_dir / 'train.csv', mode, newline='')
            self._train_csv = csv.DictWriter(self._train, LOG_COLUMNS, extrasaction='ignore')
            if mode == 'w':
                self._train_csv.writeheader()
            vmode = 'a' if append and (out_dir / 'val.csv').is_file() else 'w'
            self._val = open(out_dir / 'val.csv', vmode, newline='')
            self._val_csv = csv.DictWriter(self._val, ['step', 'loss'] + list(WEIGHTS),
                                           extrasaction='ignore')
            if vmode == 'w':
                self._val_csv.writeheader()

    def add(self, step: int, lr: float, totals: dict[str, float], seconds: float) -> None:
        """Accumulate one step's sums."""
        for key, value in totals.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._steps += 1
        self._seconds += seconds
        self._step, self._lr = step, lr

    def flush(self) -> dict[str, float]:
        """Write one row: per-clip means since the last row; return it."""
        clips = max(1.0, self._sums.get('clips', 0.0))
        row = {'step': self._step, 'lr': self._lr, 'clips': int(clips),
               'seconds': round(self._seconds, 3)}
        for key, value in self._sums.items():
            if key != 'clips':
                row[key] = value / clips
        self._sums, self._steps, self._seconds = {}, 0, 0.0
        if self.enabled:
            self._train_csv.writerow(row)
            self._train.flush()
            if self._writer is not None:
                for key, value in row.items():
                    if key not in ('step', 'clips'):
                        self._writer.add_scalar(f'train/{key}', value, self._step)
        return row

    def validation(self, step: int, values: dict[str, float]) -> None:
        """Write one validation row."""
        if not self.enabled:
            return
        self._val_csv.writerow({'step': step, **values})
        self._val.flush()
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f'val/{key}', value, step)

    def close(self) -> None:
        """Close the files."""
        if self.enabled:
            self._train.close()
            self._val.close()
            if self._writer is not None:
                self._writer.close()


__all__ = ['LOG_COLUMNS', 'STATE_FORMAT', 'TrainResult', 'Trainer', 'build_model',
           'learning_rate', 'set_trainable']
