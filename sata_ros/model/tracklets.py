"""
Tracklet bookkeeping for TaMOT: ids, bounded histories, miss counters, termination, capacity.

Pure logic, no learning: the bank stores whatever representation the caller hands it per
instance (typically a tensor such as the MEM query states or the instance embedding) and never
looks inside, except in `padded_histories`, which stacks tensor histories for the MEM.

Lifecycle per `update` (one call per frame):
1. Matched tracklets append the instance's representation to their history (a deque of at most
   `history` entries, oldest dropped first) and reset their miss counter to 0.
2. Every other live tracklet counts one more miss; one reaching `max_misses` consecutive misses
   is terminated (SATA: 50 frames).
3. Each unmatched instance starts a new tracklet with the next id. Ids are positive, increase in
   creation order and are never reused, not even after termination or eviction.

Capacity: the bank never holds more than `capacity` tracklets. When a new tracklet needs room,
the bank evicts the lost tracklet (not matched in this update) with the most consecutive misses,
the lowest id (the older tracklet) first among equals. Tracklets matched or created in the same
update are never evicted: if none is evictable the new instance gets no tracklet and its id is
None in the result, so size `capacity` above the largest number of instances per frame.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor


@dataclass
class Tracklet:
    """
    One live tracklet.

    Attributes:
        track_id: positive id, unique over the bank's lifetime.
        history: representations of the matched frames, oldest first, at most `maxlen`.
        misses: consecutive updates without a match (0 right after a match or creation).
        start_frame: update count at creation (0-based).
        last_frame: update count of the last match or of creation.

    """

    track_id: int
    history: deque = field(default_factory=deque)
    misses: int = 0
    start_frame: int = 0
    last_frame: int = 0


class TrackletBank:
    """
    All tracklets of one stream, with bounded size and bounded histories.

    Args:
        capacity: maximum number of live tracklets (>= 1).
        history: representations kept per tracklet, T (SATA: 15).
        max_misses: consecutive unmatched updates that terminate a tracklet (SATA: 50).
        id_source: returns the id of each new tracklet (e.g. a stream's allocator shared with
            other kinds of targets); ids it returns must increase. None counts from 1.

    """

    def __init__(self, capacity: int = 256, history: int = 15, max_misses: int = 50,
                 id_source: Optional[Callable[[], int]] = None) -> None:
        if capacity < 1 or history < 1 or max_misses < 1:
            raise ValueError('capacity, history and max_misses must be positive, got '
                             f'{capacity}, {history}, {max_misses}')
        self.capacity = capacity
        self.history = history
        self.max_misses = max_misses
        self._tracklets: dict[int, Tracklet] = {}  # insertion order == id order
        self._next_id = 1
        self._id_source = id_source or self._count_id
        self._frame = 0

    def _count_id(self) -> int:
        track_id = self._next_id
        self._next_id += 1
        return track_id

    def __len__(self) -> int:
        return len(self._tracklets)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._tracklets

    @property
    def track_ids(self) -> list[int]:
        """Live tracklet ids, ascending (the row order callers use for affinity matrices)."""
        return list(self._tracklets)

    @property
    def frame(self) -> int:
        """Return the number of `update` calls so far (the current frame index)."""
        return self._frame

    def get(self, track_id: int) -> Tracklet:
        """Return the live tracklet `track_id` (KeyError when it is not live)."""
        return self._tracklets[track_id]

    def latest(self, track_ids: Optional[Sequence[int]] = None) -> list[Any]:
        """Return the newest representation of each tracklet (all live ones by default)."""
        ids = self.track_ids if track_ids is None else track_ids
        return [self._tracklets[i].history[-1] for i in ids]

    def remove(self, track_id: int) -> None:
        """End tracklet `track_id` now (e.g. a target removed by the user); its id stays used."""
        del self._tracklets[track_id]

    def reset(self) -> None:
        """Drop every tracklet; ids keep increasing, so an id never names two targets."""
        self._tracklets.clear()

    def update(self, frame_reps: Sequence[Any], matches: Sequence[tuple[int, int]],
               unmatched_instances: Sequence[int]) -> list[Optional[int]]:
        """
        Apply one frame's association result.

        Args:
            frame_reps: the frame's K instance representations, indexable by instance index
                (a list, or a (K, ...) tensor whose rows are stored).
            matches: (instance_index, track_id) pairs; each instance and each track id at most
                once, every track id live. (`associate` returns affinity column indices: map
                them through the `track_ids` list the affinity was built from.)
            unmatched_instances: instance indices that start new tracklets, disjoint from the
                matched ones. Instances in neither list (e.g. low-score candidates) are ignored.

        Returns:
            For each of the K instances, its track id, or None when it was ignored or found no
            room (see the capacity rule in the module docstring).

        """
        count = len(frame_reps)
        matched_instances = [i for i, _ in matches]
        matched_ids = [t for _, t in matches]
        for i in list(matched_instances) + list(unmatched_instances):
            if not 0 <= i < count:
                raise IndexError(f'instance index {i} out of range for {count} instances')
        if len(set(matched_instances) | set(unmatched_instances)) != (
                len(matched_instances) + len(unmatched_instances)):
            raise ValueError('an instance appears twice in matches / unmatched_instances')
        if len(set(matched_ids)) != len(matched_ids):
            raise ValueError('a track id appears twice in matches')
        for track_id in matched_ids:
            if track_id not in self._tracklets:
                raise KeyError(f'track id {track_id} is not live')

        assigned: list[Optional[int]] = [None] * count
        for i, track_id in matches:
            tracklet = self._tracklets[track_id]
            tracklet.history.append(frame_reps[i])
            tracklet.misses = 0
            tracklet.last_frame = self._frame
            assigned[i] = track_id
        matched = set(matched_ids)
        for track_id in list(self._tracklets):
            if track_id not in matched:
                tracklet = self._tracklets[track_id]
                tracklet.misses += 1
                if tracklet.misses >= self.max_misses:
                    del self._tracklets[track_id]
        for i in unmatched_instances:
            if len(self._tracklets) >= self.capacity and not self._evict_one():
                continue
            track_id = self._id_source()
            self._tracklets[track_id] = Tracklet(
                track_id, deque([frame_reps[i]], maxlen=self.history), 0, self._frame,
                self._frame)
            assigned[i] = track_id
        self._frame += 1
        return assigned

    def _evict_one(self) -> bool:
        """Evict the lost tracklet with the most misses (lowest id on ties); False if none."""
        lost = [t for t in self._tracklets.values() if t.misses > 0]
        if not lost:
            return False
        victim = max(lost, key=lambda t: (t.misses, -t.track_id))
        del self._tracklets[victim.track_id]
        return True

    def padded_histories(self, track_ids: Optional[Sequence[int]] = None
                         ) -> tuple[Tensor, Tensor]:
        """
        Stack tensor histories right-aligned, for the MEM's temporal attention.

        Args:
            track_ids: tracklets to stack, in this order (all live ones by default). Their
                representations must be tensors of one shape S, dtype and device.

        Returns:
            history: (N, T, *S) with T = `history`; slot T - 1 holds the newest entry, slot
                T - 1 - a the entry a matches older; unused slots at the front are zero.
            padding: (N, T) bool, True on unused slots (the MEM's `history_padding`).

        """
        ids = self.track_ids if track_ids is None else list(track_ids)
        entries = [list(self._tracklets[i].history) for i in ids]
        if not entries:
            return torch.zeros(0, self.history), torch.ones(0, self.history, dtype=torch.bool)
        first = entries[0][-1]
        history = first.new_zeros((len(ids), self.history, *first.shape))
        padding = torch.ones(len(ids), self.history, dtype=torch.bool, device=first.device)
        for row, reps in enumerate(entries):
            history[row, self.history - len(reps):] = torch.stack(reps)
            padding[row, self.history - len(reps):] = False
        return history, padding
