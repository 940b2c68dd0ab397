"""Affinity (bi-softmax + cosine) and gated Hungarian association on hand-built embeddings."""

import math

import numpy as np
import pytest
from sata_ros.model.matching import affinity, associate, Association
import torch


def _unit(*rows):
    x = torch.tensor(rows, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def test_affinity_formula_on_a_small_case():
    inst = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    trk = torch.tensor([[1.0, 1.0], [0.0, 3.0], [-1.0, 0.0]], dtype=torch.float64)
    dots = [[2.0, 0.0, -2.0], [1.0, 3.0, 0.0]]
    got = affinity(inst, trk, temperature=2.0)
    for i in range(2):
        for j in range(3):
            row = math.exp(dots[i][j] / 2) / sum(math.exp(d / 2) for d in dots[i])
            col = math.exp(dots[i][j] / 2) / sum(math.exp(dots[r][j] / 2) for r in range(2))
            cos = dots[i][j] / (inst[i].norm() * trk[j].norm()).item()
            assert got[i, j].item() == pytest.approx(0.5 * (0.5 * (row + col) + cos))


def test_identical_vectors_match():
    gen = torch.Generator().manual_seed(1)
    trk = torch.nn.functional.normalize(torch.randn(5, 16, generator=gen), dim=1)
    order = [3, 0, 4, 1]  # instance i is a copy of tracklet order[i]; tracklet 2 is gone
    scores = affinity(trk[order], trk, temperature=0.05)
    assert scores.shape == (4, 5)
    assert scores.min() >= -0.5 - 1e-6 and scores.max() <= 1.0 + 1e-6
    result = associate(scores, threshold=0.75)
    assert result.matches == [(i, j) for i, j in enumerate(order)]
    assert result.unmatched_instances == [] and result.unmatched_tracklets == [2]


def test_single_pair_is_certain():
    # One instance and one tracklet: both softmaxes are 1, so A = 0.5 * (1 + cos).
    got = affinity(_unit([1.0, 0.0]), _unit([1.0, 1.0]))
    assert got.item() == pytest.approx(0.5 * (1 + math.sqrt(0.5)))


def test_gate_rejects_dissimilar_pairs():
    inst = _unit([1.0, 0.0], [0.0, 1.0])
    # Tracklet 0 is instance 0 itself; tracklet 1 is 60 degrees from instance 1 (cosine 0.5).
    trk = _unit([1.0, 0.0], [-math.sqrt(3.0), 1.0])
    scores = affinity(inst, trk, temperature=0.05)
    assert scores[1, 1] < 0.75 < scores[0, 0]
    result = associate(scores)
    assert result.matches == [(0, 0)]
    assert result.unmatched_instances == [1] and result.unmatched_tracklets == [1]
    assert associate(scores, threshold=0.0).matches == [(0, 0), (1, 1)]


def test_pair_at_the_gate_is_rejected():
    result = associate(np.array([[0.75, 0.76]]))
    assert result.matches == [(0, 1)] and result.unmatched_tracklets == [0]
    assert associate(np.array([[0.75]])).matches == []
    assert associate(np.array([[float('nan'), 0.9]])).matches == [(0, 1)]


def test_hungarian_beats_greedy():
    scores = np.array([[0.90, 0.80],
                       [0.85, 0.10]])
    # Greedy takes the best pair (0, 0) first, leaving instance 1 with (1, 1) = 0.10, which the
    # gate rejects: one match, total 0.90. The optimum pairs crosswise: two matches, 1.65.
    result = associate(scores)
    assert result.matches == [(0, 1), (1, 0)]
    assert result.unmatched_instances == [] and result.unmatched_tracklets == []


def test_gate_applies_before_assignment():
    # Ungated, the crosswise assignment (0.70 + 0.70 = 1.40) beats 0.80 + (-0.50); gating first
    # keeps the one admissible pair.
    result = associate(np.array([[0.80, 0.70], [0.70, -0.50]]))
    assert result.matches == [(0, 0)]
    assert result.unmatched_instances == [1] and result.unmatched_tracklets == [1]


@pytest.mark.parametrize('rows, cols', [(0, 3), (2, 0), (0, 0)])
def test_empty_sides(rows, cols):
    scores = affinity(torch.zeros(rows, 8), torch.zeros(cols, 8))
    assert scores.shape == (rows, cols)
    result = associate(scores)
    assert result == Association([], list(range(rows)), list(range(cols)))


def test_rectangular_and_torch_input():
    inst = _unit([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    scores = affinity(inst, inst[[2]], temperature=0.05)
    assert associate(scores) == Association([(2, 0)], [0, 1], [])


def test_affinity_is_differentiable_and_validated():
    inst = torch.randn(3, 4, requires_grad=True)
    affinity(inst, torch.randn(2, 4)).sum().backward()
    assert inst.grad is not None and torch.isfinite(inst.grad).all()
    with pytest.raises(ValueError):
        affinity(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError):
        affinity(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0)
    with pytest.raises(ValueError):
        associate(np.zeros(3))
