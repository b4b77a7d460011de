"""Gymnasium environments over a single episode of a batched world (planning probes, paper sec. 3.1.4)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from hjepa.envs.registry import make_world
from hjepa.envs.rooms import RoomsWorld


class WorldEnv(gymnasium.Env):
    """One episode of a procedural world: RGB observations (H, W, 3) uint8, `info["state"]` (S,) float32.

    Worlds without actions take an empty action of shape (0,). Reward is 0 and episodes never
    terminate; `gymnasium.make` adds the time limit registered with the id (truncation).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, world: str = "two_rooms", render_mode: str | None = "rgb_array", **world_kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unsupported render_mode {render_mode!r}; supported: {self.metadata['render_modes']}")
        self.world = make_world(world, **world_kwargs)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.world.fps}
        size = self.world.image_size
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        limit = self.world.max_action
        self.action_space = spaces.Box(-limit, limit, (self.world.action_dim,), np.float32)
        self._frame = np.zeros((size, size, 3), dtype=np.uint8)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode from gymnasium's seeded `np_random`; returns (observation, info)."""
        super().reset(seed=seed)
        self._reset_world(dict(options or {}))
        self._frame = self.world.render()[0]
        return self._frame.copy(), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply one action (A,); returns (observation, reward, terminated, truncated, info)."""
        self.world.step(np.asarray(action, dtype=np.float32).reshape(1, self.world.action_dim))
        self._frame = self.world.render()[0]
        info = self._info()
        reward, terminated = self._outcome(info)
        return self._frame.copy(), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        """The current frame (H, W, 3) uint8 (None without a render mode)."""
        return None if self.render_mode is None else self._frame.copy()

    def _reset_world(self, options: dict[str, Any]) -> None:
        """Start the world's single episode; this environment takes no reset options."""
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}")
        self.world.reset(1, self.np_random)

    def _info(self) -> dict[str, Any]:
        """Ground truth of the current step."""
        return {"state": self.world.state[0].copy()}

    def _outcome(self, info: dict[str, Any]) -> tuple[float, bool]:
        """(reward, terminated) of the step that produced `info`."""
        return 0.0, False


class GoalReachingEnv(WorldEnv):
    """Reach a goal position in a rooms world; reward = -distance to the goal, success within `success_radius`.

    `reset(options={"start": xy, "goal": xy})` fixes either or both; otherwise they are drawn, the
    goal in another room when `different_rooms`. info adds "goal_state" (2,), "goal_image"
    (H, W, 3) uint8 (the agent drawn at the goal, as a goal observation), "room" and "distance".
    """

    goal_reaching = True  # planners may run here (see `hjepa.envs.gym_ids.goal_reaching`)

    def __init__(
        self,
        world: str = "two_rooms",
        render_mode: str | None = "rgb_array",
        success_radius: float = 0.05,
        different_rooms: bool = True,
        min_doors: int = 0,
        **world_kwargs: Any,
    ) -> None:
        super().__init__(world, render_mode, **world_kwargs)
        if not isinstance(self.world, RoomsWorld):
            raise ValueError(f"goal reaching needs a rooms world, got {world!r}")
        self.success_radius = success_radius
        self.different_rooms = different_rooms
        self.min_doors = int(min_doors)
        self.world.sample_start_goal(np.random.default_rng(0), different_rooms, min_doors=self.min_doors)  # checks it
        self.goal = np.zeros(2, dtype=np.float32)
        self.goal_image = np.zeros_like(self._frame)

    def _reset_world(self, options: dict[str, Any]) -> None:
        """Place the agent at the start and fix the goal (given in options or drawn)."""
        unknown = sorted(set(options) - {"start", "goal"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; accepted: start, goal")
        start, goal = options.get("start"), options.get("goal")
        if goal is None:
            start, goal = self.world.sample_start_goal(
                self.np_random, self.different_rooms, start=start, min_doors=self.min_doors
            )
        elif start is None:  # draw the start as the "goal" of the given goal: same rule, same distribution
            goal, start = self.world.sample_start_goal(
                self.np_random, self.different_rooms, start=goal, min_doors=self.min_doors
            )
        goal = np.asarray(goal, dtype=np.float64).reshape(1, 2)
        self.world.reset(1, self.np_random, start=start)
        # checked and drawn after the reset: a world may place its doors anew there (TwoRooms' random_door)
        if not self.world.is_free(goal).all():
            raise ValueError(f"goal {goal[0]} is inside a wall or too close to one")
        self.goal = goal[0].astype(np.float32)
        self.goal_image = self.world.render_states(self.goal[None])[0]

    def _info(self) -> dict[str, Any]:
        state = self.world.state[0].copy()
        return {
            "state": state,
            "goal_state": self.goal.copy(),
            "goal_image": self.goal_image.copy(),
            "room": int(self.world.room_of(state)),
            "distance": float(np.linalg.norm(state.astype(np.float64) - self.goal)),
        }

    def _outcome(self, info: dict[str, Any]) -> tuple[float, bool]:
        return -info["distance"], info["distance"] < self.success_radius
