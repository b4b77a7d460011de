"""A point agent in a grid of rooms joined by doors: the shared core of TwoRooms and Maze."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hjepa.envs.base import BatchedWorld
from hjepa.envs.canvas import blank, disc_sdf, paint, pixel_centres
from hjepa.envs.collision import inside_any, move
from hjepa.envs.explorer import RoomExplorer
from hjepa.envs.layout import Door, RoomLayout

FLOOR = np.array([24, 24, 32], dtype=np.uint8)
WALL = np.array([150, 150, 170], dtype=np.uint8)
AGENT = np.array([255, 64, 48], dtype=np.uint8)


class RoomsWorld(BatchedWorld):
    """Disc agent moving by clipped 2-D displacements through rooms that only doors connect.

    Goals several doors away make flat planning hard and hierarchical planning pay (paper sec. 4.7).
    State (x, y) is the agent centre; the agent never crosses a wall line outside a door opening
    and keeps `agent_radius` of clearance from every wall (collision in configuration space).
    `wall_bounce` is the exploration policy's probability of turning back at a wall and `min_speed` its slowest
    step as a share of `max_step` (see `RoomExplorer`).
    """

    action_dim: ClassVar[int] = 2

    def __init__(
        self,
        layout: RoomLayout,
        max_step: float,
        agent_radius: float,
        image_size: int,
        fps: int,
        wall_bounce: float = 1.0,
        min_speed: float = 0.5,
    ) -> None:
        super().__init__(("x", "y"), image_size, fps)
        if max_step <= 0 or agent_radius <= 0:
            raise ValueError(f"max_step and agent_radius must be positive, got {max_step}, {agent_radius}")
        self.max_step = float(max_step)
        self.max_action = self.max_step
        self.agent_radius = float(agent_radius)
        self.wall_bounce = float(wall_bounce)
        self.min_speed = float(min_speed)
        self._pos = np.zeros((0, 2))  # float64 physics state; `state` is its float32 copy
        self._set_layout(layout)

    def _set_layout(self, layout: RoomLayout) -> None:
        """Make `layout` the world's walls and doors, and rebuild all that depends on them: collision boxes,
        background frame and the explorer's door points (at construction, and where a reset moves a door)."""
        narrow = [door for door in layout.doors if door.width <= 2 * self.agent_radius]
        if narrow:
            raise ValueError(f"doors narrower than the agent (diameter {2 * self.agent_radius}): {narrow}")
        self.layout = layout
        self.doors: list[Door] = layout.doors
        self.wall_thickness = layout.wall_thickness
        self.clearance = self.agent_radius + self.wall_thickness / 2  # agent centre to wall line
        rects = layout.wall_rects()
        self._boxes = rects + self.agent_radius * np.array([-1.0, 1.0, -1.0, 1.0])
        self.background = self._draw_background(rects)
        self._explorer = RoomExplorer(self, wall_bounce=self.wall_bounce, min_speed=self.min_speed)

    def room_of(self, xy: np.ndarray) -> np.ndarray:
        """Room index (...) int of positions xy (..., 2)."""
        return self.layout.room_of(xy)

    def shortest_room_path(self, room_a: int, room_b: int) -> list[int]:
        """Rooms from room_a to room_b inclusive through fewest doors."""
        return self.layout.shortest_room_path(room_a, room_b)

    def reset(self, n: int, rng: np.random.Generator, start: np.ndarray | None = None) -> np.ndarray:
        """Start n episodes at uniform free positions, or at `start` (N, 2); returns states (N, 2)."""
        if start is None:
            self._pos = self.sample_positions(rng, n)
        else:
            start = np.asarray(start, dtype=np.float64).reshape(n, 2)
            free = self.is_free(start)
            if not free.all():
                raise ValueError(f"start positions inside a wall or too close to one: {start[~free]}")
            self._pos = start.copy()
        self.state = self._pos.astype(np.float32)
        self._explorer.reset(n, rng)
        return self.state.copy()

    def _advance(self, actions: np.ndarray) -> None:
        self._pos = move(self._pos, actions.astype(np.float64), self._boxes)
        self.state = self._pos.astype(np.float32)

    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Frames (M, H, W, 3) uint8 with the agent drawn at states (M, 2)."""
        states = np.asarray(states, dtype=np.float64)
        frames = blank(len(states), self.background)
        radius = self.agent_radius * self.image_size
        paint(frames, states, disc_sdf(radius), radius, AGENT)
        return frames

    def exploration_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Momentum random walk with scripted door crossings, see `RoomExplorer`; (N, 2) float32."""
        return self._explorer.act(self._pos, rng)

    def is_free(self, xy: np.ndarray) -> np.ndarray:
        """Whether the agent may stand at positions xy (M, 2); (M,) bool."""
        return ~inside_any(np.asarray(xy, dtype=np.float64).reshape(-1, 2), self._boxes)

    def sample_positions(self, rng: np.random.Generator, n: int, rooms: np.ndarray | None = None) -> np.ndarray:
        """Uniform free positions (N, 2) float64 inside `rooms` (N,) int, or inside uniformly drawn rooms."""
        if rooms is None:
            rooms = rng.integers(0, self.layout.n_rooms, size=n)
        x0, x1, y0, y1 = self.layout.room_bounds(rooms).T
        c = self.clearance
        u = rng.random((n, 2))
        return np.stack([x0 + c + u[:, 0] * (x1 - x0 - 2 * c), y0 + c + u[:, 1] * (y1 - y0 - 2 * c)], axis=1)

    def sample_start_goal(
        self,
        rng: np.random.Generator,
        different_rooms: bool = True,
        n: int = 1,
        start: np.ndarray | None = None,
        min_doors: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random (start, goal) pairs, each (N, 2); with `different_rooms` the goal lies in another room, with
        `min_doors` in a room at least that many doors away (long-horizon goals, sec. 4.7).

        A given `start` (N, 2) is kept and only goals are drawn; drawn starts lie in rooms that have a room
        `min_doors` away.
        """
        doors = self.door_distances()
        rooms = self.layout.n_rooms
        needed = max(min_doors, 1 if different_rooms else 0)
        if needed > doors.max():
            raise ValueError(
                f"min_doors={min_doors}: no two rooms of this layout are that many doors apart "
                f"(at most {int(doors.max())})"
            )
        if start is None:
            start = self.sample_positions(rng, n, rng.choice(np.flatnonzero(doors.max(1) >= needed), size=n))
        start = np.asarray(start, dtype=np.float64).reshape(n, 2)
        # the k-th allowed room counting cyclically from the start's room, k uniform
        order = (self.room_of(start)[:, None] + np.arange(rooms)) % rooms  # (N, rooms)
        allowed = np.take_along_axis(doors[self.room_of(start)], order, axis=1) >= needed
        if not allowed.any(1).all():
            raise ValueError(
                f"no room is {needed} doors away from start room(s) {self.room_of(start)[~allowed.any(1)]}"
            )
        k = rng.integers(0, allowed.sum(1))
        goal_rooms = order[np.arange(n), (allowed.cumsum(1) > k[:, None]).argmax(1)]
        return start, self.sample_positions(rng, n, goal_rooms)

    def door_distances(self) -> np.ndarray:
        """Doors on the shortest route between every two rooms: (rooms, rooms) int."""
        return self.layout.door_distances()

    def crossing_points(self, door: Door, from_room: int) -> tuple[np.ndarray, np.ndarray]:
        """Points (2,) just before and just after `door` seen from `from_room`, on the door's axis.

        The straight segment between them passes the middle of the opening; each lies where the
        agent has clearance inside its room, so a room's points reach it on a straight line.
        """
        if from_room not in door.rooms:
            raise ValueError(f"door {door} does not open from room {from_room}")
        sign = 1.0 if from_room == door.rooms[0] else -1.0
        depth = self.clearance + 0.25 * self.max_step
        centre = np.asarray(door.centre)
        return centre - sign * depth * door.normal, centre + sign * depth * door.normal

    def waypoints(self, start: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Oracle route (K, 2) from start (2,) to goal (2,): crossing points of each door on the
        shortest room path, then the goal. For start and goal inside rooms (not in a doorway), as
        `sample_positions` draws them, consecutive waypoints are joined by free straight lines."""
        rooms = self.shortest_room_path(int(self.room_of(start)), int(self.room_of(goal)))
        points = [p for a, b in zip(rooms, rooms[1:]) for p in self.crossing_points(self.layout.door_between(a, b), a)]
        return np.array(points + [np.asarray(goal, dtype=np.float64)])

    def _draw_background(self, rects: np.ndarray) -> np.ndarray:
        """Static frame (H, W, 3) uint8: floor, and every pixel whose centre lies in a wall."""
        centres = pixel_centres(self.image_size)
        xs, ys = centres[None, None, :], centres[None, :, None]
        in_wall = (
            (xs >= rects[:, 0, None, None])
            & (xs <= rects[:, 1, None, None])
            & (ys >= rects[:, 2, None, None])
            & (ys <= rects[:, 3, None, None])
        ).any(axis=0)
        return np.where(in_wall[:, :, None], WALL, FLOOR).astype(np.uint8)
