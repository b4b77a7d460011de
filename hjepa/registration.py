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
PUSHT_ID = "hjepa/PushT-v0"


def pusht_available() -> bool:
    """Whether `gym_pusht` is installed (checked without importing it: pygame and pymunk load slowly)."""
    return importlib.util.find_spec("gym_pusht") is not None


def register_envs() -> None:
    """Register every id not registered yet (hjepa/PushT-v0 only where the extra `envs` is installed)."""
    import gymnasium

    for env_id, (entry_point, kwargs, steps) in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=steps)
    if pusht_available() and PUSHT_ID not in gymnasium.registry:
        gymnasium.register(PUSHT_ID, entry_point="hjepa.envs.pusht:PushTEnv", max_episode_steps=300)


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
