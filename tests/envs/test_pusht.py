"""PushT through hjepa (optional extra `envs`): the environment contract, recorded shards, planning on it,
and the errors when the extra is missing."""

from __future__ import annotations

import importlib
import sys
import warnings

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import hjepa.envs
from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.cost import GoalDistanceCost, IntrinsicCost
from hjepa.agent.planners import build_planner
from hjepa.agent.task import TaskSpec
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards, record_episodes
from hjepa.data.video import decode_video
from hjepa.envs.pusht import ARENA, GOAL_AGENT, MAX_ACTION, PUSHT_ID, PushTEnv
from hjepa.eval.episodes import agent_actor, run_episode, task_env
from hjepa.models.world_model import build_world_model
from hjepa.registration import extra_installed
from hjepa.threads import one_torch_thread
from tests.agent.oracle import OracleWorldModel

ROYAL_BLUE = np.array([65, 105, 225])  # gym-pusht's agent
LIGHT_GREEN = np.array([144, 238, 144])  # its goal area


def colour_mask(images: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Pixels (..., H, W) whose colour is within 12 of `colour` in every channel."""
    return (np.abs(images.astype(int) - colour) <= 12).all(-1)


def agent_pixel_xy(image: np.ndarray) -> np.ndarray:
    """Centroid of the agent's pixels in unit-square coordinates (x right, y down)."""
    rows, cols = np.nonzero(colour_mask(image, ROYAL_BLUE))
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5]) / image.shape[0]


# ----- without the extra


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("gym_pusht", "gym_pusht.envs"):
        monkeypatch.setitem(sys.modules, name, None)  # `import gym_pusht` now raises ImportError
    monkeypatch.delitem(gymnasium.registry, PUSHT_ID, raising=False)
    assert not extra_installed(PUSHT_ID)
    with pytest.raises(ImportError, match=r"pip install 'hjepa\[envs\]'"):
        PushTEnv()
    importlib.reload(hjepa.envs)  # registration is skipped without the package
    assert PUSHT_ID not in gymnasium.registry
    with pytest.raises(ValueError, match=r"--env: hjepa/PushT-v0 needs .*pip install 'hjepa\[envs\]'"):
        task_env(PUSHT_ID, 10)
    with pytest.raises(ValueError, match=r"world: hjepa/PushT-v0 needs .*pip install 'hjepa\[envs\]'"):
        GenerateSettings(PUSHT_ID, episodes=1, frames=4)


def test_unknown_env_id_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"--env: 'hjepa/Castle-v0' is not a registered gymnasium id.*TwoRooms-v0"):
        task_env("hjepa/Castle-v0", 10)


# ----- with the extra


@pytest.fixture
def env() -> gymnasium.Env:
    pytest.importorskip("gym_pusht")
    return gymnasium.make(PUSHT_ID, image_size=64)


def test_passes_gymnasium_checks_and_reproduces_seeds(env: gymnasium.Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        check_env(env.unwrapped)
    obs, info = env.reset(seed=3)
    again, info_again = env.reset(seed=3)
    other, info_other = env.reset(seed=4)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs, again)
    np.testing.assert_array_equal(info["state"], info_again["state"])
    assert not np.array_equal(info["state"], info_other["state"])
    assert env.action_space.shape == (2,) and env.action_space.high[0] == pytest.approx(MAX_ACTION)


def test_state_is_in_image_coordinates(env: gymnasium.Env) -> None:
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        state = info["state"]
        assert state.shape == (6,) and state.dtype == np.float32
        assert np.all((state[:4] >= 0) & (state[:4] <= 1))
        assert state[4] ** 2 + state[5] ** 2 == pytest.approx(1.0, abs=1e-5)
        # the agent is drawn where the state says: x to the right, y down, one pixel of tolerance
        np.testing.assert_allclose(agent_pixel_xy(obs), state[:2], atol=1.0 / 64)


def test_goal_image_shows_the_block_covering_its_goal(env: gymnasium.Env) -> None:
    obs, info = env.reset(seed=0)
    goal = info["goal_image"]
    assert goal.shape == obs.shape and goal.dtype == np.uint8
    assert info["coverage"] < 0.5 and colour_mask(obs, LIGHT_GREEN).sum() > 30  # the goal area is visible
    assert colour_mask(goal, LIGHT_GREEN).sum() <= 2  # ... and hidden by the block in the goal image
    np.testing.assert_allclose(agent_pixel_xy(goal), np.array(GOAL_AGENT) / ARENA, atol=1.0 / 64)


def test_actions_move_the_agent_relative_to_where_it_is(env: gymnasium.Env) -> None:
    _, info = env.reset(seed=1)
    start = info["state"][:2]
    assert start[0] < 0.5  # room to move right in this episode
    for _ in range(4):
        _, _, _, _, info = env.step(np.array([1.0, 0.0], dtype=np.float32))  # clipped to (MAX_ACTION, 0)
    moved = info["state"][:2] - start
    # the target runs MAX_ACTION ahead of the agent: the agent moves right, not beyond 4 MAX_ACTION, barely in y
    assert 0.5 * MAX_ACTION < moved[0] <= 4 * MAX_ACTION and abs(moved[1]) < 0.01


def test_exploration_pushes_the_block(env: gymnasium.Env) -> None:
    block_moves = []
    for seed in range(3):
        _, info = env.reset(seed=seed)
        start = info["state"][2:4]
        for _ in range(60):
            action = env.unwrapped.exploration_action()
            assert env.action_space.contains(action)
            _, _, _, _, info = env.step(action)
        block_moves.append(np.linalg.norm(info["state"][2:4] - start))
    assert max(block_moves) > 0.1


def test_recorded_shard_is_read_back_by_the_data_module(tmp_path) -> None:
    pytest.importorskip("gym_pusht")
    settings = GenerateSettings(PUSHT_ID, episodes=2, frames=8, shard_size=2, image_size=32, codec="ffv1")
    generate_shards(settings, tmp_path, progress=False)
    data = VideoDataModule(str(tmp_path), num_frames=8, batch_size=2, num_workers=0, val_fraction=0.0, resampled=False)
    batch = next(iter(data.loader(data.dataset("all"))))
    assert batch["frames"].shape == (2, 8, 3, 32, 32)
    assert batch["actions"].shape == (2, 7, 2) and batch["actions"].abs().max() <= MAX_ACTION + 1e-6
    assert batch["states"].shape == (2, 8, 6)
    # replay the shard's first episode: same seed, same exploration policy, same frames (lossless codec)
    episode = record_episodes(settings, 0)[0]
    env = gymnasium.make(PUSHT_ID, image_size=32)
    obs, info = env.reset(seed=int(np.random.default_rng([settings.seed, 0]).integers(2**31)))
    frames, states = [obs], [info["state"]]
    for action in episode.actions:
        np.testing.assert_array_equal(action, env.unwrapped.exploration_action())
        obs, _, _, _, info = env.step(action)
        frames.append(obs)
        states.append(info["state"])
    np.testing.assert_array_equal(decode_video(episode.video, None, "pyav"), np.stack(frames))
    np.testing.assert_array_equal(episode.states, np.stack(states))
    assert episode.meta["state_names"] == list(PushTEnv.state_names) and episode.key == "hjepa_PushT-v0-s0-e0000000"


def test_cem_plans_an_action_in_the_box_from_a_pusht_observation(env: gymnasium.Env) -> None:
    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 64, "width": 8},
            "predictor": {"kind": "gru", "hidden_dim": 32, "action_dim": 2, "action_scale": 1 / MAX_ACTION},
        }
    ).eval()
    planner = build_planner(
        "cem",
        action_low=env.action_space.low,
        action_high=env.action_space.high,
        horizon=4,
        population=32,
        elites=4,
        iterations=3,
    )
    obs, info = env.reset(seed=0)

    def encode(image: np.ndarray) -> torch.Tensor:
        return model.encode(torch.from_numpy(image).permute(2, 0, 1).float().div(255)[None, None])[0, 0]

    with torch.no_grad(), one_torch_thread():
        cost = IntrinsicCost({"goal_distance": GoalDistanceCost(encode(info["goal_image"]))})
        result = planner.plan(encode(obs), cost, model, generator=0)
    action = result.actions[0].numpy()
    assert result.actions.shape == (4, 2) and env.action_space.contains(action)
    obs, _, _, _, info = env.step(action)
    assert env.observation_space.contains(obs)


def test_agent_with_an_exact_model_steers_toward_the_goal_image(env: gymnasium.Env) -> None:
    # An oracle model reading the agent's position off the image: what the planner does is then known, so
    # the test checks the loop (goal image -> plan -> relative actions), not a trained model.
    oracle = OracleWorldModel()
    oracle.encoder.colour = torch.tensor(ROYAL_BLUE / 255.0, dtype=torch.float32)
    planner = {"name": "cem", "horizon": 3, "population": 64, "elites": 8, "iterations": 3}
    task = TaskSpec.from_dict({"name": "push_t", "cost": {"goal_distance": 1.0}, "max_steps": 12, "planner": planner})
    configurator = Configurator(task, 2, env.action_space.low.tolist(), env.action_space.high.tolist())
    agent = Agent(oracle, configurator, seed=0)
    goal = np.array(GOAL_AGENT) / ARENA
    with one_torch_thread():
        result = run_episode(
            gymnasium.make(PUSHT_ID, image_size=64, max_episode_steps=12), agent_actor(agent), 2, agent.reset
        )
    distances = np.linalg.norm(result.positions[:, :2] - goal, axis=1)
    assert result.steps == 12 and distances[0] > 0.3
    assert distances[-1] < distances[0] - 0.3  # about 0.05 per step toward the goal's agent position


# ----- the PushT probe's evaluation


def test_probe_compares_planner_and_random_from_the_same_starts(env: gymnasium.Env) -> None:
    from hjepa.eval.pusht_probe import HELD_OUT, TASK, plan_vs_random

    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"name": "convnet_tiny", "embed_dim": 8, "img_size": 64, "width": 8},
            "predictor": {"kind": "gru", "hidden_dim": 16, "action_dim": 2},
        }
    ).eval()
    task = TaskSpec.from_dict(
        {
            **TASK,
            "max_steps": 3,
            "planner": {**TASK["planner"], "population": 16, "elites": 4, "iterations": 2, "horizon": 2},
        }
    )
    table = plan_vs_random(model, task, episodes=2, seed=0)
    assert set(table) == {"cem", "random"}
    starts = []
    for seed in (HELD_OUT, HELD_OUT + 1):  # the probe's planning seeds
        _, info = env.reset(seed=seed)
        starts.append((info["coverage"], info["block_distance"]))
    for row in table.values():
        assert (row["coverage_start"], row["block_distance_start"]) == pytest.approx(np.mean(starts, axis=0), abs=1e-4)
        assert row["success"] in (0.0, 0.5, 1.0) and 0.0 <= row["coverage_end"] <= 1.0
    assert table["cem"]["ms_per_step"] > 0 and table["random"]["ms_per_step"] == 0


def test_plan_probe_runs_on_pusht_against_random(tmp_path) -> None:
    """`hjepa probe plan --env hjepa/PushT-v0`: the same probe as for hjepa's worlds, paths drawn on the goal image."""
    from hjepa.eval.plan_probe import run_plan_probe
    from hjepa.eval.protocol import Protocol

    pytest.importorskip("gym_pusht")
    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"name": "convnet_tiny", "embed_dim": 8, "img_size": 64, "width": 8},
            "predictor": {"kind": "gru", "hidden_dim": 16, "action_dim": 2},
        }
    ).eval()
    task = TaskSpec.from_dict(
        {
            "name": "push_t",
            "cost": {"goal_distance": 1.0},
            "max_steps": 3,
            "planner": {"name": "cem", "horizon": 2, "population": 16, "elites": 4, "iterations": 2},
        }
    )
    summary = run_plan_probe(None, None, PUSHT_ID, task, tmp_path, Protocol(2), world_model=model)
    assert set(summary["plan_table"]) == {"cem", "random"} and summary["plan_table"]["cem"]["ms_per_step"] > 0
    assert (tmp_path / "plan_trajectories.png").stat().st_size > 0
    assert (tmp_path / "plan_episode.gif").read_bytes()[:3] == b"GIF"
    _, info = gymnasium.make(PUSHT_ID).reset(seed=0)
    assert info["goal_state"][:2] == pytest.approx(np.array(GOAL_AGENT) / ARENA)
