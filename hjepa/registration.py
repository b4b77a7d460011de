"""The gymnasium ids of hjepa, registered as soon as hjepa and gymnasium are both imported, in either order.

`import hjepa` does not import gymnasium (nor numpy): it registers the ids at once when gymnasium is
already loaded, else when gymnasium's own import finishes. Entry points are strings, so no world is
imported before an environment is made. Gymnasium 1.x no longer loads plugin entry points.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import NamedTuple

# gymnasium id -> (entry point, keyword arguments: the world and its options, max_episode_steps)
GYM_IDS = {
    "hjepa/TwoRooms-v0": ("hjepa.envs.gym_env:GoalReachingEnv", {"world": "two_rooms"}, 200),
    "hjepa/TwoRoomsRandomDoor-v0": (
        "hjepa.envs.gym_env:GoalReachingEnv",
        {"world": "two_rooms", "random_door": True},
        200,
    ),
    "hjepa/Maze-v0": ("hjepa.envs.gym_env:GoalReachingEnv", {"world": "maze"}, 400),
    "hjepa/MovingShapes-v0": ("hjepa.envs.gym_env:WorldEnv", {"world": "moving_shapes"}, 100),
    "hjepa/Fork-v0": ("hjepa.envs.gym_env:WorldEnv", {"world": "fork"}, 50),
    "hjepa/Crossing-v0": ("hjepa.envs.gym_env:WorldEnv", {"world": "crossing"}, 16),
}
PUSHT_ID = "hjepa/PushT-v0"
SWM_TWOROOM_ID = "hjepa/SwmTwoRoom-v1"
SWM_PUSHT_ID = "hjepa/SwmPushT-v1"


class OptionalId(NamedTuple):
    """A gymnasium id registered only where an optional extra of hjepa is installed."""

    module: str  # what the extra installs, imported when the environment is built
    extra: str
    entry_point: str
    max_episode_steps: int


OPTIONAL_GYM_IDS = {
    PUSHT_ID: OptionalId("gym_pusht", "envs", "hjepa.envs.pusht:PushTEnv", 300),
    SWM_TWOROOM_ID: OptionalId("stable_worldmodel", "swm", "hjepa.envs.swm:TwoRoomEnv", 100),
    SWM_PUSHT_ID: OptionalId("stable_worldmodel", "swm", "hjepa.envs.swm:SwmPushTEnv", 100),
}


def extra_installed(env_id: str) -> bool:
    """Whether the module that the optional id `env_id` needs is installed (checked without importing it: pygame,
    pymunk and stable-worldmodel load slowly)."""
    return importlib.util.find_spec(OPTIONAL_GYM_IDS[env_id].module) is not None


def missing_extra(env_id: str) -> str:
    """What to install for the optional id `env_id`."""
    need = OPTIONAL_GYM_IDS[env_id]
    return f"{env_id} needs the optional extra {need.extra} ({need.module}): pip install 'hjepa[{need.extra}]'"


def register_envs() -> None:
    """Register every id not registered yet (the optional ones only where their extra is installed)."""
    import gymnasium

    for env_id, (entry_point, kwargs, steps) in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=steps)
    for env_id, need in OPTIONAL_GYM_IDS.items():
        if env_id not in gymnasium.registry and extra_installed(env_id):
            gymnasium.register(env_id, entry_point=need.entry_point, max_episode_steps=need.max_episode_steps)


class _RegisterAfterGymnasium:
    """A meta path finder (not subclassing importlib.abc's, whose import costs more than the rest of
    hjepa's): finds gymnasium as the other finders would, and registers hjepa's ids once its module ran."""

    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # one use; and find_spec below must not come back here
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def run_then_register(module: ModuleType) -> None:
                run(module)
                register_envs()

            spec.loader.exec_module = run_then_register
        return spec


def register_when_gymnasium_loads() -> None:
    """Register the ids now if gymnasium is imported, else as soon as it is."""
    if "gymnasium" in sys.modules:
        register_envs()
    elif not any(isinstance(finder, _RegisterAfterGymnasium) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterGymnasium())
