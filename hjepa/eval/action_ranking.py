"""Action ranking (seed paper sec. 3.1.4): can the world model tell the actions that were taken from other actions?

Mode-2 planning searches action sequences by the states the model foresees. A search can find the sequence that
reaches a state only if the model's rollout of that sequence ends nearer the state than the rollouts of other
sequences do. So from each recorded clip's start, the recorded actions and `candidates` action sequences drawn
uniformly in the recorded actions' box are rolled out `horizon` steps. They are ranked by how near each rollout
ends to the encoded frame the recorded actions led to. No ground-truth state enters: the figure speaks of the
representation a planner prices, at the horizons it plans over.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import Tensor


class RollsOut(Protocol):
    """The world model's rollout from a context of `history` states (`WorldModel.unroll`, `WorldModel.history`)."""

    history: int

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor: ...


class ActionRanking(NamedTuple):
    """How the recorded actions rank among random ones at one horizon."""

    percentile: float
    """Mean share of the random candidates whose rollout ends nearer than the recorded one's, ties counted half:
    0 when the recorded actions always come first, 0.5 for a model blind to actions."""
    top1: float
    """Share of clips where the recorded actions' rollout ends strictly nearest."""


@torch.no_grad()
def rank_recorded_actions(
    model: RollsOut,
    reprs: Tensor,
    actions: Tensor,
    horizon: int,
    candidates: int = 63,
    generator: torch.Generator | None = None,
) -> ActionRanking:
    """Rank each clip's recorded actions among `candidates` random sequences by the model's `horizon`-step rollouts.

    reprs (N, T, D) encoder representations of the clips, actions (N, T - 1, A). A rollout starts from the model's
    context, the first `history` states (and the recorded actions between them), so the clips need
    `history + horizon` frames. Random sequences are uniform within the per-dimension range of `actions`.
    """
    k = model.history
    n, frames, _ = reprs.shape
    if not 1 <= horizon <= frames - k:
        raise ValueError(f"horizon: expected 1 to {frames - k} for clips of {frames} frames and a context of {k}")
    recorded = actions[:, : k - 1 + horizon]
    box = actions.flatten(0, 1)
    low, high = box.min(0).values, box.max(0).values
    drawn = torch.rand(n, candidates, horizon, actions.shape[-1], generator=generator, dtype=actions.dtype)
    sequences = torch.cat([recorded[:, None, k - 1 :], low + (high - low) * drawn], dim=1)  # (N, 1 + C, H, A)
    within_context = recorded[:, None, : k - 1].expand(-1, candidates + 1, -1, -1)
    rollout_actions = torch.cat([within_context, sequences], dim=2).flatten(0, 1)
    context = reprs[:, None, :k].expand(-1, candidates + 1, -1, -1).flatten(0, 1)
    ends = model.unroll(context, rollout_actions)[:, -1].view(n, candidates + 1, -1)
    distance = (ends - reprs[:, None, k - 1 + horizon]).norm(dim=-1)  # (N, 1 + C)
    nearer = (distance[:, 1:] < distance[:, :1]).float() + 0.5 * (distance[:, 1:] == distance[:, :1]).float()
    first = (distance[:, 1:] > distance[:, :1]).all(dim=1).float()
    return ActionRanking(float(nearer.mean()), float(first.mean()))
