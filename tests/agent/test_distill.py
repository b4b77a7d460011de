"""Hindsight relabelling of Mode-2 decisions, against a loop over the (t, t + k) pairs of each episode; a policy
distilled from the planner's decisions on the oracle."""

from types import SimpleNamespace

import pytest
import torch

from hjepa.agent.agent import Demonstration
from hjepa.agent.distill import demonstrations, distill, load_policy, save_policy
from hjepa.agent.policy import Policy
from hjepa.eval.episodes import agent_actor, run_episode, task_env
from tests.agent.two_rooms import BOX, oracle_agent


def _agent(lengths: list[int], first: int = 0) -> SimpleNamespace:
    """An agent-like holder of decisions: episode e has lengths[e] steps; state = (100 e + t, 0), action = (t, e)."""
    decisions = [
        Demonstration(
            first + e,
            torch.tensor([100.0 * e + t, 0.0]),
            torch.tensor([-1.0, -1.0]),
            torch.tensor([float(t), float(e)]),
        )
        for e, length in enumerate(lengths)
        for t in range(length)
    ]
    return SimpleNamespace(demonstrations=decisions)


def _rows(*tensors: torch.Tensor) -> set[tuple[float, ...]]:
    return {tuple(torch.cat(row).tolist()) for row in zip(*tensors)}


@pytest.mark.parametrize("horizon", [1, 2, 10])
def test_hindsight_pairs_each_decision_with_the_next_states_of_its_own_episode(horizon):
    agents = [_agent([3, 2]), _agent([4], first=5)]
    states, goals, actions = demonstrations(*agents, hindsight=horizon)
    expected = []
    for agent in agents:
        by_episode = {}
        for d in agent.demonstrations:
            by_episode.setdefault(d.episode, []).append(d)
        for episode in by_episode.values():
            for t, d in enumerate(episode):
                expected.append((d.state, d.subgoal, d.action))  # the goal it was given
                for later in episode[t + 1 : t + 1 + horizon]:
                    expected.append((d.state, later.state, d.action))  # a state it went on to reach
    pairs = {1: 2 + 1 + 3, 2: 3 + 1 + 5, 10: 3 + 1 + 6}[horizon]  # (t, t + k) pairs with k <= horizon
    assert len(states) == len(expected) == (3 + 2 + 4) + pairs
    assert _rows(states, goals, actions) == _rows(*(torch.stack(c) for c in zip(*expected)))


@pytest.mark.parametrize("bad", [True, -1, 2.5])
def test_a_hindsight_that_is_not_a_count_of_steps_is_refused(bad):
    with pytest.raises(ValueError, match="hindsight: expected a number of steps ahead >= 0"):
        demonstrations(_agent([3]), hindsight=bad)


def test_without_hindsight_the_decisions_are_returned_as_taken():
    agent = _agent([3, 2])
    states, goals, actions = demonstrations(agent)
    assert torch.equal(states, torch.stack([d.state for d in agent.demonstrations]))
    assert torch.equal(actions, torch.stack([d.action for d in agent.demonstrations]))
    assert bool((goals == -1).all())


def test_distilled_policy_approaches_the_planner_on_held_out_states(experience, tmp_path):
    env = task_env("hjepa/TwoRooms-v0", 60)
    teacher, held_out = oracle_agent("reach_aided", experience), oracle_agent("reach_aided", experience)
    for seed in range(5):
        run_episode(env, agent_actor(teacher), seed, teacher.reset)
    for seed in range(100, 102):
        run_episode(env, agent_actor(held_out), seed, held_out.reset)
    states, subgoals, actions = demonstrations(held_out)
    torch.manual_seed(0)
    untrained = Policy(2, *BOX)
    policy, losses = distill(demonstrations(teacher), env, steps=500)
    error = lambda p: float((p(states, subgoals) - actions).norm(dim=-1).mean().detach())  # noqa: E731
    assert losses[-1] < 0.5 * losses[0]
    assert error(policy) < 0.5 * error(untrained)
    assert error(policy) < 0.5 * float(actions.norm(dim=-1).mean())  # better than standing still
    restored = load_policy(save_policy(policy, tmp_path / "policy"))
    assert torch.equal(restored(states, subgoals), policy(states, subgoals))
