"""
Memory-enhanced Module (MEM) of SATA's TaMOT: one representation per candidate instance.

For the K candidates of a frame (all processed together, never one by one):

1. Fine-grained embedding: the candidate's mask, resampled to the RoI grid, goes through a
   conv, is concatenated with the RoI feature and goes through a second conv:
   a~ = Conv(Conv(mask) ++ a), shape (K, dim, r, r). Conditioning on the mask lets the network
   suppress the background inside the box. Its spatial mean is the fine-grained vector.
2. Position: the normalised box goes through an MLP to p (K, dim), added to the RoI tokens
   (the "position-aware candidate embedding") and to the candidate's initial queries.
3. Queries (Q-Former style): each candidate starts from the same `num_queries` learned tokens
   plus p. Each of `num_layers` pre-norm layers runs
   - spatial self-attention over the queries of *all* candidates of the frame,
   - cross-attention from a candidate's queries to its own r*r RoI tokens,
   - temporal attention from the queries to the sequence [own queries, a learned null token,
     the tracklet history of past query states (T <= 15 frames, with an age embedding)];
     padded history slots are masked out, and the null token keeps the attention defined
     when the history is empty,
   - an MLP.
4. Output: f = Linear([fine-grained vector ++ mean of the final queries]), (K, dim). f is not
   normalised here; L2-normalise it (F.normalize) for cosine use. The final queries (K, Q, dim)
   are what a matched tracklet appends to its history.

The module holds no per-stream state: the caller passes each candidate's history. In training
the clip's ground truth says which tracklet a candidate continues; at inference a candidate is
encoded without history or with the history of a provisional tracklet (e.g. the one whose last
box overlaps it most), and only matched tracklets store the new query states.
"""

from typing import NamedTuple, Optional

from sata_ros.model.roi_align import roi_align
import torch
from torch import nn, Tensor
import torch.nn.functional as F


class MemOutput(NamedTuple):
    """
    Output of the MEM for K instances.

    Attributes:
        embedding: (K, dim) instance representation f (not normalised).
        queries: (K, num_queries, dim) final query states, the entry a matched tracklet stores.

    """

    embedding: Tensor
    queries: Tensor


def crop_masks(masks: Tensor, boxes: Tensor, size: int, sampling_ratio: int = 4) -> Tensor:
    """
    Resample each instance's full-image mask to a size x size grid over its own box.

    Args:
        masks: (K, H, W) float or bool masks (or probabilities in [0, 1]) in image pixels.
        boxes: (K, 4) float [x1, y1, x2, y2] boxes in the same pixels.
        size: output grid side, normally the MEM's `roi_size`.
        sampling_ratio: sample points per bin and axis (more gives a better area average).

    Returns:
        (K, 1, size, size) float32 mask crops in [0, 1], the RoIAlign of mask k over box k.

    """
    index = torch.arange(len(boxes), device=boxes.device, dtype=boxes.dtype)[:, None]
    rois = torch.cat([index, boxes], dim=1)
    return roi_align(masks[:, None].float(), rois, size, 1.0, sampling_ratio=sampling_ratio)


class _QueryLayer(nn.Module):
    """One pre-norm layer: spatial self-attention, RoI cross-attention, temporal, MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.spatial_norm = nn.LayerNorm(dim)
        self.spatial = nn.MultiheadAttention(dim, num_heads, dropout, batch_first=True)
        self.cross_norm = nn.LayerNorm(dim)
        self.cross = nn.MultiheadAttention(dim, num_heads, dropout, batch_first=True)
        self.temporal_norm = nn.LayerNorm(dim)
        self.temporal = nn.MultiheadAttention(dim, num_heads, dropout, batch_first=True)
        hidden = int(dim * mlp_ratio)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))

    def forward(self, queries: Tensor, tokens: Tensor, memory: Tensor, memory_padding: Tensor,
                spatial_mask: Optional[Tensor]) -> Tensor:
        """
        Update the queries.

        Args:
            queries: (K, Q, D) query states.
            tokens: (K, L, D) normalised RoI tokens, L = r * r.
            memory: (K, M, D) normalised memory tokens (null token + history).
            memory_padding: (K, M) bool, True where a memory token is padding.
            spatial_mask: (K * Q, K * Q) bool, True where attention is forbidden, or None.

        Returns:
            (K, Q, D) updated query states.

        """
        count, num_queries, dim = queries.shape
        # All queries of all instances form one sequence, so every instance sees the others.
        x = self.spatial_norm(queries).reshape(1, count * num_queries, dim)
        attended = self.spatial(x, x, x, attn_mask=spatial_mask, need_weights=False)[0]
        queries = queries + attended.reshape(count, num_queries, dim)
        x = self.cross_norm(queries)
        queries = queries + self.cross(x, tokens, tokens, need_weights=False)[0]
        # The current queries sit in the temporal sequence too (self-attention over current +
        # past states); only the history part can be padding.
        x = self.temporal_norm(queries)
        keys = torch.cat([x, memory], dim=1)
        padding = torch.cat([memory_padding.new_zeros(count, num_queries), memory_padding], 1)
        queries = queries + self.temporal(x, keys, keys, key_padding_mask=padding,
                                          need_weights=False)[0]
        return queries + self.mlp(self.mlp_norm(queries))


class MemoryEnhancedModule(nn.Module):
    """
    SATA's Memory-enhanced Module: mask-conditioned RoI embedding + spatio-temporal queries.

    Args:
        in_channels: channels C of the RoI features.
        dim: width D of tokens, queries and the output representation (SAM 2's d_model: 256).
        num_queries: learned query tokens per instance, Q (SATA: 8).
        roi_size: side r of the RoI feature grid the module expects.
        history: longest tracklet history T accepted, in frames (SATA: 15).
        num_heads: attention heads (divides dim).
        num_layers: query layers.
        mask_channels: channels of the mask branch's conv.
        mlp_ratio: hidden width of the layers' MLP, as a multiple of dim.
        dropout: dropout in attention and MLP (0 disables it).

    """

    def __init__(self, in_channels: int = 256, dim: int = 256, num_queries: int = 8,
                 roi_size: int = 7, history: int = 15, num_heads: int = 8, num_layers: int = 2,
                 mask_channels: int = 32, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.dim = dim
        self.num_queries = num_queries
        self.roi_size = roi_size
        self.history = history
        self.mask_conv = nn.Sequential(nn.Conv2d(1, mask_channels, 3, padding=1), nn.ReLU())
        self.fuse_conv = nn.Conv2d(in_channels + mask_channels, dim, 3, padding=1)
        self.box_mlp = nn.Sequential(nn.Linear(4, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.token_pos = nn.Parameter(torch.empty(roi_size * roi_size, dim))
        self.token_norm = nn.LayerNorm(dim)
        self.queries = nn.Parameter(torch.empty(num_queries, dim))
        self.null_memory = nn.Parameter(torch.empty(1, dim))
        self.age_embed = nn.Parameter(torch.empty(history, dim))
        self.memory_norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(
            _QueryLayer(dim, num_heads, mlp_ratio, dropout) for _ in range(num_layers))
        self.out_norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(2 * dim, dim)
        for param in (self.token_pos, self.queries, self.null_memory, self.age_embed):
            nn.init.trunc_normal_(param, std=0.02)

    def forward(self, roi_features: Tensor, masks: Tensor, boxes: Tensor,
                history: Optional[Tensor] = None, history_padding: Optional[Tensor] = None,
                groups: Optional[Tensor] = None) -> MemOutput:
        """
        Encode K candidate instances.

        Args:
            roi_features: (K, in_channels, r, r) float RoIAlign features, r = roi_size.
            masks: (K, h, w) or (K, 1, h, w) float mask crops over each box, values in [0, 1]
                (e.g. `crop_masks`); area-resampled to r x r when h, w differ from r.
            boxes: (K, 4) float [x1, y1, x2, y2] divided by the image [W, H, W, H], in [0, 1].
            history: (K, T, Q, dim) past query states of each instance's tracklet, T <= history,
                right-aligned: slot T - 1 is the newest, slot T - 1 - a is a matches older.
                None means no history.
            history_padding: (K, T) bool, True on empty history slots (their values are never
                read). None with a history means every slot is filled.
            groups: (K,) int64 frame index per instance when several frames are batched;
                spatial attention stays within a group. None means one frame.

        Returns:
            MemOutput with embedding (K, dim) and queries (K, Q, dim), dtype of roi_features.

        """
        count = roi_features.shape[0]
        size = self.roi_size
        if roi_features.shape[1:] != (self.in_channels, size, size):
            raise ValueError(f'roi_features must be (K, {self.in_channels}, {size}, {size}), '
                             f'got {tuple(roi_features.shape)}')
        if count == 0:
            return MemOutput(roi_features.new_zeros(0, self.dim),
                             roi_features.new_zeros(0, self.num_queries, self.dim))
        if masks.dim() == 3:
            masks = masks[:, None]
        masks = masks.to(roi_features.dtype)
        if masks.shape[-2:] != (size, size):
            masks = F.adaptive_avg_pool2d(masks, size)

        fused = self.fuse_conv(torch.cat([self.mask_conv(masks), roi_features], dim=1))
        fine = fused.mean(dim=(2, 3))  # (K, D)
        position = self.box_mlp(boxes.to(roi_features.dtype))  # (K, D)
        tokens = self.token_norm(fused.flatten(2).transpose(1, 2) + self.token_pos
                                 + position[:, None])  # (K, r*r, D)
        # Shared learned queries plus the box code: without it every instance would start from
        # identical queries and the first spatial attention could not tell them apart.
        queries = self.queries[None] + position[:, None]  # (K, Q, D)
        memory, memory_padding = self._memory(count, history, history_padding)
        spatial_mask = None
        if groups is not None:
            # Queries of instance k occupy rows k*Q .. k*Q + Q - 1 of the spatial sequence.
            other = groups[:, None] != groups[None, :]
            spatial_mask = other.repeat_interleave(self.num_queries, 0).repeat_interleave(
                self.num_queries, 1)
        for layer in self.layers:
            queries = layer(queries, tokens, memory, memory_padding, spatial_mask)
        pooled = self.out_norm(queries).mean(dim=1)
        embedding = self.proj(torch.cat([fine, pooled], dim=1))
        return MemOutput(embedding, queries)

    def _memory(self, count: int, history: Optional[Tensor],
                history_padding: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """
        Build the temporal memory tokens.

        Args:
            count: K.
            history: (K, T, Q, D) or None (see forward).
            history_padding: (K, T) bool or None.

        Returns:
            memory: (K, 1 + T * Q, D) normalised tokens: the null token, then the history.
            padding: (K, 1 + T * Q) bool, True on padded history tokens (never the null token).

        """
        null = self.memory_norm(self.null_memory).expand(count, 1, self.dim)
        null_padding = torch.zeros(count, 1, dtype=torch.bool, device=null.device)
        if history is None or history.shape[1] == 0:
            return null, null_padding
        length = history.shape[1]
        if history.shape != (count, length, self.num_queries, self.dim) or length > self.history:
            raise ValueError(f'history must be (K={count}, T<={self.history}, '
                             f'{self.num_queries}, {self.dim}), got {tuple(history.shape)}')
        if history_padding is None:
            history_padding = torch.zeros(count, length, dtype=torch.bool, device=history.device)
        # Zero the padded slots so that not even NaN or inf there can reach the output.
        history = history.masked_fill(history_padding[:, :, None, None], 0.0)
        ages = torch.arange(length - 1, -1, -1, device=history.device)
        tokens = self.memory_norm(history + self.age_embed[ages][None, :, None, :])
        tokens = tokens.reshape(count, length * self.num_queries, self.dim)
        padding = history_padding.repeat_interleave(self.num_queries, dim=1)
        return torch.cat([null, tokens], dim=1), torch.cat([null_padding, padding], dim=1)
