"""Subgoals from remembered experience (seed paper sec. 3 configurator, sec. 4.7 subgoals).

The configurator decomposes a far goal into a chain of nearby subgoals the actor can reach with a short
plan. `LandmarkGraph` finds them in a graph over the encoded states of recorded episodes: consecutive
states are joined (the world itself connected them), and so are states whose representations lie within
about one step of each other. Walls cut no edge that the data never crossed, so shortest paths go
through doors. Path lengths are in steps; the actor tracks the next states of the path, one per step.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from torch import Tensor


def _median_step(episodes: Tensor) -> float:
    """Median distance between consecutive states of episodes (E, T, D): the size of a typical step."""
    return float((episodes[:, 1:] - episodes[:, :-1]).norm(dim=-1).median().clamp_min(1e-8))


def nearest_neighbours(queries: Tensor, keys: Tensor, k: int, chunk: int = 2048) -> tuple[Tensor, Tensor]:
    """The k nearest keys of each query in L2: queries (Q, D), keys (N, D) -> distances, indices (Q, k)."""
    distances, indices = [], []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start : start + chunk], keys)
        top = d.topk(min(k, len(keys)), largest=False)
        distances.append(top.values)
        indices.append(top.indices)
    return torch.cat(distances), torch.cat(indices)


class LandmarkGraph:
    """Shortest paths in steps over remembered states, to pick the next subgoal toward a goal.

    Args:
        episodes: encoded episodes (E, T, D), time-ordered, from the world model's encoder.
        neighbours: latent links tried per state (its k nearest states of other times or episodes).
        link_radius: a latent link joins states at most this many typical steps apart, where a typical step
            is the median representation distance between consecutive states.
        keys: what a state or goal given to `set_goal`, `path` and `steps_to_goal` is matched against to enter
            the graph (E, T, Dk), default the states themselves (e.g. level 1's view of level-2 states).
    """

    def __init__(
        self, episodes: Tensor, neighbours: int = 8, link_radius: float = 1.0, keys: Tensor | None = None
    ) -> None:
        if episodes.dim() != 3 or episodes.shape[1] < 2:
            raise ValueError(f"episodes must be (E, T, D) with T >= 2, got {tuple(episodes.shape)}")
        if keys is not None and keys.shape[:2] != episodes.shape[:2]:
            raise ValueError(
                f"keys must be (E, T, Dk) with (E, T) = {tuple(episodes.shape[:2])}, got {tuple(keys.shape)}"
            )
        e, t, _ = episodes.shape
        self.states = episodes.detach().float().reshape(e * t, -1).cpu()
        self.step_scale = _median_step(episodes)
        keys = episodes if keys is None else keys
        self.keys = keys.detach().float().reshape(e * t, -1).cpu()
        self.key_scale = _median_step(keys)
        index = torch.arange(e * t).reshape(e, t)
        rows = [index[:, :-1].flatten()]
        cols = [index[:, 1:].flatten()]
        weights = [torch.ones(e * (t - 1))]
        distances, near = nearest_neighbours(self.states, self.states, neighbours + 1)
        keep = (distances <= link_radius * self.step_scale) & (near != torch.arange(e * t)[:, None])
        rows.append(torch.arange(e * t)[:, None].expand_as(near)[keep])
        cols.append(near[keep])
        weights.append(distances[keep] / self.step_scale)
        self.graph = coo_matrix(
            (torch.cat(weights).numpy(), (torch.cat(rows).numpy(), torch.cat(cols).numpy())), shape=(e * t, e * t)
        ).tocsr()
        self.goal: Tensor | None = None
        self._to_goal = np.zeros(0)
        self._next = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.states)

    def _attach(self, key: Tensor) -> tuple[Tensor, Tensor]:
        """Nearest remembered states of a state given as a key (Dk,): (indices (k,), costs in steps (k,))."""
        distances, indices = nearest_neighbours(key.detach().float().cpu()[None], self.keys, 8)
        return indices[0], distances[0] / self.key_scale

    def set_goal(self, goal: Tensor, penalty: np.ndarray | None = None) -> None:
        """Shortest paths from every remembered state to the goal state (D,).

        penalty (N,), in steps, is added for passing each remembered state (half on entering an edge, half
        on leaving it), so paths avoid what it prices, e.g. a region to avoid.
        """
        self.goal = goal.detach().float().cpu()
        graph = self.graph
        if penalty is not None:
            if penalty.shape != (len(self),):
                raise ValueError(f"penalty must be ({len(self)},), one per remembered state, got {penalty.shape}")
            graph = graph.tocoo()
            graph = coo_matrix(
                (graph.data + (penalty[graph.row] + penalty[graph.col]) / 2, (graph.row, graph.col)), shape=graph.shape
            ).tocsr()
        indices, costs = self._attach(self.goal)
        to_goal, previous = dijkstra(graph, directed=False, indices=indices.numpy(), return_predecessors=True)
        total = to_goal + costs.numpy()[:, None]  # via each attachment point of the goal
        best = total.argmin(0)
        self._to_goal = total[best, np.arange(len(self))]
        self._next = previous[best, np.arange(len(self))]

    def steps_to_goal(self, state: Tensor) -> float:
        """Path length in steps from a state (D,) to the goal (inf when no path exists)."""
        indices, costs = self._attach(state)
        return float((costs.numpy() + self._to_goal[indices.numpy()]).min())

    def path(self, state: Tensor, length: int) -> Tensor:
        """Targets one step apart along the shortest path from state (D,) to the goal: (length, D).

        Target h is the first remembered state at least h steps of path length ahead, so the actor tracks
        the path at the pace of the recorded data; the goal itself fills the steps after the path ends.
        """
        assert self.goal is not None
        return torch.stack([self.goal if node < 0 else self.states[node] for node in self.path_nodes(state, length)])

    def path_nodes(self, state: Tensor, length: int) -> list[int]:
        """Indices of the remembered states of `path` (-1 for the goal itself): `length` entries."""
        if self.goal is None:
            raise RuntimeError("call set_goal before path")
        indices, costs = self._attach(state)
        total = costs.numpy() + self._to_goal[indices.numpy()]
        node = int(indices[int(total.argmin())])
        start = self._to_goal[node]
        nodes: list[int] = []
        while len(nodes) < length:
            node = int(self._next[node]) if node >= 0 else -1
            if node < 0:
                nodes += [-1] * (length - len(nodes))
                break
            while len(nodes) < length and start - self._to_goal[node] >= len(nodes) + 1:
                nodes.append(node)
        return nodes
