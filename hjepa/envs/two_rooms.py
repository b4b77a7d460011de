"""TwoRooms: two side-by-side rooms joined by one door."""

from __future__ import annotations

from hjepa.envs.layout import RoomLayout, grid_door
from hjepa.envs.rooms import RoomsWorld


class TwoRooms(RoomsWorld):
    """1 x 2 rooms with one door in the middle wall: the smallest long-horizon task (paper sec. 4.7).

    Room 0 is x < 0.5, room 1 is x > 0.5; the door spans y in door_centre -/+ door_width / 2.
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
    ) -> None:
        self.door_centre = float(door_centre)
        self.door_width = float(door_width)
        layout = RoomLayout(1, 2, [grid_door(1, 2, 0, 1, self.door_width, self.door_centre)], wall_thickness)
        super().__init__(layout, max_step, agent_radius, image_size, fps)
