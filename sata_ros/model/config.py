"""
SATA model configurations: the SAM 2.1 base each variant builds on, plus the DeMoE settings.

`sata_t`, `sata_s`, `sata_b+` and `sata_l` use the official SAM 2.1 Hiera configurations
unchanged (so official SAM 2.1 checkpoints load into their shared parts); `sata_nano` shrinks
the Hiera trunk and the SAM 2 memory modules and works on 256 x 256 frames, for tests and CPU
training. A config is plain data: checkpoints store it and rebuild the model from it alone.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class SataConfig:
    """Everything needed to build a SATA model (see build.py)."""

    variant: str
    sam2_config: str  # SAM 2.1 config inside the sam2 package
    overrides: tuple[str, ...] = ()  # hydra overrides applied to it (sata_nano)
    image_size: int = 1024  # square input side, pixels
    num_common: int = 4  # CpMoE common experts per block
    num_specific: int = 4  # SaMoE specific experts per modality group per block
    top_k: int = 2  # experts per token for every router
    expert_ratio: int = 8  # expert bottleneck c -> c / expert_ratio -> c
    # RGB-only input: 'duplicate' runs RGB through both streams (the paper's practice, twice the
    # trunk cost); 'single' runs one stream and lets the RGB common prompt stand in for the
    # missing auxiliary one (half the cost).
    rgb_only: str = 'duplicate'
    freeze_trunk: bool = True  # train only DeMoE (and heads); attention stays SAM 2.1's
    # TaMOT: the MOT/MOTS detection head (DyHead blocks on the FPN) and the MEM.
    det_classes: tuple[str, ...] = ('object',)  # detector vocabulary, index = class id
    det_channels: int = 128  # detection-head width
    det_blocks: int = 4  # Dynamic Head blocks (SATA: 4)
    mem_layers: int = 2  # MEM query layers
    mem_dim: int = 256  # MEM token / query / embedding width (SAM 2's d_model by default)
    # Dense prompts: every decoder call also gets a mask prompt through SAM's mask encoder: the
    # prompt box's rectangle (zeros for clicks) on prompted and detected instances, and the
    # target's own mask from the previous frame while tracking. Off for the SAM 2.1 variants
    # (SAM 2 tracks from memory alone). sata_nano, trained from scratch on a CPU, learns to
    # follow a target far faster with this spatial prior than from sparse tokens and memory.
    dense_prompts: bool = False
    extra: dict = field(default_factory=dict)  # free-form notes kept with checkpoints

    def __post_init__(self) -> None:
        """Reject impossible settings, naming the field."""
        if self.rgb_only not in ('duplicate', 'single'):
            raise ValueError(f"rgb_only must be 'duplicate' or 'single', got {self.rgb_only!r}")
        if not self.det_classes:
            raise ValueError('det_classes must name at least one class')
        for name in ('num_common', 'num_specific', 'top_k', 'expert_ratio', 'image_size',
                     'det_channels', 'det_blocks', 'mem_layers', 'mem_dim'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.top_k > min(self.num_common, self.num_specific):
            raise ValueError(f'top_k ({self.top_k}) exceeds the number of experts')

    # Fields that say how a model is trained, not what it computes.
    TRAINING_FIELDS = ('freeze_trunk', 'extra')
    # Fields that change what a model computes but not which weights it has.
    WEIGHT_NEUTRAL_FIELDS = ('dense_prompts',)

    def architecture(self) -> dict[str, Any]:
        """Return `to_dict()` without TRAINING_FIELDS: equal values mean loadable weights."""
        d = self.to_dict()
        for name in self.TRAINING_FIELDS + self.WEIGHT_NEUTRAL_FIELDS:
            d.pop(name)
        return d

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict (lists for tuples) for checkpoints and JSON."""
        d = asdict(self)
        d['overrides'] = list(self.overrides)
        d['det_classes'] = list(self.det_classes)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> 'SataConfig':
        """Rebuild a config from `to_dict` output; unknown keys are an error."""
        known = {f.name for f in fields(SataConfig)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f'unknown SataConfig fields {unknown}')
        d = dict(d)
        d['overrides'] = tuple(d.get('overrides', ()))
        if 'det_classes' in d:
            d['det_classes'] = tuple(d['det_classes'])
        return SataConfig(**d)


_NANO = (
    'model.image_size=256',
    'model.image_encoder.trunk.embed_dim=32',
    'model.image_encoder.trunk.num_heads=1',
    'model.image_encoder.trunk.stages=[1,1,2,1]',
    'model.image_encoder.trunk.global_att_blocks=[3]',
    'model.image_encoder.trunk.window_spec=[8,4,8,4]',
    'model.image_encoder.trunk.window_pos_embed_bkg_spatial_size=[4,4]',
    'model.image_encoder.neck.backbone_channel_list=[256,128,64,32]',
    'model.memory_attention.num_layers=1',
    'model.memory_attention.layer.dim_feedforward=512',
    'model.memory_attention.layer.self_attention.feat_sizes=[16,16]',
    'model.memory_attention.layer.cross_attention.feat_sizes=[16,16]',
    'model.memory_encoder.fuser.num_layers=1',
    'model.num_maskmem=4',
)

VARIANTS = {
    'sata_nano': SataConfig('sata_nano', 'configs/sam2.1/sam2.1_hiera_t.yaml', _NANO, 256,
                            det_channels=64, det_blocks=2, mem_layers=1, mem_dim=128),
    'sata_t': SataConfig('sata_t', 'configs/sam2.1/sam2.1_hiera_t.yaml'),
    'sata_s': SataConfig('sata_s', 'configs/sam2.1/sam2.1_hiera_s.yaml'),
    'sata_b+': SataConfig('sata_b+', 'configs/sam2.1/sam2.1_hiera_b+.yaml'),
    'sata_l': SataConfig('sata_l', 'configs/sam2.1/sam2.1_hiera_l.yaml'),
}


def get_config(variant: str) -> SataConfig:
    """Return the config of a named variant; ValueError lists the known names."""
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f'unknown SATA variant {variant!r}; known: {sorted(VARIANTS)}') from None
