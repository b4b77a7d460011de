"""PixelAdapter: any gymnasium environment with an RGB render as an hjepa environment (images, state, goal)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from PIL import Image

from hjepa.envs.adapter import PixelAdapter

SIZE = 40  # the test environment's canvas


class Dot(gymnasium.Env):
    """A dot on a SIZE x SIZE canvas moved by its actions; observations are its position, not images. It reports
    the position in info as `position`, its target as `goal_state`, and keeps a picture of the target (3, H, W)
    as a torch tensor in `target_picture`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Box(0.0, SIZE, (2,), np.float32)
        self.xy = np.zeros(2, np.float32)
        self.target = np.zeros(2, np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = options or {}
        self.xy = np.asarray(options.get("xy", self.np_random.uniform(4, SIZE - 4, 2)), np.float32)
        self.target = np.asarray(options.get("target", self.np_random.uniform(4, SIZE - 4, 2)), np.float32)
        self.target_picture = torch.from_numpy(self.draw(self.target)).permute(2, 0, 1)
        return self.xy.copy(), self.info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.xy = np.clip(self.xy + 2 * np.asarray(action, np.float32), 0, SIZE - 1)
        reached = bool(np.linalg.norm(self.xy - self.target) < 2)
        return self.xy.copy(), 0.0, reached, False, self.info()

    def render(self) -> np.ndarray:
        return self.draw(self.xy)

    def info(self) -> dict[str, Any]:
        return {"position": self.xy.copy(), "goal_state": self.target.copy()}

    @staticmethod
    def draw(xy: np.ndarray) -> np.ndarray:
        image = np.zeros((SIZE, SIZE, 3), np.uint8)
        image[int(xy[1]) - 2 : int(xy[1]) + 3, int(xy[0]) - 2 : int(xy[0]) + 3] = 255
        return image


class Blind(Dot):
    """The same dot without any render mode."""

    metadata = {"render_modes": [], "render_fps": 5}


ADAPTED = {
    "env_id": "tests/Dot-v0",
    "image_size": 20,
    "state_key": "position",
    "goal_image": "target_picture",
    "reset_options": {"start": "xy", "goal": "target"},
}


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    ids = {"tests/Dot-v0": (Dot, {}), "tests/Blind-v0": (Blind, {}), "tests/DotPixels-v0": (PixelAdapter, ADAPTED)}
    for name, (entry_point, kwargs) in ids.items():
        gymnasium.register(name, entry_point=entry_point, kwargs=kwargs)
    yield
    for name in ids:
        del gymnasium.registry[name]


def adapted() -> PixelAdapter:
    return PixelAdapter(**ADAPTED)


def resized(image: np.ndarray, size: int = 20) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def test_observations_are_the_render_resized_states_and_goal_come_from_the_environment() -> None:
    env = adapted()
    obs, info = env.reset(seed=0)
    assert obs.shape == (20, 20, 3) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    inner = env.env.unwrapped
    np.testing.assert_array_equal(obs, resized(inner.render()))
    np.testing.assert_array_equal(info["state"], inner.xy)
    np.testing.assert_array_equal(info["goal_state"], inner.target)
    np.testing.assert_array_equal(info["goal_image"], resized(Dot.draw(inner.target)))  # (3, H, W) tensor read
    assert env.action_space == inner.action_space and env.metadata["render_fps"] == 5
    start = info["state"]
    obs, _, _, _, info = env.step(np.array([1.0, -0.5], np.float32))  # actions pass through unchanged
    np.testing.assert_allclose(info["state"], start + [2.0, -1.0], atol=1e-6)
    np.testing.assert_array_equal(obs, env.render())


def test_passes_gymnasium_checks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        check_env(gymnasium.make("tests/DotPixels-v0").unwrapped)


def test_reset_options_place_start_and_goal_and_a_given_goal_image_replaces_the_environments() -> None:
    env = adapted()
    shown = np.full((20, 20, 3), 7, np.uint8)
    _, info = env.reset(seed=1, options={"start": [10, 10], "goal": [13, 10], "goal_image": shown})
    np.testing.assert_array_equal(info["state"], [10, 10])
    np.testing.assert_array_equal(info["goal_state"], [13, 10])
    np.testing.assert_array_equal(info["goal_image"], shown)
    _, _, terminated, _, _ = env.step(np.array([1.0, 0.0], np.float32))  # the environment's own success
    assert terminated
    _, info = env.reset(seed=1)
    np.testing.assert_array_equal(info["goal_image"], resized(Dot.draw(env.env.unwrapped.target)))


def test_unknown_reset_option_and_options_the_environment_lacks_are_named() -> None:
    with pytest.raises(ValueError, match=r"reset options \['door'\]: tests/Dot-v0 takes \['goal', 'start'\]"):
        adapted().reset(options={"door": 1})
    with pytest.raises(ValueError, match=r"reset options \['start'\]: tests/Dot-v0 takes \[\] and goal_image"):
        PixelAdapter("tests/Dot-v0").reset(options={"start": [1, 1]})
    with pytest.raises(ValueError, match=r"reset_options: unknown name\(s\) \['agent'\]"):
        PixelAdapter("tests/Dot-v0", reset_options={"agent": "xy"})


def test_state_is_empty_without_the_info_key_and_a_missing_goal_image_is_named() -> None:
    _, info = PixelAdapter("tests/Dot-v0", state_key="nothing").reset(seed=0)
    assert info["state"].shape == (0,) and "goal_image" not in info
    with pytest.raises(ValueError, match="goal_image: tests/Dot-v0 has neither an info key nor an attribute 'aim'"):
        PixelAdapter("tests/Dot-v0", goal_image="aim").reset(seed=0)


def test_an_environment_without_rgb_render_is_refused() -> None:
    with pytest.raises(ValueError, match=r"tests/Blind-v0: renders no RGB images \(its render modes: \[\]\)"):
        PixelAdapter("tests/Blind-v0")
