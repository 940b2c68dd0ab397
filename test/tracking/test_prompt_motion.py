"""The carried mask prompt moves with the target: centre, zero-filled shift, capped move."""

import pytest
from sata_ros.tracking.prompt_motion import centroid, moved_prompt, shift
import torch


def square(row: int, col: int, side: int = 4, grid: int = 16) -> torch.Tensor:
    """Return a (1, grid, grid) {0, 1} prompt with a side x side square at (row, col)."""
    mask = torch.zeros(1, grid, grid)
    mask[0, row:row + side, col:col + side] = 1.0
    return mask


def test_centroid_of_a_square_and_of_nothing():
    assert centroid(square(2, 5)).tolist() == [3.5, 6.5]
    assert centroid(torch.zeros(1, 16, 16)) is None


@pytest.mark.parametrize('rows, cols', [(3, 2), (-2, 0), (0, -1), (-1, 4)])
def test_shift_moves_whole_cells(rows, cols):
    assert torch.equal(shift(square(6, 6), rows, cols), square(6 + rows, 6 + cols))


def test_shift_drops_what_leaves_the_grid_instead_of_wrapping():
    moved = shift(square(0, 13), 0, 2)  # columns 13..16: 15 stays, 16 and 17 leave
    assert moved.sum() == 4 * 1 and moved[0, :, 15].sum() == 4
    assert moved[0, :, :13].sum() == 0  # nothing wrapped to the left edge
    assert shift(square(0, 0), 16, 0).sum() == 0


def test_moved_prompt_repeats_the_last_displacement():
    # Moved by (+2, +3) from one frame to the next: expected (+2, +3) further.
    assert torch.equal(moved_prompt(square(4, 4), square(6, 7), 8), square(8, 10))
    # Capped per axis.
    assert torch.equal(moved_prompt(square(4, 4), square(6, 7), 1), square(7, 8))


@pytest.mark.parametrize('before, max_cells', [
    (None, 8),  # just prompted: no motion known
    (torch.zeros(1, 16, 16), 8),  # the target was not seen before
    (square(4, 4), 0),  # switched off
    (square(6, 7), 8),  # not moving
])
def test_moved_prompt_leaves_the_last_mask_in_place(before, max_cells):
    last = square(6, 7)
    assert moved_prompt(before, last, max_cells) is last


def test_an_empty_last_mask_stays_empty():
    empty = torch.zeros(1, 16, 16)
    assert moved_prompt(square(4, 4), empty, 8) is empty
