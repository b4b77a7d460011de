"""PushT (the `gym-pusht` package) as a goal-image task: push the T block onto its goal pose.

An external environment with contact dynamics for the planning probes (seed paper sec. 3.1.4). It is an
optional extra (`pip install 'hjepa[envs]'`): this module imports `gym_pusht` only when an environment
is built, and `hjepa.registration` registers `hjepa/PushT-v0` only where the package is installed.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from hjepa.registration import PUSHT_ID, missing_extra

MISSING_EXTRA = missing_extra(PUSHT_ID)
ARENA = 512.0  # gym-pusht's positions and targets are pixels of a 512 x 512 arena
MAX_ACTION = 0.1  # largest move of the agent's target per step, a share of the arena (~51 pixels)
GOAL_AGENT = (256.0, 450.0)  # where the agent rests in the goal image: below the goal, clear of the block


def _simulator(image_size: int) -> Any:
    """gym-pusht's environment rendering (image_size, image_size, 3) pixels, headless."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        from gym_pusht.envs import PushTEnv as Simulator
    except ImportError as error:
        raise ImportError(f"{MISSING_EXTRA} (importing gym_pusht failed: {error})") from error
    return Simulator(
        obs_type="pixels", render_mode="rgb_array", observation_width=image_size, observation_height=image_size
    )


class PushTEnv(gymnasium.Env):
    """PushT with hjepa's environment contract: RGB observations (H, W, 3) uint8 and, in `info`,
    `state` (6,) float32 (agent x, y, block x, y in the unit square, y down; cos, sin of the block angle),
    `goal_image` (the block on its goal pose) and its `goal_state`, `coverage` (share of the goal area the block
    covers) and `block_distance` (block to goal position, unit square).

    An action (2,) moves the agent's target by at most `max_action` of the arena from the agent's
    position (gym-pusht's action is that target in pixels): "stay" is 0, as in hjepa's worlds. Success,
    reward and termination are gym-pusht's own (success: coverage above 95%).
    """

    goal_reaching = True  # planners may run here (see `hjepa.envs.gym_ids.goal_reaching`)
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    state_names = ("agent_x", "agent_y", "block_x", "block_y", "block_cos", "block_sin")

    def __init__(
        self, image_size: int = 64, max_action: float = MAX_ACTION, render_mode: str | None = "rgb_array"
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: unsupported {render_mode!r}; supported: {self.metadata['render_modes']}")
        if image_size < 8:
            raise ValueError(f"image_size: expected >= 8, got {image_size}")
        if not 0 < max_action <= 1:
            raise ValueError(f"max_action: expected in (0, 1] (a share of the arena), got {max_action}")
        self.sim = _simulator(image_size)
        self.image_size, self.max_action, self.render_mode = image_size, max_action, render_mode
        self.observation_space = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.action_space = spaces.Box(-max_action, max_action, (2,), np.float32)
        self.sim.reset(seed=0)  # builds the scene, the goal pose included
        self.goal = np.asarray(self.sim.goal_pose, dtype=np.float64)  # (x, y, angle): pixels, radians
        self.goal_image = self._render_goal()
        self._frame = np.zeros(self.observation_space.shape, np.uint8)
        self._waypoint: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """A random agent position and block pose drawn from the seeded `np_random`; no reset options."""
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; {PUSHT_ID} takes none")
        self._frame, _ = self.sim.reset(seed=int(self.np_random.integers(2**31)))
        self._waypoint = None
        return self._frame.copy(), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move the agent's target by `action` (2,), clipped to the action box;
        returns (observation, reward, terminated, truncated, info)."""
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -self.max_action, self.max_action)
        target = np.clip(np.asarray(self.sim.agent.position) + action * ARENA, 0.0, ARENA)
        self._frame, reward, terminated, _, _ = self.sim.step(target)
        return self._frame.copy(), float(reward), bool(terminated), False, self._info()

    def render(self) -> np.ndarray | None:
        """The current frame (H, W, 3) uint8 (None without a render mode)."""
        return None if self.render_mode is None else self._frame.copy()

    def coverage(self) -> float:
        """Share of the goal area covered by the block now (gym-pusht's success measure)."""
        return float(self.sim._get_coverage())

    def block_distance(self) -> float:
        """Distance of the block's position to its goal position now, in the unit square."""
        return float(np.linalg.norm(np.asarray(self.sim.block.position) - self.goal[:2]) / ARENA)

    def state(self) -> np.ndarray:
        """Ground-truth state (6,) float32, see the class docstring."""
        agent, block, angle = self.sim.agent.position, self.sim.block.position, self.sim.block.angle
        return np.array(
            [agent[0] / ARENA, agent[1] / ARENA, block[0] / ARENA, block[1] / ARENA, np.cos(angle), np.sin(angle)],
            dtype=np.float32,
        )

    def goal_state(self) -> np.ndarray:
        """The state (6,) float32 shown by the goal image: the agent at `GOAL_AGENT`, the block on its goal pose."""
        x, y, angle = self.goal
        return np.array(
            [GOAL_AGENT[0] / ARENA, GOAL_AGENT[1] / ARENA, x / ARENA, y / ARENA, np.cos(angle), np.sin(angle)],
            dtype=np.float32,
        )

    def exploration_action(self) -> np.ndarray:
        """The data-collection policy (2,) float32: head at full speed for a waypoint, which is half the time a
        point beyond the block as seen from the agent (so the block gets pushed) and otherwise anywhere in the
        arena; a new waypoint once reached or, at random, every 10 steps on average. Draws from `np_random`."""
        rng, state = self.np_random, self.state()
        agent, block = state[:2].astype(np.float64), state[2:4].astype(np.float64)
        if self._waypoint is None or np.linalg.norm(self._waypoint - agent) < self.max_action or rng.random() < 0.1:
            if rng.random() < 0.5:
                self._waypoint = block + rng.uniform(0.2, 1.0) * (block - agent) + rng.normal(0.0, 0.03, 2)
            else:
                self._waypoint = rng.uniform(0.05, 0.95, 2)
            self._waypoint = np.clip(self._waypoint, 0.02, 0.98)
        move = np.clip(self._waypoint - agent, -self.max_action, self.max_action)
        noise = rng.normal(0.0, 0.2 * self.max_action, 2)
        return np.clip(move + noise, -self.max_action, self.max_action).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        coverage = self.coverage()
        return {
            "state": self.state(),
            "goal_image": self.goal_image.copy(),
            "goal_state": self.goal_state(),
            "coverage": coverage,
            "is_success": coverage > self.sim.success_threshold,
            "block_distance": self.block_distance(),
        }

    def _render_goal(self) -> np.ndarray:
        """The goal observation (H, W, 3) uint8: the block on its goal pose, the agent at `GOAL_AGENT`."""
        # Set the block's angle before its position: gym-pusht's own reset_to_state does the reverse, which
        # turns the block about its centre of gravity and shifts it off the requested pose.
        self.sim.agent.position = GOAL_AGENT
        self.sim.block.angle = float(self.goal[2])
        self.sim.block.position = tuple(self.goal[:2])
        for body in (self.sim.agent, self.sim.block):  # drawing reads the shapes' cached world positions
            self.sim.space.reindex_shapes_for_body(body)
        return self.sim.get_obs()
