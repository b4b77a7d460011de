"""Landmark subgoals (sec. 3): shortest paths through a graph of remembered states, through doors and around a
penalised region."""

import numpy as np
import pytest
import torch

from hjepa.agent.landmarks import LandmarkGraph
from tests.agent.two_rooms import CENTRE, RADIUS, min_distance_to_region


def test_landmark_path_passes_through_the_door(experience):
    graph = LandmarkGraph(experience.representations)
    start, goal = torch.tensor([0.25, 0.8]), torch.tensor([0.75, 0.8])  # the straight line hits the wall
    graph.set_goal(goal)
    path = graph.path(start, 60).numpy()
    assert np.linalg.norm(path[-1] - goal.numpy()) < 1e-6  # it ends at the goal
    crossing = path[np.abs(path[:, 0] - 0.5) < 0.04]
    assert len(crossing) > 0, "the path never crosses the middle wall"
    assert np.all(np.abs(crossing[:, 1] - 0.5) < 0.1), f"crossed outside the door: {crossing}"
    steps = np.linalg.norm(np.diff(np.concatenate([start[None].numpy(), path]), axis=0), axis=1)
    assert steps.max() < 0.12  # targets about one recorded step apart
    assert graph.steps_to_goal(start) > np.linalg.norm(goal - start) / 0.05  # longer than the straight line


def test_landmark_penalty_reroutes_around_a_region(experience):
    graph = LandmarkGraph(experience.representations)
    start, goal = torch.tensor([0.08, 0.5]), torch.tensor([0.42, 0.5])  # the region sits between them
    inside = (np.linalg.norm(graph.states.numpy() - CENTRE, axis=1) < RADIUS).astype(np.float64)
    graph.set_goal(goal)
    direct = graph.path(start, 40).numpy()
    graph.set_goal(goal, penalty=100.0 * inside)
    detour = graph.path(start, 40).numpy()
    assert min_distance_to_region(direct) < RADIUS / 2
    assert min_distance_to_region(detour) > RADIUS * 0.9
    with pytest.raises(ValueError, match="one per remembered state"):
        graph.set_goal(goal, penalty=np.zeros(3))
