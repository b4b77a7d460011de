"""Maze layouts: a seed fixes the spanning tree of doors, the same on every run and version."""

from __future__ import annotations

import numpy as np
import pytest

from hjepa.envs.maze import Maze, spanning_tree_doors

# door trees drawn by the depth-first generator; a change here changes every maze task and dataset
PINNED = {
    (3, 3, 0): [(0, 1), (1, 2), (2, 5), (4, 5), (4, 7), (6, 7), (3, 6), (7, 8)],
    (3, 3, 1): [(0, 3), (3, 4), (4, 5), (5, 8), (7, 8), (6, 7), (2, 5), (1, 2)],
    (4, 5, 7): [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 9),
        (8, 9),
        (7, 8),
        (6, 7),
        (6, 11),
        (11, 16),
        (15, 16),
        (10, 15),
        (5, 10),
        (16, 17),
        (12, 17),
        (12, 13),
        (13, 14),
        (14, 19),
        (18, 19),
    ],
}


@pytest.mark.parametrize("rows, cols, seed", list(PINNED))
def test_a_seed_gives_the_same_doors(rows: int, cols: int, seed: int) -> None:
    doors = spanning_tree_doors(rows, cols, 0.1, np.random.default_rng(seed))
    assert [door.rooms for door in doors] == PINNED[rows, cols, seed]


def test_the_default_maze_is_the_pinned_tree() -> None:
    assert [door.rooms for door in Maze().layout.doors] == PINNED[3, 3, 0]
