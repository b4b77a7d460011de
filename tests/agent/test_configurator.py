"""The configurator (sec. 3, 3.2): what it refuses, and the cost weights it sets reaching the planner."""

import math

import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.cost import TrainableCritic
from hjepa.agent.memory import TripletBuffer
from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import task_env
from tests.agent.oracle import OracleWorldModel
from tests.agent.two_rooms import BOX

START, GOAL = torch.tensor([0.2, 0.5]), torch.tensor([0.8, 0.5])
DANGER, DANGER_RADIUS = torch.tensor([0.4, 0.5]), 0.1  # where a short plan from START toward GOAL would end


@pytest.mark.parametrize(
    ("change", "field"), [({}, "subgoals.kind: landmarks"), ({"subgoals": {"kind": "none"}}, "goal_metric: probe")]
)
def test_configurator_names_the_field_that_needs_recorded_data(change, field):
    spec = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml").replace(**change)
    with pytest.raises(ValueError, match=field) as error:
        Configurator(spec, 2, *BOX, None)
    assert "--data" in str(error.value)


@pytest.fixture(scope="module")
def danger_critic() -> TrainableCritic:
    """A critic that learned a future cost of 5 from [s, GOAL] with s within DANGER_RADIUS of DANGER, 0 elsewhere."""
    states = torch.rand(1024, 2, generator=torch.Generator().manual_seed(0))
    costs = 5.0 * ((states - DANGER).norm(dim=-1) < DANGER_RADIUS).float()
    triplets = TripletBuffer(1024, 4)
    triplets.add(0, torch.cat([states, GOAL.expand(1024, 2)], dim=-1), costs)
    torch.manual_seed(0)
    critic = TrainableCritic(4, hidden_dim=32, horizon=1)  # horizon 1: the target is the stored cost itself
    critic.fit(triplets.all(), steps=300, lr=1e-2)
    return critic.requires_grad_(False)


def _plan_end(critic_weight: float, critic: TrainableCritic | None, seed: int) -> torch.Tensor:
    """Where the task's planner, minimising the configurator's cost, plans to be after 4 steps from START."""
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(
        critic_weight=critic_weight,
        planner={"name": "cem", "horizon": 4, "population": 128, "elites": 16, "iterations": 5},
    )
    configurator = Configurator(task, 2, *BOX)
    cost = configurator.cost(configurator.intrinsic_cost(GOAL), critic)
    cost.set_goal(GOAL)
    plan = configurator.planner().plan(START, cost, OracleWorldModel(), generator=seed)
    return OracleWorldModel().unroll(START[None], plan.actions[None])[0, -1]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_plan_avoids_where_the_critic_predicts_a_high_cost_only_when_the_task_weighs_it(danger_critic, seed):
    ignored, avoided = _plan_end(0.0, danger_critic, seed), _plan_end(1.0, danger_critic, seed)
    assert torch.equal(ignored, _plan_end(0.0, None, seed))  # weight 0: the very plan of IC alone
    assert (ignored - DANGER).norm() < DANGER_RADIUS / 2  # IC alone heads straight for the goal, into the region
    assert (avoided - DANGER).norm() > DANGER_RADIUS  # with the critic the plan ends outside it
    assert (avoided - GOAL).norm() < (START - GOAL).norm() - 0.05  # ... still on its way to the goal


@pytest.mark.parametrize("critic_weight", [0.0, 2.0])
def test_the_configurators_weights_reach_the_cost_the_planner_sees(monkeypatch, critic_weight):
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(
        cost={"goal_distance": 1.5, "action_magnitude": 0.5}, critic_weight=critic_weight
    )
    torch.manual_seed(0)
    critic = TrainableCritic(4, hidden_dim=8)
    agent = Agent(OracleWorldModel(), Configurator(task, 2, *BOX), critic=critic, seed=0)
    seen, plan = [], agent.planner.plan

    def spy(state, cost, *args, **kwargs):
        seen.append(cost)
        return plan(state, cost, *args, **kwargs)

    monkeypatch.setattr(agent.planner, "plan", spy)
    env = task_env("hjepa/TwoRooms-v0", 5)
    observation, info = env.reset(seed=0)
    agent.reset(info["goal_image"])
    agent.act(observation)
    goal = agent.recall_goal().tolist()
    g = torch.Generator().manual_seed(1)
    states, actions = torch.rand(3, 5, 2, generator=g), 0.1 * torch.rand(3, 5, 2, generator=g) - 0.05
    with torch.no_grad():
        got = seen[0](states, actions)
        critic_cost = [float(critic(torch.tensor(states[n, -1].tolist() + goal))) for n in range(3)]
    for n in range(3):
        # reach.yaml: goal_exponent 1, so each step costs its distance; no recorded data, so goal_distance is in
        # representation units; action_magnitude is in units of the largest action, 0.05, squared
        expected = sum(
            1.5 * math.dist(states[n, h].tolist(), goal) + 0.5 / 0.05**2 * sum(a * a for a in actions[n, h].tolist())
            for h in range(5)
        )
        assert float(got[n]) == pytest.approx(expected + critic_weight * critic_cost[n], rel=1e-5)


def test_a_critic_weight_without_a_critic_names_the_field():
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(critic_weight=1.0)
    with pytest.raises(ValueError, match="critic_weight is 1.0.*no critic was given"):
        Agent(OracleWorldModel(), Configurator(task, 2, *BOX), seed=0)


@pytest.mark.parametrize("field", ["drift_correction", "hold"])
def test_standing_still_needs_action_0_in_the_box(field):
    still = {"drift_correction": False, "hold": False, field: True}
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(**still)
    with pytest.raises(ValueError, match=f"{field} take action 0 as standing still.*set {field} to false"):
        Configurator(task, 2, [0.1, -1.0], [1.0, 1.0])
    Configurator(task, 2, *BOX)  # 0 inside the box: accepted
