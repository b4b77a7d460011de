"""What probes read out besides the state: the world behind a shard folder and per-frame class labels."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from hjepa.data.generate import is_env_id, recorded_settings
from hjepa.envs import BatchedWorld, RoomsWorld, make_world


def shard_world(data: str | Path) -> BatchedWorld | None:
    """The procedural world that generated a shard folder (from its generate.json); None for other data, e.g.
    recordings of a gymnasium environment."""
    config = recorded_settings(data)
    if config is None or is_env_id(config["world"]):
        return None
    return make_world(config["world"], image_size=config["image_size"], **config["world_kwargs"])


def state_names(world: BatchedWorld | None, num_dims: int) -> list[str]:
    """Names of the state columns: the world's, else dim0, dim1, ..."""
    return list(world.state_names) if world is not None else [f"dim{i}" for i in range(num_dims)]


def class_targets(world: BatchedWorld | None, states: Tensor, labels: dict[str, Tensor]) -> dict[str, Tensor]:
    """Per-frame classes (N, T) int: `room` from the positions (paper sec. 4.7: rooms are level-2 states)
    in rooms worlds, and every integer per-episode label with one value per episode (e.g. a fork's branch)."""
    n, t = states.shape[:2]
    classes = {
        name: value[:, None].expand(n, t)
        for name, value in labels.items()
        if value.dim() == 1 and not value.is_floating_point()
    }
    if isinstance(world, RoomsWorld):
        xy = states[..., [world.state_names.index("x"), world.state_names.index("y")]].numpy()
        classes["room"] = torch.from_numpy(world.room_of(xy))
    return classes
