"""Hierarchical planning (seed paper sec. 4.7, fig. 16): level 2 chooses subgoals, level 1 plans to reach them.

Level 2 sees the agent through its own encoder: the last W level-1 states pooled into one abstract state.
It remembers the abstract states of recorded episodes (windows of the recorded level-1 states, encoded once
by the level-2 encoder) and searches a sequence of abstract states toward the goal's in one of two ways:
- `memory`: shortest paths over the remembered abstract states, where consecutive windows are joined because
  the world connected them and near ones because they are alike, so paths go through doors the data crossed;
- `model`: a Mode-2 planner (the same planners and interface as level 1) over the level-2 world model, its
  actions the level-1 actions summed over a window; only as good as the level-2 predictor's knowledge of
  walls.
The subgoal is the abstract state `lookahead` level-2 steps ahead; level 1 is given the level-1 state that
realised it (or, for a predicted one, its nearest remembered abstract state) in memory, the last state of its
window, as the target of its own cost. Level 2 replans on its own clock, every `every` level-1 steps; level 1
replans every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from hjepa.agent.cost import GoalDistanceCost, IntrinsicCost
from hjepa.agent.landmarks import LandmarkGraph, nearest_neighbours
from hjepa.agent.planners import Planner, build_planner
from hjepa.models.level2 import Level2WorldModel

FIELDS = ("search", "planner", "stride", "every", "lookahead", "neighbours", "link_radius")
SEARCHES = ("memory", "model")


class AbstractEpisodes(NamedTuple):
    """Remembered episodes at level 2: abstract states (E, N, D2) of windows taken every `stride` level-1
    steps, and the level-1 state (E, N, D1) that ends each window (what level 1 can aim for)."""

    states: Tensor
    realisations: Tensor


@torch.no_grad()
def abstract_episodes(level2: Level2WorldModel, episodes: Tensor, stride: int) -> AbstractEpisodes:
    """Encode level-1 episodes (E, T, D1) at level 2, one window of W states every `stride` steps."""
    window = level2.encoder.window
    if episodes.shape[1] < window + stride:
        raise ValueError(f"level2: remembered episodes of {episodes.shape[1]} states are too short for two windows "
                         f"of {window} states {stride} apart; record longer episodes or lower level2.stride")
    windows = episodes.unfold(1, window, stride).transpose(-1, -2)  # (E, N, W, D1)
    e, n = windows.shape[:2]
    states = level2.encoder.abstract(windows.reshape(e * n, window, -1)).reshape(e, n, -1)
    return AbstractEpisodes(states, windows[:, :, -1])


class HierarchicalSubgoals:
    """The level-2 half of a two-level actor: keeps the last W level-1 states, plans at level 2 every `every`
    steps, and hands level 1 the target of the current subgoal.

    Args:
        level2: the frozen level-2 world model (its encoder abstracts windows of level-1 states).
        episodes: remembered level-1 episodes (E, T, D1), encoded by the level-1 encoder.
        search: `memory` (shortest paths over remembered abstract states) or `model` (`planner` over the level-2
            world model, in the box of level-1 actions `action_low`, `action_high` summed over a window).
        planner: the level-2 planner's `name` and fields (`search: model`), e.g. {"name": "cem", "horizon": 3}.
        stride: level-1 steps between remembered windows, the length of one level-2 step of the path (default
            W / 4: short hops, so level 1 rarely meets a wall corner between it and its target).
        every: level-1 steps between level-2 replans (default: stride).
        lookahead: level-2 steps along the path to the subgoal.
        neighbours, link_radius: links between alike abstract states (see `LandmarkGraph`).
        seed: seeds the level-2 planner's sampling, so an episode is reproducible.
    """

    def __init__(self, level2: Level2WorldModel, episodes: Tensor, search: str = "memory",
                 planner: dict[str, Any] | None = None, stride: int | None = None, every: int | None = None,
                 lookahead: int = 2, neighbours: int = 8, link_radius: float = 1.0,
                 action_low: Sequence[float] | None = None, action_high: Sequence[float] | None = None,
                 seed: int = 0) -> None:
        self.level2 = level2.eval().requires_grad_(False)
        self.window = level2.encoder.window
        self.stride = stride or max(1, self.window // 4)
        self.every = every or self.stride
        if min(self.stride, self.every, lookahead) < 1:
            raise ValueError(f"level2: stride, every and lookahead must be >= 1, got {self.stride}, {self.every}, "
                             f"{lookahead}")
        if search not in SEARCHES:
            raise ValueError(f"level2.search: unknown search {search!r}; choose one of {list(SEARCHES)}")
        self.lookahead = lookahead
        self.planner: Planner | None = None
        self.generator = torch.Generator().manual_seed(seed)
        if search == "model":
            if not planner or "name" not in planner:
                raise ValueError("level2.planner: search model needs a planner, e.g. {name: cem, horizon: 3}")
            if action_low is None or action_high is None:
                raise ValueError("level2: search model needs the level-1 action box (action_low, action_high)")
            low, high = (np.asarray(bound, dtype=np.float64) * self.window for bound in (action_low, action_high))
            fields = {k: v for k, v in planner.items() if k != "name"}
            self.planner = build_planner(planner["name"], action_low=low.tolist(), action_high=high.tolist(), **fields)
            self.lookahead = min(lookahead, self.planner.horizon)
        memory = abstract_episodes(self.level2, episodes, self.stride)
        # The agent and the goal enter the graph through level 1's view of the windows (where each ended): a
        # still goal or a just-started history pools into abstract states unlike those of moving windows.
        self.graph = LandmarkGraph(memory.states, neighbours, link_radius, keys=memory.realisations)
        self.realisations = memory.realisations.reshape(-1, memory.realisations.shape[-1])  # (E * N, D1)
        self.goal = torch.zeros(episodes.shape[-1])
        self.history: list[Tensor] = []
        self.path = self.goal[None]  # (L, D1): level 1's targets along level 2's current subgoal sequence
        self.subgoal_state: Tensor | None = None
        self.clock = 0

    @torch.no_grad()
    def abstract(self, states: Tensor) -> Tensor:
        """The level-2 state (D2,) of the last W level-1 states (T, D1), the first repeated when T < W
        (the agent has stood still before it was first seen)."""
        states = states[-self.window:]
        if len(states) < self.window:
            states = torch.cat([states[:1].expand(self.window - len(states), -1), states])
        return self.level2.encoder.abstract(states[None])[0, 0]

    def set_goal(self, goal: Tensor, penalty: np.ndarray | None = None) -> None:
        """New episode toward the level-1 goal state (D1,); the goal's abstract state is the goal held still for
        a window. penalty (E * N,) in level-2 steps prices passing each remembered window (see `LandmarkGraph`)."""
        self.goal, self.goal_state = goal.detach(), self.abstract(goal[None])
        self.graph.set_goal(self.goal, penalty)
        self.history, self.path, self.subgoal_state, self.clock = [], self.goal[None], None, 0

    def subgoal(self, state: Tensor, horizon: int = 1) -> Tensor:
        """Observe the level-1 state (D1,) and return level 1's targets (horizon, D1), one per level-1 step:
        the level-1 realisations of level 2's subgoal sequence, `stride` steps each, up to the current subgoal
        `lookahead` level-2 steps ahead. Level 2 replans on its clock; in between, level 1 keeps the targets."""
        self.history = [*self.history[-(self.window - 1):], state.detach()]
        if self.clock % self.every == 0:
            if self.planner is None:
                nodes = self.graph.path_nodes(state, self.lookahead)
                node = nodes[-1]
                self.subgoal_state = self.goal_state if node < 0 else self.graph.states[node]
            else:
                self.subgoal_state = self._predicted_subgoal(self.abstract(torch.stack(self.history)))
                node = int(nearest_neighbours(self.subgoal_state[None], self.graph.states, 1)[1][0, 0])
                if self.graph.steps_to_goal(self.realisations[node]) <= self.lookahead:
                    node = -1
                nodes = [node]
            self.path = torch.stack([self.goal if n < 0 else self.realisations[n] for n in nodes])  # (L, D1)
        self.clock += 1
        steps = torch.arange(1, horizon + 1)
        return self.path[((steps + self.stride - 1) // self.stride - 1).clamp(max=len(self.path) - 1)]

    @property
    def target(self) -> Tensor:
        """Level 1's target for the current subgoal (D1,)."""
        return self.path[-1]

    def _predicted_subgoal(self, now: Tensor) -> Tensor:
        """Plan level-2 actions from the abstract state `now` (D2,) toward the goal's; the predicted abstract
        state `lookahead` level-2 steps ahead."""
        assert self.planner is not None
        cost = IntrinsicCost({"goal_distance": GoalDistanceCost(self.goal_state)})  # summed over the horizon
        result = self.planner.plan(now, cost, self.level2, generator=self.generator)
        with torch.no_grad():
            return self.level2.unroll(now[None], result.actions[None])[0, self.lookahead - 1]
