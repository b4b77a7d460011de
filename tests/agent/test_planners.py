"""Mode-2 planners: they lower the cost, reach goals within bounds, call the world model once per iteration."""

import pytest
import torch
from torch import Tensor, nn

from hjepa.agent.planners import PLANNERS, CEMPlanner, MPPIPlanner, PlanResult, build_planner, shift_plan
from hjepa.models import build_world_model

H = 8
# Small searches, enough for the tiny problems below and fast on two CPU cores.
SEARCH = {
    "gradient": dict(iterations=60, lr=0.1, restarts=4),
    "cem": dict(population=64, elites=8, iterations=6),
    "mppi": dict(population=64, iterations=6, temperature=0.05),
    "discrete": dict(actions_per_dim=5, beam_width=8),
    "graph": dict(actions_per_dim=3, merge=0.2),
}


class CumSum(nn.Module):
    """Analytic world model: the state is a 2-D position and each action a displacement."""

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        return s0[:, None] + actions.cumsum(1)


class Counted(nn.Module):
    """Wraps a world model and records the shape of every batch of candidates it is asked to unroll."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.shapes, self.actions = model, [], []

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        assert s0.shape[0] == actions.shape[0]
        self.shapes.append(tuple(actions.shape))
        self.actions.append(actions.detach())
        return self.model.unroll(s0, actions)


def _goal_cost(goal: Tensor):
    return lambda states, actions: ((states[:, -1] - goal) ** 2).sum(-1)


def _planner(name: str, low=(-0.5, -0.5), high=(0.5, 0.5), **overrides):
    return build_planner(name, action_low=list(low), action_high=list(high), horizon=H, **{**SEARCH[name], **overrides})


def _price(model, state: Tensor, cost, actions: Tensor) -> float:
    with torch.no_grad():
        return float(cost(model.unroll(state[None], actions[None]), actions[None]))


@pytest.fixture(scope="module")
def tiny_world_model():
    torch.manual_seed(0)
    cfg = {
        "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32, "width": 8},
        "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 16},
    }
    model = build_world_model(cfg).eval()
    model.requires_grad_(False)
    return model


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_lowers_the_cost_of_the_initial_guess_on_the_tiny_world_model(name, tiny_world_model):
    g = torch.Generator().manual_seed(0)
    state = tiny_world_model.encode(torch.rand(1, 1, 3, 32, 32, generator=g))[0, 0]
    # A goal reached by a grid action sequence, so it is reachable by every planner, the discrete one included.
    target = 0.5 * torch.randint(-1, 2, (1, H, 2), generator=g).float()
    with torch.no_grad():
        cost = _goal_cost(tiny_world_model.unroll(state[None], target)[0, -1])
    initial = _price(tiny_world_model, state, cost, torch.zeros(H, 2))
    result = _planner(name).plan(state, cost, tiny_world_model, generator=0)
    assert isinstance(result, PlanResult) and result.actions.shape == (H, 2)
    assert float(result.cost) < 0.5 * initial
    # The reported cost is the cost of the returned plan.
    assert float(result.cost) == pytest.approx(_price(tiny_world_model, state, cost, result.actions), rel=1e-4)
    assert tiny_world_model.predictor.gru.weight_ih_l0.grad is None


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_reaches_a_goal_with_the_analytic_world_model(name):
    goal = torch.tensor([2.0, -1.5])  # 4 steps of 0.5 and 3 of -0.5 away: reachable within the bounds
    result = _planner(name).plan(torch.zeros(2), _goal_cost(goal), CumSum(), generator=0)
    assert torch.linalg.vector_norm(result.actions.sum(0) - goal) < 0.1
    assert float(result.cost) < 0.01


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_one_world_model_call_per_iteration_for_the_whole_population(name):
    model = Counted(CumSum())
    result = _planner(name).plan(torch.zeros(2), _goal_cost(torch.tensor([1.0, 1.0])), model, generator=0)
    batch = {"gradient": SEARCH["gradient"]["restarts"], "cem": 64, "mppi": 64}
    if name == "discrete":
        assert len(model.shapes) == H  # one call per depth
        assert model.shapes[0] == (25, H, 2)  # the single initial beam times a 5 x 5 grid
        assert all(shape == (8 * 25, H, 2) for shape in model.shapes[1:])  # beam_width x grid
    elif name == "graph":
        assert model.shapes[0] == (1, H, 2)  # the warm start, then one call per depth
        assert model.shapes[1:] == [((8 * (d - 1) or 1) * 9, H, 2) for d in range(1, H + 1)]  # rings of a lattice
    else:
        assert len(model.shapes) == SEARCH[name]["iterations"]
        assert all(shape == (batch[name], H, 2) for shape in model.shapes)
    assert result.info["world_model_calls"] == len(model.shapes) == result.info["iterations"]
    assert len(result.info["cost_history"]) == len(model.shapes)
    assert result.info["wall_ms"] > 0


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_bounds_are_respected_when_the_goal_is_out_of_reach(name):
    low, high = torch.tensor([0.0, -1.0]), torch.tensor([0.25, 0.5])
    model = Counted(CumSum())
    result = _planner(name, low=low, high=high).plan(torch.zeros(2), _goal_cost(torch.tensor([-5.0, 9.0])), model)
    for actions in [*model.actions, result.actions]:
        assert bool((actions >= low).all() and (actions <= high).all())
    # Pushing towards the goal from the middle of the box, the planner ends up against its edges.
    assert float(result.actions[:, 1].sum()) > 0.7 * H * 0.5 and float(result.actions[:, 0].sum()) < H * 0.125


def test_shift_plan_drops_the_executed_action_and_repeats_the_last():
    plan = torch.arange(8.0).reshape(4, 2)
    torch.testing.assert_close(shift_plan(plan), torch.tensor([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [6.0, 7.0]]))


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_receding_horizon_warm_start_is_never_worse_than_the_shifted_plan(name):
    model, cost = CumSum(), _goal_cost(torch.tensor([1.0, -1.0]))
    small = {"discrete": {"beam_width": 2}, "graph": {"max_nodes": 4}}.get(name, {"iterations": 2})
    planner = _planner(name, **small)
    first = planner.plan(torch.zeros(2), cost, model, generator=0)
    state = first.actions[0]  # the executed action moved the agent from the origin
    warm = shift_plan(first.actions)
    second = planner.plan(state, cost, model, init=warm, generator=1)
    assert float(second.cost) <= _price(model, state, cost, warm) + 1e-6
    with pytest.raises(ValueError, match=r"init must be \(H, A\)"):
        planner.plan(state, cost, model, init=warm[1:])


def test_horizon_can_be_overridden_per_call():
    result = _planner("cem").plan(torch.zeros(2), _goal_cost(torch.tensor([0.5, 0.5])), CumSum(), horizon=3)
    assert result.actions.shape == (3, 2)


@pytest.mark.parametrize("planner_cls", [CEMPlanner, MPPIPlanner])
def test_same_seed_same_plan(planner_cls):
    planner = planner_cls([-1.0, -1.0], [1.0, 1.0], horizon=H, population=32, iterations=3)
    cost, model = _goal_cost(torch.tensor([3.0, 1.0])), CumSum()
    a, b, c = (planner.plan(torch.zeros(2), cost, model, generator=seed).actions for seed in (7, 7, 8))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


def test_build_planner_names_the_bad_field():
    bounds = dict(action_low=[-1.0], action_high=[1.0], horizon=4)
    assert isinstance(build_planner("cem", **bounds, population=16, elites=4), CEMPlanner)
    with pytest.raises(ValueError, match=r"planner.name: unknown planner 'foo'; choose one of \['cem', 'discrete'"):
        build_planner("foo", **bounds)
    with pytest.raises(ValueError, match=r"planner.temperature: unknown field for planner 'cem'"):
        build_planner("cem", **bounds, temperature=1.0)
    with pytest.raises(ValueError, match=r"planner.horizon: missing"):
        build_planner("mppi", action_low=[-1.0], action_high=[1.0])
    with pytest.raises(ValueError, match=r"planner.elites"):
        build_planner("cem", **bounds, population=8, elites=9)
    with pytest.raises(ValueError, match=r"planner.action_low must be below planner.action_high"):
        build_planner("gradient", action_low=[1.0], action_high=[-1.0], horizon=4)
