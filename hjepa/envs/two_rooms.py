"""TwoRooms: two side-by-side rooms joined by one door, fixed or placed at random per reset."""

from __future__ import annotations

import numpy as np

from hjepa.envs.layout import RoomLayout, grid_door
from hjepa.envs.rooms import RoomsWorld


class TwoRooms(RoomsWorld):
    """1 x 2 rooms with one door in the middle wall: the smallest long-horizon task (paper sec. 4.7).

    Room 0 is x < 0.5, room 1 is x > 0.5; the door spans y in door_centre -/+ door_width / 2. With
    `random_door`, every reset draws the door centre uniformly in `door_range`, shared by the episodes of
    that reset (door_centre is then only the door before the first reset): a world model must read the
    door from the image instead of memorising one map.
    """

    name = "two_rooms"

    def __init__(
        self,
        door_centre: float = 0.5,
        door_width: float = 0.2,
        max_step: float = 0.05,
        agent_radius: float = 0.045,
        wall_thickness: float = 1 / 32,
        image_size: int = 64,
        fps: int = 10,
        random_door: bool = False,
        door_range: tuple[float, float] = (0.2, 0.8),
        wall_bounce: float = 1.0,
        min_speed: float = 0.5,
    ) -> None:
        self.door_centre = float(door_centre)
        self.door_width = float(door_width)
        self.wall_thickness = float(wall_thickness)
        self.random_door = bool(random_door)
        self.door_range = (float(door_range[0]), float(door_range[1]))
        self.layout_per_reset = self.random_door
        if self.random_door:
            self._check_door_range()
        super().__init__(
            self._layout(self.door_centre), max_step, agent_radius, image_size, fps, wall_bounce, min_speed
        )

    def reset(self, n: int, rng: np.random.Generator, start: np.ndarray | None = None) -> np.ndarray:
        """Start n episodes (see `RoomsWorld.reset`); with `random_door`, first move the door to a centre drawn
        uniformly in `door_range`, the same for all n."""
        if self.random_door:
            self._set_layout(self._layout(rng.uniform(*self.door_range)))
        return super().reset(n, rng, start)

    def labels(self) -> dict[str, np.ndarray]:
        """With `random_door`, the current door's centre y per episode (N,) float32 for probes; else empty."""
        if not self.random_door:
            return {}
        return {"door_centre": np.full(self.n, self.doors[0].centre[1], dtype=np.float32)}

    def _layout(self, door_centre: float) -> RoomLayout:
        """The two rooms with the door centred at y = door_centre."""
        return RoomLayout(1, 2, [grid_door(1, 2, 0, 1, self.door_width, door_centre)], self.wall_thickness)

    def _check_door_range(self) -> None:
        """Refuse a door_range that is not an interval in (0, 1) or puts the door into the outer walls."""
        low, high = self.door_range
        if not 0 < low < high < 1:
            raise ValueError(f"door_range: expected 0 < low < high < 1, got {list(self.door_range)}")
        margin = self.door_width / 2 + self.wall_thickness / 2  # the door's half width and the outer wall's
        if low < margin or high > 1 - margin:
            raise ValueError(
                f"door_range: a door of width {self.door_width} stays clear of the outer walls only "
                f"for centres in [{margin:.4f}, {1 - margin:.4f}], got {list(self.door_range)}"
            )
