"""Room grid geometry and door graph."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hjepa.envs.layout import RoomLayout, grid_door
from hjepa.envs.maze import spanning_tree_doors


def _hop_distances(layout: RoomLayout) -> np.ndarray:
    """Floyd-Warshall door counts (R, R) between rooms: the slow, obvious reference for BFS."""
    r = layout.n_rooms
    dist = np.full((r, r), np.inf)
    np.fill_diagonal(dist, 0)
    for door in layout.doors:
        a, b = door.rooms
        dist[a, b] = dist[b, a] = 1
    for k, i, j in itertools.product(range(r), repeat=3):
        dist[i, j] = min(dist[i, j], dist[i, k] + dist[k, j])
    return dist


def test_room_of_follows_the_grid() -> None:
    layout = RoomLayout(2, 3, [], wall_thickness=0.02)
    centres = np.array([[(c + 0.5) / 3, (r + 0.5) / 2] for r in range(2) for c in range(3)])
    np.testing.assert_array_equal(layout.room_of(centres), np.arange(6))
    np.testing.assert_array_equal(layout.room_of(np.array([[0.0, 0.0], [1.0, 1.0]])), [0, 5])
    np.testing.assert_allclose(layout.room_bounds(4), [1 / 3, 2 / 3, 0.5, 1.0])


def test_grid_door_geometry() -> None:
    vertical = grid_door(2, 3, 1, 2, width=0.1, position=0.25)
    assert vertical.vertical and vertical.rooms == (1, 2)
    np.testing.assert_allclose(vertical.centre, (2 / 3, 0.125))
    np.testing.assert_allclose(vertical.span, (0.075, 0.175))
    horizontal = grid_door(2, 3, 4, 1, width=0.1)
    assert not horizontal.vertical and horizontal.rooms == (1, 4)
    np.testing.assert_allclose(horizontal.centre, (0.5, 0.5))
    np.testing.assert_array_equal(horizontal.normal, [0.0, 1.0])


@pytest.mark.parametrize("a, b", [(0, 2), (0, 4), (2, 3), (0, 6)])
def test_grid_door_rejects_rooms_that_are_not_adjacent(a: int, b: int) -> None:
    with pytest.raises(ValueError, match="not adjacent"):
        grid_door(2, 3, a, b, width=0.1)


def test_layout_rejects_a_door_wider_than_its_wall() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        RoomLayout(1, 2, [grid_door(1, 2, 0, 1, width=0.99)], wall_thickness=0.02)


@pytest.mark.parametrize("rows, cols, seed", [(3, 3, 0), (3, 3, 1), (4, 5, 7), (1, 6, 2)])
def test_spanning_tree_connects_every_room_without_loops(rows: int, cols: int, seed: int) -> None:
    layout = RoomLayout(rows, cols, spanning_tree_doors(rows, cols, 0.1, np.random.default_rng(seed)), 0.02)
    assert len(layout.doors) == rows * cols - 1
    assert np.isfinite(_hop_distances(layout)).all()


@pytest.mark.parametrize("seed", [0, 3])
def test_shortest_room_paths_and_door_distances_match_floyd_warshall(seed: int) -> None:
    rng = np.random.default_rng(seed)
    doors = spanning_tree_doors(4, 4, 0.1, rng)
    doors += [grid_door(4, 4, 0, 1, 0.1), grid_door(4, 4, 5, 9, 0.1), grid_door(4, 4, 10, 11, 0.1)]
    layout = RoomLayout(4, 4, list({d.rooms: d for d in doors}.values()), 0.02)  # extra doors add loops
    dist = _hop_distances(layout)
    np.testing.assert_array_equal(layout.door_distances(), dist)
    for a, b in itertools.product(range(16), repeat=2):
        path = layout.shortest_room_path(a, b)
        assert path[0] == a and path[-1] == b
        assert len(path) - 1 == dist[a, b]
        for u, v in zip(path, path[1:]):
            layout.door_between(u, v)  # raises if the step does not go through a door


@pytest.mark.parametrize("reverse", [False, True])
def test_ties_between_shortest_paths_follow_the_order_of_the_doors(reverse: bool) -> None:
    doors = [
        grid_door(3, 3, a, b, 0.1)
        for a, b in [(0, 1), (0, 3), (1, 2), (1, 4), (2, 5), (3, 4), (3, 6), (4, 5), (4, 7), (5, 8), (6, 7), (7, 8)]
    ]
    layout = RoomLayout(3, 3, doors[::-1] if reverse else doors, 0.02)  # every wall has a door: many ties
    expected = {(0, 8): [0, 1, 2, 5, 8], (2, 6): [2, 1, 0, 3, 6], (6, 2): [6, 3, 0, 1, 2], (0, 4): [0, 1, 4]}
    if reverse:
        expected = {(0, 8): [0, 3, 6, 7, 8], (2, 6): [2, 5, 8, 7, 6], (6, 2): [6, 7, 8, 5, 2], (0, 4): [0, 3, 4]}
    assert {pair: layout.shortest_room_path(*pair) for pair in expected} == expected


def test_unreachable_room_and_missing_door_raise() -> None:
    layout = RoomLayout(1, 3, [grid_door(1, 3, 0, 1, 0.1)], 0.02)
    with pytest.raises(ValueError, match="cannot be reached"):
        layout.shortest_room_path(0, 2)
    with pytest.raises(ValueError, match="room 2 cannot be reached from room 0"):
        layout.door_distances()
    with pytest.raises(ValueError, match="no door"):
        layout.door_between(1, 2)


def test_wall_rects_leave_exactly_the_door_open() -> None:
    layout = RoomLayout(1, 2, [grid_door(1, 2, 0, 1, width=0.2, position=0.3)], wall_thickness=0.02)
    rects = layout.wall_rects()
    ys = np.linspace(0.0, 1.0, 1001)
    on_middle_wall = (
        (rects[:, None, 0] <= 0.5) & (rects[:, None, 1] >= 0.5) & (rects[:, None, 2] <= ys) & (rects[:, None, 3] >= ys)
    ).any(axis=0)
    in_door = (ys > 0.2) & (ys < 0.4)
    clear = (np.abs(ys - 0.2) > 1e-9) & (np.abs(ys - 0.4) > 1e-9)  # door edges: either answer is right
    np.testing.assert_array_equal(on_middle_wall[clear], ~in_door[clear])
