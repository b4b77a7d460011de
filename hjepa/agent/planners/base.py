"""Shared machinery of the Mode-2 planners (seed paper sec. 3.1.2, 3.1.4): model-predictive control.

A planner searches an action sequence (H, A) that minimises a cost of the world model's rollout from a
state. It knows only `unroll` and the cost callable, not which encoder or level it plans in.
"""

import abc
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor

from hjepa.agent.planners.noise import colored_noise

PlanCost = Callable[[Tensor, Tensor], Tensor]
"""cost(states (N, H, D), actions (N, H, A)) -> (N,) total cost of each candidate."""


class RolloutModel(Protocol):
    """Anything that predicts states from a batch of start states and action sequences."""

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        """s0 (N, D), actions (N, H, A) -> (N, H, D)."""
        ...


class PlanResult(NamedTuple):
    """A plan: actions (H, A), its cost (scalar tensor), and info (iterations, cost_history, world_model_calls,
    candidates per call, wall_ms)."""

    actions: Tensor
    cost: Tensor
    info: dict[str, Any]


def shift_plan(actions: Tensor, taken: int = 1) -> Tensor:
    """Warm start for the next MPC step: (H, A) -> (H, A) dropping the `taken` executed actions, repeating the last."""
    return torch.cat([actions[taken:], actions[-1:].expand(taken, -1)], dim=0)


class Rollouts:
    """Prices a batch of candidates (N, H, A) with ONE world-model call and keeps the cheapest plan seen."""

    def __init__(self, world_model: RolloutModel, state: Tensor, cost: PlanCost) -> None:
        self.world_model, self.state, self.cost = world_model, state, cost
        self.calls = 0
        self.candidates: list[int] = []
        self.history: list[float] = []
        self.best_actions: Tensor | None = None
        self.best_cost = torch.tensor(float("inf"))

    def __call__(self, candidates: Tensor) -> Tensor:
        """candidates (N, H, A) -> costs (N,)."""
        return self.price(candidates, self.unroll(candidates))

    def unroll(self, candidates: Tensor) -> Tensor:
        """The world model's states (N, H, D) for candidates (N, H, A), in one call."""
        self.calls += 1
        self.candidates.append(candidates.shape[0])
        return self.world_model.unroll(self.state.expand(candidates.shape[0], -1), candidates)

    def price(self, candidates: Tensor, states: Tensor) -> Tensor:
        """Costs (N,) of candidates (N, H, A) whose predicted states (N, H, D) are given; keeps the cheapest."""
        costs = self.cost(states, candidates)
        i = int(costs.detach().argmin())
        self.history.append(float(costs[i].detach()))
        if costs[i] < self.best_cost:
            self.best_cost, self.best_actions = costs[i].detach().clone(), candidates[i].detach().clone()
        return costs


class Planner(abc.ABC):
    """Mode-2 actor (sec. 3.1.4): minimises the total cost over action sequences within a box [low, high]^A."""

    # Only the gradient planner needs autograd through `unroll`; samplers run without a graph.
    differentiable = False

    def __init__(
        self, action_low: float | Sequence[float] | Tensor, action_high: float | Sequence[float] | Tensor, horizon: int
    ) -> None:
        low = torch.as_tensor(action_low, dtype=torch.float32).reshape(-1)
        high = torch.as_tensor(action_high, dtype=torch.float32).reshape(-1)
        low, high = torch.broadcast_tensors(low, high)
        if not bool((low < high).all()):
            got = f"{low.tolist()} and {high.tolist()}"
            raise ValueError(f"planner.action_low must be below planner.action_high, got {got}")
        if horizon < 1:
            raise ValueError(f"planner.horizon must be >= 1, got {horizon}")
        self.action_low, self.action_high, self.horizon = low, high, horizon

    @property
    def action_dim(self) -> int:
        return self.action_low.numel()

    def clip(self, actions: Tensor) -> Tensor:
        """Projects actions (..., A) onto the action box."""
        return torch.maximum(torch.minimum(actions, self.action_high.to(actions)), self.action_low.to(actions))

    def half_range(self, like: Tensor) -> Tensor:
        """(A,) half-width of the box: the unit in which samplers express their noise."""
        return ((self.action_high - self.action_low) / 2).to(like)

    def sample_around(
        self, mean: Tensor, std: Tensor, n: int, generator: torch.Generator | None, beta: float = 0.0
    ) -> Tensor:
        """n clipped Gaussian samples (n, H, A) around mean (H, A) with std (H, A); sample 0 is the mean itself,
        so each iteration prices its current guess and the plan is never worse than the initial guess. beta > 0
        correlates the noise along the horizon (`colored_noise`), beta = 0 draws it independently per step."""
        if beta == 0:
            noise = torch.randn((n, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
        else:
            noise = colored_noise(n, *mean.shape, beta, generator, mean.device, mean.dtype)
        noise[0] = 0
        return self.clip(mean + std * noise)

    def plan(
        self,
        state: Tensor,
        cost: PlanCost,
        world_model: RolloutModel,
        horizon: int | None = None,
        init: Tensor | None = None,
        generator: torch.Generator | int | None = None,
    ) -> PlanResult:
        """Plans from state (D,); init (H, A) is a warm start (default: the middle of the box);
        generator (or an int seed) makes the sampling reproducible."""
        horizon = horizon or self.horizon
        shape = (horizon, self.action_dim)
        if init is None:
            init = ((self.action_low + self.action_high) / 2).to(state).expand(shape)
        elif tuple(init.shape) != shape:
            raise ValueError(f"init must be (H, A) = {shape}, got {tuple(init.shape)}")
        if isinstance(generator, int):
            generator = torch.Generator(device=state.device).manual_seed(generator)
        rollouts = Rollouts(world_model, state.detach()[None], cost)
        start = time.perf_counter()
        with torch.set_grad_enabled(self.differentiable):
            iterations = self._search(rollouts, self.clip(init.detach().to(state)), generator)
        assert rollouts.best_actions is not None, "a search must price at least one plan"
        info = {
            "iterations": iterations,
            "cost_history": rollouts.history,
            "world_model_calls": rollouts.calls,
            "candidates": rollouts.candidates,
            "wall_ms": (time.perf_counter() - start) * 1e3,
        }
        return PlanResult(rollouts.best_actions, rollouts.best_cost, info)

    @abc.abstractmethod
    def _search(self, rollouts: Rollouts, init: Tensor, generator: torch.Generator | None) -> int:
        """Searches from init (H, A) pricing candidates only through `rollouts`; returns the iterations run."""
