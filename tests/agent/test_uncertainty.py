"""Planning under uncertainty (paper sec. 4.8): plans priced over sampled latents, on the mean or mean + risk * std."""

import pytest
import torch
from torch import Tensor

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.planners import build_planner
from hjepa.agent.task import TaskSpec
from hjepa.agent.uncertainty import RiskCost, SampledLatents, cost_spread, prior_latents, sample_costs
from hjepa.envs import Fork
from hjepa.eval.episodes import task_env
from hjepa.eval.fork_probe import WORLD, fork_clips, train_model
from hjepa.models.latent import ContinuousLatent, DiscreteLatent
from hjepa.readout.linear_probe import fit_probe
from tests.agent.oracle import OracleWorldModel, PositionEncoder


class ToyModel:
    """States (B, H, 2): [s0_0 + cumsum(a), s0_1 + cumsum(a * z)]; z (1-dim) scales what the action does."""

    def __init__(self, codes: list[float]) -> None:
        self.latent = DiscreteLatent(state_dim=2, num_codes=len(codes), dim=1)
        self.latent.codebook.data = torch.tensor(codes)[:, None]

    def unroll(self, s0: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor:
        return s0[:, None] + torch.stack([actions[..., 0].cumsum(1), (actions[..., 0] * z[..., 0]).cumsum(1)], -1)


def toy_cost(states: Tensor, actions: Tensor) -> Tensor:
    """1 - (sum of the first coordinate) + 1.6 * the second at the last step: (B, H, 2) -> (B,)."""
    return 1 - states[:, -1, 0] + 1.6 * states[:, -1, 1]


def test_risk_cost_is_mean_plus_risk_times_std_over_every_code():
    torch.manual_seed(0)
    model = ToyModel([0.0, 1.0, -0.5])
    futures = SampledLatents(model, samples=8)
    assert futures.num_latents == 3  # K = 3 <= 8 samples: every code once, the exact expectation
    s0, actions = torch.randn(4, 2), torch.randn(4, 5, 1)
    states = futures.unroll(s0, actions)
    assert states.shape == (12, 5, 2)
    for risk in (0.0, 1.5):
        got = RiskCost(toy_cost, risk)(states, actions)
        for n in range(4):  # slow transcription: one rollout per candidate and code
            one = s0[n : n + 1], actions[n : n + 1]
            costs = [
                float(toy_cost(model.unroll(*one, code.expand(1, 5, 1)), one[1]))
                for code in model.latent.codebook.detach()
            ]
            mean = sum(costs) / 3
            std = (sum((c - mean) ** 2 for c in costs) / 3) ** 0.5
            assert got[n].item() == pytest.approx(mean + risk * std, rel=1e-5, abs=1e-6)
            assert cost_spread(toy_cost, states, actions)[n].item() == pytest.approx(std, rel=1e-5, abs=1e-6)


def test_the_same_latents_serve_every_candidate_until_resampled():
    latent = ContinuousLatent(state_dim=2, dim=1)
    model = ToyModel([0.0, 1.0])
    model.latent = latent  # continuous z: sampled, not enumerated
    futures = SampledLatents(model, samples=5, generator=0)
    first = futures.latents.clone()
    assert first.shape == (5, 1)
    s0, actions = torch.zeros(3, 2), torch.ones(3, 1, 1)
    # one step of action 1: the second coordinate is z itself, candidate-major (row n * S + s has latent s)
    for _ in range(2):
        assert torch.equal(futures.unroll(s0, actions)[:, 0, 1], first[:, 0].repeat(3))
    futures.resample()
    assert not torch.equal(futures.latents, first)
    again = SampledLatents(model, samples=5, generator=0)
    assert torch.equal(again.latents, first)  # an int seed makes the draws reproducible


def test_fewer_samples_than_codes_draws_codes_from_the_prior():
    latent = DiscreteLatent(state_dim=2, num_codes=4, dim=3)
    drawn = prior_latents(latent, 3, torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 3)
    assert all(any(torch.equal(d, c) for c in latent.codebook.detach()) for d in drawn)
    assert torch.equal(prior_latents(latent, 4), latent.codebook.detach())


def test_errors_name_the_fix():
    model = ToyModel([0.0, 1.0])
    model.latent = None
    with pytest.raises(ValueError, match="model.latent.kind none"):
        SampledLatents(model)
    with pytest.raises(ValueError, match="uncertainty.samples"):
        prior_latents(DiscreteLatent(state_dim=2), 0)
    with pytest.raises(ValueError, match="uncertainty.risk"):
        RiskCost(toy_cost, -1.0)
    with pytest.raises(ValueError, match="SampledLatents.unroll"):
        sample_costs(toy_cost, torch.zeros(5, 1, 2), torch.zeros(2, 1, 1))


@pytest.mark.parametrize("risk, expected", [(0.0, 1.0), (1.0, 0.0)])
def test_the_risk_aware_plan_avoids_the_outcome_the_mean_plan_runs_into(risk, expected):
    # Action 0 costs 1 in every future; action 1 costs 0 under code 0 and 1.6 under code 1: mean 0.8 < 1 (the
    # mean plan takes it) but mean + std = 1.6 > 1 (the risk-aware plan does not).
    model = ToyModel([0.0, 1.0])
    planner = build_planner("discrete", action_low=0.0, action_high=1.0, horizon=1, actions=[[0.0], [1.0]])
    plan = planner.plan(torch.zeros(2), RiskCost(toy_cost, risk), SampledLatents(model, samples=2))
    assert plan.actions.item() == expected
    assert plan.cost.item() == pytest.approx(0.8 if risk == 0 else 1.0)


def test_planning_over_latents_works_with_a_gradient_planner():
    model = ToyModel([0.0, 1.0])
    planner = build_planner("gradient", action_low=0.0, action_high=1.0, horizon=1)
    plan = planner.plan(
        torch.zeros(2), RiskCost(toy_cost, 1.0), SampledLatents(model, samples=2), init=torch.full((1, 1), 0.9)
    )
    assert plan.actions.item() < 0.9  # the gradient of mean + std pushes away from the risky action


def test_cost_spread_grows_where_the_future_is_ambiguous():
    """A tiny JEPA with a discrete latent trained on Fork: from a state before the junction, the spread over
    the codes of the distance to the upper branch's end is small for predicted steps still on the stem and
    large for the steps after it, where the codes predict different branches."""
    train = fork_clips(128, 8, 3, 32, seed=0)
    model = train_model(train, {"kind": "discrete", "num_codes": 2, "dim": 8}, steps=100, batch_size=16, seed=0)
    val = fork_clips(32, 8, 3, 32, seed=1)
    wm = model.world_model
    with torch.no_grad():
        head = fit_probe(wm.encode(train["frames"]), train["states"])
        states = wm.encode(val["frames"])
        world = Fork(image_size=32, **WORLD)
        goal = torch.tensor(0.5 + world.branch_length * world.directions[0], dtype=torch.float32)  # upper branch end

        def distance(s: Tensor, a: Tensor) -> Tensor:  # per predicted step, (B, H)
            return (head(s).float() - goal).square().sum(-1)

        actions = val["actions"]
        spread = cost_spread(distance, SampledLatents(wm, samples=2).unroll(states[:, 0], actions), actions)  # (N, H)
    x = val["states"][:, 1:, 0]
    on_stem, on_branch = x < 0.35, x > 0.6  # well before the junction at x = 0.5, and well past it
    assert on_stem.sum() > 20 and on_branch.sum() > 20
    assert spread[on_stem].mean() < 0.3 * spread[on_branch].mean(), (spread[on_stem].mean(), spread[on_branch].mean())


class LatentOracle(torch.nn.Module):
    """The oracle world model of the agent tests, with a 1-dim discrete z that scales the vertical motion."""

    history = 1

    def __init__(self, codes: list[float]) -> None:
        super().__init__()
        self.encoder = PositionEncoder()
        self.latent = DiscreteLatent(state_dim=2, num_codes=len(codes), dim=1)
        self.latent.codebook.data = torch.tensor(codes)[:, None]
        self.calls: list[int] = []

    def encode(self, frames: Tensor) -> Tensor:
        return self.encoder(frames)

    def unroll(self, s0: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor:
        self.calls.append(len(s0))
        scale = torch.ones(len(s0), actions.shape[1], 2)
        if z is not None:
            scale[..., 1] = z[..., 0]
        return s0[:, None] + (actions * scale).cumsum(1)


def test_agent_plans_over_sampled_futures_when_the_task_asks(one_thread):
    task = TaskSpec.from_dict(
        {
            "name": "risky",
            "cost": {"goal_distance": 1.0},
            "uncertainty": {"samples": 4, "risk": 1.0},
            "planner": {"name": "cem", "horizon": 3, "population": 16, "elites": 4, "iterations": 2},
        }
    )
    env = task_env("hjepa/TwoRooms-v0", 5)
    observation, info = env.reset(seed=0)
    box = env.action_space.low.tolist(), env.action_space.high.tolist()
    model = LatentOracle([0.0, 1.0, 2.0])
    agent = Agent(model, Configurator(task, 2, *box), seed=0)
    agent.reset(info["goal_image"])
    action = agent.act(observation).action
    assert env.action_space.contains(action)
    assert set(model.calls) == {16 * 3}  # every candidate under each of the K = 3 codes (enumerated, 3 <= 4)
    assert agent.plan_cost.risk == 1.0
    with pytest.raises(ValueError, match="uncertainty: the world model has no latent"):
        Agent(OracleWorldModel(), Configurator(task, 2, *box), seed=0)
    with pytest.raises(ValueError, match="uncertainty.risk: expected a number >= 0"):
        task.replace(uncertainty={"samples": 4, "risk": -1})
