"""
Per-target persistent memory with fixed capacities (SAM 2.1 memory bank, bounded and owned).

A target's memory holds three kinds of entries (see model/sam_steps.py for how they are read):

- prompted (conditioning) frames: at most `max_prompt_frames`; when a correction prompt makes
  one too many, the oldest prompt after the first is evicted (the first prompt is the user's
  reference and stays while the target lives);
- recent frames' memory features: only the last `num_maskmem - 1` frames are ever read, so
  features older than that are freed;
- recent object pointers: the last `max_obj_ptrs - 1` frames' pointers; older entries go.

So memory per target is bounded by max_prompt_frames + num_maskmem - 1 feature maps plus
max_obj_ptrs - 1 pointers, whatever the stream's length.
"""

from typing import Optional

from sata_ros.model.sam_steps import MemoryEntry, TargetMemoryView
import torch


class TargetMemory(TargetMemoryView):
    """
    Bounded memory of one target.

    Args:
        max_prompt_frames: conditioning frames kept (>= 1).
        feature_window: recent frames whose features are kept (SAM: num_maskmem - 1).
        pointer_window: recent frames whose object pointers are kept
            (SAM: max_obj_ptrs_in_encoder - 1); >= feature_window.
        dtype: storage dtype of features and pointers (float32 or bfloat16).

    """

    def __init__(self, max_prompt_frames: int, feature_window: int, pointer_window: int,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if max_prompt_frames < 1 or feature_window < 0 or pointer_window < feature_window:
            raise ValueError('need max_prompt_frames >= 1 and pointer_window >= feature_window '
                             f'>= 0, got {max_prompt_frames}, {feature_window}, '
                             f'{pointer_window}')
        self.max_prompt_frames = max_prompt_frames
        self.feature_window = feature_window
        self.pointer_window = pointer_window
        self.dtype = dtype

    def _store(self, entry: MemoryEntry) -> MemoryEntry:
        features = None if entry.features is None else entry.features.to(self.dtype)
        return MemoryEntry(features, entry.obj_ptr.to(self.dtype))

    def add_prompt(self, frame_index: int, entry: MemoryEntry) -> None:
        """Store a prompted frame's entry, evicting the oldest non-first prompt if full."""
        self.recent.pop(frame_index, None)
        self.cond[frame_index] = self._store(entry)
        while len(self.cond) > self.max_prompt_frames:
            frames = sorted(self.cond)
            del self.cond[frames[1]]

    def add_recent(self, frame_index: int, entry: MemoryEntry) -> None:
        """Store a tracked frame's entry and forget what the windows no longer reach."""
        self.recent[frame_index] = self._store(entry)
        self.prune(frame_index + 1)

    def prune(self, next_frame: int) -> None:
        """Drop entries that frame `next_frame` and later can no longer read."""
        for t in list(self.recent):
            age = next_frame - t
            if age > self.pointer_window:
                del self.recent[t]
            elif age > self.feature_window and self.recent[t].features is not None:
                self.recent[t] = MemoryEntry(None, self.recent[t].obj_ptr)

    def truncate_from(self, frame_index: int) -> None:
        """Forget recent entries of frames >= frame_index (before re-tracking them)."""
        for t in [t for t in self.recent if t >= frame_index]:
            del self.recent[t]

    def feature_maps(self) -> int:
        """Return the number of feature maps held (prompted + recent)."""
        return len(self.cond) + sum(e.features is not None for e in self.recent.values())

    def nbytes(self) -> int:
        """Return the bytes of tensors held."""
        total = 0
        for entry in list(self.cond.values()) + list(self.recent.values()):
            for t in (entry.features, entry.obj_ptr):
                total += 0 if t is None else t.numel() * t.element_size()
        return total

    def latest_prompt(self) -> Optional[int]:
        """Return the newest prompted frame index, or None."""
        return max(self.cond) if self.cond else None
