"""Hierarchical planning (seed paper sec. 4.7, fig. 16): level 2 chooses subgoals, level 1 plans to reach them.

Level 2 sees the agent through its own encoder: the last W level-1 states pooled into one abstract state.
Two searches choose its subgoals:
- `model` (like-for-like): a Mode-2 planner over the level-2 world model, its actions the level-1 actions summed
  over a window, plans from the agent's abstract state toward the goal's; the subgoal is the predicted abstract
  state `lookahead` level-2 steps ahead. Level 1 plans in its own representation and prices each predicted
  state by the level-2 encoding of the window it closes against that subgoal (`SubgoalCost`): nothing but the
  two levels of the world model enters a decision.
- `memory` (memory-assisted, an ablation): shortest paths over the abstract states of recorded episodes
  (windows of the recorded level-1 states, encoded once), where consecutive windows are joined because the
  world connected them and near ones because they are alike, so paths go through doors the data crossed;
  level 1 is given the level-1 state that realised the subgoal, the last state of its window, as its target.
Level 2 replans on its own clock, every `every` level-1 steps; level 1 replans every step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from hjepa.agent.cost import GoalDistanceCost, IntrinsicCost
from hjepa.agent.landmarks import LandmarkGraph
from hjepa.agent.planners import build_planner
from hjepa.models.level2 import Level2WorldModel

SEARCHES = ("model", "memory")
DEFAULT_SEARCH = "model"
MODEL_FIELDS = ("planner", "every", "lookahead", "reach")
MEMORY_FIELDS = ("stride", "every", "lookahead", "neighbours", "link_radius")
FIELDS = ("search", *dict.fromkeys(MODEL_FIELDS + MEMORY_FIELDS))


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
        raise ValueError(
            f"level2: remembered episodes of {episodes.shape[1]} states are too short for two windows "
            f"of {window} states {stride} apart; record longer episodes or lower level2.stride"
        )
    windows = episodes.unfold(1, window, stride).transpose(-1, -2)  # (E, N, W, D1)
    e, n = windows.shape[:2]
    states = level2.encoder.abstract(windows.reshape(e * n, window, -1)).reshape(e, n, -1)
    return AbstractEpisodes(states, windows[:, :, -1])


class LevelTwoClock:
    """What both searches share: the last W level-1 states seen, their abstract state, and the level-2 clock."""

    def __init__(self, level2: Level2WorldModel, every: int | None) -> None:
        self.level2 = level2.eval().requires_grad_(False)
        self.window = level2.encoder.window
        self.every = every or max(1, self.window // 4)
        if self.every < 1:
            raise ValueError(f"level2.every: expected >= 1 level-1 steps between level-2 replans, got {every}")
        self.history: list[Tensor] = []
        self.clock = 0

    @torch.no_grad()
    def abstract(self, states: Tensor) -> Tensor:
        """The level-2 state (D2,) of the last W level-1 states (T, D1), the first repeated when T < W
        (the agent has stood still before it was first seen)."""
        return self.level2.encoder.abstract(padded_window(states, self.window)[None])[0, 0]

    def observe(self, state: Tensor) -> bool:
        """Remember the level-1 state (D1,); whether level 2 replans at this step."""
        self.history = [*self.history[-(self.window - 1) :], state.detach()]
        replan = self.clock % self.every == 0
        self.clock += 1
        return replan

    def restart(self) -> None:
        """Forget the states seen: a new episode, level 2 plans on its next step."""
        self.history, self.clock = [], 0


def padded_window(states: Tensor, window: int) -> Tensor:
    """The last `window` of the states (T, D), the first repeated in front when T < window: (window, D)."""
    states = states[-window:]
    if len(states) < window:
        states = torch.cat([states[:1].expand(window - len(states), -1), states])
    return states


class SubgoalCost(nn.Module):
    """Level 1's cost toward a level-2 subgoal (sec. 4.7, fig. 16): each predicted level-1 state closes a window
    of W states (the last W - 1 seen before the plan, then the plan's), the frozen level-2 encoder abstracts it,
    and the cost of the step is its squared distance to the subgoal's abstract state: states (..., H, D1) -> (..., H).

    The encoder is held as a function, not a submodule: it is frozen, so the cost stays immutable.
    """

    def __init__(self, abstract: Callable[[Tensor], Tensor], window: int, state_dim: int, subgoal_dim: int) -> None:
        super().__init__()
        self.abstract, self.window = abstract, window
        self.register_buffer("history", torch.zeros(window - 1, state_dim))
        self.register_buffer("subgoal", torch.zeros(subgoal_dim))

    def set_subgoal(self, subgoal: Tensor, history: Tensor) -> None:
        """The subgoal's abstract state (D2,) and the states seen so far (T, D1), the last one the plan's start."""
        self.subgoal = subgoal.detach().to(self.subgoal)
        self.history = padded_window(history.detach(), self.window)[1:].to(self.history)

    def forward(self, states: Tensor, actions: Tensor) -> Tensor:
        lead, (h, d) = states.shape[:-2], states.shape[-2:]
        seen = self.history.expand(*lead, self.window - 1, d)
        windows = torch.cat([seen, states], -2).unfold(-2, self.window, 1).transpose(-1, -2)  # (..., H, W, D1)
        abstract = self.abstract(windows.reshape(-1, self.window, d)).reshape(*lead, h, -1)
        return (abstract - self.subgoal).pow(2).sum(-1)


class ModelSubgoals(LevelTwoClock):
    """Like-for-like level 2: plans with the level-2 world model and sets level 1's `cost` toward the abstract state
    it predicts `lookahead` level-2 steps ahead.

    Args:
        level2: the frozen level-2 world model.
        state_dim: width D1 of level-1 states.
        action_low, action_high: the level-1 action box; a level-2 action sums W of them.
        planner: the level-2 planner's `name` and fields, e.g. {"name": "cem", "horizon": 16}; its cost is the
            distance of each predicted abstract state to the goal's, summed over its horizon.
        every: level-1 steps between level-2 replans (default W / 4).
        lookahead: level-2 steps to the subgoal (at most the planner's horizon).
        reach: the share of W full level-1 steps that a level-2 action may command: keeps level 2's search in the
            range of window-summed actions its predictor was trained on (an explorer rarely moves at full speed
            in one direction for a whole window).
        seed: seeds the level-2 planner's sampling, so an episode is reproducible.
    """

    def __init__(
        self,
        level2: Level2WorldModel,
        state_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        planner: dict[str, Any] | None = None,
        every: int | None = None,
        lookahead: int = 1,
        reach: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__(level2, every)
        if not planner or "name" not in planner:
            raise ValueError("level2.planner: search model needs a planner, e.g. {name: cem, horizon: 3}")
        if lookahead < 1:
            raise ValueError(f"level2.lookahead: expected >= 1 level-2 steps, got {lookahead}")
        if not 0 < reach <= 1:
            raise ValueError(f"level2.reach: expected a share in (0, 1] of W full steps, got {reach}")
        low, high = (np.asarray(bound, dtype=np.float64) * self.window * reach for bound in (action_low, action_high))
        fields = {k: v for k, v in planner.items() if k != "name"}
        self.planner = build_planner(planner["name"], action_low=low.tolist(), action_high=high.tolist(), **fields)
        self.lookahead = min(lookahead, self.planner.horizon)
        self.generator = torch.Generator().manual_seed(seed)
        self.cost = SubgoalCost(self.level2.encoder.abstract, self.window, state_dim, self.level2.encoder.embed_dim)
        self.goal_state = torch.zeros(self.level2.encoder.embed_dim)
        self.subgoal_state = self.goal_state
        self.goal_cost = self._goal_cost()
        self.plan: Tensor | None = None  # (H2, A): level 2's last plan
        self.predicted: Tensor | None = None  # (H2 + 1, D2): the abstract state it started from, then its foresight

    def set_goal(self, goal: Tensor) -> None:
        """New episode toward the level-1 goal state (D1,); the goal's abstract state is the goal held still for a
        window."""
        self.goal_state = self.subgoal_state = self.abstract(goal[None])
        self.goal_cost = self._goal_cost()
        self.plan = self.predicted = None
        self.restart()

    def _goal_cost(self) -> IntrinsicCost:
        """Level 2's cost: the distance to the goal, summed over the plan and counted again for its last state (the
        cost of staying there), so a plan that waits at a wall near the goal costs more than one that goes round."""
        terminal = self.planner.horizon
        return IntrinsicCost({"goal_distance": GoalDistanceCost(self.goal_state, exponent=1.0, terminal=terminal)})

    def observe(self, state: Tensor) -> bool:
        """See the level-1 state (D1,); on level 2's clock, plan toward the goal and move the subgoal; point level 1's
        cost at the subgoal from the states seen. Whether level 2 replanned."""
        replan = super().observe(state)
        history = torch.stack(self.history)
        if replan:
            now = self.abstract(history)
            # Warm start from the last plan (level 2 replans within one of its steps): never a worse plan than it.
            result = self.planner.plan(now, self.goal_cost, self.level2, init=self.plan, generator=self.generator)
            self.plan = result.actions
            with torch.no_grad():
                self.predicted = torch.cat([now[None], self.level2.unroll(now[None], result.actions[None])[0]])
            # Where the plan comes closest to the goal within the lookahead, level 1 is given the goal itself.
            closest = int((self.predicted - self.goal_state).norm(dim=-1).argmin())
            self.subgoal_state = self.goal_state if closest <= self.lookahead else self.predicted[self.lookahead]
        self.cost.set_subgoal(self.subgoal_state, history)
        return replan


class MemorySubgoals(LevelTwoClock):
    """Memory-assisted level 2 (an ablation): shortest paths over the abstract states of remembered episodes; hands
    level 1 the level-1 states that realised the windows along the path as its targets.

    Args:
        level2: the frozen level-2 world model (its encoder abstracts windows of level-1 states).
        episodes: remembered level-1 episodes (E, T, D1), encoded by the level-1 encoder.
        stride: level-1 steps between remembered windows, the length of one level-2 step of the path (default
            W / 4: short hops, so level 1 rarely meets a wall corner between it and its target).
        every: level-1 steps between level-2 replans (default: stride).
        lookahead: level-2 steps along the path to the subgoal.
        neighbours, link_radius: links between alike abstract states (see `LandmarkGraph`).
    """

    def __init__(
        self,
        level2: Level2WorldModel,
        episodes: Tensor,
        stride: int | None = None,
        every: int | None = None,
        lookahead: int = 2,
        neighbours: int = 8,
        link_radius: float = 1.0,
    ) -> None:
        super().__init__(level2, every)
        self.stride = stride or max(1, self.window // 4)
        self.every = every or self.stride
        if min(self.stride, lookahead) < 1:
            raise ValueError(f"level2: stride and lookahead must be >= 1, got {self.stride}, {lookahead}")
        self.lookahead = lookahead
        memory = abstract_episodes(self.level2, episodes, self.stride)
        # The agent and the goal enter the graph through level 1's view of the windows (where each ended): a
        # still goal or a just-started history pools into abstract states unlike those of moving windows.
        self.graph = LandmarkGraph(memory.states, neighbours, link_radius, keys=memory.realisations)
        self.realisations = memory.realisations.reshape(-1, memory.realisations.shape[-1])  # (E * N, D1)
        self.goal = torch.zeros(episodes.shape[-1])
        self.path = self.goal[None]  # (L, D1): level 1's targets along level 2's current subgoal sequence
        self.subgoal_state: Tensor | None = None

    def set_goal(self, goal: Tensor, penalty: np.ndarray | None = None) -> None:
        """New episode toward the level-1 goal state (D1,); the goal's abstract state is the goal held still for
        a window. penalty (E * N,) in level-2 steps prices passing each remembered window (see `LandmarkGraph`)."""
        self.goal, self.goal_state = goal.detach(), self.abstract(goal[None])
        self.graph.set_goal(self.goal, penalty)
        self.path, self.subgoal_state = self.goal[None], None
        self.restart()

    def subgoal(self, state: Tensor, horizon: int = 1) -> Tensor:
        """Observe the level-1 state (D1,) and return level 1's targets (horizon, D1), one per level-1 step:
        the level-1 realisations of level 2's subgoal sequence, `stride` steps each, up to the current subgoal
        `lookahead` level-2 steps ahead. Level 2 replans on its clock; in between, level 1 keeps the targets."""
        if self.observe(state):
            nodes = self.graph.path_nodes(state, self.lookahead)
            self.subgoal_state = self.goal_state if nodes[-1] < 0 else self.graph.states[nodes[-1]]
            self.path = torch.stack([self.goal if n < 0 else self.realisations[n] for n in nodes])  # (L, D1)
        steps = torch.arange(1, horizon + 1)
        return self.path[((steps + self.stride - 1) // self.stride - 1).clamp(max=len(self.path) - 1)]

    @property
    def target(self) -> Tensor:
        """Level 1's target for the current subgoal (D1,)."""
        return self.path[-1]


def build_subgoals(
    level2: Level2WorldModel,
    fields: dict[str, Any],
    state_dim: int,
    action_low: Sequence[float],
    action_high: Sequence[float],
    episodes: Tensor | None = None,
) -> ModelSubgoals | MemorySubgoals:
    """The level-2 half of a two-level actor from a task's `level2` fields; `search: memory` needs `episodes`."""
    fields = dict(fields)
    search = fields.pop("search", DEFAULT_SEARCH)
    if search not in SEARCHES:
        raise ValueError(f"level2.search: unknown search {search!r}; choose one of {list(SEARCHES)}")
    known = MODEL_FIELDS if search == "model" else MEMORY_FIELDS
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ValueError(f"level2: field(s) {unknown} do not apply to search {search}; it reads {list(known)}")
    if search == "model":
        return ModelSubgoals(level2, state_dim, action_low, action_high, **fields)
    if episodes is None:
        raise ValueError("level2.search memory reads recorded episodes: pass --data, or use search: model")
    return MemorySubgoals(level2, episodes, **fields)
