"""stable-worldmodel's TwoRoom through hjepa (optional extra `swm`): the environment contract, recorded shards that
the data module reads, planning on it, and the errors when the extra is missing."""

from __future__ import annotations

import copy
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
from hjepa.agent.task import TaskSpec
from hjepa.cli import main
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards, record_episodes
from hjepa.data.video import decode_video
from hjepa.eval.episodes import task_env
from hjepa.models.world_model import build_world_model
from hjepa.registration import SWM_PUSHT_ID, SWM_TWOROOM_ID, extra_installed
from hjepa.threads import one_torch_thread
from tests.extras import needs_swm

# ----- without the extra


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from hjepa.envs.swm import TwoRoomEnv

    monkeypatch.setitem(sys.modules, "stable_worldmodel", None)  # `import stable_worldmodel` now raises ImportError
    monkeypatch.delitem(gymnasium.registry, SWM_TWOROOM_ID, raising=False)
    assert not extra_installed(SWM_TWOROOM_ID)
    with pytest.raises(ImportError, match=r"pip install 'hjepa\[swm\]'"):
        TwoRoomEnv()
    importlib.reload(hjepa.envs)  # registration is skipped without the package
    assert SWM_TWOROOM_ID not in gymnasium.registry
    with pytest.raises(ValueError, match=r"--env: hjepa/SwmTwoRoom-v1 needs .*pip install 'hjepa\[swm\]'"):
        task_env(SWM_TWOROOM_ID, 10)
    with pytest.raises(ValueError, match=r"world: hjepa/SwmTwoRoom-v1 needs .*pip install 'hjepa\[swm\]'"):
        GenerateSettings(SWM_TWOROOM_ID, episodes=1, frames=4)


# ----- with the extra


@pytest.fixture
def env() -> gymnasium.Env:
    return gymnasium.make(SWM_TWOROOM_ID, image_size=32)


@needs_swm
def test_passes_gymnasium_checks_and_reports_the_agent_and_target(env: gymnasium.Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        check_env(env.unwrapped)
    obs, info = env.reset(seed=3)
    assert obs.shape == (32, 32, 3) and obs.dtype == np.uint8 and info["goal_image"].shape == (32, 32, 3)
    assert info["state"].shape == (2,) and info["state"].dtype == np.float32 and info["goal_state"].shape == (2,)
    np.testing.assert_array_equal(info["state"], info["proprio"])
    assert env.action_space.shape == (2,) and env.action_space.high.tolist() == [1.0, 1.0]
    assert env.unwrapped.state_names == ("agent_x", "agent_y") and env.spec.max_episode_steps == 100


@needs_swm
def test_reset_to_a_state_and_goal_and_the_goal_image_shows_the_agent_there(env: gymnasium.Env) -> None:
    from hjepa.envs.swm import SUCCESS_PIXELS

    goal = np.array([60.0, 150.0], np.float32)
    _, info = env.reset(seed=0, options={"start": [60.0, 100.0], "goal": goal})
    np.testing.assert_array_equal(info["state"], [60.0, 100.0])
    np.testing.assert_array_equal(info["goal_state"], goal)
    assert info["distance_to_target"] == pytest.approx(50.0)
    steps = 0
    terminated = False
    while not terminated:  # straight down at 5 px per step: terminates on coming within 16 px
        obs, _, terminated, _, info = env.step(np.array([0.0, 1.0], np.float32))
        steps += 1
    assert steps == 7 and info["distance_to_target"] < SUCCESS_PIXELS
    _, reached = env.reset(seed=0, options={"start": goal, "goal": goal})
    assert np.abs(reached["goal_image"].astype(int) - env.render().astype(int)).max() <= 1


@needs_swm
def test_expert_policy_is_offered_and_missing_policies_are_named(env: gymnasium.Env, capsys) -> None:
    _, info = env.reset(seed=0, options={"start": [40.0, 40.0], "goal": [40.0, 180.0]})
    clean = gymnasium.make(SWM_TWOROOM_ID, image_size=32, expert_noise=0.0)
    clean.reset(seed=0, options={"start": [40.0, 40.0], "goal": [40.0, 180.0]})
    assert np.allclose(clean.unwrapped.expert_action(), [0.0, 1.0], atol=1e-6)  # same room: straight at the target
    action = env.unwrapped.expert_action()
    assert env.action_space.contains(action) and not np.allclose(action, [0.0, 1.0])  # noisy, as swm records it
    args = ["generate", "--episodes", "1", "--frames", "4", "--out", "/tmp/unused", "--policy"]
    assert main(args + ["expert", "--world", "hjepa/TwoRooms-v0"]) == 2
    assert (
        "policy: hjepa/TwoRooms-v0 has no expert policy; choose from ['explore', 'random'] (--policy)"
        in capsys.readouterr().err
    )
    assert main(args + ["greedy", "--world", SWM_TWOROOM_ID]) == 2
    assert "unknown policy 'greedy'; choose from ['explore', 'random', 'expert']" in capsys.readouterr().err


@needs_swm
@pytest.mark.parametrize(
    ("env_id", "policy", "method", "state_size"),
    [(SWM_TWOROOM_ID, "expert", "expert_action", 2), (SWM_PUSHT_ID, "explore", "exploration_action", 7)],
)
def test_recorded_shard_is_aligned_and_read_back(tmp_path, env_id, policy, method, state_size) -> None:
    settings = GenerateSettings(env_id, episodes=2, frames=12, shard_size=2, image_size=32, codec="ffv1", policy=policy)
    generate_shards(settings, tmp_path, progress=False)
    data = VideoDataModule(str(tmp_path), num_frames=12, batch_size=2, num_workers=0, val_fraction=0.0, resampled=False)
    batch = next(iter(data.loader(data.dataset("all"))))
    assert batch["frames"].shape == (2, 12, 3, 32, 32)
    assert batch["actions"].shape == (2, 11, 2) and batch["actions"].abs().max() <= 1.0
    assert batch["states"].shape == (2, 12, state_size)
    # replay the first episode from its reset seed: the policy takes the recorded actions, which lead through the
    # recorded states and frames (lossless codec)
    episode = record_episodes(settings, 0)[0]
    replay = gymnasium.make(env_id, image_size=32)
    assert episode.meta["policy"] == policy and episode.meta["state_names"] == list(replay.unwrapped.state_names)
    obs, info = replay.reset(seed=episode.meta["reset_seed"])
    frames, states = [obs], [info["state"]]
    for action in episode.actions:
        np.testing.assert_array_equal(action, getattr(replay.unwrapped, method)())
        obs, _, terminated, _, info = replay.step(action)
        frames.append(obs)
        states.append(info["state"])
    np.testing.assert_array_equal(decode_video(episode.video, None, "pyav"), np.stack(frames))
    np.testing.assert_array_equal(episode.states, np.stack(states))
    assert np.abs(np.diff(episode.states, axis=0)).max() > 1.0  # the agent moved


@needs_swm
def test_cem_agent_with_an_untrained_model_gives_actions_the_environment_accepts(env: gymnasium.Env) -> None:
    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"name": "convnet_tiny", "embed_dim": 8, "img_size": 32, "width": 8},
            "predictor": {"kind": "gru", "hidden_dim": 16, "action_dim": 2},
        }
    ).eval()
    task = TaskSpec.from_dict(
        {
            "name": "reach",
            "cost": {"goal_distance": 1.0},
            "max_steps": 3,
            "planner": {"name": "cem", "horizon": 5, "population": 16, "elites": 4, "iterations": 2, "init_std": 1.0},
        }
    )
    configurator = Configurator(task, 8, env.action_space.low.tolist(), env.action_space.high.tolist())
    agent = Agent(model, configurator, seed=0)
    obs, info = env.reset(seed=0)
    agent.reset(info["goal_image"])
    with one_torch_thread():
        for _ in range(3):
            action = agent.act(obs).action
            assert action.shape == (2,) and env.action_space.contains(action)
            obs, _, _, _, info = env.step(action)
    assert env.observation_space.contains(obs)


# ----- PushT


@pytest.fixture
def pusht() -> gymnasium.Env:
    return gymnasium.make(SWM_PUSHT_ID, image_size=32)


def pusht_success(goal: np.ndarray, state: np.ndarray) -> bool:
    """stable-worldmodel's PushT success, written out: agent and block positions within 20 px of the goal's (one
    norm over the four numbers) and the block's angle within pi/9 of the goal's, the shorter way round."""
    distance = np.sqrt(sum((goal[i] - state[i]) ** 2 for i in range(4)))
    turn = abs(goal[4] - state[4]) % (2 * np.pi)
    return bool(distance < 20.0 and min(turn, 2 * np.pi - turn) < np.pi / 9)


@needs_swm
def test_pusht_passes_gymnasium_checks_and_reports_its_state(pusht: gymnasium.Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings; resets raise none
        check_env(pusht.unwrapped)
    obs, info = pusht.reset(seed=3)
    assert obs.shape == (32, 32, 3) and obs.dtype == np.uint8 and info["goal_image"].shape == (32, 32, 3)
    assert info["state"].shape == (7,) and info["state"].dtype == np.float32 and info["goal_state"].shape == (7,)
    np.testing.assert_allclose(info["state"][:2], info["pos_agent"], rtol=1e-6)
    assert pusht.action_space.shape == (2,) and pusht.action_space.high.tolist() == [1.0, 1.0]
    assert len(pusht.unwrapped.state_names) == 7 and pusht.spec.max_episode_steps == 100


@needs_swm
def test_pusht_terminates_exactly_where_the_success_rule_holds(pusht: gymnasium.Env) -> None:
    rng = np.random.default_rng(0)
    goal = np.array([200.0, 300.0, 250.0, 250.0, 1.0, 0.0, 0.0], np.float32)
    outcomes = []
    for _ in range(40):  # starts around the goal: some within the rule's reach, some beyond
        start = goal + np.concatenate([rng.normal(0.0, 12.0, 4), rng.normal(0.0, 0.3, 1), [0.0, 0.0]])
        _, info = pusht.reset(seed=0, options={"start": start, "goal": goal})
        _, _, terminated, _, info = pusht.step(np.zeros(2, np.float32))
        assert terminated == pusht_success(goal, info["state"]) == pusht.unwrapped.within(goal, info["state"])
        outcomes.append(terminated)
    assert 0 < sum(outcomes) < len(outcomes)  # both cases were seen
    # the goal image is the frame of the goal state: starting there, they agree up to an edge pixel or two (the
    # physics steps once after each placement); a block 8 px off shows up several times over
    differences = []
    for block_x in (goal[2], goal[2] + 8.0):
        start = goal.copy()
        start[2] = block_x
        _, info = pusht.reset(seed=0, options={"start": start, "goal": goal})
        differences.append(np.abs(info["goal_image"].astype(int) - pusht.render().astype(int)).mean())
    assert differences[0] < 0.2 and differences[1] > 3 * differences[0]


@needs_swm
def test_pusht_data_policy_aims_near_the_block_and_pushes_it(pusht: gymnasium.Env) -> None:
    from hjepa.envs.swm import WEAK_BOX

    _, info = pusht.reset(seed=1)
    sim, start_block = pusht.unwrapped.env.unwrapped, info["state"][2:4].copy()
    for _ in range(100):
        # stable-worldmodel's WeakPolicy, written out: a uniform target within 100 px of the agent, kept within
        # WEAK_BOX of the block, as an action in [-1, 1]
        draw = copy.deepcopy(pusht.unwrapped.np_random).uniform(-1.0, 1.0, 2)
        agent, block = np.array(sim.agent.position), np.array(sim.block.position)
        target = [min(max(agent[i] + 100.0 * draw[i], block[i] - WEAK_BOX), block[i] + WEAK_BOX) for i in (0, 1)]
        expected = [min(max((target[i] - agent[i]) / 100.0, -1.0), 1.0) for i in (0, 1)]
        action = pusht.unwrapped.exploration_action()
        np.testing.assert_allclose(action, expected, rtol=1e-6, atol=1e-6)
        _, _, _, _, info = pusht.step(action)
    assert np.linalg.norm(info["state"][2:4] - start_block) > 10.0  # the block was pushed
