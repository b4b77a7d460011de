"""Planning under uncertainty (seed paper sec. 4.8): price each plan over several sampled futures.

The world model's latent z carries what the present cannot tell about the future (which branch, whether
an obstacle appears). `SampledLatents` makes any planner roll every candidate out under the same S
latents, and `RiskCost` folds the S costs of a candidate into one: their mean (expected cost) plus
`risk` times their standard deviation, "a combination of average and variance of the cost so as to
minimize risk" (sec. 4.8). Planners stay unchanged: they see one rollout model and one cost.

Rollouts are laid out candidate-major: row n * S + s is candidate n under latent s, (N * S, H, D).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from hjepa.agent.planners.base import PlanCost
from hjepa.models.latent import Latent, over_time


class LatentRolloutModel(Protocol):
    """A world model whose rollout takes a latent: `unroll(s0 (B, D), actions (B, H, A), z (B, H, Dz))`."""

    latent: Latent | None

    def unroll(self, s0: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor: ...


def prior_latents(latent: Latent, samples: int, generator: torch.Generator | None = None) -> Tensor:
    """S latents (S, Dz) standing for the prior: every code once when z is discrete with K <= `samples` codes
    (its uniform prior is then covered exactly, S = K), otherwise `samples` draws from `latent.sample`."""
    if samples < 1:
        raise ValueError(f"uncertainty.samples: expected >= 1 sampled latents, got {samples}")
    if latent.kind == "discrete" and latent.num_codes <= samples:
        return latent.codebook.detach().clone()
    return latent.sample(samples, generator)


class SampledLatents:
    """A rollout model for planners: each candidate rolled out under the same S latents (common random
    numbers, so candidates are compared on the same futures). `resample()` draws new ones; call it once
    per plan, not per planner iteration, or the cheapest candidate is partly the luckiest draw."""

    def __init__(
        self, world_model: LatentRolloutModel, samples: int = 8, generator: torch.Generator | int | None = None
    ) -> None:
        if world_model.latent is None:
            raise ValueError(
                "uncertainty: the world model has no latent (model.latent.kind none), so there is no "
                "future to sample; plan with the world model itself or train one with a latent"
            )
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        self.world_model, self.samples, self.generator = world_model, samples, generator
        self.latents = self.resample()

    def resample(self) -> Tensor:
        """Draws the S latents (S, Dz) that the following rollouts use, and returns them."""
        self.latents = prior_latents(self.world_model.latent, self.samples, self.generator)
        return self.latents

    @property
    def num_latents(self) -> int:
        """S, the number of futures per candidate (K when a discrete latent is enumerated)."""
        return len(self.latents)

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        """s0 (N, D), actions (N, H, A) -> (N * S, H, D), candidate-major."""
        s = self.num_latents
        z = self.latents.to(s0).repeat(len(s0), 1)  # (N * S, Dz), latent s of row n * S + s
        return self.world_model.unroll(
            s0.repeat_interleave(s, 0), actions.repeat_interleave(s, 0), over_time(z, actions.shape[1])
        )


def sample_costs(cost: PlanCost, states: Tensor, actions: Tensor) -> Tensor:
    """Cost of each candidate under each latent: states (N * S, H, D), actions (N, H, A) -> (N, S), or
    (N, S, ...) for a cost with trailing dims (e.g. per step, (N * S, H) -> (N, S, H))."""
    n = actions.shape[0]
    if n == 0 or states.shape[0] % n:
        raise ValueError(
            f"states must hold S rollouts per candidate, (N * S, H, D) with N = {n}; "
            f"got {tuple(states.shape)}; roll out with SampledLatents.unroll"
        )
    s = states.shape[0] // n
    costs = cost(states, actions.repeat_interleave(s, 0))
    return costs.view(n, s, *costs.shape[1:])


def cost_spread(cost: PlanCost, states: Tensor, actions: Tensor) -> Tensor:
    """Standard deviation over the S latents of each candidate's cost, (N,) (or (N, ...)): how much its outcome
    hinges on the unpredictable part of the future (0 where every latent predicts the same cost)."""
    return sample_costs(cost, states, actions).std(dim=1, unbiased=False)


class RiskCost(nn.Module):
    """mean_s C_s + risk * std_s C_s over the S latents of each candidate (sec. 4.8): (N * S, H, D), (N, H, A) -> (N,).

    risk 0 plans on the expected cost; risk > 0 prefers plans whose cost depends less on the future that
    cannot be predicted. The std is that of the S values (not unbiased), exact for an enumerated discrete z.
    """

    def __init__(self, cost: PlanCost, risk: float = 0.0) -> None:
        super().__init__()
        self.cost = cost
        self.risk = 0.0
        self.set_risk(risk)

    def set_risk(self, risk: float) -> None:
        """Configurator control of the risk aversion lambda (>= 0)."""
        if risk < 0:
            raise ValueError(f"uncertainty.risk: expected >= 0, got {risk}")
        self.risk = float(risk)

    def forward(self, states: Tensor, actions: Tensor) -> Tensor:
        costs = sample_costs(self.cost, states, actions)
        return costs.mean(1) + self.risk * costs.std(dim=1, unbiased=False)
