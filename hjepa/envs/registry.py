"""Names of the procedural worlds and construction by name (used by data generation and configs)."""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any

from hjepa.envs.base import BatchedWorld
from hjepa.envs.crossing import Crossing
from hjepa.envs.fork import Fork
from hjepa.envs.maze import Maze
from hjepa.envs.moving_shapes import MovingShapes
from hjepa.envs.two_rooms import TwoRooms

WORLDS: dict[str, type[BatchedWorld]] = {cls.name: cls for cls in (TwoRooms, MovingShapes, Fork, Maze, Crossing)}


def make_world(name: str, **kwargs: Any) -> BatchedWorld:
    """Build the world registered as `name` with constructor arguments `kwargs` (e.g. a stored `config()`).

    Options come from users (`--world_kwargs`, YAML), so each is checked against the type of its default
    and a wrong one is refused by name.
    """
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; known worlds: {', '.join(sorted(WORLDS))}")
    cls = WORLDS[name]
    parameters = inspect.signature(cls).parameters
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)} for world {name!r}; accepted: {', '.join(parameters)}"
        )
    for key, value in kwargs.items():
        expected = _expected(value, parameters[key].default)
        if expected is not None:
            raise ValueError(f"world {name!r} option {key}: expected {expected}, got {value!r}")
    return cls(**kwargs)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _expected(value: Any, default: Any) -> str | None:
    """What an option with this default takes, when `value` is not of that kind (None when it is)."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int):
        return None if isinstance(value, numbers.Integral) and not isinstance(value, bool) else "an integer"
    if isinstance(default, float):
        return None if _is_number(value) else "a finite number"
    if isinstance(default, (tuple, list)):
        whole = isinstance(value, (tuple, list)) and len(value) == len(default) and all(map(_is_number, value))
        return None if whole else f"a list of {len(default)} numbers"
    return None
