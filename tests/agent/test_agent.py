"""The agent loop (sec. 3, fig. 2) on a world model that knows the truth: reaching goals, tasks, the goal in
short-term memory, Mode 1 and the auto mode; the planning probe and CLI that run it."""

import numpy as np
import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.cost import TrainableCritic
from hjepa.agent.distill import demonstrations
from hjepa.agent.policy import Policy
from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import agent_actor, run_episode, task_env
from tests.agent.oracle import OracleWorldModel
from tests.agent.two_rooms import BOX, RADIUS, min_distance_to_region, oracle_agent


def test_agent_reaches_goals_in_the_other_room(experience):
    agent = oracle_agent("reach_aided", experience)  # landmarks lead the wall-blind oracle through the door
    env = task_env("hjepa/TwoRooms-v0", 100)
    results = [run_episode(env, agent_actor(agent), seed, agent.reset) for seed in range(3)]
    assert all(r.success for r in results), [(r.steps, r.positions[-1]) for r in results]
    rooms = [env.unwrapped.world.room_of(r.positions[[0, -1]]) for r in results]
    assert all(a != b for a, b in rooms)  # each episode crossed the door
    assert len(agent.triplets) == sum(r.steps for r in results)  # one critic triplet per step
    assert len(agent.demonstrations) == sum(r.steps for r in results)  # one Mode-2 decision per step


def test_two_tasks_on_one_model_behave_differently(experience):
    env = task_env("hjepa/TwoRooms-v0", 200)
    reach, avoid = oracle_agent("reach_aided", experience), oracle_agent("reach_avoid", experience)
    for seed in (0, 2, 4):  # episodes whose shortest route crosses the region
        plain = run_episode(env, agent_actor(reach), seed, reach.reset)
        careful = run_episode(env, agent_actor(avoid), seed, avoid.reset)
        assert plain.success and careful.success
        assert min_distance_to_region(plain.positions) < RADIUS
        assert min_distance_to_region(careful.positions) > RADIUS


def test_goal_is_kept_in_short_term_memory(experience):
    agent = oracle_agent("reach", experience)
    env = task_env("hjepa/TwoRooms-v0", 10)
    _, info = env.reset(seed=3)
    agent.reset(info["goal_image"])
    recalled = agent.recall_goal()
    assert torch.allclose(recalled, torch.as_tensor(info["goal_state"]), atol=0.02)
    with pytest.raises(ValueError, match="encoder.img_size"):
        agent.perceive(np.zeros((32, 32, 3), dtype=np.uint8))


def test_goal_image_in_floats_is_not_divided_again(experience):
    agent = oracle_agent("reach", experience)
    env = task_env("hjepa/TwoRooms-v0", 10)
    _, info = env.reset(seed=3)
    goal = info["goal_image"]
    for image in (goal.astype(np.float32) / 255, goal / 255.0):  # float32 and float64 in [0, 1]
        agent.reset(image)
        assert torch.allclose(agent.recall_goal(), torch.as_tensor(info["goal_state"]), atol=0.02)
        assert torch.allclose(agent.perceive(image), agent.perceive(goal))
    refused = [
        (goal.astype(np.float32), r"values in \[0, 1\], got \[24\.0, 255\.0\]"),  # floats in 0-255
        (np.full(goal.shape, np.nan, np.float32), r"values in \[0, 1\]"),
        (goal.astype(np.int64), r"expected uint8 .* got dtype int64"),
        (goal > 0, "got dtype bool"),
    ]
    for image, message in refused:
        with pytest.raises(ValueError, match=message):
            agent.reset(image)


def test_mode1_needs_a_policy_and_runs_it(experience):
    with pytest.raises(ValueError, match="needs a Mode-1 policy"):
        oracle_agent("reach", experience, mode="mode1")
    spec = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(mode="mode1")
    policy = Policy(2, *BOX, hidden_dim=16)
    agent = Agent(OracleWorldModel(), Configurator(spec, 2, *BOX, experience), policy=policy)
    env = task_env("hjepa/TwoRooms-v0", 5)
    _, info = env.reset(seed=0)
    agent.reset(info["goal_image"])
    decision = agent.act(env.unwrapped.render())
    assert decision.mode == 1 and not agent.demonstrations
    assert np.all(np.abs(decision.action) <= 0.05 + 1e-6)


def test_auto_mode_plans_where_the_critic_predicts_a_high_cost(experience):
    env = task_env("hjepa/TwoRooms-v0", 60)
    teacher = oracle_agent("reach_aided", experience)
    seeds = range(3)
    for seed in seeds:
        run_episode(env, agent_actor(teacher), seed, teacher.reset)
    torch.manual_seed(0)
    critic = TrainableCritic(4, hidden_dim=32, horizon=8, discount=0.9)
    critic.fit(teacher.triplets.all(), steps=300, lr=3e-3)
    threshold = float(critic(teacher.triplets.all().states).detach().median())  # plan above the median prediction
    policy = Policy(2, *BOX, hidden_dim=32)  # Mode 1, distilled from the teacher's plans (sec. 3.1.4)
    policy.fit(*demonstrations(teacher), steps=300, lr=3e-3, generator=torch.Generator().manual_seed(0))
    spec = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml").replace(mode="auto", critic_threshold=threshold)
    agent = Agent(OracleWorldModel(), Configurator(spec, 2, *BOX, experience), policy=policy, critic=critic)
    for seed in seeds:  # episodes whose future costs the critic has learned
        modes = []

        def act(observation: np.ndarray) -> tuple[np.ndarray, float]:
            decision = agent.act(observation)
            modes.append(decision.mode)
            return decision.action, decision.ms

        planned = len(agent.demonstrations)
        result = run_episode(env, act, seed, agent.reset)
        mode, distances = np.array(modes), np.array(result.distances[:-1])  # the distance to the goal at each step
        assert result.success
        assert (mode == 2).any() and (mode == 1).any(), mode  # both the planner and the policy acted
        # the critic predicts a high cost far from the goal: the planner acts there, the policy closer in
        assert distances[mode == 2].min() > distances[mode == 1].max(), (mode, distances.round(2))
        assert len(agent.demonstrations) - planned == (mode == 2).sum()  # only Mode-2 steps are demonstrations


def test_replan_every_takes_the_plans_actions_between_plans(experience):
    # stable-worldmodel's protocol takes a whole plan before planning again; replan_every 4 plans at steps 0, 4, 8
    agent = oracle_agent("reach", experience, hold=False, replan_every=4)
    env = task_env("hjepa/TwoRooms-v0", 10)
    _, info = env.reset(seed=1)
    agent.reset(info["goal_image"])
    actions, plans = [], []
    for _ in range(10):
        planned = len(agent.demonstrations)
        actions.append(agent.act(env.unwrapped.render()).action)
        if len(agent.demonstrations) > planned:
            plans.append(agent._plan.numpy().copy())
        env.step(actions[-1])
    assert len(plans) == 3  # steps 0, 4 and 8 planned, the others took the plan's next action
    np.testing.assert_array_equal(np.stack(actions[:4]), plans[0][:4])
    np.testing.assert_array_equal(np.stack(actions[4:8]), plans[1][:4])
    every_step = oracle_agent("reach", experience, hold=False)
    every_step.reset(info["goal_image"])
    for _ in range(3):
        every_step.act(env.unwrapped.render())
    assert len(every_step.demonstrations) == 3
