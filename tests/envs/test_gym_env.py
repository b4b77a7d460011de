"""Gymnasium environments over the worlds: API conformance and goal reaching."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import hjepa.envs
from hjepa.envs import GYM_IDS
from hjepa.envs.rooms import AGENT


@pytest.mark.parametrize("env_id", sorted(GYM_IDS))
def test_make_and_check_env(env_id: str) -> None:
    env = gymnasium.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["state"].dtype == np.float32 and info["state"].shape == (len(env.unwrapped.world.state_names),)
    assert env.render().shape == obs.shape
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and isinstance(reward, float)


def test_registration_is_idempotent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(hjepa.envs)
    assert all(env_id in gymnasium.registry for env_id in GYM_IDS)


def test_reset_seed_reproduces_the_episode() -> None:
    env = gymnasium.make("hjepa/Maze-v0")
    obs_a, info_a = env.reset(seed=3)
    obs_b, info_b = env.reset(seed=3)
    obs_c, info_c = env.reset(seed=4)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(info_a["goal_state"], info_b["goal_state"])
    assert not np.array_equal(info_a["state"], info_c["state"])


def test_passive_worlds_take_empty_actions_and_truncate() -> None:
    env = gymnasium.make("hjepa/Fork-v0")
    assert env.action_space.shape == (0,)
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, reward, terminated, truncated, info = env.step(np.zeros(0, dtype=np.float32))
        assert reward == 0.0 and not terminated
        steps += 1
    assert steps == env.spec.max_episode_steps


def test_goal_options_and_info(centroids: Callable) -> None:
    env = gymnasium.make("hjepa/TwoRooms-v0")
    start, goal = np.array([0.2, 0.3]), np.array([0.8, 0.7])
    obs, info = env.reset(seed=0, options={"start": start, "goal": goal})
    np.testing.assert_allclose(info["state"], start, atol=1e-7)
    np.testing.assert_allclose(info["goal_state"], goal, atol=1e-7)
    assert info["room"] == 0
    assert info["distance"] == pytest.approx(np.linalg.norm(goal - start), abs=1e-6)
    world = env.unwrapped.world
    found = centroids(np.stack([obs, info["goal_image"]]), world.background, AGENT)
    np.testing.assert_allclose(found, np.stack([start, goal]) * 64 - 0.5, atol=0.25)
    _, reward, _, _, info = env.step(np.array([0.05, 0.0], dtype=np.float32))
    assert reward == pytest.approx(-info["distance"])


def test_random_door_env_shows_each_episodes_door_in_observation_and_goal_image(check_door_rows: Callable) -> None:
    env = gymnasium.make("hjepa/TwoRoomsRandomDoor-v0")
    world = env.unwrapped.world
    centres = []
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        centres.append(world.doors[0].centre[1])
        check_door_rows(np.stack([obs, info["goal_image"]]), np.full(2, centres[-1]), world.door_width)
        assert world.room_of(info["goal_state"]) != info["room"]
    assert len(set(centres)) == 8
    obs, info = env.reset(seed=0)
    assert world.doors[0].centre[1] == centres[0]  # the seed fixes the door too


def test_random_door_goal_in_the_middle_wall_is_accepted_exactly_in_the_episodes_door() -> None:
    env = gymnasium.make("hjepa/TwoRoomsRandomDoor-v0")
    world = env.unwrapped.world
    goal = np.array([0.5, 0.5])
    accepted = []
    for seed in range(40):
        try:
            _, info = env.reset(seed=seed, options={"goal": goal})
            accepted.append(True)
        except ValueError as error:
            assert "goal" in str(error)
            accepted.append(False)
        assert accepted[-1] == world.is_free(goal)[0]  # judged against the door this reset drew
    assert 0 < sum(accepted) < len(accepted)


def test_random_goals_lie_in_another_room_and_only_goal_may_be_given() -> None:
    env = gymnasium.make("hjepa/Maze-v0")
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert env.unwrapped.world.room_of(info["goal_state"]) != info["room"]
    goal = np.array([0.5, 0.5])
    _, info = env.reset(seed=0, options={"goal": goal})
    np.testing.assert_allclose(info["goal_state"], goal, atol=1e-7)
    assert info["room"] != 4


def test_bad_reset_options_raise() -> None:
    env = gymnasium.make("hjepa/TwoRooms-v0")
    with pytest.raises(ValueError, match="goal"):
        env.reset(seed=0, options={"goal": np.array([0.5, 0.05])})  # inside the middle wall
    with pytest.raises(ValueError, match="velocity"):
        env.reset(seed=0, options={"velocity": 1.0})


def test_goal_reaching_env_needs_a_rooms_world() -> None:
    with pytest.raises(ValueError, match="rooms world"):
        gymnasium.make("hjepa/TwoRooms-v0", world="fork")


@pytest.mark.parametrize(
    "env_id, seed", [("hjepa/TwoRooms-v0", 0), ("hjepa/TwoRooms-v0", 1), ("hjepa/Maze-v0", 2), ("hjepa/Maze-v0", 3)]
)
def test_walking_the_shortest_room_path_reaches_the_goal(env_id: str, seed: int) -> None:
    env = gymnasium.make(env_id)
    _, info = env.reset(seed=seed)
    world = env.unwrapped.world
    rooms = world.shortest_room_path(info["room"], int(world.room_of(info["goal_state"])))
    route = world.waypoints(info["state"], info["goal_state"])
    limit = world.max_step
    terminated = truncated = False
    steps, leg, rewards, visited = 0, 0, [], [info["room"]]
    while not (terminated or truncated):
        if leg < len(route) - 1 and np.linalg.norm(info["state"] - route[leg]) < 1e-5:
            leg += 1
        action = np.clip(route[leg] - info["state"], -limit, limit).astype(np.float32)
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        visited.append(info["room"])
        steps += 1
    assert terminated and not truncated and info["distance"] < 0.05
    assert [r for i, r in enumerate(visited) if i == 0 or r != visited[i - 1]] == rooms  # room by room, no detour
    assert rewards[-1] > -0.05 and steps < env.spec.max_episode_steps
