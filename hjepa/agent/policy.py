"""Mode-1 actor (seed paper sec. 3.1.1, 3.1.4): a policy network a = A(s, g), one forward pass per step.

It maps the current state and the (sub)goal state in representation space to an action inside the
action box. Mode-2 trains it: the planner's chosen actions are regressed by minimising D(a_plan, A(s, g))
(sec. 3.1.4, distillation), so reactive behaviour comes to cost one network call instead of a search.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn


class Policy(nn.Module):
    """MLP over [s, g - s] with a tanh head scaled into the box [action_low, action_high]: (..., D) -> (..., A)."""

    def __init__(
        self,
        state_dim: int,
        action_low: Sequence[float] | Tensor,
        action_high: Sequence[float] | Tensor,
        hidden_dim: int = 256,
        num_layers: int = 2,
    ) -> None:
        super().__init__()
        low = torch.as_tensor(action_low, dtype=torch.float32).reshape(-1)
        high = torch.as_tensor(action_high, dtype=torch.float32).reshape(-1)
        if low.shape != high.shape or not bool((low < high).all()):
            raise ValueError(
                f"policy action box: need action_low < action_high per dim, got {low.tolist()}, {high.tolist()}"
            )
        self.register_buffer("centre", (high + low) / 2)
        self.register_buffer("half_range", (high - low) / 2)
        layers: list[nn.Module] = []
        width = 2 * state_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.GELU()]
            width = hidden_dim
        layers.append(nn.Linear(width, low.numel()))
        self.net = nn.Sequential(*layers)
        self.state_dim, self.hidden_dim, self.num_layers = state_dim, hidden_dim, num_layers

    def forward(self, state: Tensor, goal: Tensor) -> Tensor:
        """state (..., D), goal (..., D) -> action (..., A) inside the box."""
        goal = goal.expand_as(state)
        return self.centre + self.half_range * torch.tanh(self.net(torch.cat([state, goal - state], dim=-1)))

    def fit(
        self,
        states: Tensor,
        goals: Tensor,
        actions: Tensor,
        steps: int,
        lr: float = 1e-3,
        batch_size: int = 256,
        generator: torch.Generator | None = None,
        weights: Tensor | None = None,
    ) -> list[float]:
        """Regress planner actions: minimise mean ||(A(s, g) - a) / half_range||^2 over (N, D), (N, D), (N, A),
        each batch drawn uniformly or in proportion to `weights` (N,)."""
        if not (len(states) == len(goals) == len(actions)) or len(states) == 0:
            raise ValueError(
                f"need as many states, goals and actions (> 0), got {len(states)}, {len(goals)}, {len(actions)}"
            )
        if weights is not None and (weights.shape != (len(states),) or not bool((weights >= 0).all())):
            raise ValueError(f"weights: expected {len(states)} weights >= 0, got shape {tuple(weights.shape)}")

        def batches() -> Iterator[tuple[Tensor, Tensor, Tensor]]:
            size = min(batch_size, len(states))
            while True:
                if weights is None:
                    batch = torch.randint(len(states), (size,), generator=generator)
                else:
                    batch = torch.multinomial(weights, size, replacement=True, generator=generator)
                yield states[batch], goals[batch], actions[batch]

        return self.fit_batches(batches(), steps, lr)

    def fit_batches(
        self, batches: Iterator[tuple[Tensor, Tensor, Tensor]], steps: int, lr: float = 1e-3, anneal: bool = False
    ) -> list[float]:
        """Minimise mean ||(A(s, g) - a) / half_range||^2 over `steps` batches (states (B, D), goals (B, D),
        actions (B, A)) with Adam, its rate annealed to 0 along a cosine with `anneal` (examples drawn afresh from
        noisy demonstrations: the rate's decay averages their noise out); returns the loss of each step."""
        optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if anneal else None
        losses = []
        for _, (states, goals, actions) in zip(range(steps), batches):
            error = (self(states, goals) - actions) / self.half_range
            loss = error.pow(2).sum(-1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            losses.append(loss.item())
        return losses
