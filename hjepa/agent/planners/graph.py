"""Breadth-first search in imagination for Mode-2 planning (seed paper sec. 3.1.4 discrete actions, sec. 4.7).

A search that keeps the cheapest plans (CEM, beam search) crowds where the cost is low: in front of a wall between
the agent and its goal. This one spreads: it extends every node of its frontier by every discrete action, and
keeps a predicted state only where the model has not been before, so the frontier covers what the world model
can reach, round the walls it predicts, and the way through a door is among the plans it prices.
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from hjepa.agent.planners.base import Planner, Rollouts
from hjepa.agent.planners.discrete import action_set


class GraphSearchPlanner(Planner):
    """Breadth-first search over a discrete action set (K, A), one world-model call per depth.

    At each depth every frontier node is extended by every action. A predicted state within `merge` of a typical
    step (the median distance the first depth's actions move) of a state already reached is dropped, and of
    the rest the most novel are kept first, each one removing its near neighbours, up to `max_nodes`. Every node is
    priced as the plan that reaches it and then stands still (action 0, or the box's nearest action) to the
    horizon, unrolled by the model, so a plan that gets there sooner costs less; the cheapest node of all depths
    is the plan. The warm start is priced first, so the plan is never worse than it.
    """

    def __init__(
        self,
        action_low: float | Sequence[float] | Tensor,
        action_high: float | Sequence[float] | Tensor,
        horizon: int,
        actions_per_dim: int = 3,
        actions: Sequence[Sequence[float]] | None = None,
        merge: float = 0.5,
        max_nodes: int = 256,
    ) -> None:
        super().__init__(action_low, action_high, horizon)
        if merge <= 0:
            raise ValueError(f"planner.merge must be > 0 (a share of one step), got {merge}")
        if max_nodes < 1:
            raise ValueError(f"planner.max_nodes must be >= 1, got {max_nodes}")
        self.choices, self.merge, self.max_nodes = action_set(self, actions_per_dim, actions), merge, max_nodes

    def _search(self, rollouts: Rollouts, init: Tensor, generator: torch.Generator | None) -> int:
        rollouts(init[None])
        choices = self.choices.to(init)
        horizon, k = init.shape[0], choices.shape[0]
        stay = self.clip(torch.zeros_like(init[0]))
        start = rollouts.state.to(init)  # (1, D)
        frontier = init.new_zeros((1, 0, init.shape[1]))  # (F, depth, A): the plans to the frontier's nodes
        reached, radius, depth = start, None, 0
        while depth < horizon and len(frontier):
            depth += 1
            f = len(frontier)
            plans = torch.cat([frontier.repeat_interleave(k, 0), choices.repeat(f, 1)[:, None]], 1)
            # Reach the node, then stay: the whole horizon as the model predicts it, so the cost is the plan's own.
            whole = torch.cat([plans, stay.expand(len(plans), horizon - depth, -1)], 1)
            states = rollouts.unroll(whole)  # (F * K, H, D)
            ends = states[:, depth - 1]
            rollouts.price(whole, states)
            if radius is None:
                radius = self.merge * float((ends - start).norm(dim=-1).median())
            kept = self._spread(ends, reached, radius)
            frontier, reached = plans[kept], torch.cat([reached, ends[kept]])
        return depth + 1  # world-model calls: the warm start's, then one per depth

    def _spread(self, ends: Tensor, reached: Tensor, radius: float) -> Tensor:
        """Indices of the new nodes among the states (N, D): the one farthest from every state reached (M, D) first,
        then the one farthest from those and the nodes kept, while that distance exceeds `radius`, at most
        `max_nodes`. Spread, not cheapest-first: a full frontier still covers the long way round a wall."""
        distance = torch.cdist(ends, reached).min(1).values
        kept = []
        while len(kept) < self.max_nodes:
            i = int(distance.argmax())
            if distance[i] <= radius:
                break
            kept.append(i)
            distance = torch.minimum(distance, (ends - ends[i]).norm(dim=-1))
        return torch.tensor(kept, dtype=torch.long)
