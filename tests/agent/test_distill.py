"""Hindsight relabelling of Mode-2 decisions, against a loop over every (t, t + k) pair of each episode."""

from types import SimpleNamespace

import torch

from hjepa.agent.agent import Demonstration
from hjepa.agent.distill import demonstrations


def _agent(lengths: list[int], first: int = 0) -> SimpleNamespace:
    """An agent-like holder of decisions: episode e has lengths[e] steps; state = (100 e + t, 0), action = (t, e)."""
    decisions = [Demonstration(first + e, torch.tensor([100.0 * e + t, 0.0]), torch.tensor([-1.0, -1.0]),
                               torch.tensor([float(t), float(e)]))
                 for e, length in enumerate(lengths) for t in range(length)]
    return SimpleNamespace(demonstrations=decisions)


def _rows(*tensors: torch.Tensor) -> set[tuple[float, ...]]:
    return {tuple(torch.cat(row).tolist()) for row in zip(*tensors)}


def test_hindsight_pairs_each_decision_with_every_later_state_of_its_own_episode():
    agents = [_agent([3, 2]), _agent([4], first=5)]
    states, goals, actions = demonstrations(*agents, hindsight=True)
    expected = []
    for agent in agents:
        by_episode = {}
        for d in agent.demonstrations:
            by_episode.setdefault(d.episode, []).append(d)
        for episode in by_episode.values():
            for t, d in enumerate(episode):
                expected.append((d.state, d.subgoal, d.action))  # the goal it was given
                for later in episode[t + 1:]:
                    expected.append((d.state, later.state, d.action))  # a state it went on to reach
    assert len(states) == len(expected) == (3 + 2 + 4) + (3 + 1 + 6)
    assert _rows(states, goals, actions) == _rows(*(torch.stack(c) for c in zip(*expected)))


def test_without_hindsight_the_decisions_are_returned_as_taken():
    agent = _agent([3, 2])
    states, goals, actions = demonstrations(agent)
    assert torch.equal(states, torch.stack([d.state for d in agent.demonstrations]))
    assert torch.equal(actions, torch.stack([d.action for d in agent.demonstrations]))
    assert bool((goals == -1).all())
