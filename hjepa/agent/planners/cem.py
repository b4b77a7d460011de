"""Cross-entropy method for Mode-2 planning (seed paper sec. 3.1.4): sampling-based energy minimisation."""

from collections.abc import Sequence

import torch
from torch import Tensor

from hjepa.agent.planners.base import Planner, Rollouts
from hjepa.agent.planners.noise import check_noise_beta


class CEMPlanner(Planner):
    """A Gaussian over action sequences (H, A), refit to the `elites` cheapest of `population` samples each iteration.

    `init_std` and `min_std` are in units of the box's half-width; `momentum` keeps that share of the old mean/std.
    `noise_beta` > 0 samples noise correlated along the horizon (iCEM's colored noise, `planners.noise`), which
    reaches farther in H steps.
    """

    def __init__(
        self,
        action_low: float | Sequence[float] | Tensor,
        action_high: float | Sequence[float] | Tensor,
        horizon: int,
        population: int = 256,
        elites: int = 32,
        iterations: int = 10,
        init_std: float = 0.5,
        min_std: float = 0.02,
        momentum: float = 0.0,
        noise_beta: float = 0.0,
    ) -> None:
        super().__init__(action_low, action_high, horizon)
        if not 1 <= elites <= population:
            raise ValueError(f"planner.elites must be in [1, population={population}], got {elites}")
        if iterations < 1:
            raise ValueError(f"planner.iterations must be >= 1, got {iterations}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"planner.momentum must be in [0, 1), got {momentum}")
        self.population, self.elites, self.iterations = population, elites, iterations
        self.init_std, self.min_std, self.momentum = init_std, min_std, momentum
        self.noise_beta = check_noise_beta(noise_beta)

    def _search(self, rollouts: Rollouts, init: Tensor, generator: torch.Generator | None) -> int:
        half = self.half_range(init)
        mean, std = init, (self.init_std * half).expand_as(init)
        for _ in range(self.iterations):
            candidates = self.sample_around(mean, std, self.population, generator, self.noise_beta)
            costs = rollouts(candidates)
            elites = candidates[costs.topk(self.elites, largest=False).indices]
            mean = self.momentum * mean + (1 - self.momentum) * elites.mean(0)
            std = self.momentum * std + (1 - self.momentum) * elites.std(0, unbiased=False)
            std = torch.maximum(std, self.min_std * half)
        return self.iterations
