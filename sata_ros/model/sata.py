"""
The SATA model: SAM 2.1 (Meta's `sam2` package) with the DeMoE encoder, and its builder.

`build_sata('sata_t')` builds SAM 2.1 Hiera-T from the sam2 package's own configuration, swaps
every Hiera block MLP for a DeMoE (encoder.py) and returns the model in eval mode. The SAM 2.1
prompt encoder, mask decoder, memory attention and memory encoder are the sam2 package's
modules, so official SAM 2.1 checkpoints load into them (checkpoint.load_sam2_weights).
"""

import dataclasses
import pathlib
from typing import Optional, Union

from sata_ros.model.config import get_config, SataConfig
from sata_ros.model.demoe import DeMoE, Routing
from sata_ros.model.detection_head import DetectionHead
from sata_ros.model.encoder import SataImageEncoder
from sata_ros.model.instance_embedding import MemoryEnhancedModule
import torch
from torch import nn


def build_sam2_base(config: SataConfig) -> nn.Module:
    """Build the plain SAM 2.1 model (sam2's SAM2Base) a SATA config starts from, untrained."""
    # Imported here: importing sam2 initialises Hydra, which only model building needs.
    from sam2.build_sam import build_sam2
    # As sam2's video predictor: masks from clicks enter memory binarised, as the user saw them.
    overrides = ['++model.binarize_mask_from_pts_for_mem_enc=true']
    overrides += [f'++{o}' for o in config.overrides]
    return build_sam2(config.sam2_config, ckpt_path=None, device='cpu', mode='eval',
                      hydra_overrides_extra=overrides)


class SataModel(nn.Module):
    """
    SATA = SAM 2.1 whose image encoder runs two token streams through DeMoE blocks, plus TaMOT.

    Attributes:
        config: the SataConfig it was built from (checkpoints store it).
        sam: sam2's SAM2Base; `sam.image_encoder` is a SataImageEncoder. Its prompt encoder and
            mask decoder are the candidate generator for prompted targets (SOT/VOS) and for
            the detector's box prompts (MOT/MOTS).
        detector: the DyHead detection head on the FPN levels (MOT/MOTS candidates).
        mem: the Memory-enhanced Module (instance embeddings for association).

    """

    def __init__(self, config: SataConfig, sam: nn.Module) -> None:
        super().__init__()
        self.config = config
        sam.image_encoder = SataImageEncoder(
            sam.image_encoder, config.num_common, config.num_specific, config.top_k,
            config.expert_ratio, config.rgb_only)
        if config.dense_prompts:
            # A mask prompt is refined by the decoder instead of copied to the output.
            sam.use_mask_input_as_output_without_sam = False
        self.sam = sam
        dim = sam.hidden_dim
        self.detector = DetectionHead(dim, config.det_channels, len(config.det_classes),
                                      config.det_blocks)
        self.mem = MemoryEnhancedModule(dim, config.mem_dim, num_layers=config.mem_layers)
        if config.freeze_trunk:
            self.freeze_trunk()

    @property
    def encoder(self) -> SataImageEncoder:
        """Return the DeMoE image encoder."""
        return self.sam.image_encoder

    @property
    def image_size(self) -> int:
        """Square input side in pixels."""
        return self.sam.image_size

    def demoe_layers(self) -> list[DeMoE]:
        """Return the DeMoE of every trunk block."""
        return self.encoder.demoe_layers()

    def freeze_trunk(self) -> None:
        """Freeze the Hiera trunk (attention, norms, embeddings) except the DeMoE adapters."""
        for p in self.encoder.trunk.parameters():
            p.requires_grad_(False)
        for layer in self.demoe_layers():
            for name, p in layer.named_parameters():
                p.requires_grad_(not name.startswith('shared.'))

    def encode(self, rgb: torch.Tensor, aux: Optional[torch.Tensor] = None,
               aux_modality: Optional[torch.Tensor] = None,
               collect: Optional[Routing] = None) -> dict:
        """
        Encode frames the way SAM2Base.forward_image does, from the unified embedding.

        Args:
            rgb: (B, 3, S, S) ImageNet-normalised RGB, S = image_size.
            aux: (B, 3, S, S) encoded auxiliary modality, or None (RGB only; see
                SataConfig.rgb_only for what fills the auxiliary stream and its cost).
            aux_modality: (B,) long group ids (encoder.group_index), or None.
            collect: Routing(collect=True) to receive auxiliary-loss terms (training).

        Returns:
            dict with 'vision_features' (B, 256, S/16, S/16), 'vision_pos_enc' and
            'backbone_fpn' (levels finest first; the two finest already projected by the mask
            decoder's conv_s0/conv_s1, as sam2 expects), and 'fpn_raw': the same levels
            before that projection, all 256 channels (the detection head reads them).

        """
        out = self.encoder(rgb, aux, aux_modality, collect)
        out['fpn_raw'] = list(out['backbone_fpn'])
        if self.sam.use_high_res_features_in_sam:
            fpn = out['backbone_fpn']
            fpn[0] = self.sam.sam_mask_decoder.conv_s0(fpn[0])
            fpn[1] = self.sam.sam_mask_decoder.conv_s1(fpn[1])
        return out

    def forward(self, rgb: torch.Tensor, aux: Optional[torch.Tensor] = None,
                aux_modality: Optional[torch.Tensor] = None) -> dict:
        """Encode frames (see `encode`); the heads are driven step by step by the tracker."""
        return self.encode(rgb, aux, aux_modality)


def build_sata(variant_or_config: Union[str, SataConfig],
               checkpoint: Optional[Union[str, pathlib.Path]] = None,
               device: Union[str, torch.device] = 'cpu') -> SataModel:
    """
    Build a SATA model in eval mode on `device`.

    Args:
        variant_or_config: a variant name ('sata_nano', 'sata_t', 'sata_s', 'sata_b+',
            'sata_l') or a SataConfig.
        checkpoint: a sata_ros checkpoint (checkpoint.save_checkpoint) to load; its stored
            config must match the requested variant. Given a variant name, the model takes
            the checkpoint's weight-neutral settings (SataConfig.WEIGHT_NEUTRAL_FIELDS, e.g.
            dense_prompts): the weights were trained to be used that way. Given a SataConfig,
            they must match. SAM 2.1 files go through checkpoint.load_sam2_weights instead.
        device: where the model lives ('cpu' by default; 'cuda' where available).

    """
    from sata_ros.model.checkpoint import load_checkpoint_into, read_checkpoint
    contents = read_checkpoint(checkpoint) if checkpoint is not None else None
    if isinstance(variant_or_config, SataConfig):
        config = variant_or_config
    else:
        config = get_config(variant_or_config)
        if contents is not None:
            config = dataclasses.replace(config, **{
                name: getattr(contents[0], name) for name in config.WEIGHT_NEUTRAL_FIELDS})
    model = SataModel(config, build_sam2_base(config))
    if contents is not None:
        load_checkpoint_into(model, checkpoint, contents=contents)
    return model.to(device).eval()
