"""Exploration policy of the rooms worlds: covers every room and crosses doors regularly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hjepa.envs.rooms import RoomsWorld

_WALK, _APPROACH, _CROSS = 0, 1, 2
_ARRIVED = 1e-6  # distance at which a waypoint counts as reached


class RoomExplorer:
    """Momentum random walk that now and then walks to a door of its room and through it.

    A pure random walk rarely finds a narrow door, so the data would hardly ever show a room change;
    the scripted crossings give the world model those transitions (paper sec. 4.10: data from
    exploration). Keeps per-episode state in arrays of length N; randomness only from the rng passed in.
    A wall that stops the agent turns it back with probability `wall_bounce`; otherwise it keeps its heading,
    pushing against the wall and sliding along it, which puts more wall contacts in the data. Each step's speed
    is uniform in [`min_speed`, 1] x max_step: at 0 the data also shows near-standing moves, so the world model
    learns that a small action barely moves the agent, which is what holding a goal asks of it.
    """

    def __init__(
        self,
        world: RoomsWorld,
        door_rate: float = 0.05,
        turn_std: float = 0.3,
        wall_bounce: float = 1.0,
        min_speed: float = 0.5,
    ) -> None:
        if not 0 <= wall_bounce <= 1:
            raise ValueError(f"wall_bounce: expected a probability in [0, 1], got {wall_bounce}")
        if not 0 <= min_speed <= 1:
            raise ValueError(f"min_speed: expected a share of max_step in [0, 1], got {min_speed}")
        self.world = world
        self.door_rate = door_rate
        self.turn_std = turn_std
        self.wall_bounce = wall_bounce
        self.min_speed = min_speed
        doors = world.doors
        # points before and after each door, seen from either of its rooms: (D, 2 sides, 2 points, 2)
        points = np.array([[world.crossing_points(d, room) for room in d.rooms] for d in doors]).reshape(-1, 2, 2, 2)
        self._before, self._after = points[:, :, 0], points[:, :, 1]
        self._door_rooms = np.array([d.rooms for d in doors], dtype=np.int64).reshape(-1, 2)
        per_room = [[i for i, d in enumerate(doors) if room in d.rooms] for room in range(world.layout.n_rooms)]
        self._degree = np.array([len(p) for p in per_room])
        width = max(1, self._degree.max())
        self._doors_of = np.array([p + [0] * (width - len(p)) for p in per_room], dtype=np.int64)
        self._patience = int(np.ceil(3.0 / world.max_step))  # steps before giving up on a door
        self.reset(0, np.random.default_rng(0))

    def reset(self, n: int, rng: np.random.Generator) -> None:
        """Forget all episodes and start n new ones walking in random directions."""
        self._mode = np.full(n, _WALK)
        self._heading = rng.uniform(-np.pi, np.pi, size=n)
        self._door = np.zeros(n, dtype=np.int64)
        self._side = np.zeros(n, dtype=np.int64)
        self._timer = np.zeros(n, dtype=np.int64)
        self._last_pos = np.full((n, 2), np.nan)
        self._last_action = np.zeros((n, 2))

    def act(self, pos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Actions (N, 2) float32 for agents at pos (N, 2)."""
        n = len(pos)
        turn, bounce, speed = rng.normal(size=n), rng.uniform(-1, 1, size=n), rng.uniform(self.min_speed, 1.0, size=n)
        start_door, pick = rng.random(n), rng.random(n)
        # drawn only when needed, so the default explorer's random stream (and its recorded data) stays the same
        turn_back = rng.random(n) if self.wall_bounce < 1 else np.zeros(n)
        moved = np.linalg.norm(pos - self._last_pos, axis=1)
        blocked = moved < 0.5 * np.linalg.norm(self._last_action, axis=1)  # NaN on the first step: False
        back = blocked & (turn_back < self.wall_bounce)
        self._heading += self.turn_std * turn + np.where(back, np.pi + bounce, 0.0)

        room = self.world.room_of(pos)
        go = (self._mode == _WALK) & (start_door < self.door_rate) & (self._degree[room] > 0)
        door = self._doors_of[room, np.minimum((pick * self._degree[room]).astype(np.int64), self._degree[room] - 1)]
        self._door = np.where(go, door, self._door)
        self._side = np.where(go, (self._door_rooms[door, 1] == room).astype(np.int64), self._side)
        self._mode = np.where(go, _APPROACH, self._mode)
        self._timer = np.where(self._mode == _WALK, 0, self._timer + 1)

        arrived = np.linalg.norm(self._target() - pos, axis=1) < _ARRIVED
        done = (arrived & (self._mode == _CROSS)) | (self._timer > self._patience)
        self._mode = np.where(arrived & (self._mode == _APPROACH), _CROSS, self._mode)
        through = self._after[self._door, self._side] - self._before[self._door, self._side]
        self._heading = np.where(done, np.arctan2(through[:, 1], through[:, 0]), self._heading)
        self._mode = np.where(done, _WALK, self._mode)
        target = self._target()

        step = speed * self.world.max_step
        walk = step[:, None] * np.stack([np.cos(self._heading), np.sin(self._heading)], axis=1)
        to_target = target - pos
        dist = np.linalg.norm(to_target, axis=1, keepdims=True)
        steer = to_target * np.minimum(1.0, step[:, None] / np.maximum(dist, 1e-12))
        action = np.where((self._mode == _WALK)[:, None], walk, steer)
        self._last_pos, self._last_action = pos.copy(), action
        return action.astype(np.float32)

    def _target(self) -> np.ndarray:
        """Current waypoint (N, 2): before the chosen door while approaching, after it otherwise."""
        approaching = (self._mode == _APPROACH)[:, None]
        return np.where(approaching, self._before[self._door, self._side], self._after[self._door, self._side])
