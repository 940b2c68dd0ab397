"""TrackletBank: ids, bounded histories, miss counting, termination and the capacity bound."""

import random

import pytest
from sata_ros.model.tracklets import TrackletBank
import torch


def test_ids_increase_and_are_never_reused():
    bank = TrackletBank(capacity=10, max_misses=2)
    assert bank.update(['a', 'b', 'c'], [], [0, 1, 2]) == [1, 2, 3]
    assert bank.update(['a2'], [(0, 1)], []) == [1]  # 2 and 3 miss once
    assert bank.update(['x', 'a3'], [(1, 1)], [0]) == [4, 1]  # 2 and 3 terminated
    assert bank.track_ids == [1, 4]
    bank.remove(4)
    bank.reset()
    assert len(bank) == 0
    assert bank.update(['y'], [], [0]) == [5]


def test_ids_stable_while_matched():
    bank = TrackletBank(capacity=4)
    ids = bank.update([0, 1], [], [0, 1])
    for frame in range(30):
        # The two instances arrive in either order; each keeps its id.
        order = [1, 0] if frame % 2 else [0, 1]
        reps = [f'{frame}-{k}' for k in order]
        got = bank.update(reps, [(pos, ids[k]) for pos, k in enumerate(order)], [])
        assert got == [ids[k] for k in order]
    assert bank.latest() == ['29-0', '29-1']


def test_history_is_bounded_and_only_grows_when_matched():
    bank = TrackletBank(capacity=4, history=15)
    (tid,) = bank.update([0], [], [0])
    for frame in range(1, 40):
        if frame % 3 == 0:
            bank.update([], [], [])
        else:
            bank.update([frame], [(0, tid)], [])
        assert len(bank.get(tid).history) <= 15
    history = list(bank.get(tid).history)
    assert len(history) == 15
    assert history == [f for f in range(1, 40) if f % 3][-15:]


def test_termination_at_exactly_max_misses():
    bank = TrackletBank(capacity=4, max_misses=50)
    (tid,) = bank.update(['r'], [], [0])
    for miss in range(1, 50):
        bank.update([], [], [])
        assert tid in bank and bank.get(tid).misses == miss
    bank.update([], [], [])
    assert tid not in bank and len(bank) == 0


def test_rematch_resets_the_miss_counter():
    bank = TrackletBank(capacity=4, max_misses=50)
    (tid,) = bank.update(['r'], [], [0])
    for _ in range(49):
        bank.update([], [], [])
    assert bank.get(tid).misses == 49
    bank.update(['r2'], [(0, tid)], [])
    assert bank.get(tid).misses == 0 and bank.get(tid).last_frame == 50
    for _ in range(49):
        bank.update([], [], [])
    assert tid in bank
    bank.update([], [], [])
    assert tid not in bank


def test_eviction_takes_the_longest_lost_then_the_oldest():
    bank = TrackletBank(capacity=3)
    bank.update(['a', 'b', 'c'], [], [0, 1, 2])  # ids 1, 2, 3
    bank.update(['b'], [(0, 2)], [])  # 1 and 3 miss once
    bank.update(['b', 'c'], [(0, 2), (1, 3)], [])  # 1 misses twice, 3 resets
    bank.update(['b'], [(0, 2)], [])  # misses: 1 -> 3, 3 -> 1
    assert bank.update(['d'], [], [0]) == [4]
    assert bank.track_ids == [2, 3, 4]  # 1 had the most misses
    bank.update([], [], [])  # 2, 3, 4 all miss (2: 1, 3: 2, 4: 1)
    bank.update(['e'], [(0, 3)], [])  # 3 matched; 2 and 4 now tied at 2 misses
    assert bank.update(['f'], [], [0]) == [5]
    assert bank.track_ids == [3, 4, 5]  # tie broken by the older id


def test_full_bank_of_matched_tracklets_refuses_new_ones():
    bank = TrackletBank(capacity=2)
    bank.update(['a', 'b'], [], [0, 1])
    got = bank.update(['a', 'b', 'c'], [(0, 1), (1, 2)], [2])
    assert got == [1, 2, None] and bank.track_ids == [1, 2]
    # Creations of one update are not evictable by later creations of the same update.
    bank = TrackletBank(capacity=2)
    assert bank.update(['a', 'b', 'c'], [], [0, 1, 2]) == [1, 2, None]


def test_invalid_updates_raise():
    bank = TrackletBank(capacity=4)
    bank.update(['a', 'b'], [], [0, 1])
    with pytest.raises(KeyError):
        bank.update(['a'], [(0, 99)], [])
    with pytest.raises(ValueError):
        bank.update(['a', 'b'], [(0, 1), (1, 1)], [])
    with pytest.raises(ValueError):
        bank.update(['a'], [(0, 1)], [0])
    with pytest.raises(IndexError):
        bank.update(['a'], [], [3])
    with pytest.raises(ValueError):
        TrackletBank(capacity=0)


def test_capacity_holds_over_random_updates():
    rng = random.Random(0)
    bank = TrackletBank(capacity=20, history=15, max_misses=50)
    seen = set()
    last_max = 0
    for _ in range(10_000):
        live = bank.track_ids
        matched = rng.sample(live, rng.randint(0, min(len(live), 8)))
        new = rng.randint(0, 6)
        reps = list(range(len(matched) + new))
        got = bank.update(reps, list(enumerate(matched)), list(range(len(matched), len(reps))))
        assert got[:len(matched)] == matched
        created = [t for t in got[len(matched):] if t is not None]
        assert all(t > last_max for t in created) and created == sorted(created)
        assert not seen & set(created)
        seen |= set(created)
        last_max = max([last_max] + created)
        assert len(bank) <= 20
        assert all(len(bank.get(t).history) <= 15 and bank.get(t).misses < 50
                   for t in bank.track_ids)
    assert len(seen) > 20


def test_padded_histories_are_right_aligned():
    bank = TrackletBank(capacity=4, history=4)
    bank.update([torch.full((2,), 1.0), torch.full((2,), 9.0)], [], [0, 1])
    for value in (2.0, 3.0, 4.0, 5.0):
        bank.update([torch.full((2,), value)], [(0, 1)], [])
    history, padding = bank.padded_histories([2, 1])
    assert history.shape == (2, 4, 2) and padding.shape == (2, 4)
    assert padding.tolist() == [[True, True, True, False], [False] * 4]
    assert history[0, -1].tolist() == [9.0, 9.0] and history[0, :3].abs().sum() == 0
    assert history[1, :, 0].tolist() == [2.0, 3.0, 4.0, 5.0]
    empty, empty_pad = TrackletBank().padded_histories([])
    assert empty.shape[0] == 0 and empty_pad.shape == (0, 15)
