"""Task specifications: what the configurator reads to set up the agent for a task (seed paper sec. 3).

A task is plain YAML (see `configs/tasks/`): which intrinsic sub-costs count and how much, the region to
avoid, how much the trainable critic counts, the actor's mode and planner, the subgoal mechanism and the step
budget. Unknown or ill-typed fields are refused with the field's dotted name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from hjepa.agent.hierarchy import DEFAULT_SEARCH
from hjepa.agent.hierarchy import FIELDS as LEVEL2_FIELDS
from hjepa.agent.planners import check_planner_fields

COSTS = ("goal_distance", "subgoal_distance", "region_avoidance", "action_magnitude")
MODES = ("mode1", "mode2", "auto")
SUBGOALS = ("none", "landmarks")
METRICS = ("representation", "probe")
LEVELS = ([1], [2, 1])


@dataclass(frozen=True)
class Region:
    """A disc in the world's position coordinates (read from representations by a linear probe)."""

    centre: tuple[float, ...]
    radius: float


@dataclass(frozen=True)
class TaskSpec:
    """One task for the agent; `from_dict`/`from_yaml` validate it.

    Attributes:
        name: a label for reports.
        cost: weight of each intrinsic sub-cost (`goal_distance`, `subgoal_distance`, `region_avoidance`,
            `action_magnitude`). With `levels: [2, 1]` and `level2.search: model`, level 1 aims at level 2's
            predicted subgoal through `subgoal_distance`, and `goal_distance` counts only for the flat baseline.
        region: the disc that `region_avoidance` prices; required when its weight is non-zero.
        mode: `mode2` plans every step, `mode1` runs the policy, `auto` plans when the critic predicts a high cost.
        planner: `name` (gradient | cem | mppi | discrete) and that planner's fields; `horizon` is required.
        subgoals: `kind` (none | landmarks: track remembered states along the shortest path) and `episodes`
            (recorded episodes remembered for them, also by level 2).
        levels: `[1]` plans flat; `[2, 1]` lets level 2 of the world model choose the subgoals that level 1 plans
            toward (sec. 4.7; needs a checkpoint with level 2).
        level2: `search` (model: level 2 plans with its own predictor | memory: over recorded episodes, an aid) and
            the fields of `hjepa.agent.hierarchy.ModelSubgoals` or `MemorySubgoals` (planner, every, lookahead, ...).
        uncertainty: `samples` (S latents per plan) and `risk` (lambda): plan on mean + lambda * std of the cost
            over S futures of the world model's latent (sec. 4.8); empty plans on the latent-free rollout.
        goal_metric: where goal distance is measured: `representation` (all of s) or `probe` (the world's
            position read from s by a linear probe fitted on the remembered episodes).
        goal_exponent: the goal sub-cost of a step is distance ** goal_exponent (2: squared; 1: the distance
            itself, under which a detour through a door costs less than waiting at a wall, see `GoalDistanceCost`).
        goal_terminal: how many more times the goal sub-cost counts the last predicted state (its cost-to-go
            beyond the horizon).
        critic_threshold: in `auto` mode, the critic's predicted cost above which the agent plans.
        critic_weight: w in the planning cost IC + w * TC (sec. 3.2): how much the trainable critic's predicted
            cost beyond the horizon counts (0: IC alone; > 0 needs a trained critic).
        drift_correction: measure every rollout against the world model's own prediction of standing still
            (`hjepa.agent.drift.DriftCorrected`), for worlds where action 0 stands still; not with `uncertainty`,
            whose latent futures move the world without an action.
        hold: stand still (action 0) when no step of the chosen plan is predicted to come closer to the goal than
            the present observation: near the goal, what the agent sees is more precise than what its
            predictor foresees, so it stops chasing the predictor's drift. Flat tasks aiming at the goal only.
        replan_every: how many actions of each Mode-2 plan the agent takes before it plans again (at most the
            planner's horizon; stable-worldmodel takes a whole plan of 5 blocks of 5 actions). 1: receding horizon,
            a plan every step; between plans the agent takes the plan's actions unseen, so `hold` needs 1.
        max_steps: steps per episode before giving up.
    """

    name: str
    cost: dict[str, float]
    planner: dict[str, Any]
    region: Region | None = None
    mode: str = "mode2"
    subgoals: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    goal_metric: str = "representation"
    goal_exponent: float = 2.0
    goal_terminal: float = 0.0
    levels: list[int] = field(default_factory=lambda: [1])
    level2: dict[str, Any] = field(default_factory=dict)
    uncertainty: dict[str, Any] = field(default_factory=dict)
    critic_threshold: float = 1.0
    critic_weight: float = 0.0
    drift_correction: bool = False
    hold: bool = False
    replan_every: int = 1
    max_steps: int = 200

    @property
    def level2_memory(self) -> bool:
        """Whether level 2 searches over recorded episodes (`levels: [2, 1]`, `level2.search: memory`)."""
        return self.levels == [2, 1] and self.level2.get("search", DEFAULT_SEARCH) == "memory"

    @property
    def aids(self) -> tuple[str, ...]:
        """Decision-time aids beyond the learned world model, each a reason why a figure with this task is an ablation
        and not like-for-like with the reference systems: `landmarks` and `level-2 memory` plan over a graph of
        recorded episodes (memory-assisted); `probe` and `region probe` read the state through a head fitted on
        ground-truth positions (privileged)."""
        aids = []
        if self.subgoals["kind"] == "landmarks":
            aids.append("landmarks")
        if self.level2_memory:
            aids.append("level-2 memory")
        if self.goal_metric == "probe":
            aids.append("probe")
        if self.region is not None:
            aids.append("region probe")
        return tuple(aids)

    def as_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` reads back."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.region is not None:
            data["region"] = {"centre": list(self.region.centre), "radius": self.region.radius}
        return data

    def replace(self, **changes: Any) -> TaskSpec:
        """A validated copy with some fields changed, e.g. another planner."""
        return TaskSpec.from_dict({**self.as_dict(), **changes}, f"task {self.name!r}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> TaskSpec:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such task file")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from error
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "task") -> TaskSpec:
        """Validated TaskSpec; errors name `source` and the field."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: a task is a mapping of fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ValueError(f"{source}: unknown field {key!r}; known: {sorted(known)}")
        for key in ("name", "cost", "planner"):
            if key not in data:
                raise ValueError(f"{source}: missing field {key!r}")
        cost = _mapping(data["cost"], f"{source}: cost")
        for name, weight in cost.items():
            if name not in COSTS:
                raise ValueError(f"{source}: cost.{name}: unknown cost; choose from {list(COSTS)}")
            if not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f"{source}: cost.{name}: expected a non-negative number, got {weight!r}")
        planner = _mapping(data["planner"], f"{source}: planner")
        check_planner_fields(planner.get("name"), {k: v for k, v in planner.items() if k != "name"}, source)
        if not isinstance(planner.get("horizon"), int) or planner["horizon"] < 1:
            raise ValueError(f"{source}: planner.horizon: expected a positive integer, got {planner.get('horizon')!r}")
        region = None
        if data.get("region") is not None:
            raw = _mapping(data["region"], f"{source}: region")
            if set(raw) != {"centre", "radius"}:
                raise ValueError(f"{source}: region: expected fields centre and radius, got {sorted(raw)}")
            region = Region(tuple(float(c) for c in raw["centre"]), float(raw["radius"]))
        if cost.get("region_avoidance", 0) > 0 and region is None:
            raise ValueError(f"{source}: cost.region_avoidance is set but the task has no region")
        mode = data.get("mode", "mode2")
        if mode not in MODES:
            raise ValueError(f"{source}: mode: unknown mode {mode!r}; choose one of {list(MODES)}")
        subgoals = _mapping(data.get("subgoals", {"kind": "none"}), f"{source}: subgoals")
        if subgoals.get("kind", "none") not in SUBGOALS:
            raise ValueError(
                f"{source}: subgoals.kind: unknown kind {subgoals.get('kind')!r}; choose one of {list(SUBGOALS)}"
            )
        unknown = set(subgoals) - {"kind", "episodes"}
        if unknown:
            raise ValueError(f"{source}: subgoals: unknown field(s) {sorted(unknown)}; known: kind, episodes")
        metric = data.get("goal_metric", "representation")
        if metric not in METRICS:
            raise ValueError(f"{source}: goal_metric: unknown metric {metric!r}; choose one of {list(METRICS)}")
        exponent = data.get("goal_exponent", 2.0)
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not exponent > 0:
            raise ValueError(f"{source}: goal_exponent: expected a positive number, got {exponent!r}")
        terminal = data.get("goal_terminal", 0.0)
        if isinstance(terminal, bool) or not isinstance(terminal, (int, float)) or not terminal >= 0:
            raise ValueError(f"{source}: goal_terminal: expected a number of steps >= 0, got {terminal!r}")
        levels = data.get("levels", [1])
        if levels not in LEVELS:
            raise ValueError(
                f"{source}: levels: expected [1] (flat) or [2, 1] (level 2 sets level 1's subgoals), got {levels!r}"
            )
        level2 = _mapping(data.get("level2", {}), f"{source}: level2")
        unknown = set(level2) - set(LEVEL2_FIELDS)
        if unknown:
            raise ValueError(f"{source}: level2: unknown field(s) {sorted(unknown)}; known: {list(LEVEL2_FIELDS)}")
        if levels == [2, 1] and level2.get("search", DEFAULT_SEARCH) == "model" and not cost.get("subgoal_distance"):
            raise ValueError(
                f"{source}: cost.subgoal_distance: with levels [2, 1] and level2.search model, level 1 "
                "plans toward level 2's subgoal through this cost; give it a positive weight"
            )
        if levels == [2, 1] and subgoals.get("kind", "none") != "none":
            raise ValueError(
                f"{source}: subgoals.kind: with levels [2, 1] level 2 sets the subgoals; set subgoals.kind to none"
            )
        uncertainty = _mapping(data.get("uncertainty", {}), f"{source}: uncertainty")
        if uncertainty and set(uncertainty) != {"samples", "risk"}:
            raise ValueError(f"{source}: uncertainty: expected fields samples and risk, got {sorted(uncertainty)}")
        if uncertainty and not (isinstance(uncertainty["samples"], int) and uncertainty["samples"] >= 1):
            raise ValueError(
                f"{source}: uncertainty.samples: expected a positive integer, got {uncertainty['samples']!r}"
            )
        if uncertainty and not (isinstance(uncertainty["risk"], (int, float)) and uncertainty["risk"] >= 0):
            raise ValueError(f"{source}: uncertainty.risk: expected a number >= 0, got {uncertainty['risk']!r}")
        critic_weight = data.get("critic_weight", 0.0)
        if isinstance(critic_weight, bool) or not isinstance(critic_weight, (int, float)) or not critic_weight >= 0:
            raise ValueError(f"{source}: critic_weight: expected a number >= 0, got {critic_weight!r}")
        drift_correction, hold = data.get("drift_correction", False), data.get("hold", False)
        for name, value in (("drift_correction", drift_correction), ("hold", hold)):
            if not isinstance(value, bool):
                raise ValueError(f"{source}: {name}: expected true or false, got {value!r}")
        if drift_correction and uncertainty:
            raise ValueError(
                f"{source}: drift_correction: with uncertainty the latent futures move the world without an "
                "action, so standing still is no reference; set one of them off"
            )
        if hold and (levels != [1] or subgoals.get("kind", "none") != "none"):
            raise ValueError(
                f"{source}: hold: compares the plan with the goal itself, so it needs levels [1] and "
                "subgoals.kind none; set hold: false for subgoal tasks"
            )
        replan_every = data.get("replan_every", 1)
        if isinstance(replan_every, bool) or not isinstance(replan_every, int) or replan_every < 1:
            raise ValueError(f"{source}: replan_every: expected a positive integer, got {replan_every!r}")
        if replan_every > planner["horizon"]:
            raise ValueError(
                f"{source}: replan_every: {replan_every} actions of a plan of planner.horizon {planner['horizon']}; "
                "take at most a whole plan"
            )
        if replan_every > 1 and hold:
            raise ValueError(
                f"{source}: hold: decides from what the agent sees at each step, but replan_every {replan_every} "
                "takes planned actions unseen; set hold: false or replan_every: 1"
            )
        max_steps = data.get("max_steps", 200)
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"{source}: max_steps: expected a positive integer, got {max_steps!r}")
        return cls(
            name=str(data["name"]),
            cost={k: float(v) for k, v in cost.items()},
            planner=planner,
            region=region,
            mode=mode,
            subgoals={"kind": "none", **subgoals},
            goal_metric=metric,
            goal_exponent=float(exponent),
            goal_terminal=float(terminal),
            levels=list(levels),
            level2=level2,
            uncertainty=uncertainty,
            critic_threshold=float(data.get("critic_threshold", 1.0)),
            critic_weight=float(critic_weight),
            drift_correction=drift_correction,
            hold=hold,
            replan_every=replan_every,
            max_steps=max_steps,
        )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
    return dict(value)
