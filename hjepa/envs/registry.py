"""Names of the procedural worlds and construction by name (used by data generation and configs)."""

from __future__ import annotations

import inspect
from typing import Any

from hjepa.envs.base import BatchedWorld
from hjepa.envs.crossing import Crossing
from hjepa.envs.fork import Fork
from hjepa.envs.maze import Maze
from hjepa.envs.moving_shapes import MovingShapes
from hjepa.envs.two_rooms import TwoRooms

WORLDS: dict[str, type[BatchedWorld]] = {cls.name: cls for cls in (TwoRooms, MovingShapes, Fork, Maze, Crossing)}


def make_world(name: str, **kwargs: Any) -> BatchedWorld:
    """Build the world registered as `name` with constructor arguments `kwargs` (e.g. a stored `config()`)."""
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; known worlds: {', '.join(sorted(WORLDS))}")
    cls = WORLDS[name]
    accepted = list(inspect.signature(cls).parameters)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)} for world {name!r}; accepted: {', '.join(accepted)}"
        )
    return cls(**kwargs)
