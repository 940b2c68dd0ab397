"""
Instance-to-tracklet affinity and gated Hungarian assignment (SATA TaMOT matching).

Affinity (quasi-dense matching, as in QDTrack and Unicorn, averaged with the cosine as SATA
states): for M instance embeddings x_i and N tracklet embeddings y_j (rows, dimension D),

    s_ij   = <x_i, y_j> / temperature                                  (raw dot products)
    bisoft = 0.5 * (softmax_j(s)_ij + softmax_i(s)_ij)     (over tracklets, over instances)
    cos_ij = <x_i, y_j> / (|x_i| |y_j|)
    A_ij   = 0.5 * (bisoft_ij + cos_ij)

so A lies in [-0.5, 1]. The bi-softmax term is relative (a pair scores high only when each side
prefers the other over its alternatives) and its sharpness depends on the embedding norms and
the temperature; the cosine term is absolute. With L2-normalised embeddings the dot products lie
in [-1, 1] and temperature 1 gives soft bi-softmax scores; use a small temperature (e.g. 0.05)
to make them decisive.

Assignment: pairs with A_ij > threshold (0.75 in SATA) are admissible; among matchings that use
admissible pairs only, the one with the largest total affinity is returned (Hungarian algorithm,
`scipy.optimize.linear_sum_assignment`).
"""

from dataclasses import dataclass, field
from typing import Union

import numpy as np
from scipy.optimize import linear_sum_assignment
import torch
from torch import Tensor
import torch.nn.functional as F


@dataclass
class Association:
    """
    Result of one gated assignment.

    Attributes:
        matches: (instance_index, tracklet_index) pairs, sorted by instance index; indices are
            rows and columns of the affinity matrix.
        unmatched_instances: instance indices in no pair, ascending.
        unmatched_tracklets: tracklet indices in no pair, ascending.

    """

    matches: list[tuple[int, int]] = field(default_factory=list)
    unmatched_instances: list[int] = field(default_factory=list)
    unmatched_tracklets: list[int] = field(default_factory=list)


def affinity(instances: Tensor, tracklets: Tensor, temperature: float = 1.0) -> Tensor:
    """
    Mean of the bi-directional softmax similarity and the cosine similarity.

    Args:
        instances: (M, D) float embeddings of the current frame's instances.
        tracklets: (N, D) float embeddings of the tracklets, same dtype and device.
        temperature: divides the dot products before the softmaxes (> 0); the cosine term does
            not use it.

    Returns:
        (M, N) affinity A_ij = 0.5 * (0.5 * (softmax over j + softmax over i of x_i.y_j / t)
        + cos(x_i, y_j)), in [-0.5, 1], dtype of the inputs. Empty (M, N) when M or N is 0.
        Differentiable, so it can also carry an association loss.

    """
    if instances.dim() != 2 or tracklets.dim() != 2 or instances.shape[1] != tracklets.shape[1]:
        raise ValueError('instances and tracklets must be (M, D) and (N, D), got '
                         f'{tuple(instances.shape)} and {tuple(tracklets.shape)}')
    if temperature <= 0:
        raise ValueError(f'temperature must be positive, got {temperature}')
    rows, cols = instances.shape[0], tracklets.shape[0]
    if rows == 0 or cols == 0:
        return instances.new_zeros((rows, cols))
    logits = instances @ tracklets.T / temperature
    bisoftmax = 0.5 * (logits.softmax(dim=1) + logits.softmax(dim=0))
    cosine = F.normalize(instances, dim=1) @ F.normalize(tracklets, dim=1).T
    return 0.5 * (bisoftmax + cosine)


def associate(scores: Union[Tensor, np.ndarray], threshold: float = 0.75) -> Association:
    """
    Gated Hungarian assignment that maximises the total affinity of the kept pairs.

    A pair (i, j) is admissible when scores[i, j] > threshold (NaN never is). The Hungarian
    algorithm runs on a weight matrix equal to the affinity on admissible pairs and 0 elsewhere,
    and the pairs it picks on inadmissible entries are dropped. For threshold >= 0 every
    admissible weight is positive, so the kept pairs are exactly a maximum-total-affinity
    matching among admissible pairs (gating before the assignment, not after: a high-scoring
    pair is never lost to an inadmissible one that the ungated optimum would have preferred).

    Args:
        scores: (M, N) affinity, instances x tracklets (torch or numpy; read without gradient).
        threshold: the gate; SATA uses 0.75.

    Returns:
        The matched pairs and the unmatched instance and tracklet indices.

    """
    if isinstance(scores, Tensor):
        scores = scores.detach().to('cpu', torch.float64).numpy()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f'scores must be (M, N), got shape {scores.shape}')
    rows, cols = scores.shape
    admissible = scores > threshold
    matches = []
    if admissible.any():
        weight = np.where(admissible, scores, 0.0)
        row_ind, col_ind = linear_sum_assignment(weight, maximize=True)
        matches = [(int(i), int(j)) for i, j in zip(row_ind, col_ind) if admissible[i, j]]
    matched_rows = {i for i, _ in matches}
    matched_cols = {j for _, j in matches}
    return Association(
        matches=matches,
        unmatched_instances=[i for i in range(rows) if i not in matched_rows],
        unmatched_tracklets=[j for j in range(cols) if j not in matched_cols])
