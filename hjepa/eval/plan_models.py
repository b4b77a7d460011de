"""The models a planning probe's agents share beyond level 1: level 2 where a variant plans on two levels (seed
paper sec. 4.7), and the recorded episodes where a variant's aids read them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from hjepa.agent.configurator import experience_fields, needs_experience
from hjepa.agent.experience import Experience, record_experience
from hjepa.agent.task import TaskSpec
from hjepa.export import load_world_model, model_levels
from hjepa.models import WorldModel
from hjepa.models.level2 import Level2WorldModel


class AgentModels(NamedTuple):
    """What every agent of a probe plans with: the world model, level 2 (None when no variant plans on two levels)
    and the remembered episodes (None when no variant reads them)."""

    world_model: WorldModel
    level2: Level2WorldModel | None
    experience: Experience | None


def load_level2(model_path: str | Path, field: str) -> Level2WorldModel:
    """Level 2 of the exported model, or an error naming `field` and how to get one."""
    levels = model_levels(model_path)
    if 2 not in levels:
        raise ValueError(
            f"{field}: hierarchical planning (levels [2, 1]) needs level 2, but {model_path} has levels "
            f"{levels}; train it (hjepa fit --config configs/level2_tiny_cpu.yaml "
            f"--model.level1_checkpoint {model_path}), export both levels, or plan with levels: [1]"
        )
    model = load_world_model(model_path, level=2)
    assert isinstance(model, Level2WorldModel)
    return model


def remembered_experience(task: TaskSpec, world_model: WorldModel, data: str | Path | None) -> Experience | None:
    """The recorded episodes a task reads (see `experience_fields`), encoded once; None if it reads none."""
    if not needs_experience(task):
        return None
    if data is None:
        raise ValueError(
            f"task {task.name!r}: {', '.join(experience_fields(task))} read(s) recorded episodes: give "
            "the shards to remember with --data, or plan like-for-like without them "
            "(configs/tasks/reach.yaml)"
        )
    return record_experience(world_model, data, task.subgoals.get("episodes", 256))


def agent_models(
    world_model: WorldModel,
    variants: Mapping[str, TaskSpec],
    model_path: str | Path | None,
    data: str | Path | None,
    level2: Level2WorldModel | None = None,
    experience: Experience | None = None,
) -> AgentModels:
    """The models the `variants` (the task first) need, `level2` and `experience` where given: level 2 read from
    `model_path` when a variant plans on two levels, the episodes at `data` remembered when a variant reads them."""
    task = next(iter(variants.values()))
    if level2 is None and any(v.levels == [2, 1] for v in variants.values()):
        level2 = load_level2(model_path, "--baselines hierarchical" if task.levels == [1] else "task.levels")
    if experience is None:
        readers = [v for v in variants.values() if needs_experience(v)]
        experience = remembered_experience(readers[0], world_model, data) if readers else None
    return AgentModels(world_model, level2, experience)
