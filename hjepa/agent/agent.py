"""The agent loop (seed paper sec. 3, fig. 2): perception -> memory -> configurator -> actor -> environment.

Perception is the frozen world model's encoder. The goal, seen once as an image at the start, is kept in
short-term memory and read back every step. The configurator turns the task into the cost (the intrinsic
cost plus the weighted critic, sec. 3.2) and the current subgoal. The actor runs Mode-1 (the policy, one
forward pass) or Mode-2 (a planner over the world model's rollouts, receding horizon); in `auto` mode it
plans when the critic predicts a high cost.
Every step adds a critic triplet (tau, [s, g], IC(s)), and every Mode-2 step a (state, subgoal, action)
demonstration for distilling Mode-2 into Mode-1 (sec. 3.1.4).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from hjepa.agent.batching import BatchedRollouts
from hjepa.agent.configurator import Configurator
from hjepa.agent.cost import Cost, TrainableCritic
from hjepa.agent.drift import DriftCorrected
from hjepa.agent.last_step import AfterLastStep
from hjepa.agent.memory import ShortTermMemory, TripletBuffer
from hjepa.agent.planners import RolloutModel, shift_plan
from hjepa.agent.policy import Policy
from hjepa.agent.uncertainty import RiskCost, SampledLatents
from hjepa.models import WorldModel


class Demonstration(NamedTuple):
    """One Mode-2 decision kept for distillation (sec. 3.1.4): the agent's episode number, state (D,), the subgoal
    it aimed for (D,) and the planner's action (A,)."""

    episode: int
    state: Tensor
    subgoal: Tensor
    action: Tensor


class Decision(NamedTuple):
    """What the actor did at one step: the action (A,), Mode 1 or 2, and planning wall time in ms."""

    action: np.ndarray
    mode: int
    ms: float
    subgoal: Tensor


def unit_image(image: np.ndarray) -> Tensor:
    """An image as float32 in [0, 1]: uint8 is divided by 255, floating images in [0, 1] are kept as they are
    (dividing them again would put the scene near black); any other dtype or range -> ValueError."""
    if image.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(image)).float().div(255)
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"observation: expected uint8 in [0, 255] or floating values in [0, 1], got dtype {image.dtype}"
        )
    low, high = float(image.min()), float(image.max())
    if not 0.0 <= low <= high <= 1.0:  # also refuses NaN
        raise ValueError(
            f"observation: a floating image must hold values in [0, 1], got [{low}, {high}] "
            f"(dtype {image.dtype}); pass uint8 for values in [0, 255]"
        )
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))


class Agent:
    """Acts in an environment with image observations (H, W, 3) uint8 (or floats in [0, 1]) toward a goal image,
    for one task.

    Args:
        world_model: the frozen world model (perception and rollouts).
        configurator: built for the task (cost weights, planner, subgoals).
        policy: the Mode-1 actor (needed for modes `mode1` and `auto`).
        critic: predicts the future intrinsic cost from [s, g] (needed for mode `auto`, and added to the planning
            cost when the task's `critic_weight` is > 0).
        seed: seeds the planner's sampling, so an episode is reproducible.
    """

    def __init__(
        self,
        world_model: WorldModel,
        configurator: Configurator,
        policy: Policy | None = None,
        critic: TrainableCritic | None = None,
        seed: int = 0,
        memory_capacity: int = 16,
    ) -> None:
        mode = configurator.task.mode
        if mode in ("mode1", "auto") and policy is None:
            raise ValueError(f"task {configurator.task.name!r}: mode {mode} needs a Mode-1 policy")
        if mode == "auto" and critic is None:
            raise ValueError(f"task {configurator.task.name!r}: mode auto needs a trained critic")
        self.world_model = world_model.eval().requires_grad_(False)
        self.configurator, self.policy, self.critic = configurator, policy, critic
        self.planner = configurator.planner()
        dim = world_model.encoder.embed_dim
        self.memory = ShortTermMemory(memory_capacity, key_dim=dim, value_dim=dim)
        self.triplets = TripletBuffer(4096, 2 * dim)
        self.demonstrations: list[Demonstration] = []
        generator = torch.Generator().manual_seed(seed)
        self.goal_key = torch.randn(dim, generator=generator)  # the memory address of "the goal of this task"
        self.generator = generator
        self.intrinsic = configurator.intrinsic_cost(torch.zeros(dim))
        self.cost = configurator.cost(self.intrinsic, critic)
        # a predictor that looks back one state is given the last step as context (`AfterLastStep`)
        self.last_step = AfterLastStep(self.world_model) if self.world_model.history > 1 else None
        self.rollout_model: RolloutModel = self._corrected(self.last_step or self.world_model)
        self.plan_cost: Cost | RiskCost = self.cost
        uncertainty = configurator.task.uncertainty
        if uncertainty and self.last_step is not None:
            raise ValueError(
                f"task {configurator.task.name!r}: uncertainty samples latents from the present state alone, but "
                f"the world model's predictor looks back {self.world_model.history} states "
                "(predictor.history); plan with a Markov or recurrent predictor"
            )
        if uncertainty:  # plan over S sampled futures of the latent (sec. 4.8)
            self.rollout_model = SampledLatents(self.world_model, uncertainty["samples"], generator)
            self.plan_cost = configurator.risk_cost(self.cost)
        self.episode, self.tau = -1, 0
        self._plan: Tensor | None = None
        self._taken = 0  # actions of `_plan` taken so far

    def share_rollouts(self, batch: BatchedRollouts) -> None:
        """Price this agent's candidates together with those of agents acting at the same time in other threads
        (batched evaluation); sampled-latent rollouts belong to one agent and stay its own."""
        if not isinstance(self.rollout_model, SampledLatents):
            batched = batch.wrap(self.world_model)
            if self.last_step is not None:
                self.last_step.model = batched
            self.rollout_model = self._corrected(self.last_step or batched)

    def _corrected(self, model: RolloutModel) -> RolloutModel:
        """`model`, drift-corrected when the task asks (`drift_correction`)."""
        return DriftCorrected(model) if self.configurator.task.drift_correction else model

    @torch.no_grad()
    def perceive(self, observation: np.ndarray) -> Tensor:
        """Encode one observation (H, W, 3), uint8 or floating in [0, 1] -> state (D,)."""
        if observation.ndim != 3 or observation.shape[-1] != 3:
            raise ValueError(f"observation must be (H, W, 3) uint8, got shape {observation.shape}")
        size = self.world_model.encoder.img_size
        if observation.shape[:2] != (size, size):
            raise ValueError(
                f"observation is {observation.shape[0]}x{observation.shape[1]} but the world model's "
                f"encoder takes {size}x{size} images (encoder.img_size)"
            )
        frames = unit_image(observation).permute(2, 0, 1)
        return self.world_model.encode(frames[None, None])[0, 0]

    def reset(self, goal_observation: np.ndarray) -> None:
        """Start an episode: encode the goal image and keep it in short-term memory."""
        goal = self.perceive(goal_observation)
        self.memory.write(self.goal_key[None], goal[None])
        self.configurator.set_goal(goal, self.intrinsic)
        self.episode, self.tau, self._plan, self._taken = self.episode + 1, 0, None, 0
        if self.last_step is not None:
            self.last_step.forget()

    def recall_goal(self) -> Tensor:
        """The goal state read from short-term memory (the goal image is no longer seen)."""
        return self.memory.read(self.goal_key)

    def act(self, observation: np.ndarray) -> Decision:
        """One step of the loop: perceive, recall, configure, act."""
        state = self.perceive(observation)
        goal = self.recall_goal()
        with torch.no_grad():
            self.intrinsic.costs["goal_distance"].set_goal(goal)
            ic = self.intrinsic.per_step(state[None, None], torch.zeros(1, 1, self.planner.action_dim))[0, 0]
        self.triplets.add(self.tau, torch.cat([state, goal])[None], ic[None], torch.tensor([self.episode]))
        self.cost.set_goal(goal)  # the critic prices [s_H, g], as in the triplets it learns from
        targets = self.configurator.subgoals(state, goal)
        self.intrinsic.costs["goal_distance"].set_goal(targets, per_step=targets.dim() == 2)
        subgoal = targets[-1] if targets.dim() == 2 else targets
        start = time.perf_counter()
        if self._use_planner(state, goal):
            if self._plan is not None and self._taken < self.configurator.task.replan_every:
                action = self._plan[self._taken]  # the plan's next action, taken without planning again
            else:
                action = self._replan(state, subgoal)
            self._taken, mode = self._taken + 1, 2
        else:
            assert self.policy is not None
            with torch.no_grad():
                action, mode = self.policy(state, subgoal), 1
            self._plan, self._taken = None, 0
        if self.last_step is not None:
            self.last_step.remember(state, action)
        self.tau += 1
        return Decision(action.numpy().astype(np.float32), mode, (time.perf_counter() - start) * 1e3, subgoal)

    def _replan(self, state: Tensor, subgoal: Tensor) -> Tensor:
        """A Mode-2 plan from `state`, warm-started from the last plan; returns its first action (A,)."""
        init = None if self._plan is None else shift_plan(self._plan, self._taken)
        if isinstance(self.rollout_model, SampledLatents):
            self.rollout_model.resample()
        result = self.planner.plan(state, self.plan_cost, self.rollout_model, init=init, generator=self.generator)
        self._plan, self._taken = result.actions, 0
        action = result.actions[0]
        if self.configurator.task.hold and self._holds(state, result.actions):
            action = torch.zeros_like(action)
        self.demonstrations.append(Demonstration(self.episode, state, subgoal, action))
        return action

    @torch.no_grad()
    def _holds(self, state: Tensor, actions: Tensor) -> bool:
        """Whether no step of the plan (H, A) is predicted closer to the goal than the present state (D,) is seen to
        be (the task's `hold`); the plan is rolled out as the planner priced it, without latent samples."""
        distance = self.intrinsic.costs["goal_distance"].squared_distance
        model = self.world_model if self.last_step is None else self.last_step.over(self.world_model)
        predicted = self._corrected(model).unroll(state[None], actions[None])
        return bool(distance(state[None, None]).squeeze() <= distance(predicted).min())

    def _use_planner(self, state: Tensor, goal: Tensor) -> bool:
        mode = self.configurator.task.mode
        if mode != "auto":
            return mode == "mode2"
        assert self.critic is not None
        with torch.no_grad():
            return float(self.critic(torch.cat([state, goal]))) > self.configurator.task.critic_threshold
