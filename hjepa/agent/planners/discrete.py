"""Beam search over a discretised action set for Mode-2 planning (seed paper sec. 3.1.4, discrete actions)."""

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor

from hjepa.agent.planners.base import Planner, Rollouts


def action_set(planner: Planner, actions_per_dim: int, actions: Sequence[Sequence[float]] | None) -> Tensor:
    """The discrete actions (K, A) a search extends plans by: an explicit `actions` list, or a grid of
    `actions_per_dim` values per dimension of the planner's box; clipped to the box."""
    if actions is None:
        if actions_per_dim < 2:
            raise ValueError(f"planner.actions_per_dim must be >= 2, got {actions_per_dim}")
        bounds = zip(planner.action_low.tolist(), planner.action_high.tolist())
        axes = [torch.linspace(lo, hi, actions_per_dim).tolist() for lo, hi in bounds]
        actions = list(itertools.product(*axes))
    choices = torch.as_tensor(actions, dtype=torch.float32)
    if choices.dim() != 2 or choices.shape[1] != planner.action_dim:
        got = tuple(choices.shape)
        raise ValueError(f"planner.actions must be a list of (A={planner.action_dim},) actions, got {got}")
    return planner.clip(choices)


class DiscreteSearchPlanner(Planner):
    """Beam search: at each depth every beam is extended by every discrete action (K, A), all extensions are
    priced in one world-model call, and the `beam_width` cheapest are kept.

    A prefix is priced as a full plan completed by the warm start snapped to the set, so terminal costs (goal
    distance) guide the search from the first depth and the plan is never worse than the snapped warm start.
    The discrete set is an explicit `actions` list, or a grid of `actions_per_dim` values per dimension.
    """

    def __init__(
        self,
        action_low: float | Sequence[float] | Tensor,
        action_high: float | Sequence[float] | Tensor,
        horizon: int,
        actions_per_dim: int = 3,
        actions: Sequence[Sequence[float]] | None = None,
        beam_width: int = 16,
    ) -> None:
        super().__init__(action_low, action_high, horizon)
        if beam_width < 1:
            raise ValueError(f"planner.beam_width must be >= 1, got {beam_width}")
        self.choices, self.beam_width = action_set(self, actions_per_dim, actions), beam_width

    def _search(self, rollouts: Rollouts, init: Tensor, generator: torch.Generator | None) -> int:
        choices = self.choices.to(init)
        horizon, k = init.shape[0], choices.shape[0]
        completion = choices[torch.cdist(init, choices).argmin(1)]  # (H, A) warm start snapped to the set
        beams = completion[None]  # (B, H, A); only the first `depth` steps of a beam are decided
        for depth in range(horizon):
            extended = beams.repeat_interleave(k, 0)
            extended[:, depth] = choices.repeat(beams.shape[0], 1)
            costs = rollouts(extended)
            beams = extended[costs.topk(min(self.beam_width, costs.numel()), largest=False).indices]
        return horizon
