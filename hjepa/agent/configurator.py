"""Configurator (seed paper sec. 3): turns a task into the agent's cost weights, planner, horizon and subgoals.

The same frozen world model serves every task; only what the configurator sets changes. It sets the weights of
the cost modules through their setters (sec. 3.2, fig. 6): the intrinsic sub-costs' u_i, the critic's weight
beside them and the risk aversion over sampled futures (sec. 4.8). Weights from
the task YAML are expressed in steps: the goal distance is divided by the squared representation
distance of one typical step, the region cost (a distance in position units) by the largest move of one
step, so that "1.0" means the same for every model and world.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from hjepa.agent.cost import (
    ActionMagnitudeCost,
    Cost,
    GoalDistanceCost,
    IntrinsicCost,
    RegionAvoidanceCost,
    TrainableCritic,
)
from hjepa.agent.experience import Experience
from hjepa.agent.hierarchy import MemorySubgoals, ModelSubgoals, build_subgoals
from hjepa.agent.landmarks import LandmarkGraph
from hjepa.agent.planners import Planner, build_planner
from hjepa.agent.task import TaskSpec
from hjepa.agent.uncertainty import RiskCost
from hjepa.models.level2 import Level2WorldModel
from hjepa.readout.linear_probe import LinearHead


class Configurator:
    """Builds what a task needs from the frozen model's view of remembered experience.

    Args:
        task: the validated task.
        state_dim: width D of the world model's states.
        action_low, action_high: the environment's action box (A,).
        experience: encoded recorded episodes; needed for landmark subgoals, level-2 subgoals and for reading
            positions (region avoidance).
        level2: the world model's level 2, for tasks with `levels: [2, 1]`.
    """

    def __init__(
        self,
        task: TaskSpec,
        state_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        experience: Experience | None = None,
        level2: Level2WorldModel | None = None,
    ) -> None:
        self.task, self.state_dim = task, state_dim
        self.action_low, self.action_high = list(map(float, action_low)), list(map(float, action_high))
        still = [name for name, used in (("drift_correction", task.drift_correction), ("hold", task.hold)) if used]
        if still and not all(low <= 0.0 <= high for low, high in zip(self.action_low, self.action_high)):
            raise ValueError(
                f"task {task.name!r}: {' and '.join(still)} take action 0 as standing still, but it lies outside "
                f"the action box [{self.action_low}, {self.action_high}]; set {' and '.join(still)} to false"
            )
        if needs_experience(task) and experience is None:
            fields = ", ".join(experience_fields(task))
            raise ValueError(
                f"task {task.name!r}: {fields} read(s) recorded episodes: pass the shards the model was "
                "trained on with --data, or plan like-for-like without them (configs/tasks/reach.yaml)"
            )
        self.probe: LinearHead | None = experience.position_probe() if experience is not None else None
        self.landmarks: LandmarkGraph | None = None
        if task.subgoals["kind"] == "landmarks":
            assert experience is not None
            self.landmarks = LandmarkGraph(experience.representations)
        self.hierarchy: ModelSubgoals | MemorySubgoals | None = None
        if task.levels == [2, 1]:
            if level2 is None:
                raise ValueError(
                    f"task {task.name!r}: levels [2, 1] needs a world model with level 2; train one "
                    "(hjepa fit --config configs/level2_tiny_cpu.yaml), export both levels, or set "
                    "levels: [1]"
                )
            episodes = experience.representations if experience is not None else None
            self.hierarchy = build_subgoals(level2, task.level2, state_dim, self.action_low, self.action_high, episodes)
        # The goal distance of one typical recorded step, in the task's metric, is the unit of goal_distance.
        self.projection = self.probe.weight.float() if task.goal_metric == "probe" and self.probe is not None else None
        self.step_scale = 1.0
        if experience is not None:
            steps = experience.representations.diff(dim=1)
            steps = steps @ self.projection if self.projection is not None else steps
            self.step_scale = float(steps.norm(dim=-1).median().clamp_min(1e-8))

    @property
    def concurrent(self) -> bool:
        """Whether agents of several episodes may share this configurator at the same time: not when it keeps
        subgoal paths toward one episode's goal (landmarks, level 2)."""
        return self.landmarks is None and self.hierarchy is None

    def intrinsic_cost(self, goal: Tensor) -> IntrinsicCost:
        """IC with the task's sub-costs and weights; the goal sub-cost starts at `goal` (D,)."""
        exponent = self.task.goal_exponent
        costs: dict[str, torch.nn.Module] = {
            "goal_distance": GoalDistanceCost(goal, self.projection, exponent, self.task.goal_terminal)
        }
        weights = {"goal_distance": self.task.cost.get("goal_distance", 0.0) / self.step_scale**exponent}
        region = self.task.region
        if region is not None:
            assert self.probe is not None
            if len(region.centre) != self.probe.weight.shape[1]:
                raise ValueError(
                    f"task {self.task.name!r}: region.centre has {len(region.centre)} coordinates, "
                    f"the experience's states have {self.probe.weight.shape[1]}"
                )
            step = max(map(abs, self.action_high))
            # The hinge softens over about half a step, so the cost is negligible a step outside the region.
            costs["region_avoidance"] = RegionAvoidanceCost(
                self.probe.weight.T.float(),
                self.probe.bias.float(),
                torch.tensor(region.centre),
                region.radius,
                2.0 / step,
            )
            weights["region_avoidance"] = self.task.cost.get("region_avoidance", 0.0) / step
        if isinstance(self.hierarchy, ModelSubgoals):  # level 1's goal is level 2's subgoal, not the far goal
            costs["subgoal_distance"] = self.hierarchy.cost
            weights["subgoal_distance"], weights["goal_distance"] = self.task.cost["subgoal_distance"], 0.0
        costs["action_magnitude"] = ActionMagnitudeCost()
        weights["action_magnitude"] = self.task.cost.get("action_magnitude", 0.0) / max(map(abs, self.action_high)) ** 2
        intrinsic = IntrinsicCost(costs)
        intrinsic.set_weights(weights)
        return intrinsic

    def cost(self, intrinsic: IntrinsicCost, critic: TrainableCritic | None = None) -> Cost:
        """The cost the actor minimises, C = IC + critic_weight * TC (sec. 3.2), with the task's `critic_weight`."""
        weight = self.task.critic_weight
        if weight > 0 and critic is None:
            raise ValueError(
                f"task {self.task.name!r}: critic_weight is {weight}, so the planning cost adds the "
                "trainable critic, but no critic was given; pass a trained critic or set critic_weight: 0"
            )
        cost = Cost(intrinsic, critic)
        cost.set_critic_weight(weight)
        return cost

    def risk_cost(self, cost: Cost) -> RiskCost:
        """`cost` priced over the sampled futures of `uncertainty` at mean + risk * std (sec. 4.8), with the task's
        `uncertainty.risk`."""
        risk = RiskCost(cost)
        risk.set_risk(self.task.uncertainty["risk"])
        return risk

    def planner(self) -> Planner:
        """The task's Mode-2 planner in the environment's action box."""
        fields = {k: v for k, v in self.task.planner.items() if k != "name"}
        return build_planner(
            self.task.planner["name"], action_low=self.action_low, action_high=self.action_high, **fields
        )

    def set_goal(self, goal: Tensor, intrinsic: IntrinsicCost) -> None:
        """Plan subgoal paths toward goal (D,) that also avoid what the intrinsic cost penalises."""
        if self.landmarks is not None:
            self.landmarks.set_goal(goal, self._penalty(self.landmarks.states, intrinsic))
        if isinstance(self.hierarchy, MemorySubgoals):
            self.hierarchy.set_goal(goal, self._penalty(self.hierarchy.realisations, intrinsic))
        elif self.hierarchy is not None:
            self.hierarchy.set_goal(goal)

    def subgoals(self, state: Tensor, goal: Tensor) -> Tensor:
        """What the actor's goal distance aims at over the planning horizon: (H, D) remembered states along the path
        to the goal, one per step (landmarks; level-2 memory: those realising level 2's subgoals), or the goal (D,)
        itself. A level 2 that plans with its model points its own `subgoal_distance` cost at its subgoal here."""
        if isinstance(self.hierarchy, MemorySubgoals):
            return self.hierarchy.subgoal(state, self.task.planner["horizon"])
        if self.hierarchy is not None:
            self.hierarchy.observe(state)
        if self.landmarks is None:
            return goal
        return self.landmarks.path(state, self.task.planner["horizon"])

    @staticmethod
    def _penalty(states: Tensor, intrinsic: IntrinsicCost) -> np.ndarray | None:
        """The weighted region cost of passing each remembered level-1 state (N, D), in steps (None without one)."""
        if "region_avoidance" not in intrinsic.costs:
            return None
        with torch.no_grad():
            region = intrinsic.costs["region_avoidance"](states[:, None], torch.zeros(1))[:, 0]
        return (intrinsic.weights[intrinsic.names.index("region_avoidance")] * region).numpy()


def experience_fields(task: TaskSpec) -> list[str]:
    """The task's fields that read recorded episodes (landmarks, level-2 subgoals, a region read through a probe, a
    probe metric), as `field: value`."""
    fields = {
        "subgoals.kind: landmarks": task.subgoals["kind"] == "landmarks",
        "level2.search: memory": task.level2_memory,
        "region": task.region is not None,
        "goal_metric: probe": task.goal_metric == "probe",
    }
    return [name for name, used in fields.items() if used]


def needs_experience(task: TaskSpec) -> bool:
    """Whether the task reads recorded episodes."""
    return bool(experience_fields(task))
