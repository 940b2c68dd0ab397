"""
SAM 2.1 tracking steps for many targets at once, each with its own memory.

sam2's `SAM2Base.track_step` reads one `output_dict` shared by the whole batch, so every object
in a batch must have been prompted on the same frames; its video predictor therefore runs
objects one by one (cost E + n * M per frame). Here each target brings its own memory
(`TargetMemoryView`): the prompted ("conditioning") frames it keeps, the memory features of
its recent frames and its recent object pointers. `memory_tokens` turns one target's memory
into the cross-attention tokens exactly as `SAM2Base._prepare_memory_conditioned_features`
does in eval mode (same temporal encodings, same selection of frames and pointers); targets
whose token sequences have the same length are stacked and go through memory attention, the
mask decoder and the memory encoder as one batch.

Deliberate difference from sam2's video predictor: the stream has no known length, so the
pointer temporal encoding is normalised by `max_obj_ptrs_in_encoder - 1` (the predictor uses
min(num_frames, max_obj_ptrs_in_encoder) - 1, the same for any video of 16 frames or more).
SAM 2.1's post-processing `fill_hole_area` (a CUDA-extension connected-components pass) is not
applied.

Functions here hold no state; the tracking layer owns all memories.
"""

from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Sequence

import torch
from torch import nn, Tensor


@dataclass
class MemoryEntry:
    """
    What one frame leaves in a target's memory.

    Attributes:
        features: (mem_dim, h, w) memory-encoder output for the frame (h = w = S/16), or None
            for an entry that only carries a pointer.
        obj_ptr: (C,) object pointer (C = 256), from the decoder's output token.

    """

    features: Optional[Tensor]
    obj_ptr: Tensor


@dataclass
class TargetMemoryView:
    """
    A target's memory as `memory_tokens` reads it (the tracking layer's TargetMemory has these).

    Attributes:
        cond: frame index -> entry of the target's prompted (conditioning) frames.
        recent: frame index -> entry of its recent non-prompted frames (features and pointer).

    """

    cond: dict[int, MemoryEntry] = field(default_factory=dict)
    recent: dict[int, MemoryEntry] = field(default_factory=dict)


class FrameFeatures(NamedTuple):
    """
    Image features of one frame (batch 1) in sam2's flattened layout.

    Attributes:
        vision_feats: per level (HW_l, 1, C_l), finest first; the last is the (S/16)^2 map
            with C = 256 the decoder and memory attention read; the finer ones are already
            projected by the decoder's conv_s0 / conv_s1.
        vision_pos: positional encodings, same shapes as vision_feats.
        feat_sizes: (H_l, W_l) per level.

    """

    vision_feats: list[Tensor]
    vision_pos: list[Tensor]
    feat_sizes: list[tuple[int, int]]

    def top(self, batch: int) -> Tensor:
        """Return the lowest-resolution map expanded to (HW, batch, C)."""
        x = self.vision_feats[-1]
        return x.expand(-1, batch, -1)

    def top_pos(self, batch: int) -> Tensor:
        """Return its positional encoding expanded to (HW, batch, C)."""
        return self.vision_pos[-1].expand(-1, batch, -1)

    def level_map(self, level: int, batch: int) -> Tensor:
        """Return level `level` as (batch, C_l, H_l, W_l) (a broadcast view of batch 1)."""
        x = self.vision_feats[level]
        h, w = self.feat_sizes[level]
        return x.permute(1, 2, 0).reshape(1, x.shape[2], h, w).expand(batch, -1, -1, -1)

    def top_map(self, batch: int) -> Tensor:
        """Return the lowest-resolution map as (batch, C, H, W) (a broadcast view)."""
        return self.level_map(-1, batch)

    def high_res(self, batch: int) -> list[Tensor]:
        """Return the finer levels as (batch, C_l, H_l, W_l) broadcast views, finest first."""
        return [self.level_map(i, batch) for i in range(len(self.vision_feats) - 1)]


class DecoderOutput(NamedTuple):
    """
    Mask-decoder output for B targets (logits before sigmoid, S = model image size).

    Attributes:
        multi_low: (B, M, S/4, S/4) float32 candidate mask logits (M = 3 with multimask, else 1).
        multi_high: (B, M, S, S) float32 candidate logits upsampled to the model input.
        ious: (B, M) predicted IoU of each candidate.
        low: (B, 1, S/4, S/4) the chosen mask (highest predicted IoU).
        high: (B, 1, S, S) the chosen mask at input resolution.
        obj_ptr: (B, C) object pointer of the chosen mask.
        object_score: (B, 1) presence logit (> 0: the target is visible).

    """

    multi_low: Tensor
    multi_high: Tensor
    ious: Tensor
    low: Tensor
    high: Tensor
    obj_ptr: Tensor
    object_score: Tensor


_REQUIRED_FLAGS = ('use_obj_ptrs_in_encoder', 'add_tpos_enc_to_obj_ptrs',
                   'proj_tpos_enc_in_obj_ptrs', 'use_signed_tpos_enc_to_obj_ptrs',
                   'only_obj_ptrs_in_the_past_for_eval', 'directly_add_no_mem_embed')


def check_sam21(sam: nn.Module) -> None:
    """Raise ValueError unless `sam` uses the SAM 2.1 memory settings these steps implement."""
    off = [name for name in _REQUIRED_FLAGS if not getattr(sam, name, False)]
    if off or sam.num_maskmem < 1 or sam.memory_temporal_stride_for_eval != 1:
        raise ValueError(f'the streaming tracker implements SAM 2.1 memory semantics; this model '
                         f'has {off or "num_maskmem < 1 or a temporal stride"} switched off')


def frame_features(sam: nn.Module, backbone_out: dict) -> FrameFeatures:
    """Flatten an encoder output (batch 1, see SataModel.encode) into FrameFeatures."""
    _, feats, pos, sizes = sam._prepare_backbone_features(backbone_out)
    return FrameFeatures(feats, pos, sizes)


def memory_tokens(sam: nn.Module, memory: TargetMemoryView, frame_index: int,
                  maskmem_pos: Tensor) -> tuple[Tensor, Tensor, int]:
    """
    Build one target's cross-attention memory for frame `frame_index` (eval semantics).

    Spatial memory: every conditioning frame at temporal position 0, then the entries of
    frames frame_index - (num_maskmem - 1) .. frame_index - 1 at positions 1 .. num_maskmem - 1
    (missing frames are skipped). Object pointers: those of conditioning frames not after
    `frame_index` (signed distance), then those of the max_obj_ptrs_in_encoder - 1 frames
    before it, each with the projected sine encoding of its distance.

    Args:
        sam: the SAM2Base.
        memory: the target's memory; must hold at least one conditioning frame.
        frame_index: index of the frame being tracked.
        maskmem_pos: (mem_dim, h, w) spatial positional encoding of memory features.

    Returns:
        memory (M, mem_dim), memory_pos (M, mem_dim), and the number of pointer tokens, which
        are the last ones.

    """
    if not memory.cond:
        raise ValueError('a target needs at least one prompted frame in its memory')
    num_maskmem = sam.num_maskmem
    spatial_pos = maskmem_pos.flatten(1).T  # (hw, mem_dim)
    entries = [(0, memory.cond[t]) for t in sorted(memory.cond)]
    for t_pos in range(1, num_maskmem):
        entry = memory.recent.get(frame_index - (num_maskmem - t_pos))
        if entry is not None and entry.features is not None:
            entries.append((t_pos, entry))
    tokens, pos = [], []
    for t_pos, entry in entries:
        tokens.append(entry.features.flatten(1).T.to(spatial_pos.dtype))
        tpos = sam.maskmem_tpos_enc[num_maskmem - t_pos - 1].reshape(1, -1)
        pos.append(spatial_pos + tpos)

    max_ptrs = sam.max_obj_ptrs_in_encoder
    pointers = [(frame_index - t, memory.cond[t].obj_ptr) for t in sorted(memory.cond)
                if t <= frame_index]
    for t_diff in range(1, max_ptrs):
        t = frame_index - t_diff
        if t < 0:
            break
        entry = memory.recent.get(t)
        if entry is not None:
            pointers.append((t_diff, entry.obj_ptr))
    num_ptr_tokens = 0
    if pointers:
        distances = torch.tensor([d for d, _ in pointers], device=spatial_pos.device)
        ptrs = torch.stack([p for _, p in pointers]).to(spatial_pos.dtype)  # (P, C)
        hidden, mem_dim = ptrs.shape[1], sam.mem_dim
        from sam2.modeling.sam2_utils import get_1d_sine_pe
        ptr_pos = sam.obj_ptr_tpos_proj(get_1d_sine_pe(distances / (max_ptrs - 1), dim=hidden))
        split = hidden // mem_dim
        # A 256-d pointer becomes `split` tokens of mem_dim, each with the pointer's encoding.
        tokens.append(ptrs.reshape(-1, split, mem_dim).flatten(0, 1))
        pos.append(ptr_pos.repeat_interleave(split, dim=0))
        num_ptr_tokens = len(pointers) * split
    return torch.cat(tokens), torch.cat(pos), num_ptr_tokens


def condition(sam: nn.Module, features: FrameFeatures,
              memories: Optional[Sequence[tuple[Tensor, Tensor]]] = None,
              num_ptr_tokens: int = 0, batch: int = 1) -> Tensor:
    """
    Fuse the frame's features with each target's memory (memory attention, one batch).

    Args:
        sam: the SAM2Base.
        features: the frame's features.
        memories: per target (memory, memory_pos) from `memory_tokens`, all of one length and
            with the same number of pointer tokens; None for targets prompted on this frame
            with no memory (the learned no-memory embedding is added instead).
        num_ptr_tokens: pointer tokens at the end of each memory.
        batch: number of targets when `memories` is None.

    Returns:
        (B, C, H, W) memory-conditioned features for the decoder.

    """
    h, w = features.feat_sizes[-1]
    if memories is None:
        x = features.top(batch) + sam.no_mem_embed
        return x.permute(1, 2, 0).reshape(batch, -1, h, w)
    count = len(memories)
    memory = torch.stack([m for m, _ in memories], dim=1)  # (M, B, mem_dim)
    memory_pos = torch.stack([p for _, p in memories], dim=1)
    out = sam.memory_attention(curr=[features.top(count)], curr_pos=[features.top_pos(count)],
                               memory=memory, memory_pos=memory_pos,
                               num_obj_ptr_tokens=num_ptr_tokens)
    return out.permute(1, 2, 0).reshape(count, -1, h, w)


def decode(sam: nn.Module, pix_feat: Tensor, features: FrameFeatures,
           point_inputs: Optional[dict] = None, mask_inputs: Optional[Tensor] = None,
           multimask: Optional[bool] = None, box_rectangles: bool = False) -> DecoderOutput:
    """
    Run the prompt encoder and mask decoder for B targets.

    Args:
        sam: the SAM2Base.
        pix_feat: (B, C, H, W) from `condition`.
        features: the frame's features (for the high-resolution levels).
        point_inputs: {'point_coords': (B, P, 2) float model-input pixels,
            'point_labels': (B, P) int32: 1 foreground, 0 background, 2 / 3 box corners,
            -1 padding}, or None.
        mask_inputs: (B, 1, S, S) float/bool mask prompt; SAM 2.1 then outputs the mask itself
            (use_mask_input_as_output_without_sam) and decodes only its pointer.
        multimask: three candidates instead of one; None picks as sam2 does for tracking
            (`_use_multimask`), which for 0 or 1 points means three, except that a mask
            prompt with no points gets one: the previous mask says which object is meant,
            as in SAM's iterative training, where mask-prompted rounds output one mask.
        box_rectangles: with point inputs and no mask prompt, also give the decoder each
            box's rectangle as the mask prompt (`box_mask_prompt`; models with
            SataConfig.dense_prompts).

    Returns:
        DecoderOutput.

    """
    if box_rectangles and mask_inputs is None and point_inputs is not None:
        mask_inputs = box_mask_prompt(sam, point_inputs['point_coords'],
                                      point_inputs['point_labels'])
    batch = pix_feat.shape[0]
    high_res = features.high_res(batch)
    if mask_inputs is not None and sam.use_mask_input_as_output_without_sam:
        out = sam._use_mask_as_output(pix_feat, high_res, mask_inputs)
    else:
        if multimask is None:
            multimask = (mask_inputs is None or point_inputs is not None) and \
                sam._use_multimask(False, point_inputs)
        out = sam._forward_sam_heads(backbone_features=pix_feat, point_inputs=point_inputs,
                                     mask_inputs=mask_inputs, high_res_features=high_res,
                                     multimask_output=multimask)
    return DecoderOutput(*out)


def encode_memory(sam: nn.Module, features: FrameFeatures, high_res_masks: Tensor,
                  object_score: Tensor, from_points: bool) -> tuple[Tensor, Tensor]:
    """
    Encode B targets' masks on this frame into memory features (one batch).

    Args:
        sam: the SAM2Base.
        features: the frame's features.
        high_res_masks: (B, 1, S, S) mask logits.
        object_score: (B, 1) presence logits (absent targets get the no-object embedding).
        from_points: the masks come from point/box prompts (binarised when the model says so).

    Returns:
        features (B, mem_dim, S/16, S/16) and the positional encoding (mem_dim, S/16, S/16).

    """
    batch = high_res_masks.shape[0]
    feats = features.top(batch).contiguous()
    maskmem, pos = sam._encode_new_memory(
        current_vision_feats=[feats], feat_sizes=features.feat_sizes[-1:],
        pred_masks_high_res=high_res_masks, object_score_logits=object_score,
        is_mask_from_pts=from_points)
    return maskmem, pos[-1][0]


def box_mask_prompt(sam: nn.Module, point_coords: Tensor, point_labels: Tensor) -> Tensor:
    """
    Return the dense prompt of box prompts: each box's rectangle on the mask-prompt grid.

    Args:
        sam: the SAM2Base (its prompt encoder fixes the grid, S/4 x S/4 for SAM 2.1).
        point_coords: (B, P, 2) float model-input pixels.
        point_labels: (B, P) int: a box is the pair labelled 2 (top-left) and 3 (bottom-right);
            targets prompted by clicks only get an all-zero prompt.

    Returns:
        (B, 1, h, w) float32, 1 on grid cells the box overlaps, 0 elsewhere.

    """
    height, width = sam.sam_prompt_encoder.mask_input_size
    coords = point_coords.float()
    top_left = point_labels == 2
    bottom_right = point_labels == 3
    has_box = top_left.any(dim=1) & bottom_right.any(dim=1)
    x1, y1 = (coords * top_left[..., None]).sum(dim=1).unbind(-1)
    x2, y2 = (coords * bottom_right[..., None]).sum(dim=1).unbind(-1)
    side = float(sam.image_size)

    def overlap(low: Tensor, high: Tensor, cells: int) -> Tensor:
        # Cell j spans [j, j + 1) * side / cells; a cell counts when the box overlaps it, so
        # a box thinner than a cell still marks one.
        edges = torch.arange(cells + 1, device=coords.device, dtype=torch.float32) * (
            side / cells)
        return (edges[None, 1:] > low[:, None]) & (edges[None, :-1] < high[:, None])

    rect = overlap(y1, y2, height)[:, :, None] & overlap(x1, x2, width)[:, None, :]
    return (rect & has_box[:, None, None])[:, None].float()


def mask_prompt_from_logits(low_res_logits: Tensor) -> Tensor:
    """
    Return the dense prompt a tracked target carries to its next frame: its binarised mask.

    Args:
        low_res_logits: (B, 1, S/4, S/4) mask logits of the previous frame.

    Returns:
        (B, 1, S/4, S/4) float32 in {0, 1} (no gradient flows back through time).

    """
    return (low_res_logits.detach() > 0).float()


def mask_prompt_from_masks(sam: nn.Module, masks: Tensor) -> Tensor:
    """
    Return the dense prompt of binary masks: the share of each grid cell they cover, >= 1/2.

    Args:
        sam: the SAM2Base (its prompt encoder fixes the grid, S/4 x S/4 for SAM 2.1).
        masks: (B, H, W) bool or {0, 1} masks (any H, W; model-input resolution in training).

    Returns:
        (B, 1, h, w) float32 in {0, 1}, the layout of `mask_prompt_from_logits`.

    """
    size = sam.sam_prompt_encoder.mask_input_size
    cover = nn.functional.adaptive_avg_pool2d(masks[:, None].float(), size)
    return (cover >= 0.5).float()


def box_points(boxes: Tensor) -> tuple[Tensor, Tensor]:
    """
    Turn boxes into SAM prompt points, the way SAM 2 is trained (corners labelled 2 and 3).

    Args:
        boxes: (B, 4) float [x1, y1, x2, y2] in model-input pixels.

    Returns:
        coords (B, 2, 2) float32 and labels (B, 2) int32.

    """
    coords = boxes.reshape(-1, 2, 2).float()
    labels = torch.tensor([[2, 3]], dtype=torch.int32, device=boxes.device).expand(len(boxes), 2)
    return coords, labels.contiguous()
