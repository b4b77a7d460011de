"""Procedural worlds with known dynamics: batched numpy simulators and gymnasium environments.

Importing this package registers the gymnasium ids hjepa/TwoRooms-v0, hjepa/TwoRoomsRandomDoor-v0 (the door
placed anew every episode), hjepa/MovingShapes-v0, hjepa/Fork-v0, hjepa/Maze-v0 and hjepa/Crossing-v0, and
hjepa/PushT-v0 where the optional extra `envs` is installed.
"""

import gymnasium

from hjepa.envs.base import BatchedWorld, PassiveWorld
from hjepa.envs.crossing import Crossing
from hjepa.envs.fork import Fork
from hjepa.envs.gym_env import GoalReachingEnv, WorldEnv
from hjepa.envs.layout import Door, RoomLayout
from hjepa.envs.maze import Maze
from hjepa.envs.moving_shapes import MovingShapes
from hjepa.envs.pusht import PUSHT_ID, pusht_available
from hjepa.envs.registry import WORLDS, make_world
from hjepa.envs.rooms import RoomsWorld
from hjepa.envs.two_rooms import TwoRooms

# gymnasium id -> (entry point, keyword arguments: the world and its options, max_episode_steps)
GYM_IDS = {
    "hjepa/TwoRooms-v0": ("hjepa.envs.gym_env:GoalReachingEnv", {"world": "two_rooms"}, 200),
    "hjepa/TwoRoomsRandomDoor-v0": ("hjepa.envs.gym_env:GoalReachingEnv", {"world": "two_rooms", "random_door": True},
                                    200),
    "hjepa/Maze-v0": ("hjepa.envs.gym_env:GoalReachingEnv", {"world": "maze"}, 400),
    "hjepa/MovingShapes-v0": ("hjepa.envs.gym_env:WorldEnv", {"world": "moving_shapes"}, 100),
    "hjepa/Fork-v0": ("hjepa.envs.gym_env:WorldEnv", {"world": "fork"}, 50),
    "hjepa/Crossing-v0": ("hjepa.envs.gym_env:WorldEnv", {"world": "crossing"}, 16),
}
for _env_id, (_entry_point, _kwargs, _steps) in GYM_IDS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(_env_id, entry_point=_entry_point, kwargs=_kwargs, max_episode_steps=_steps)
if pusht_available() and PUSHT_ID not in gymnasium.registry:
    gymnasium.register(PUSHT_ID, entry_point="hjepa.envs.pusht:PushTEnv", max_episode_steps=300)

__all__ = [
    "WORLDS", "GYM_IDS", "BatchedWorld", "PassiveWorld", "RoomsWorld", "TwoRooms", "Maze", "MovingShapes", "Fork",
    "Crossing", "Door", "RoomLayout", "WorldEnv", "GoalReachingEnv", "make_world",
]
