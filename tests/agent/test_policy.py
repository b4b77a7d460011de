"""Mode-1 policy (sec. 3.1.4): regression of planner actions."""

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
