"""What a planning probe runs on the same episodes (seed paper sec. 3.1.4, 4.7): the task, the task with other
planners, and its flat and hierarchical baselines, each under its name in tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hjepa.agent.task import TaskSpec
from hjepa.export import model_levels

BASELINES = ("flat", "hierarchical")


def check_baselines(names: Sequence[str]) -> tuple[str, ...]:
    """The baselines `names`, or a ValueError naming the unknown ones."""
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"--baselines: unknown baseline(s) {unknown}; choose from {list(BASELINES)}")
    return tuple(names)


def default_baselines(model_path: str | Path) -> list[str]:
    """Baselines a checkpoint supports: flat, and hierarchical when it has level 2."""
    return ["flat", "hierarchical"] if 2 in model_levels(model_path) else ["flat"]


def baseline(task: TaskSpec, name: str) -> TaskSpec:
    """The task planned flat (level 1 aims at the goal) or hierarchically (level 2 sets level 1's subgoals, at the
    task's `subgoal_distance` weight or 1)."""
    if name == "flat":
        return task.replace(levels=[1], subgoals={"kind": "none"})
    return task.replace(
        levels=[2, 1],
        subgoals={"kind": "none"},
        cost={**task.cost, "subgoal_distance": task.cost.get("subgoal_distance") or 1.0},
    )


def label(task: TaskSpec) -> str:
    """A task variant's name in tables: its planner, its levels when it plans on two, and its aids."""
    aids = f" [aided: {', '.join(task.aids)}]" if task.aids else ""
    return task.planner["name"] + (", levels [2, 1]" if task.levels == [2, 1] else "") + aids


def task_variants(task: TaskSpec, planners: Sequence[str], baselines: Sequence[str]) -> dict[str, TaskSpec]:
    """Name -> task variant: the task first (under its `label`), the task with each of `planners` at its horizon
    (unless that is the task again), then each of `baselines` under its name."""
    variants = {label(task): task}
    for name in planners:
        variant = task.replace(planner={"name": name, "horizon": task.planner["horizon"]})
        variants.setdefault(label(variant), variant)
    variants.update({name: baseline(task, name) for name in baselines})
    return variants
