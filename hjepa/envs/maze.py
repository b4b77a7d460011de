"""Maze: a grid of rooms whose doors form a random spanning tree fixed by a layout seed."""

from __future__ import annotations

import numpy as np

from hjepa.envs.layout import Door, RoomLayout, grid_door
from hjepa.envs.rooms import RoomsWorld


class Maze(RoomsWorld):
    """rows x cols rooms, doors on the edges of a random spanning tree of the room grid.

    The tree makes the route between two rooms unique and often many doors long, where flat
    planning fails and hierarchical planning should not (paper sec. 4.7). The layout is a property
    of the world (from `layout_seed`), identical for every episode.
    """

    name = "maze"

    def __init__(
        self,
        rows: int = 3,
        cols: int = 3,
        layout_seed: int = 0,
        door_width: float = 0.14,
        max_step: float = 0.05,
        agent_radius: float = 0.04,
        wall_thickness: float = 1 / 32,
        image_size: int = 64,
        fps: int = 10,
        wall_bounce: float = 1.0,
        min_speed: float = 0.5,
    ) -> None:
        self.rows, self.cols = int(rows), int(cols)
        self.layout_seed = int(layout_seed)
        self.door_width = float(door_width)
        doors = spanning_tree_doors(self.rows, self.cols, self.door_width, np.random.default_rng(self.layout_seed))
        layout = RoomLayout(self.rows, self.cols, doors, wall_thickness)
        super().__init__(layout, max_step, agent_radius, image_size, fps, wall_bounce, min_speed)


def spanning_tree_doors(rows: int, cols: int, width: float, rng: np.random.Generator) -> list[Door]:
    """Doors (centred in their walls) along a random depth-first spanning tree of the rows x cols grid.

    Depth-first trees have long corridors, hence long room paths between random rooms.
    """
    visited = {0}
    stack = [0]
    doors = []
    while stack:
        room = stack[-1]
        row, col = divmod(room, cols)
        candidates = [
            r * cols + c
            for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
            if 0 <= r < rows and 0 <= c < cols and r * cols + c not in visited
        ]
        if not candidates:
            stack.pop()
            continue
        nxt = candidates[rng.integers(len(candidates))]
        visited.add(nxt)
        stack.append(nxt)
        doors.append(grid_door(rows, cols, room, nxt, width))
    return doors
