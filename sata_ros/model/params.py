"""Parameter accounting of a built SataModel, per part (what `sata model-info` prints)."""

import re

from torch import nn

# Parameter name pattern -> part name; the first match wins (names as in SataModel).
_PARTS = (
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.shared\.', 'demoe_shared_experts'),
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.common\.', 'demoe_common_experts'),
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.common_router\.', 'demoe_common_routers'),
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.proj_(rgb|aux)\.', 'demoe_prompt_proj'),
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.specific\.', 'demoe_specific_experts'),
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.specific_routers\.',
     'demoe_specific_routers'),
    (r'^sam\.image_encoder\.trunk\.blocks\.\d+\.mlp\.modality_router\.',
     'demoe_modality_routers'),
    (r'^sam\.image_encoder\.trunk\.', 'hiera_trunk_other'),
    (r'^sam\.image_encoder\.neck\.', 'fpn_neck'),
    (r'^sam\.(sam_prompt_encoder|sam_mask_decoder)\.', 'sam_prompt_encoder_mask_decoder'),
    (r'^sam\.(memory_attention|memory_encoder)\.', 'sam_memory'),
    (r'^sam\.', 'sam_other'),
    (r'^detector\.', 'tamot_detection_head'),
    (r'^mem\.', 'tamot_mem'),
)


def parameter_report(model: nn.Module) -> dict:
    """
    Count a SataModel's parameters: totals and per part, measured from the module.

    Returns:
        {'variant', 'total', 'trainable', 'frozen', 'demoe_sites', 'parts': {part: count}},
        counts in parameters (not bytes).

    """
    parts: dict[str, int] = {}
    total = trainable = 0
    for name, p in model.named_parameters():
        part = next((label for pattern, label in _PARTS if re.match(pattern, name)), 'other')
        parts[part] = parts.get(part, 0) + p.numel()
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {'variant': model.config.variant, 'total': total, 'trainable': trainable,
            'frozen': total - trainable, 'demoe_sites': len(model.demoe_layers()),
            'parts': dict(sorted(parts.items()))}
