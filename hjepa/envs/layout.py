"""Geometry and door graph of a grid of rooms: where walls and doors are, which room a point is in.

Rooms are the natural level-2 states of the rooms worlds: a hierarchical planner picks the next
door as a subgoal (paper sec. 4.7); `shortest_room_path` gives the oracle sequence of rooms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, shortest_path


@dataclass(frozen=True)
class Door:
    """An opening of `width` in the wall between adjacent rooms `rooms` = (a, b), a < b.

    `centre` (x, y) lies on the wall line; `vertical` is True for a wall x = const (rooms side by
    side), False for a wall y = const. The unit normal (1, 0) or (0, 1) points from room a to room b.
    """

    rooms: tuple[int, int]
    centre: tuple[float, float]
    width: float
    vertical: bool

    @property
    def normal(self) -> np.ndarray:
        """Unit vector (2,) crossing the wall from rooms[0] into rooms[1]."""
        return np.array([1.0, 0.0] if self.vertical else [0.0, 1.0])

    @property
    def span(self) -> tuple[float, float]:
        """Interval of the opening along the wall (y range if vertical, else x range)."""
        along = self.centre[1] if self.vertical else self.centre[0]
        return along - self.width / 2, along + self.width / 2


def grid_door(rows: int, cols: int, a: int, b: int, width: float, position: float = 0.5) -> Door:
    """Door of `width` in the wall shared by adjacent rooms a and b (index = row * cols + col).

    `position` in [0, 1] places its centre along that wall segment (0.5: the middle).
    """
    a, b = min(a, b), max(a, b)
    (ra, ca), (rb, cb) = divmod(a, cols), divmod(b, cols)
    if not (0 <= a and b < rows * cols and abs(ra - rb) + abs(ca - cb) == 1):
        raise ValueError(f"rooms {a} and {b} are not adjacent in a {rows}x{cols} grid")
    if ra == rb:  # side by side: vertical wall at x = cb / cols
        return Door((a, b), (cb / cols, (ra + position) / rows), width, vertical=True)
    return Door((a, b), ((ca + position) / cols, rb / rows), width, vertical=False)


class RoomLayout:
    """rows x cols rooms tiling the unit square, walls of `wall_thickness` on every grid line, and doors.

    Room (row, col) spans x in [col / cols, (col + 1) / cols], y in [row / rows, (row + 1) / rows];
    its index is row * cols + col. Walls are centred on the grid lines, outer walls included.
    """

    def __init__(self, rows: int, cols: int, doors: Sequence[Door], wall_thickness: float) -> None:
        if rows < 1 or cols < 1:
            raise ValueError(f"rows, cols: expected at least one room each way, got rows={rows}, cols={cols}")
        self.rows, self.cols = rows, cols
        self.doors = list(doors)
        self.wall_thickness = wall_thickness
        self.n_rooms = rows * cols
        self._neighbours: list[list[int]] = [[] for _ in range(self.n_rooms)]
        self._door_of: dict[tuple[int, int], Door] = {}
        for door in self.doors:
            a, b = door.rooms
            if door.rooms in self._door_of:
                raise ValueError(f"two doors between rooms {a} and {b}")
            lo, hi = door.span
            wall_lo, wall_hi = self._wall_span(door)
            half = wall_thickness / 2  # the crossing walls at both ends take half a thickness each
            if not wall_lo + half <= lo < hi <= wall_hi - half:
                raise ValueError(f"door {door} does not fit in its wall [{wall_lo}, {wall_hi}]")
            self._door_of[door.rooms] = door
            self._neighbours[a].append(b)
            self._neighbours[b].append(a)
        # door graph with each room's neighbours in door order, which breaks ties between shortest paths
        targets = [b for near in self._neighbours for b in near]
        indptr = np.cumsum([0, *map(len, self._neighbours)])
        self._graph = csr_array(
            (np.ones(len(targets)), np.array(targets, dtype=np.int32), indptr), shape=(self.n_rooms, self.n_rooms)
        )

    def room_of(self, xy: np.ndarray) -> np.ndarray:
        """Room index (...) int of points xy (..., 2)."""
        xy = np.asarray(xy)
        col = np.clip(np.floor(xy[..., 0] * self.cols), 0, self.cols - 1).astype(np.int64)
        row = np.clip(np.floor(xy[..., 1] * self.rows), 0, self.rows - 1).astype(np.int64)
        return row * self.cols + col

    def room_bounds(self, room: int | np.ndarray) -> np.ndarray:
        """Bounds [x0, x1, y0, y1] of rooms: (4,) for one room, (M, 4) for M rooms."""
        row, col = np.divmod(np.asarray(room), self.cols)
        return np.stack([col / self.cols, (col + 1) / self.cols, row / self.rows, (row + 1) / self.rows], axis=-1)

    def neighbours(self, room: int) -> list[int]:
        """Rooms reachable from `room` through one door."""
        return list(self._neighbours[room])

    def door_between(self, a: int, b: int) -> Door:
        """The door joining rooms a and b; ValueError if there is none."""
        key = (min(a, b), max(a, b))
        if key not in self._door_of:
            raise ValueError(f"no door between rooms {a} and {b}")
        return self._door_of[key]

    def shortest_room_path(self, room_a: int, room_b: int) -> list[int]:
        """Rooms from room_a to room_b inclusive along fewest doors (BFS over the door graph)."""
        _, previous = breadth_first_order(self._graph, room_a, directed=True, return_predecessors=True)
        if room_b != room_a and previous[room_b] < 0:
            raise ValueError(f"room {room_b} cannot be reached from room {room_a}")
        path = [room_b]
        while path[-1] != room_a:
            path.append(int(previous[path[-1]]))
        return path[::-1]

    def door_distances(self) -> np.ndarray:
        """Doors on the shortest route between every two rooms: (R, R) int; ValueError if a room cannot be reached."""
        hops = shortest_path(self._graph, unweighted=True)
        if np.isinf(hops).any():
            room_a, room_b = np.argwhere(np.isinf(hops))[0]
            raise ValueError(f"room {room_b} cannot be reached from room {room_a}")
        return hops.astype(np.int64)

    def wall_rects(self) -> np.ndarray:
        """Solid wall rectangles (K, 4) as [x0, x1, y0, y1], outer walls included, door openings cut out."""
        half = self.wall_thickness / 2
        rects = [
            [-half, half, -half, 1 + half],
            [1 - half, 1 + half, -half, 1 + half],
            [-half, 1 + half, -half, half],
            [-half, 1 + half, 1 - half, 1 + half],
        ]
        for room in range(self.n_rooms):
            row, col = divmod(room, self.cols)
            if col + 1 < self.cols:  # wall on the right of this room
                x = (col + 1) / self.cols
                rects += [
                    [x - half, x + half, s, e]
                    for s, e in self._solid_spans(room, room + 1, row / self.rows, (row + 1) / self.rows)
                ]
            if row + 1 < self.rows:  # wall below this room
                y = (row + 1) / self.rows
                rects += [
                    [s, e, y - half, y + half]
                    for s, e in self._solid_spans(room, room + self.cols, col / self.cols, (col + 1) / self.cols)
                ]
        return np.asarray(rects, dtype=np.float64)

    def _solid_spans(self, a: int, b: int, start: float, end: float) -> list[tuple[float, float]]:
        """Solid parts of the wall segment [start, end] between rooms a and b, around any door.

        Ends at grid corners reach half a wall thickness further so that walls meet without gaps;
        door edges stay exact, so the visible opening is the door's width.
        """
        half = self.wall_thickness / 2
        door = self._door_of.get((a, b))
        if door is None:
            return [(start - half, end + half)]
        lo, hi = door.span
        return [(s, e) for s, e in ((start - half, lo), (hi, end + half)) if e > s]

    def _wall_span(self, door: Door) -> tuple[float, float]:
        """Extent along the wall of the wall segment that holds `door`."""
        a, _ = door.rooms
        x0, x1, y0, y1 = self.room_bounds(a)
        return (y0, y1) if door.vertical else (x0, x1)
