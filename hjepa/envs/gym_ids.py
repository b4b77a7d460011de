"""Building gymnasium environments by id, with errors that name the fix (planning probes, `hjepa generate`)."""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium.envs.registration import load_env_creator

from hjepa.registration import OPTIONAL_GYM_IDS, missing_extra


def make_env(env_id: str, field: str, **kwargs: Any) -> gymnasium.Env:
    """`gymnasium.make(env_id, **kwargs)`; an unregistered id -> ValueError naming `field` and the fix
    (the extra to install, or the ids hjepa registers)."""
    if env_id not in gymnasium.registry:
        if env_id in OPTIONAL_GYM_IDS:
            raise ValueError(f"{field}: {missing_extra(env_id)}")
        known = sorted(k for k in gymnasium.registry if k.startswith("hjepa/"))
        extras = [k for k in OPTIONAL_GYM_IDS if k not in gymnasium.registry]
        more = f" (with optional extras: {extras})" if extras else ""
        raise ValueError(f"{field}: {env_id!r} is not a registered gymnasium id; hjepa's are {known}{more}")
    try:
        return gymnasium.make(env_id, **kwargs)
    except TypeError as error:  # an option the environment does not take, or of the wrong type
        raise ValueError(f"{field}: {env_id} refused its options {kwargs}: {error}") from error


def env_class(env_id: str) -> Any:
    """What the registered `env_id` is made by (its class, usually), to read class attributes without building one."""
    entry_point = gymnasium.registry[env_id].entry_point
    return load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point


def goal_reaching(env_id: str) -> bool:
    """Whether the registered `env_id` gives a goal (`info["goal_image"]`, `info["goal_state"]`), as planning needs."""
    return bool(getattr(env_class(env_id), "goal_reaching", False))


def make_goal_env(env_id: str, field: str, **kwargs: Any) -> gymnasium.Env:
    """`make_env` of a goal-reaching environment; any other -> ValueError naming `field` and the goal-reaching ids."""
    if env_id in gymnasium.registry and not goal_reaching(env_id):
        goal_ids = sorted(k for k in gymnasium.registry if k.startswith("hjepa/") and goal_reaching(k))
        raise ValueError(
            f"{field}: {env_id!r} is not a goal-reaching environment (it gives no goal to plan toward); "
            f"goal-reaching ones: {goal_ids}"
        )
    return make_env(env_id, field, **kwargs)
