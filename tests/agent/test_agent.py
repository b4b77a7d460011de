"""The agent loop, configurator, landmark subgoals and planning probe, on a world model that knows the truth."""

import json

import numpy as np
import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.experience import Experience
from hjepa.agent.landmarks import LandmarkGraph
from hjepa.agent.policy import Policy
from hjepa.agent.task import TaskSpec
from hjepa.envs import make_world
from hjepa.eval.episodes import agent_actor, run_episode, task_env
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.protocol import Protocol
from tests.agent.oracle import OracleWorldModel, explored_episodes

BOX = ([-0.05, -0.05], [0.05, 0.05])
CENTRE = np.array([0.25, 0.5])  # the region of configs/tasks/reach_avoid.yaml
RADIUS = 0.15


@pytest.fixture(scope="module")
def experience() -> Experience:
    """Recorded exploration of TwoRooms; the oracle's representations are the positions themselves."""
    positions = torch.from_numpy(explored_episodes(make_world("two_rooms"), 256, 32)).float()
    return Experience(positions, positions)


def _agent(task: str, experience: Experience, **changes) -> Agent:
    spec = TaskSpec.from_yaml(f"configs/tasks/{task}.yaml")
    spec = spec.replace(**changes) if changes else spec
    return Agent(OracleWorldModel(), Configurator(spec, 2, *BOX, experience), seed=0)


def _min_distance_to_region(positions: np.ndarray) -> float:
    return float(np.linalg.norm(positions - CENTRE, axis=1).min())


def test_landmark_path_passes_through_the_door(experience):
    graph = LandmarkGraph(experience.representations)
    start, goal = torch.tensor([0.25, 0.8]), torch.tensor([0.75, 0.8])  # the straight line hits the wall
    graph.set_goal(goal)
    path = graph.path(start, 60).numpy()
    assert np.linalg.norm(path[-1] - goal.numpy()) < 1e-6  # it ends at the goal
    crossing = path[np.abs(path[:, 0] - 0.5) < 0.04]
    assert len(crossing) > 0, "the path never crosses the middle wall"
    assert np.all(np.abs(crossing[:, 1] - 0.5) < 0.1), f"crossed outside the door: {crossing}"
    steps = np.linalg.norm(np.diff(np.concatenate([start[None].numpy(), path]), axis=0), axis=1)
    assert steps.max() < 0.12  # targets about one recorded step apart
    assert graph.steps_to_goal(start) > np.linalg.norm(goal - start) / 0.05  # longer than the straight line


def test_landmark_penalty_reroutes_around_a_region(experience):
    graph = LandmarkGraph(experience.representations)
    start, goal = torch.tensor([0.08, 0.5]), torch.tensor([0.42, 0.5])  # the region sits between them
    inside = (np.linalg.norm(graph.states.numpy() - CENTRE, axis=1) < RADIUS).astype(np.float64)
    graph.set_goal(goal)
    direct = graph.path(start, 40).numpy()
    graph.set_goal(goal, penalty=100.0 * inside)
    detour = graph.path(start, 40).numpy()
    assert _min_distance_to_region(direct) < RADIUS / 2
    assert _min_distance_to_region(detour) > RADIUS * 0.9
    with pytest.raises(ValueError, match="one per remembered state"):
        graph.set_goal(goal, penalty=np.zeros(3))


def test_agent_reaches_goals_in_the_other_room(experience):
    agent = _agent("reach_aided", experience)  # landmarks lead the wall-blind oracle through the door
    env = task_env("hjepa/TwoRooms-v0", 100)
    results = [run_episode(env, agent_actor(agent), seed, agent.reset) for seed in range(3)]
    assert all(r.success for r in results), [(r.steps, r.positions[-1]) for r in results]
    rooms = [env.unwrapped.world.room_of(r.positions[[0, -1]]) for r in results]
    assert all(a != b for a, b in rooms)  # each episode crossed the door
    assert len(agent.triplets) == sum(r.steps for r in results)  # one critic triplet per step
    assert len(agent.demonstrations) == sum(r.steps for r in results)  # one Mode-2 decision per step


def test_two_tasks_on_one_model_behave_differently(experience):
    env = task_env("hjepa/TwoRooms-v0", 200)
    reach, avoid = _agent("reach_aided", experience), _agent("reach_avoid", experience)
    for seed in (0, 2, 4):  # episodes whose shortest route crosses the region
        plain = run_episode(env, agent_actor(reach), seed, reach.reset)
        careful = run_episode(env, agent_actor(avoid), seed, avoid.reset)
        assert plain.success and careful.success
        assert _min_distance_to_region(plain.positions) < RADIUS
        assert _min_distance_to_region(careful.positions) > RADIUS


def test_goal_is_kept_in_short_term_memory(experience):
    agent = _agent("reach", experience)
    env = task_env("hjepa/TwoRooms-v0", 10)
    _, info = env.reset(seed=3)
    agent.reset(info["goal_image"])
    recalled = agent.recall_goal()
    assert torch.allclose(recalled, torch.as_tensor(info["goal_state"]), atol=0.02)
    with pytest.raises(ValueError, match="encoder.img_size"):
        agent.perceive(np.zeros((32, 32, 3), dtype=np.uint8))


def test_goal_image_in_floats_is_not_divided_again(experience):
    agent = _agent("reach", experience)
    env = task_env("hjepa/TwoRooms-v0", 10)
    _, info = env.reset(seed=3)
    goal = info["goal_image"]
    for image in (goal.astype(np.float32) / 255, goal / 255.0):  # float32 and float64 in [0, 1]
        agent.reset(image)
        assert torch.allclose(agent.recall_goal(), torch.as_tensor(info["goal_state"]), atol=0.02)
        assert torch.allclose(agent.perceive(image), agent.perceive(goal))
    refused = [(goal.astype(np.float32), r"values in \[0, 1\], got \[24\.0, 255\.0\]"),  # floats in 0-255
               (np.full(goal.shape, np.nan, np.float32), r"values in \[0, 1\]"),
               (goal.astype(np.int64), r"expected uint8 .* got dtype int64"),
               (goal > 0, "got dtype bool")]
    for image, message in refused:
        with pytest.raises(ValueError, match=message):
            agent.reset(image)


def test_mode1_needs_a_policy_and_runs_it(experience):
    with pytest.raises(ValueError, match="needs a Mode-1 policy"):
        _agent("reach", experience, mode="mode1")
    spec = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(mode="mode1")
    policy = Policy(2, *BOX, hidden_dim=16)
    agent = Agent(OracleWorldModel(), Configurator(spec, 2, *BOX, experience), policy=policy)
    env = task_env("hjepa/TwoRooms-v0", 5)
    _, info = env.reset(seed=0)
    agent.reset(info["goal_image"])
    decision = agent.act(env.unwrapped.render())
    assert decision.mode == 1 and not agent.demonstrations
    assert np.all(np.abs(decision.action) <= 0.05 + 1e-6)


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cost": {"speed": 1.0}}, "cost.speed: unknown cost"),
        ({"planner": {"name": "rrt", "horizon": 4}}, "planner.name: unknown planner"),
        ({"planner": {"name": "cem"}}, "planner.horizon"),
        ({"cost": {"goal_distance": 1.0, "region_avoidance": 1.0}, "region": None}, "has no region"),
        ({"goal_metric": "pixels"}, "goal_metric: unknown metric"),
        ({"subgoals": {"kind": "oracle"}}, "subgoals.kind"),
        ({"mode": "mode3"}, "mode: unknown mode"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"goal_exponent": 0}, "goal_exponent: expected a positive number"),
        ({"goal_terminal": -1}, "goal_terminal: expected a number of steps >= 0"),
        ({"planner": {"name": "cem", "horizon": 4, "population": "many"}}, r"planner\.population: expected int"),
        ({"planner": {"name": "mppi", "horizon": 4, "temperature": True}}, r"planner\.temperature: expected float"),
        ({"planner": {"name": "cem", "horizon": 4, "populaton": 8}}, r"planner\.populaton: unknown field"),
    ],
)
def test_bad_task_specs_name_the_field(change, message):
    data = TaskSpec.from_yaml("configs/tasks/reach_avoid.yaml").as_dict()
    with pytest.raises(ValueError, match=message):
        TaskSpec.from_dict({**data, **change})


@pytest.mark.parametrize(("change", "field"), [({}, "subgoals.kind: landmarks"),
                                              ({"subgoals": {"kind": "none"}}, "goal_metric: probe")])
def test_configurator_names_the_field_that_needs_recorded_data(change, field):
    spec = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml").replace(**change)
    with pytest.raises(ValueError, match=field) as error:
        Configurator(spec, 2, *BOX, None)
    assert "--data" in str(error.value)


def test_plan_probe_writes_results_and_beats_random(experience, tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml").replace(max_steps=80)
    summary = run_plan_probe(None, None, "hjepa/TwoRooms-v0", task, tmp_path, Protocol(3), planners=["mppi"],
                             world_model=OracleWorldModel(), experience=experience)
    assert summary["plan_success"] == 1.0 and summary["plan_success_random"] == 0.0
    assert summary["plan_aids"] == ["landmarks", "probe"]
    assert set(summary["plan_table"]) == {"cem [aided: landmarks, probe]", "mppi [aided: landmarks, probe]", "random"}
    assert json.loads((tmp_path / "plan.json").read_text())["plan_success"] == 1.0
    assert (tmp_path / "plan_trajectories.png").stat().st_size > 0
    assert (tmp_path / "plan_episode.gif").read_bytes()[:3] == b"GIF"
    with pytest.raises(ValueError, match="not a registered gymnasium id"):
        task_env("hjepa/Nowhere-v0", 10)


def test_auto_mode_plans_where_the_critic_predicts_a_high_cost(experience):
    from hjepa.agent.cost import TrainableCritic

    teacher = _agent("reach_aided", experience)
    env = task_env("hjepa/TwoRooms-v0", 60)
    for seed in range(2):
        run_episode(env, agent_actor(teacher), seed, teacher.reset)
    critic = TrainableCritic(4, hidden_dim=32, horizon=8, discount=0.9)
    losses = critic.fit(teacher.triplets.all(), steps=300, lr=3e-3)
    assert losses[-1] < 0.1 * losses[0]  # the critic learns the future intrinsic cost
    predicted = critic(teacher.triplets.all().states).detach()
    threshold = float(predicted.median())
    spec = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml").replace(mode="auto", critic_threshold=threshold)
    agent = Agent(OracleWorldModel(), Configurator(spec, 2, *BOX, experience), policy=Policy(2, *BOX, hidden_dim=8),
                  critic=critic)
    observation, info = env.reset(seed=0)  # starts far from its goal
    agent.reset(info["goal_image"])
    modes = []
    for _ in range(20):
        decision = agent.act(observation)
        state = torch.cat([agent.perceive(observation), agent.recall_goal()])
        assert decision.mode == (2 if float(critic(state).detach()) > threshold else 1)
        modes.append(decision.mode)
        observation, *_ = env.step(decision.action)
    assert 2 in modes  # far from the goal the critic predicts a high cost and the agent plans


def test_plan_cli_names_bad_inputs(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from hjepa.cli import main
    from hjepa.export import export_world_model
    from hjepa.models import build_world_model

    config = {"encoder": {"name": "convnet_tiny", "embed_dim": 8, "width": 8},
              "predictor": {"kind": "gru", "hidden_dim": 8, "action_dim": 2}}
    model = tmp_path / "model"
    export_world_model(build_world_model(config), config, model)
    common = ["--ckpt", str(model), "--task", "configs/tasks/reach.yaml", "--out", str(tmp_path)]
    assert main(["plan", "--env", "hjepa/Nowhere-v0", *common]) == 2
    assert "not a registered gymnasium id" in capsys.readouterr().err
    weights = load_file(model / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("predictor.")}, model / "model.safetensors")
    meta = json.loads((model / "config.json").read_text())
    del meta["weights_sha256"]  # an export from before checksums: loading reaches the missing predictor
    (model / "config.json").write_text(json.dumps(meta))
    assert main(["probe", "plan", "--env", "hjepa/TwoRooms-v0", *common]) == 2
    assert "predictor" in capsys.readouterr().err  # the planner needs the predictor the file lacks


def test_distilled_policy_approaches_the_planner_on_held_out_states(experience, tmp_path):
    from hjepa.agent.distill import demonstrations, distill, load_policy, save_policy

    env = task_env("hjepa/TwoRooms-v0", 60)
    teacher, held_out = _agent("reach_aided", experience), _agent("reach_aided", experience)
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
