"""Cost module (seed paper sec. 3.2, 3.3, fig. 6-7): immutable intrinsic cost, trainable critic, and their sum.

Every cost maps predicted states (..., H, D) and actions (..., H, A) to a cost with the leading shape (...),
vectorized over any leading dims (batch, candidates) and differentiable w.r.t. states and actions.
"""

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hjepa.agent.memory import Triplets


def discounted_sum(x: Tensor, discount: float | None = None) -> Tensor:
    """sum_h discount^h x[..., h]: (..., H) -> (...); discount None means a plain sum."""
    if discount is None:
        return x.sum(-1)
    return (x * discount ** torch.arange(x.shape[-1], device=x.device, dtype=x.dtype)).sum(-1)


class GoalDistanceCost(nn.Module):
    """Distance of each predicted state to a goal state raised to `exponent`: (..., H).

    Measured in representation space, or through a fixed linear map P (D, P) when `projection` is given
    (e.g. a probe onto the world's position: only the part of the state the task is about counts).
    Summed over a horizon, exponent 2 (squared, an MSE) prices a detour quadratically, so standing at a wall
    near the goal can cost less than the way round it through a door; exponent 1 prices every step by its
    distance, and the sum then favours the plan that gets there. `terminal` counts the last predicted state
    that many more times: the cost-to-go beyond the horizon of a plan that stops there (sec. 3.2), so that a
    plan ending at the goal beats one that waits at a wall even when the horizon is short.
    """

    def __init__(
        self, goal: Tensor, projection: Tensor | None = None, exponent: float = 2.0, terminal: float = 0.0
    ) -> None:
        super().__init__()
        if exponent <= 0:
            raise ValueError(f"goal_exponent: expected a positive exponent, got {exponent}")
        if terminal < 0:
            raise ValueError(f"goal_terminal: expected a number of steps >= 0, got {terminal}")
        self.terminal = terminal
        self.register_buffer("goal", goal.detach().clone())
        self.register_buffer("projection", None if projection is None else projection.detach().clone())
        self.per_step = False
        self.exponent = exponent

    def set_goal(self, goal: Tensor, per_step: bool = False) -> None:
        """Goal (D,), or (..., D) matching the leading dims of the states, e.g. an encoded goal observation;
        with per_step, goal (H, D) gives each predicted step its own target (a path to follow)."""
        self.goal, self.per_step = goal.detach().to(self.goal), per_step

    def squared_distance(self, states: Tensor) -> Tensor:
        """Squared distance of each state (..., H, D) to the goal in the task's metric: (..., H)."""
        diff = states - (self.goal if self.per_step else self.goal.unsqueeze(-2))
        if self.projection is not None:
            diff = diff @ self.projection
        return diff.pow(2).sum(-1)

    def forward(self, states: Tensor, actions: Tensor) -> Tensor:
        squared = self.squared_distance(states)
        # eps keeps the gradient finite at the goal, where the norm is not differentiable
        cost = squared if self.exponent == 2.0 else (squared + 1e-12).pow(self.exponent / 2)
        if self.terminal:
            last = torch.zeros(cost.shape[-1], dtype=cost.dtype, device=cost.device)
            last[-1] = self.terminal
            cost = cost * (1 + last)
        return cost


class RegionAvoidanceCost(nn.Module):
    """Soft hinge softplus(k (radius - |P s - centre|)) / k on a position read by a fixed linear probe P: (..., H).

    About radius - distance inside the circular region, about 0 outside; its gradient pushes states out.
    """

    def __init__(
        self, probe_weight: Tensor, probe_bias: Tensor, centre: Tensor, radius: float, sharpness: float = 10.0
    ) -> None:
        super().__init__()
        self.register_buffer("probe_weight", probe_weight.detach().clone())  # (S, D)
        self.register_buffer("probe_bias", probe_bias.detach().clone())  # (S,)
        self.register_buffer("centre", centre.detach().clone())  # (S,)
        self.radius, self.sharpness = radius, sharpness

    def forward(self, states: Tensor, actions: Tensor) -> Tensor:
        position = states @ self.probe_weight.T + self.probe_bias
        # eps keeps the gradient finite at the centre, where the norm is not differentiable
        distance = ((position - self.centre).pow(2).sum(-1) + 1e-12).sqrt()
        return F.softplus(self.sharpness * (self.radius - distance)) / self.sharpness


class ActionMagnitudeCost(nn.Module):
    """Squared action norm per step, an energy-consumption drive (sec. 3.2): (..., H)."""

    def forward(self, states: Tensor, actions: Tensor) -> Tensor:
        return actions.pow(2).sum(-1)


class IntrinsicCost(nn.Module):
    """IC(s) = sum_i u_i IC_i(s) over named immutable sub-costs (sec. 3.2, fig. 6).

    Holds no parameters, only buffers, so no optimizer and no gradient can change it; the weights u_i
    (1 until set) change only through `set_weights` (the configurator). Sub-costs holding parameters are refused.
    """

    def __init__(self, costs: Mapping[str, nn.Module]) -> None:
        super().__init__()
        for name, cost in costs.items():
            if any(True for _ in cost.parameters()):
                raise ValueError(f"intrinsic sub-cost {name!r} has parameters; an intrinsic cost must be immutable")
        self.costs = nn.ModuleDict(costs)
        self.register_buffer("weights", torch.ones(len(costs)))

    @property
    def names(self) -> list[str]:
        return list(self.costs)

    @torch.no_grad()
    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Set u_i for the named sub-costs (others keep theirs); unknown names -> KeyError."""
        for name, w in weights.items():
            if name not in self.costs:
                raise KeyError(f"{name!r} is not an intrinsic sub-cost; known: {self.names}")
            self.weights[self.names.index(name)] = w

    def per_step(self, states: Tensor, actions: Tensor) -> Tensor:
        """Weighted IC of each step, the energies stored as triplets for the critic: (..., H)."""
        return sum(w * cost(states, actions) for w, cost in zip(self.weights, self.costs.values()))

    def terms(self, states: Tensor, actions: Tensor, discount: float | None = None) -> dict[str, Tensor]:
        """Unweighted (discounted) sum over H of each sub-cost: name -> (...)."""
        return {name: discounted_sum(cost(states, actions), discount) for name, cost in self.costs.items()}

    def forward(self, states: Tensor, actions: Tensor, discount: float | None = None) -> Tensor:
        """sum_h discount^h sum_i u_i IC_i: states (..., H, D), actions (..., H, A) -> (...)."""
        return sum(w * t for w, t in zip(self.weights, self.terms(states, actions, discount).values()))


def targets_from_trajectory(costs: Tensor, horizon: int, discount: float) -> Tensor:
    """Future intrinsic cost sum_{k<horizon} discount^k costs[t+k], truncated at the end: (..., T) -> (..., T)."""
    padded = F.pad(costs, (0, horizon - 1))
    windows = padded.unfold(-1, horizon, 1)  # (..., T, horizon)
    return (windows * discount ** torch.arange(horizon, device=costs.device, dtype=costs.dtype)).sum(-1)


def critic_targets(triplets: Triplets, horizon: int, discount: float) -> tuple[Tensor, Tensor]:
    """(N, D) states and (N,) critic targets, computed within each episode ordered by tau (sec. 3.3, fig. 7).

    Taus of an episode must be consecutive; sums are truncated at the last stored step of the episode.
    """
    states, targets = [], []
    for ep in triplets.episode.unique():
        idx = (triplets.episode == ep).nonzero().squeeze(-1)
        idx = idx[triplets.tau[idx].argsort()]
        if (triplets.tau[idx].diff() != 1).any():
            raise ValueError(f"episode {int(ep)} has missing or repeated time steps")
        states.append(triplets.states[idx])
        targets.append(targets_from_trajectory(triplets.costs[idx], horizon, discount))
    return torch.cat(states), torch.cat(targets)


class TrainableCritic(nn.Module):
    """TC(s) = mean_j TC_j(s): MLP sub-critics predicting sum_{k<horizon} discount^k IC(s_{tau+k}) (sec. 3.2-3.3).

    Every sub-critic is trained on that same target (an ensemble), so their mean stands for TC; the configurator
    sets how much TC counts in the actor's cost (`Cost.set_critic_weight`).
    """

    def __init__(
        self, state_dim: int, num_critics: int = 1, hidden_dim: int = 64, horizon: int = 16, discount: float = 0.95
    ) -> None:
        super().__init__()
        self.horizon, self.discount = horizon, discount
        self.critics = nn.ModuleList(
            nn.Sequential(
                nn.Linear(state_dim, hidden_dim),
                nn.ReLU(),
                nn.Linear(hidden_dim, hidden_dim),
                nn.ReLU(),
                nn.Linear(hidden_dim, 1),
            )
            for _ in range(num_critics)
        )
        # Targets are standardised for fitting (costs can be in the thousands); outputs are in cost units.
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def per_critic(self, states: Tensor) -> Tensor:
        """Each sub-critic's prediction: (..., D) -> (..., J)."""
        return torch.cat([critic(states) for critic in self.critics], dim=-1) * self.target_std + self.target_mean

    def forward(self, states: Tensor) -> Tensor:
        """(..., D) -> (...)."""
        return self.per_critic(states).mean(-1)

    def fit(self, triplets: Triplets, steps: int, lr: float = 1e-3) -> list[float]:
        """Full-batch Adam on the squared error of every sub-critic to the discounted future IC (in units of the
        targets' variance); returns the losses."""
        states, targets = critic_targets(triplets, self.horizon, self.discount)
        self.target_mean.fill_(float(targets.mean()))
        self.target_std.fill_(float(targets.std().clamp_min(1e-8)) if len(targets) > 1 else 1.0)
        optimizer = torch.optim.Adam(self.critics.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            loss = (self.per_critic(states) - targets[:, None]).pow(2).mean() / self.target_std**2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses


class Cost(nn.Module):
    """C = IC + critic_weight * TC over a predicted trajectory (sec. 3.2): (..., H, D), (..., H, A) -> (...).

    IC is summed over the H steps (discounted by `discount` if given). TC is applied to the last predicted
    state only, discounted like that step: the critic estimates the intrinsic cost beyond the horizon
    (a terminal value), while the steps inside the horizon are already priced exactly by IC. With a goal
    (`set_goal`), TC reads [s_H, goal], the input of the triplets it learned from. Only TC is trainable.
    """

    def __init__(
        self,
        intrinsic: IntrinsicCost,
        critic: TrainableCritic | None = None,
        critic_weight: float = 1.0,
        discount: float | None = None,
    ) -> None:
        super().__init__()
        self.intrinsic, self.critic, self.discount = intrinsic, critic, discount
        self.register_buffer("goal", None)
        self.critic_weight = 0.0
        self.set_critic_weight(critic_weight)

    def set_critic_weight(self, weight: float) -> None:
        """Configurator control of how much TC counts beside IC (>= 0; 0 leaves the critic out)."""
        if weight < 0:
            raise ValueError(f"critic_weight: expected a number >= 0, got {weight}")
        self.critic_weight = float(weight)

    def set_goal(self, goal: Tensor) -> None:
        """The goal (D,) that the critic reads beside the last state (a critic of state_dim 2 D)."""
        self.goal = goal.detach()

    def forward(self, states: Tensor, actions: Tensor) -> Tensor:
        total = self.intrinsic(states, actions, self.discount)
        if self.critic is None or self.critic_weight == 0:
            return total
        last = states[..., -1, :]
        if self.goal is not None:
            last = torch.cat([last, self.goal.to(last).expand_as(last)], dim=-1)
        discount = 1.0 if self.discount is None else self.discount ** (states.shape[-2] - 1)
        return total + self.critic_weight * discount * self.critic(last)
