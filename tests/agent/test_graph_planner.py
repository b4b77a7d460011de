"""Breadth-first search in imagination: it spreads over what the model can reach (every lattice point once, at
the depth a shortest path reaches it) and so finds the way through a door that cheapest-first searches miss."""

import itertools

import pytest
import torch
from torch import Tensor, nn

from hjepa.agent.cost import GoalDistanceCost, IntrinsicCost
from hjepa.agent.planners import GraphSearchPlanner, build_planner

BOX = ([-0.5, -0.5], [0.5, 0.5])
WALL_X, DOOR = 0.25, (0.75, 1.25)  # a wall at x = 0.25 with a door for 0.75 < y < 1.25


class Lattice(nn.Module):
    """Positions moved by displacements; remembers every start-to-end rollout it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Tensor] = []

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        self.calls.append(actions)
        return s0[:, None] + actions.cumsum(1)


class WallWorld(nn.Module):
    """Positions moved by displacements; a step that would cross the wall outside the door keeps its x."""

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        position, states = s0, []
        for step in actions.unbind(1):
            moved = position + step
            crosses = (position[:, 0] < WALL_X) != (moved[:, 0] < WALL_X)
            share = (WALL_X - position[:, 0]) / step[:, 0].where(step[:, 0] != 0, torch.ones_like(step[:, 0]))
            y = position[:, 1] + share * step[:, 1]
            blocked = crosses & ~((y > DOOR[0]) & (y < DOOR[1]))
            position = torch.stack([moved[:, 0].where(~blocked, position[:, 0]), moved[:, 1]], -1)
            states.append(position)
        return torch.stack(states, 1)


def test_each_depth_adds_the_lattice_points_a_shortest_path_first_reaches():
    """Transcription: with 3 x 3 steps of 0.5 the points first reached at depth d are the ring of Chebyshev
    radius d, which the search extends by every action and nothing else."""
    model, horizon = Lattice(), 4
    planner = GraphSearchPlanner(*BOX, horizon=horizon, actions_per_dim=3)
    planner.plan(torch.zeros(2), lambda s, a: (s[:, -1] - 10).norm(dim=-1), model)
    steps = [-0.5, 0.0, 0.5]
    reached = {(0.0, 0.0)}
    for depth, actions in enumerate(model.calls[1:], start=1):  # the first call prices the warm start
        ends = {tuple(p) for p in actions[:, :depth].sum(1).tolist()}
        frontier = {p for p in reached if max(abs(p[0]), abs(p[1])) == 0.5 * (depth - 1)}
        expected = {(x + dx, y + dy) for (x, y), dx, dy in itertools.product(frontier, steps, steps)}
        assert ends == expected, depth
        assert len(actions) == len(frontier) * 9  # each frontier node once, by every action
        assert bool((actions[:, depth:] == 0).all())  # then it stands still to the horizon
        reached |= expected
    assert len(reached) == (2 * horizon + 1) ** 2


def test_plan_reaches_the_goal_round_a_wall_where_cheapest_first_searches_stall():
    start, goal, horizon = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0]), 8
    cost = IntrinsicCost({"goal_distance": GoalDistanceCost(goal, exponent=1.0, terminal=horizon)})
    model = WallWorld()

    def final_distance(name: str, **fields) -> float:
        planner = build_planner(name, action_low=BOX[0], action_high=BOX[1], horizon=horizon, **fields)
        actions = planner.plan(start, cost, model, generator=0).actions
        return float((model.unroll(start[None], actions[None])[0, -1] - goal).norm())

    assert final_distance("graph", actions_per_dim=3) < 1e-6  # through the door, then stands at the goal
    assert final_distance("discrete", actions_per_dim=3, beam_width=8) > 0.5  # crowds in front of the wall
    assert final_distance("cem", population=128, iterations=5) > 0.5


@pytest.mark.parametrize(("field", "value"), [("merge", 0.0), ("max_nodes", 0)])
def test_bad_fields_are_named(field, value):
    with pytest.raises(ValueError, match=f"planner.{field}"):
        GraphSearchPlanner(*BOX, horizon=4, **{field: value})
