"""Cost module (sec. 3.2-3.3) against explicit-loop transcriptions; immutability of IC; critic training."""

import math

import pytest
import torch
from torch import nn

from hjepa.agent.cost import (
    ActionMagnitudeCost,
    Cost,
    GoalDistanceCost,
    IntrinsicCost,
    RegionAvoidanceCost,
    TrainableCritic,
    critic_targets,
    targets_from_trajectory,
)
from hjepa.agent.memory import TripletBuffer

B, N, H, D, A, S = 2, 3, 4, 5, 2, 2


def _rand(*shape, seed=0, **kw):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64, **kw)


def _region():
    return RegionAvoidanceCost(_rand(S, D, seed=10), _rand(S, seed=11), _rand(S, seed=12), radius=1.5, sharpness=4.0)


def ref_goal(s, g):
    return sum((s[i] - g[i]) ** 2 for i in range(len(s)))


def ref_region(s, w, b, centre, radius, k):
    pos = [sum(w[j][i] * s[i] for i in range(len(s))) + b[j] for j in range(len(b))]
    dist = math.sqrt(sum((pos[j] - centre[j]) ** 2 for j in range(len(b))))
    return math.log1p(math.exp(k * (radius - dist))) / k


def ref_action(a):
    return sum(x * x for x in a)


def _ic():
    goal = _rand(D, seed=13)
    ic = IntrinsicCost({"goal": GoalDistanceCost(goal), "region": _region(), "action": ActionMagnitudeCost()})
    ic.double().set_weights({"goal": 0.5, "region": 2.0, "action": 0.1})
    return ic, goal


def ref_ic_step(ic, goal, s, a):
    r = ic.costs["region"]
    w, b, c = r.probe_weight.tolist(), r.probe_bias.tolist(), r.centre.tolist()
    return 0.5 * ref_goal(s, goal.tolist()) + 2.0 * ref_region(s, w, b, c, 1.5, 4.0) + 0.1 * ref_action(a)


def test_sub_costs_match_reference_over_leading_dims():
    states, actions = _rand(B, N, H, D, seed=1), _rand(B, N, H, A, seed=2)
    goal, region = _rand(B, 1, D, seed=3), _region().double()
    gc, rc, ac = GoalDistanceCost(goal).double(), region(states, actions), ActionMagnitudeCost()(states, actions)
    gd = gc(states, actions)
    w, b, c = region.probe_weight.tolist(), region.probe_bias.tolist(), region.centre.tolist()
    for i in range(B):
        for n in range(N):
            for h in range(H):
                s, a = states[i, n, h].tolist(), actions[i, n, h].tolist()
                assert gd[i, n, h].item() == pytest.approx(ref_goal(s, goal[i, 0].tolist()), rel=1e-12)
                assert rc[i, n, h].item() == pytest.approx(ref_region(s, w, b, c, 1.5, 4.0), rel=1e-9)
                assert ac[i, n, h].item() == pytest.approx(ref_action(a), rel=1e-12)
    gc.set_goal(goal[0, 0])  # (D,) goal broadcasts over every leading dim
    assert gc(states, actions)[1, 2, 3].item() == pytest.approx(ref_goal(states[1, 2, 3].tolist(), goal[0, 0].tolist()))


def test_region_cost_is_high_inside_low_outside():
    region = RegionAvoidanceCost(torch.eye(2), torch.zeros(2), torch.zeros(2), radius=1.0, sharpness=20.0)
    states = torch.tensor([[[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]]], requires_grad=True)
    cost = region(states, torch.zeros(1, 3, 1))
    assert cost[0, 0].item() == pytest.approx(1.0, abs=0.01) and cost[0, 2].item() < 1e-8
    cost[0, 1].backward()
    assert states.grad[0, 1, 0] < 0  # descending the cost moves the state outward
    assert torch.isfinite(states.grad).all()


def test_intrinsic_cost_matches_reference():
    ic, goal = _ic()
    states, actions = _rand(B, N, H, D, seed=4), _rand(B, N, H, A, seed=5)
    gamma = 0.9
    total, plain, step = ic(states, actions, discount=gamma), ic(states, actions), ic.per_step(states, actions)
    assert total.shape == (B, N) and step.shape == (B, N, H)
    for i in range(B):
        for n in range(N):
            steps = [ref_ic_step(ic, goal, states[i, n, h].tolist(), actions[i, n, h].tolist()) for h in range(H)]
            assert step[i, n].tolist() == pytest.approx(steps, rel=1e-9)
            assert plain[i, n].item() == pytest.approx(sum(steps), rel=1e-9)
            assert total[i, n].item() == pytest.approx(sum(gamma**h * steps[h] for h in range(H)), rel=1e-9)
    terms = ic.terms(states, actions)
    assert list(terms) == ["goal", "region", "action"]
    assert terms["action"][1, 2].item() == pytest.approx(sum(ref_action(a) for a in actions[1, 2].tolist()))
    ic.set_weights({"goal": 0.0, "region": 0.0})
    assert torch.allclose(ic(states, actions), 0.1 * terms["action"])
    with pytest.raises(KeyError, match="curiosity"):
        ic.set_weights({"curiosity": 1.0})
    with pytest.raises(ValueError, match="immutable"):
        IntrinsicCost({"learned": nn.Linear(D, 1)})


def test_intrinsic_cost_is_immutable_under_optimisation():
    ic, _ = _ic()
    before = {k: v.clone() for k, v in ic.state_dict().items()}
    assert list(ic.parameters()) == []
    actions = torch.zeros(B, H, A, dtype=torch.float64, requires_grad=True)
    states = torch.zeros(B, H, D, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD(list(ic.parameters()) + [states, actions], lr=0.05, momentum=0.9, weight_decay=0.1)
    first = ic(states, actions).sum().item()
    for _ in range(20):
        loss = sum(ic(states * k, actions, discount=0.9).sum() for k in (1.0, 0.5, 2.0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert ic(states, actions).sum().item() < first  # the optimizer did move the trainable tensors
    after = ic.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def test_targets_from_trajectory_match_hand_loop():
    costs = _rand(2, 7, seed=6)
    for horizon, gamma in [(1, 0.9), (3, 0.8), (10, 0.95)]:
        out = targets_from_trajectory(costs, horizon, gamma)
        assert out.shape == (2, 7)
        for e in range(2):
            c = costs[e].tolist()
            ref = [sum(gamma**k * c[t + k] for k in range(horizon) if t + k < 7) for t in range(7)]
            assert out[e].tolist() == pytest.approx(ref, rel=1e-12)


def test_critic_targets_group_by_episode():
    buf = TripletBuffer(capacity=20, state_dim=1)
    # two episodes written out of time order and interleaved
    for tau, ep, cost in [(1, 7, 2.0), (0, 3, 5.0), (0, 7, 1.0), (2, 7, 3.0), (1, 3, 6.0)]:
        buf.add(tau, torch.tensor([[10.0 * ep + tau]]), torch.tensor([cost]), torch.tensor([ep]))
    states, targets = critic_targets(buf.all(), horizon=2, discount=0.5)
    got = dict(zip(states[:, 0].tolist(), targets.tolist()))
    assert got == {30.0: 5.0 + 0.5 * 6.0, 31.0: 6.0, 70.0: 1.0 + 0.5 * 2.0, 71.0: 2.0 + 0.5 * 3.0, 72.0: 3.0}
    buf.add(5, torch.zeros(1, 1), torch.zeros(1), torch.tensor([3]))
    with pytest.raises(ValueError, match="episode 3"):
        critic_targets(buf.all(), horizon=2, discount=0.5)


def test_critic_learns_future_intrinsic_cost():
    torch.manual_seed(0)
    goal, T, horizon, gamma = torch.tensor([1.0, -0.5]), 20, 5, 0.9
    ic = IntrinsicCost({"goal": GoalDistanceCost(goal)})

    def episodes(n: int) -> torch.Tensor:
        """n straight lines of T states to the goal from random starts: (n, T, 2)."""
        starts = torch.randn(n, 2) * 2
        return starts[:, None] + (torch.arange(T).float() / T)[None, :, None] * (goal - starts)[:, None]

    train, held_out = episodes(48), episodes(8)
    buf = TripletBuffer(capacity=48 * T, state_dim=2)
    costs = ic.per_step(train, torch.zeros(48, T, 1))
    for tau in range(T):
        buf.add(tau, train[:, tau], costs[:, tau])
    critic = TrainableCritic(state_dim=2, num_critics=2, hidden_dim=32, horizon=horizon, discount=gamma)
    losses = critic.fit(buf.all(), steps=200, lr=1e-2)
    assert len(losses) == 200 and losses[-1] < 0.05 * losses[0]
    truth = []  # the discounted future cost of every held-out state, by a plain loop over its episode
    for episode in held_out.tolist():
        step_costs = [ref_goal(s, goal.tolist()) for s in episode]
        truth += [sum(gamma**k * step_costs[t + k] for k in range(horizon) if t + k < T) for t in range(T)]
    truth = torch.tensor(truth)
    predicted = critic(held_out.reshape(-1, 2)).detach()
    assert torch.corrcoef(torch.stack([predicted, truth]))[0, 1] > 0.98
    assert (predicted - truth).abs().mean() < 0.2 * truth.abs().mean()  # in cost units, not only correlated


def test_cost_combines_intrinsic_and_terminal_critic():
    ic, goal = _ic()
    torch.manual_seed(0)
    critic = TrainableCritic(state_dim=2 * D, num_critics=2, hidden_dim=8).double()  # reads [s, g]
    cost = Cost(ic, critic, critic_weight=0.5, discount=0.9)
    target = _rand(D, seed=9)
    cost.set_goal(target)
    states = _rand(B, N, H, D, seed=7, requires_grad=True)
    actions = _rand(B, N, H, A, seed=8, requires_grad=True)
    total = cost(states, actions)
    assert total.shape == (B, N)
    with torch.no_grad():
        for i in range(B):
            for n in range(N):
                steps = [ref_ic_step(ic, goal, states[i, n, h].tolist(), actions[i, n, h].tolist()) for h in range(H)]
                last = torch.tensor(states[i, n, -1].tolist() + target.tolist(), dtype=torch.float64)
                expected = sum(0.9**h * steps[h] for h in range(H)) + 0.5 * 0.9 ** (H - 1) * float(critic(last))
                assert total[i, n].item() == pytest.approx(expected, rel=1e-9)
    total.sum().backward()
    assert torch.isfinite(states.grad).all() and states.grad.abs().sum() > 0
    assert actions.grad.abs().sum() > 0
    # only TC is trainable: descending the cost over its parameters changes the critic and leaves IC as it was
    states, actions = states.detach(), actions.detach()
    intrinsic = {k: v.clone() for k, v in ic.state_dict().items()}
    first = cost(states, actions).sum().item()
    optimizer = torch.optim.SGD(cost.parameters(), lr=0.01)
    for _ in range(5):
        optimizer.zero_grad()
        cost(states, actions).sum().backward()
        optimizer.step()
    assert cost(states, actions).sum().item() < first
    assert all(torch.equal(v, ic.state_dict()[k]) for k, v in intrinsic.items())
    cost.set_critic_weight(0.0)  # the critic left out
    assert torch.equal(cost(states, actions), ic(states, actions, 0.9))
    with pytest.raises(ValueError, match="critic_weight"):
        cost.set_critic_weight(-1.0)


@pytest.mark.parametrize(("exponent", "terminal"), [(1.0, 0.0), (1.0, 3.0), (2.0, 5.0), (0.5, 1.0)])
def test_goal_distance_exponent_and_terminal_match_a_loop(exponent, terminal):
    g = torch.Generator().manual_seed(0)
    states, goal = torch.randn(4, 6, 3, generator=g), torch.randn(3, generator=g)
    cost = GoalDistanceCost(goal, exponent=exponent, terminal=terminal)(states, torch.zeros(4, 6, 2))
    for n in range(4):
        for h in range(6):
            distance = math.sqrt(sum((float(states[n, h, d]) - float(goal[d])) ** 2 for d in range(3)))
            expected = distance**exponent * (1 + terminal if h == 5 else 1)
            assert float(cost[n, h]) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="goal_exponent"):
        GoalDistanceCost(goal, exponent=0.0)
    with pytest.raises(ValueError, match="goal_terminal"):
        GoalDistanceCost(goal, terminal=-1.0)
