"""Procedural worlds with known dynamics: batched numpy simulators and gymnasium environments.

The gymnasium ids hjepa/TwoRooms-v0, hjepa/TwoRoomsRandomDoor-v0 (the door placed anew every episode),
hjepa/MovingShapes-v0, hjepa/Fork-v0, hjepa/Maze-v0 and hjepa/Crossing-v0, hjepa/PushT-v0 where the optional
extra `envs` is installed and hjepa/SwmTwoRoom-v1 and hjepa/SwmPushT-v1 where `swm` is, are registered by `import hjepa`
(`hjepa.registration`), and again by importing this package.
"""

from hjepa.envs.base import BatchedWorld, PassiveWorld
from hjepa.envs.crossing import Crossing
from hjepa.envs.fork import Fork
from hjepa.envs.gym_env import GoalReachingEnv, WorldEnv
from hjepa.envs.layout import Door, RoomLayout
from hjepa.envs.maze import Maze
from hjepa.envs.moving_shapes import MovingShapes
from hjepa.envs.registry import WORLDS, make_world
from hjepa.envs.rooms import RoomsWorld
from hjepa.envs.two_rooms import TwoRooms
from hjepa.registration import GYM_IDS, register_envs

register_envs()  # also when this module is reloaded

__all__ = [
    "WORLDS",
    "GYM_IDS",
    "BatchedWorld",
    "PassiveWorld",
    "RoomsWorld",
    "TwoRooms",
    "Maze",
    "MovingShapes",
    "Fork",
    "Crossing",
    "Door",
    "RoomLayout",
    "WorldEnv",
    "GoalReachingEnv",
    "make_world",
]
