"""Hindsight examples from recorded episodes, against a loop over every (episode, start, goal) they can make; a
policy fitted on a random walk's episodes steers a point to goals it was never shown."""

import pytest
import torch

from hjepa.agent.hindsight import HindsightExamples, fit_hindsight_policy

STEP = 0.1  # the point world: s' = s + STEP * a, a in [-1, 1]^2


def _labelled(episodes: int, frames: int, action_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """states[e, t] = (e, t) and actions[e, t] = (e, t, 0, ...): every example names where it was cut."""
    e, t = torch.meshgrid(torch.arange(episodes), torch.arange(frames), indexing="ij")
    states = torch.stack([e, t], -1).float()
    actions = torch.zeros(episodes, frames - 1, action_dim)
    actions[..., 0], actions[..., 1] = e[:, :-1].float(), t[:, :-1].float()
    return states, actions


@pytest.mark.parametrize(("block", "goal_blocks"), [(1, 1), (2, 3), (3, 2)])
def test_examples_pair_a_start_with_a_goal_whole_blocks_ahead_and_the_block_of_actions_taken(block, goal_blocks):
    frames = 9
    states, actions = _labelled(3, frames, 2)
    examples = HindsightExamples(states, actions, block, goal_blocks).check()
    expected = set()  # the slow way: every episode, goal distance and start whose goal lies within the episode
    for e in range(3):
        for j in range(1, goal_blocks + 1):
            for t in range(frames - block * j):
                taken = tuple(float(x) for k in range(block) for x in (e, t + k))
                expected.add(((e, t), (e, t + block * j), taken))
    s, g, a = examples.sample(20_000, torch.Generator().manual_seed(0))
    drawn = {
        (tuple(int(x) for x in si), tuple(int(x) for x in gi), tuple(float(x) for x in ai.view(block, 2).flatten()))
        for si, gi, ai in zip(s, g, a)
    }
    assert drawn == expected  # nothing else is drawn, and with 20,000 draws every example is


def test_examples_that_cannot_be_cut_are_refused_naming_the_field():
    states, actions = _labelled(2, 6, 2)
    with pytest.raises(ValueError, match="goal_blocks: 3 blocks of 2 steps reach past episodes of 6 frames"):
        HindsightExamples(states, actions, 2, 3).check()
    with pytest.raises(ValueError, match=r"actions: expected \(2, 5, A\)"):
        HindsightExamples(states, actions[:, :-1], 1, 1).check()
    with pytest.raises(ValueError, match="block: expected >= 1"):
        HindsightExamples(states, actions, 0, 1).check()


def _random_walks(episodes: int, frames: int, seed: int) -> HindsightExamples:
    generator = torch.Generator().manual_seed(seed)
    actions = torch.rand(episodes, frames - 1, 2, generator=generator) * 2 - 1
    start = torch.rand(episodes, 1, 2, generator=generator)
    states = torch.cat([start, start + STEP * actions.cumsum(1)], 1)
    return HindsightExamples(states, actions, block=2, goal_blocks=2)


def test_a_policy_fitted_by_hindsight_on_random_walks_steers_a_point_to_new_goals():
    fit = fit_hindsight_policy(
        _random_walks(300, 21, seed=0), _random_walks(50, 21, seed=1), [-1.0] * 4, [1.0] * 4, steps=1500, hidden_dim=64
    )
    assert fit.losses[-1] < fit.losses[0]
    # a goal tells the sum of the actions that reached it, not each one: of uniform actions' loss about half is left
    # with a goal one block ahead and 3/4 with two (5/8 together); a policy that reads nothing stays at 1
    assert fit.heldout_loss < 0.8 * fit.mean_action_loss
    generator = torch.Generator().manual_seed(2)
    position = torch.rand(100, 2, generator=generator)
    goal = position + 0.4 * torch.nn.functional.normalize(torch.randn(100, 2, generator=generator), dim=-1)
    arrived = torch.zeros(100, dtype=torch.bool)
    with torch.no_grad():
        for _ in range(8):  # a block of 2 actions moves at most 0.28: the goals are 2 blocks away or more
            position = position + STEP * fit.policy(position, goal).view(100, 2, 2).sum(1)
            arrived |= (position - goal).norm(dim=-1) < 0.05
    assert arrived.float().mean() > 0.9


def test_the_policys_action_box_must_hold_a_block_of_recorded_actions():
    with pytest.raises(ValueError, match="action_low: 2 numbers, but a block of 2 recorded actions has 4"):
        fit_hindsight_policy(_random_walks(4, 6, 0), _random_walks(4, 6, 1), [-1.0] * 2, [1.0] * 2, steps=1)
