"""Mode-1 policy (sec. 3.1.4): regression of planner actions."""

import pytest
import torch

from hjepa.agent.policy import Policy
from tests.agent.two_rooms import BOX


def test_policy_fit_imitates_planner_actions():
    g = torch.Generator().manual_seed(0)
    states, goals = torch.rand(512, 2, generator=g), torch.rand(512, 2, generator=g)
    actions = (goals - states).clamp(-0.05, 0.05)  # the reactive rule a planner would find
    policy = Policy(2, *BOX, hidden_dim=64)
    before = ((policy(states[400:], goals[400:]) - actions[400:]).abs().mean()).item()
    losses = policy.fit(states[:400], goals[:400], actions[:400], steps=300, lr=3e-3, generator=g)
    after = ((policy(states[400:], goals[400:]) - actions[400:]).abs().mean()).item()
    assert losses[-1] < 0.2 * losses[0]
    assert after < 0.3 * before


def test_weights_draw_examples_in_proportion():
    """Two teachers disagree on every state; the policy follows the one whose examples carry 3/4 of the weight."""
    g = torch.Generator().manual_seed(0)
    states, goals = torch.rand(256, 2, generator=g), torch.rand(256, 2, generator=g)
    towards = (goals - states).sign() * 0.05
    inputs = (torch.cat([states, states]), torch.cat([goals, goals]), torch.cat([towards, -towards]))
    for share in (0.25, 0.75):
        weights = torch.cat([torch.full((256,), share), torch.full((256,), 1 - share)])
        policy = Policy(2, *BOX, hidden_dim=64)
        policy.fit(*inputs, steps=300, lr=3e-3, generator=torch.Generator().manual_seed(0), weights=weights)
        with torch.no_grad():
            agreement = (policy(states, goals) * towards).sum(-1).mean() / (towards**2).sum(-1).mean()
        # the weighted mean of the two answers is (2 share - 1) x the first: -0.5 or +0.5 of it
        assert abs(agreement.item() - (2 * share - 1)) < 0.15, (share, agreement.item())
    with pytest.raises(ValueError, match="weights: expected 512 weights >= 0"):
        policy.fit(*inputs, steps=1, weights=torch.ones(3))
