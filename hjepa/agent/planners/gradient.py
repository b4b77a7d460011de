"""Gradient-based Mode-2 planning (seed paper sec. 3.1.2 step 5, 3.1.4): back-propagate the cost to the actions."""

from collections.abc import Sequence

import torch
from torch import Tensor

from hjepa.agent.planners.base import Planner, Rollouts


class GradientPlanner(Planner):
    """Adam on the action sequence through `unroll` and the cost, with `restarts` starts optimised as one batch.

    Actions stay in the box through a tanh reparameterisation a = mid + half * tanh(u).
    """

    differentiable = True

    def __init__(
        self,
        action_low: float | Sequence[float] | Tensor,
        action_high: float | Sequence[float] | Tensor,
        horizon: int,
        iterations: int = 50,
        lr: float = 0.1,
        restarts: int = 1,
        restart_std: float = 0.5,
    ) -> None:
        super().__init__(action_low, action_high, horizon)
        if iterations < 1 or restarts < 1:
            raise ValueError(f"planner.iterations and planner.restarts must be >= 1, got {iterations}, {restarts}")
        self.iterations, self.lr, self.restarts, self.restart_std = iterations, lr, restarts, restart_std

    def _search(self, rollouts: Rollouts, init: Tensor, generator: torch.Generator | None) -> int:
        mid = (self.action_low + self.action_high).to(init) / 2
        half = self.half_range(init)
        # Restart 0 is the warm start itself; the others are perturbed in the unbounded u space.
        u0 = torch.atanh(((init - mid) / half).clamp(-1 + 1e-4, 1 - 1e-4))
        noise = torch.randn((self.restarts, *init.shape), generator=generator, device=init.device, dtype=init.dtype)
        noise[0] = 0
        u = (u0 + self.restart_std * noise).requires_grad_(True)
        optimizer = torch.optim.Adam([u], lr=self.lr)
        for _ in range(self.iterations):
            costs = rollouts(mid + half * torch.tanh(u))
            # Restarts are independent, so the gradient of their sum is each one's own gradient.
            (grad,) = torch.autograd.grad(costs.sum(), [u])
            u.grad = grad
            optimizer.step()
        return self.iterations
