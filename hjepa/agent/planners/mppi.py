"""Model-predictive path integral control for Mode-2 planning (seed paper sec. 3.1.4): sampling-based MPC."""

from collections.abc import Sequence

import torch
from torch import Tensor

from hjepa.agent.planners.base import Planner, Rollouts
from hjepa.agent.planners.noise import check_noise_beta


class MPPIPlanner(Planner):
    """Moves the mean plan (H, A) by the average of sampled perturbations weighted by softmax(-cost / temperature).

    `noise_std` is in units of the box's half-width. `noise_beta` > 0 samples noise correlated along the horizon
    (iCEM's colored noise, `planners.noise`), which reaches farther in H steps.
    """

    def __init__(
        self,
        action_low: float | Sequence[float] | Tensor,
        action_high: float | Sequence[float] | Tensor,
        horizon: int,
        population: int = 256,
        iterations: int = 10,
        temperature: float = 1.0,
        noise_std: float = 0.3,
        noise_beta: float = 0.0,
    ) -> None:
        super().__init__(action_low, action_high, horizon)
        if population < 1 or iterations < 1:
            raise ValueError(f"planner.population and planner.iterations must be >= 1, got {population}, {iterations}")
        if temperature <= 0:
            raise ValueError(f"planner.temperature must be > 0, got {temperature}")
        self.population, self.iterations = population, iterations
        self.temperature, self.noise_std, self.noise_beta = temperature, noise_std, check_noise_beta(noise_beta)

    def _search(self, rollouts: Rollouts, init: Tensor, generator: torch.Generator | None) -> int:
        mean, std = init, (self.noise_std * self.half_range(init)).expand_as(init)
        for _ in range(self.iterations):
            candidates = self.sample_around(mean, std, self.population, generator, self.noise_beta)
            weights = torch.softmax(-rollouts(candidates) / self.temperature, dim=0)
            # Perturbations after clipping, so the update stays a convex mix of in-box plans.
            mean = mean + torch.einsum("n,nha->ha", weights, candidates - mean)
        return self.iterations
