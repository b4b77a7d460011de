"""Any gymnasium environment that renders RGB images, as an hjepa environment: data for `hjepa generate` and a
target for the planners (seed paper sec. 3.1.4).

hjepa's environments observe images (H, W, 3) uint8 and report the ground-truth state in `info["state"]`, and the
goal in `info["goal_image"]` and `info["goal_state"]` where there is one (`hjepa.envs.gym_env`). The adapter builds
these from the wrapped environment: its RGB render resized to `image_size` (bilinear, as stable-worldmodel resizes),
a state vector from its info, its goal image; actions pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import load_env_creator
from PIL import Image

from hjepa.threads import one_torch_thread

GOAL_IMAGE_OPTION = "goal_image"


class PixelAdapter(gymnasium.Env):
    """The environment `env_id` seen through its RGB render: observations (image_size, image_size, 3) uint8.

    Args:
        env_id: a registered gymnasium id whose environment renders in mode "rgb_array".
        image_size: side of the square observations.
        state_key: the info key of the wrapped environment's state vector, or the key of its dict observation where
            its info has none, reported as `info["state"]` (S,) float32 (an empty state where neither has the key).
        goal_image: where the wrapped environment keeps its goal image, an info key or an attribute of the unwrapped
            environment ((H, W, 3) or (3, H, W), array or tensor), reported resized as `info["goal_image"]`; None
            where it has none.
        reset_options: the wrapped environment's reset options that place the agent and the goal, under hjepa's names
            `start` and `goal` (as `GoalReachingEnv` takes them), e.g. {"start": "state", "goal": "target_state"}.
        render_mode: "rgb_array" or None.
        env_kwargs: passed to `gymnasium.make(env_id)`.

    `reset(options=...)` takes `start` and `goal` (state vectors) where `reset_options` names them, and `goal_image`:
    an image shown as the goal instead of the environment's (e.g. a recorded frame of the goal state). The rest of
    the wrapped environment's info passes through. It runs on one torch thread: simulators computing with small
    torch tensors (stable-worldmodel's) are slowed down many times over by a thread pool on busy cores.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        env_id: str,
        image_size: int = 64,
        state_key: str = "state",
        goal_image: str | None = None,
        reset_options: Mapping[str, str] | None = None,
        render_mode: str | None = "rgb_array",
        **env_kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: unsupported {render_mode!r}; supported: {self.metadata['render_modes']}")
        if image_size < 8:
            raise ValueError(f"image_size: expected >= 8, got {image_size}")
        unknown = sorted(set(reset_options or {}) - {"start", "goal"})
        if unknown:
            raise ValueError(f"reset_options: unknown name(s) {unknown}; hjepa's are start and goal")
        entry_point = gymnasium.spec(env_id).entry_point
        creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
        modes = getattr(creator, "metadata", {}).get("render_modes", [])
        if "rgb_array" not in modes:
            raise ValueError(
                f"{env_id}: renders no RGB images (its render modes: {modes}); hjepa observes images, "
                "so it adapts only environments with render mode 'rgb_array'"
            )
        self.env = gymnasium.make(env_id, render_mode="rgb_array", disable_env_checker=True, **env_kwargs)
        self.env_id, self.image_size, self.render_mode = env_id, image_size, render_mode
        self.state_key, self.goal_image_source = state_key, goal_image
        self.reset_options = dict(reset_options or {})
        self.action_space = self.env.action_space
        self.observation_space = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.metadata = {**self.metadata, "render_fps": self.env.metadata.get("render_fps", 10)}
        self.raw_info: dict[str, Any] = {}  # the wrapped environment's info of the last reset or step
        self.raw_observation: Any = None  # and its observation
        self._frame = np.zeros(self.observation_space.shape, np.uint8)
        self._goal_image: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the wrapped environment with a seed drawn from `seed`, at the `start` and `goal` states of `options`
        where given."""
        super().reset(seed=seed)
        options = dict(options or {})
        goal_image = options.pop(GOAL_IMAGE_OPTION, None)
        unknown = sorted(set(options) - set(self.reset_options))
        if unknown:
            raise ValueError(
                f"reset options {unknown}: {self.env_id} takes {sorted(self.reset_options)} and {GOAL_IMAGE_OPTION}"
            )
        inner = {self.reset_options[name]: np.array(value, dtype=np.float32) for name, value in options.items()}
        # seeded from np_random, so that unseeded resets continue a seeded sequence (stable-worldmodel's
        # environments draw a fresh random seed otherwise)
        inner_seed = int(self.np_random.integers(2**31))
        with one_torch_thread():
            self.raw_observation, self.raw_info = self.env.reset(seed=inner_seed, options=inner or None)
            self._frame = self._render()
            self._goal_image = (
                self._resized(goal_image, GOAL_IMAGE_OPTION) if goal_image is not None else (self._env_goal_image())
            )
        return self._frame.copy(), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Pass `action` to the wrapped environment; returns (observation, reward, terminated, truncated, info)."""
        with one_torch_thread():
            self.raw_observation, reward, terminated, truncated, self.raw_info = self.env.step(action)
            self._frame = self._render()
        return self._frame.copy(), float(reward), bool(terminated), bool(truncated), self._info()

    def render(self) -> np.ndarray | None:
        """The current observation (H, W, 3) uint8 (None without a render mode)."""
        return None if self.render_mode is None else self._frame.copy()

    def close(self) -> None:
        self.env.close()

    def _info(self) -> dict[str, Any]:
        # copies: the wrapped environment may hand out views of its own buffers, which its next step changes
        info = {key: np.copy(value) if isinstance(value, np.ndarray) else value for key, value in self.raw_info.items()}
        state = self.raw_info.get(self.state_key)
        if state is None and isinstance(self.raw_observation, Mapping):
            state = self.raw_observation.get(self.state_key)
        info["state"] = np.zeros(0, np.float32) if state is None else np.array(state, dtype=np.float32).reshape(-1)
        if self._goal_image is not None:
            info["goal_image"] = self._goal_image.copy()
        return info

    def _render(self) -> np.ndarray:
        return self._resized(self.env.render(), f"{self.env_id}: render()")

    def _env_goal_image(self) -> np.ndarray | None:
        """The wrapped environment's goal image, resized; None where it has none."""
        source = self.goal_image_source
        if source is None:
            return None
        image = self.raw_info[source] if source in self.raw_info else getattr(self.env.unwrapped, source, None)
        if image is None:
            raise ValueError(f"goal_image: {self.env_id} has neither an info key nor an attribute {source!r}")
        return self._resized(image, f"{self.env_id}: goal image {source!r}")

    def _resized(self, image: Any, what: str) -> np.ndarray:
        """An RGB image (H, W, 3) or (3, H, W), uint8 array or tensor, resized to (image_size, image_size, 3)."""
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
            array = array.transpose(1, 2, 0)
        if array.ndim != 3 or array.shape[-1] != 3 or array.dtype != np.uint8:
            raise ValueError(f"{what}: expected an RGB image (H, W, 3) uint8, got shape {array.shape} {array.dtype}")
        if array.shape[:2] == (self.image_size, self.image_size):
            return np.ascontiguousarray(array)
        return np.asarray(Image.fromarray(array).resize((self.image_size, self.image_size), Image.BILINEAR))
