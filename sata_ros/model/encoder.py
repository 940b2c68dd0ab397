"""
The SATA image encoder: SAM 2.1's Hiera trunk with DeMoE in every block, two token streams.

RGB and the auxiliary modality (thermal, depth or events, each already encoded as a normalised
3-channel image, see sata_ros/data/modality_encoding.py) go through the shared trunk as one
batch; at every trunk output scale (1/4 ... 1/32) the two streams are averaged into the unified
embedding, which SAM 2.1's FPN neck turns into the features its heads read.

The paper sums the streams (F_U = F_R + F_TDE); this module averages them, a constant factor that
keeps the features at the scale SAM 2.1's neck and heads were trained on, so that an untrained
SATA reproduces SAM 2.1 exactly on RGB.
"""

from typing import Optional

from sata_ros.model.demoe import DeMoE, GROUPS, Routing, routing_scope
import torch
from torch import nn


def group_index(modality: str) -> int:
    """Return the DeMoE group id of a modality name ('rgb', 'thermal', 'depth', 'event')."""
    aliases = {'events': 'event', 'ir': 'thermal', 'infrared': 'thermal'}
    name = aliases.get(modality, modality)
    if name not in GROUPS:
        raise ValueError(f'unknown modality {modality!r}; expected one of {GROUPS}')
    return GROUPS.index(name)


class SataImageEncoder(nn.Module):
    """
    Wraps a sam2 `ImageEncoder`, replacing each Hiera block's MLP with a DeMoE.

    Args:
        sam2_encoder: `sam2.modeling.backbones.image_encoder.ImageEncoder` (trunk + FPN neck).
        num_common, num_specific, top_k, expert_ratio: DeMoE settings (see demoe.DeMoE).
        rgb_only: 'duplicate' (RGB through both streams, the paper's practice, 2x trunk cost) or
            'single' (RGB stream only, the RGB common prompt stands in for the auxiliary one).

    """

    def __init__(self, sam2_encoder: nn.Module, num_common: int = 4, num_specific: int = 4,
                 top_k: int = 2, expert_ratio: int = 8, rgb_only: str = 'duplicate') -> None:
        super().__init__()
        self.trunk = sam2_encoder.trunk
        self.neck = sam2_encoder.neck
        self.scalp = sam2_encoder.scalp
        self.rgb_only = rgb_only
        for block in self.trunk.blocks:
            block.mlp = DeMoE(block.mlp, block.dim_out, num_common, num_specific, top_k,
                              expert_ratio)

    def demoe_layers(self) -> list[DeMoE]:
        """Return the DeMoE of every trunk block, input to output."""
        return [block.mlp for block in self.trunk.blocks]

    def forward(self, rgb: torch.Tensor, aux: Optional[torch.Tensor] = None,
                aux_modality: Optional[torch.Tensor] = None,
                collect: Optional[Routing] = None) -> dict:
        """
        Encode a batch of frames.

        Args:
            rgb: (B, 3, S, S) float, ImageNet-normalised RGB at the model's image size.
            aux: (B, 3, S, S) float, the encoded auxiliary modality, or None for RGB only.
            aux_modality: (B,) long DeMoE group ids of `aux` (see `group_index`), or None to let
                each layer's cross-modal router decide.
            collect: a Routing with collect=True to receive the auxiliary-loss terms of this
                pass (training); its batch/two_streams fields are filled in here.

        Returns:
            sam2's encoder output dict: 'vision_features' (B, D, S/16, S/16), 'vision_pos_enc'
            and 'backbone_fpn' (lists, finest first), computed from the unified embedding.

        """
        b = rgb.shape[0]
        if aux is not None and aux.shape != rgb.shape:
            raise ValueError(f'aux must match rgb in shape: {tuple(aux.shape)} vs '
                             f'{tuple(rgb.shape)}')
        if aux is None and self.rgb_only == 'duplicate':
            aux = rgb
            aux_modality = torch.zeros(b, dtype=torch.long, device=rgb.device)
        two = aux is not None
        routing = collect if collect is not None else Routing(batch=b, two_streams=two)
        routing.batch, routing.two_streams = b, two
        routing.aux_group = aux_modality
        x = torch.cat([rgb, aux]) if two else rgb
        with routing_scope(routing):
            levels = self.trunk(x)
        if two:
            levels = [0.5 * (f[:b] + f[b:]) for f in levels]
        features, pos = self.neck(levels)
        if self.scalp > 0:
            features, pos = features[:-self.scalp], pos[:-self.scalp]
        return {'vision_features': features[-1], 'vision_pos_enc': pos,
                'backbone_fpn': features}
