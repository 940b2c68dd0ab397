"""
Training configuration: one YAML file (config/train/<name>.yaml) describes a whole run.

The file has five sections, each a dataclass here; every key is optional and unknown keys are
an error naming the section, so a typo never silently trains the wrong thing:

    model:  variant, SataConfig field overrides, init checkpoint, stage
    data:   synthetic scenes or recorded bags, task and modality sampling, clips, augmentation
    optim:  AdamW, warmup + cosine schedule, gradient clipping / accumulation, AMP
    loss:   weights of every loss term
    run:    steps, seed, output folder, logging, validation and checkpoint periods
"""

from dataclasses import asdict, dataclass, field, fields, replace
import pathlib
from typing import Any, Optional, Union

from sata_ros.tracking.config import typed_settings
import yaml

STAGES = ('detection', 'mixture', 'heads', 'decoder', 'full')
TASKS = ('prompted', 'detected')
CLIP_MODALITIES = ('rgb', 'depth', 'thermal', 'events')


@dataclass(frozen=True)
class ModelSection:
    """
    Which model to train and which of its parts.

    Attributes:
        variant: SATA variant ('sata_nano', 'sata_t', ...).
        overrides: SataConfig fields to change (e.g. {'freeze_trunk': False}); they become
            part of the checkpoint's config.
        sam2_checkpoint: official SAM 2.1 weights to start from (checkpoint.load_sam2_weights),
            or None.
        init_checkpoint: a sata_ros checkpoint to start from (e.g. stage I's output), or None.
        stage: 'detection' (paper stage I: only the detection head trains), 'mixture' (stage
            II: DeMoE, SAM 2.1 heads and memory, detection head and MEM train; the Hiera
            attention and the shared experts stay frozen), 'heads' (the whole image encoder
            stays frozen; the SAM 2.1 prompt encoder, decoder and memory, the detection head
            and the MEM train: teaching a trained encoder's heads a new behaviour, such as
            dense prompts, at a fraction of a step's cost), 'decoder' (only the SAM 2.1 prompt
            encoder and mask decoder train, on single frames drawn from a bounded pool of
            encoded frames, decoder_loss.py: prompt-to-mask decoding at about a decode's cost
            per step; follow it with a short 'heads' run, which retrains memory and presence
            around the new decoder) or 'full' (every parameter trains: for a model with no
            pretrained trunk, such as sata_nano on synthetic data).
        common_init_std: std of the CpMoE common experts' output layer when training starts
            from new DeMoE weights (no init_checkpoint). A new model has it at zero, and the
            cross-modal prompt proj(P_rgb) * proj(P_aux) of two zero paths has zero gradient
            in both: the common experts would never learn. A small value breaks that tie
            while the prompt stays ~1e-3 of the tokens, so the model still starts close to
            SAM 2.1.

    """

    variant: str = 'sata_nano'
    overrides: dict = field(default_factory=dict)
    sam2_checkpoint: Optional[str] = None
    init_checkpoint: Optional[str] = None
    stage: str = 'full'
    common_init_std: float = 0.02


@dataclass(frozen=True)
class DataSection:
    """
    Synthetic training data: a pool of scene seeds, clips sampled from it per step.

    Attributes:
        train_seeds: [start, stop) scene seeds used for training.
        val_seeds: [start, stop) scene seeds for validation (must not overlap train_seeds).
        num_frames: frames per generated scene.
        width, height: scene size, pixels.
        num_objects: [min, max] tracked objects per scene (drawn per seed).
        num_distractors: [min, max] look-alike distractors per scene.
        scene_window: scenes in use at once (held in a bounded cache); the window slides
            through train_seeds by one seed every `window_step` steps.
        window_step: steps between window slides.
        prompted_ratio: share of clips trained as prompted tracking (SOT/VOS); the rest train
            detection + association (MOT/MOTS). SATA: 0.6 : 0.4.
        modality_weights: sampling weight of each clip modality (RGB alone is 'rgb'); SATA
            samples RGB data at twice the rate of each multi-modal source.
        clip_length: frames per clip (first frame prompted, the rest tracked from memory).
        max_stride: frames between consecutive clip frames, drawn in [1, max_stride].
        max_targets: targets per prompted clip (batched through the heads).
        flip: probability of a horizontal flip (applied to every modality and the labels).
        dark: probability of darkening a clip's RGB (exposure drawn in dark_exposure), so the
            model learns to lean on the auxiliary modality when RGB fails.
        dark_exposure: [min, max] linear exposure factor of a darkened clip.
        box_jitter: prompt box corners move by up to this fraction of the box size.
        point_prompts: probability of prompting with 1 to 3 clicks instead of a box.
        bags: recorded training data instead of synthetic scenes: bags written by
            `sata synth` or `sata import` (`.mcap` files, rosbag2 folders, or folders of
            them). Each is cut into chunks of `num_frames` frames that take the scenes'
            place (`scene_window` chunks in memory, sliding by one every `window_step`
            steps); `train_seeds` and the scene settings are then unused. Objects with no
            mask in the bag (box-only datasets) train from their boxes.
        val_bags: recorded validation data (same forms as `bags`, none of them in `bags`);
            empty: validation clips come from the synthetic `val_seeds`.
        feature_pool: stage 'decoder': encoded frames kept at once (the frames of the last
            feature_pool // clip_length clips; feature_pool.py). Each costs its FPN maps and
            labels: 1.2 MB for sata_nano at 256 px (one positional encoding is shared).
        pool_refill: stage 'decoder': steps between two newly encoded clips (the pool's
            window slides by one clip; the scene window by one seed every `window_step`
            clips).
        mask_prompts: stage 'decoder': probability that a step also decodes every object
            from its jittered true mask (a tracked frame's dense prompt), besides its box
            (models with dense_prompts).

    """

    train_seeds: tuple[int, int] = (1000, 1400)
    val_seeds: tuple[int, int] = (900, 904)
    num_frames: int = 48
    width: int = 256
    height: int = 192
    num_objects: tuple[int, int] = (1, 4)
    num_distractors: tuple[int, int] = (0, 1)
    scene_window: int = 8
    window_step: int = 25
    prompted_ratio: float = 0.6
    modality_weights: dict = field(default_factory=lambda: {
        'rgb': 2.0, 'depth': 1.0, 'thermal': 1.0, 'events': 1.0})
    clip_length: int = 3
    max_stride: int = 3
    max_targets: int = 3
    flip: float = 0.5
    dark: float = 0.15
    dark_exposure: tuple[float, float] = (0.002, 0.05)
    box_jitter: float = 0.1
    point_prompts: float = 0.3
    bags: tuple[str, ...] = ()
    val_bags: tuple[str, ...] = ()
    feature_pool: int = 300
    pool_refill: int = 2
    mask_prompts: float = 0.5


@dataclass(frozen=True)
class OptimSection:
    """
    Optimiser and schedule (SATA: AdamW, weight decay 0.05, lr 2e-4).

    Attributes:
        lr: peak learning rate.
        weight_decay: AdamW weight decay (not applied to norms, biases and embeddings).
        betas: AdamW betas.
        warmup_steps: linear warmup from 0 to lr over these optimiser steps.
        min_lr_ratio: the cosine decay ends at lr * min_lr_ratio.
        grad_clip: maximum global gradient norm (0 disables clipping).
        accumulate: clips per optimiser step (gradient accumulation).
        amp: 'auto' (bfloat16 autocast on CUDA, float32 on CPU), 'bf16', 'fp16' or 'off'.

    """

    lr: float = 2e-4
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    accumulate: int = 1
    amp: str = 'auto'


@dataclass(frozen=True)
class LossSection:
    """
    Loss weights (SAM 2's mask-training weights for the CGM heads; the rest [R]).

    Attributes:
        focal, dice, iou, objectness: SAM 2.1 heads on prompted and box-prompted masks.
        box_projection: masks of objects with box-only ground truth (recorded data without
            masks): losses.box_projection_loss in place of focal + dice (no IoU term).
        det_cls, det_box, det_quality: detection head (MOT clips).
        embedding: MEM supervised-contrastive term (MOT clips).
        embedding_temperature: its softmax temperature.
        complementary: L_CM (mu); 0 skips the masked second encoder pass.
        orthogonality: L_CE (lambda).
        router: L_TASK, the cross-modal router's modality cross-entropy.
        mask_ratio: share of 16 x 16 patches of one stream masked for L_CM.
        teacher_forcing: models with dense prompts: probability that a tracked frame's mask
            prompt is the previous frame's ground-truth mask, shifted by up to
            clip_loss.JITTER_CELLS grid cells and sometimes grown or shrunk by one, instead of
            the model's own previous mask (training only; validation always uses its own).

    """

    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    objectness: float = 1.0
    box_projection: float = 1.0
    det_cls: float = 1.0
    det_box: float = 1.0
    det_quality: float = 1.0
    embedding: float = 0.5
    embedding_temperature: float = 0.07
    complementary: float = 1.0
    orthogonality: float = 0.1
    router: float = 0.1
    mask_ratio: float = 0.5
    teacher_forcing: float = 0.0


@dataclass(frozen=True)
class RunSection:
    """
    Run length, reproducibility and bookkeeping.

    Attributes:
        steps: optimiser steps in total.
        seed: seed of every random draw (sampling is a function of (seed, step), so a resumed
            run sees exactly the clips the uninterrupted run would have).
        out_dir: folder for checkpoints and logs.
        log_every: steps between CSV / TensorBoard rows.
        val_every: steps between validations (0 disables).
        val_clips: clips per validation (fixed, from val_seeds).
        ckpt_every: steps between resumable checkpoints (last.pt); 0 saves only at the end.
        threads: torch CPU threads (0 keeps torch's default).
        device: 'cpu', 'cuda' or 'auto' (CUDA when available).
        export: path of the model-only checkpoint written at the end ('' = out_dir/model.pt).
        export_half: store that checkpoint's floating-point weights as float16 (half size).
        tensorboard: also write TensorBoard event files when tensorboard is installed.

    """

    steps: int = 1000
    seed: int = 0
    out_dir: str = 'train_out'
    log_every: int = 10
    val_every: int = 200
    val_clips: int = 16
    ckpt_every: int = 100
    threads: int = 0
    device: str = 'auto'
    export: str = ''
    export_half: bool = False
    tensorboard: bool = True


_SECTIONS = {'model': ModelSection, 'data': DataSection, 'optim': OptimSection,
             'loss': LossSection, 'run': RunSection}


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run (see the module docstring for the YAML layout)."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    loss: LossSection = field(default_factory=LossSection)
    run: RunSection = field(default_factory=RunSection)

    def __post_init__(self) -> None:
        """Reject impossible settings, naming the section and key."""
        check(self)

    def to_dict(self) -> dict[str, Any]:
        """Return plain data (lists for tuples), as written to the run folder."""
        out = asdict(self)
        for section in out.values():
            for key, value in section.items():
                if isinstance(value, tuple):
                    section[key] = list(value)
        return out

    @staticmethod
    def from_dict(values: dict[str, Any]) -> 'TrainConfig':
        """Build a config from plain data; unknown sections or keys raise ValueError."""
        if not isinstance(values, dict):
            raise ValueError(f'a training config is a mapping of sections, got '
                             f'{type(values).__name__}')
        unknown = sorted(set(values) - set(_SECTIONS))
        if unknown:
            raise ValueError(f'unknown training config sections {unknown}; known: '
                             f'{sorted(_SECTIONS)}')
        parts = {}
        for name, cls in _SECTIONS.items():
            section = values.get(name) or {}
            if not isinstance(section, dict):
                raise ValueError(f'section {name!r} must be a mapping of keys to values, got '
                                 f'{section!r}')
            known = {f.name for f in fields(cls)}
            bad = sorted(set(section) - known)
            if bad:
                raise ValueError(f'unknown keys {bad} in section {name!r}; known: '
                                 f'{sorted(known)}')
            parts[name] = cls(**typed_settings(cls, section, f'{name}.'))
        return TrainConfig(**parts)

    def with_run(self, **changes: Any) -> 'TrainConfig':
        """Return a copy with fields of the `run` section replaced (command-line overrides)."""
        return replace(self, run=replace(self.run, **changes))


def load_train_config(path: Union[str, pathlib.Path]) -> TrainConfig:
    """Read a YAML training config; errors name the file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f'{path}: no such training config')
    try:
        values = yaml.safe_load(path.read_text()) or {}
        return TrainConfig.from_dict(values)
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: {exc}') from exc


def _pair(name: str, value: tuple, low: float) -> Optional[str]:
    if len(value) != 2 or value[0] > value[1] or value[0] < low:
        return f'{name} must be [min, max] with {low} <= min <= max, got {list(value)}'
    return None


def check(cfg: TrainConfig) -> None:
    """Raise ValueError naming the first impossible setting of `cfg`."""
    m, d, o, r = cfg.model, cfg.data, cfg.optim, cfg.run
    repeated = sorted(set(map(str, d.bags)) & set(map(str, d.val_bags)))
    problems = [
        None if m.stage in STAGES else f'model.stage must be one of {STAGES}, got {m.stage!r}',
        _pair('data.train_seeds', d.train_seeds, 0), _pair('data.val_seeds', d.val_seeds, 0),
        _pair('data.num_objects', d.num_objects, 1),
        _pair('data.num_distractors', d.num_distractors, 0),
        _pair('data.dark_exposure', d.dark_exposure, 1e-6),
        None if d.train_seeds[1] > d.train_seeds[0] else 'data.train_seeds is empty',
        None if (d.val_seeds[1] <= d.train_seeds[0] or d.val_seeds[0] >= d.train_seeds[1])
        else f'data.val_seeds {list(d.val_seeds)} overlap data.train_seeds '
             f'{list(d.train_seeds)}',
        None if 0.0 <= d.prompted_ratio <= 1.0 else 'data.prompted_ratio must be in [0, 1]',
        None if d.clip_length >= 2 else 'data.clip_length must be >= 2 (prompt + track)',
        None if d.num_frames > (d.clip_length - 1) * d.max_stride
        else 'data.num_frames must exceed (clip_length - 1) * max_stride',
        None if set(d.modality_weights) <= set(CLIP_MODALITIES)
        and all(w >= 0 for w in d.modality_weights.values())
        and sum(d.modality_weights.values()) > 0
        else f'data.modality_weights must map some of {CLIP_MODALITIES} to weights >= 0 '
             f'(not all 0), got {d.modality_weights}',
        None if all(isinstance(b, str) for b in d.bags + d.val_bags)
        else f'data.bags and data.val_bags must be lists of paths, got {list(d.bags)} and '
             f'{list(d.val_bags)}',
        None if not repeated else f'data.val_bags repeat data.bags: {repeated}',
        None if min(d.scene_window, d.window_step, d.max_stride, d.max_targets,
                    d.pool_refill) >= 1
        else 'data.scene_window, window_step, max_stride, max_targets and pool_refill must '
             'be >= 1',
        None if d.feature_pool >= d.clip_length
        else f'data.feature_pool must hold at least one clip ({d.clip_length} frames), got '
             f'{d.feature_pool}',
        None if 0.0 <= d.mask_prompts <= 1.0
        else f'data.mask_prompts must be in [0, 1], got {d.mask_prompts}',
        None if o.lr > 0 and o.accumulate >= 1 and o.warmup_steps >= 0 and o.grad_clip >= 0
        else 'optim.lr must be > 0, accumulate >= 1, warmup_steps >= 0, grad_clip >= 0',
        None if o.amp in ('auto', 'bf16', 'fp16', 'off')
        else f"optim.amp must be 'auto', 'bf16', 'fp16' or 'off', got {o.amp!r}",
        None if 0.0 < cfg.loss.mask_ratio < 1.0 else 'loss.mask_ratio must be in (0, 1)',
        None if 0.0 <= cfg.loss.teacher_forcing <= 1.0
        else f'loss.teacher_forcing must be in [0, 1], got {cfg.loss.teacher_forcing}',
        None if r.steps >= 1 and r.log_every >= 1 and r.val_every >= 0 and r.ckpt_every >= 0
        else 'run.steps and run.log_every must be >= 1, val_every and ckpt_every >= 0',
        None if r.device in ('auto', 'cpu', 'cuda')
        else f"run.device must be 'auto', 'cpu' or 'cuda', got {r.device!r}",
    ]
    for problem in problems:
        if problem:
            raise ValueError(problem)


__all__ = ['CLIP_MODALITIES', 'DataSection', 'LossSection', 'ModelSection', 'OptimSection',
           'RunSection', 'STAGES', 'TrainConfig', 'check', 'load_train_config']
