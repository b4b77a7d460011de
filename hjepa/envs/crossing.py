"""Crossing: an agent drives across the square and a block may drop onto the short route in front of it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hjepa.envs.base import BatchedWorld
from hjepa.envs.canvas import blank, disc_sdf, paint, square_sdf

FLOOR = np.array([24, 24, 32], dtype=np.uint8)
AGENT = np.array([60, 200, 255], dtype=np.uint8)
BLOCK = np.array([255, 80, 60], dtype=np.uint8)


class Crossing(BatchedWorld):
    """The agent moves right at a constant `speed` from (start_x, 0.5) to finish_x and steers: the action is
    its vertical displacement, at most `max_action` a step. When it passes `trigger_x`, a square block of
    half side `block_half` drops at `block_centre` with probability `block_probability`, drawn per
    episode. Running into the block stops the agent for good (a crash).

    Nothing in a frame before the trigger tells whether the block will drop: the straight route is the
    shortest and, on average, cheap, but it crashes in that share of episodes; swerving before the trigger
    is always safe (paper sec. 4.8, planning under uncertainty). The trigger is close enough to the block
    that the agent cannot swerve once it has seen the block. State: (x, y, block) with block 0 or 1.
    """

    name = "crossing"
    action_dim = 1

    def __init__(
        self,
        speed: float = 0.05,
        max_action: float = 0.05,
        agent_radius: float = 0.06,
        start_x: float = 0.1,
        finish_x: float = 0.9,
        trigger_x: float = 0.3,
        block_centre: Sequence[float] = (0.55, 0.5),
        block_half: float = 0.1,
        block_probability: float = 0.5,
        image_size: int = 64,
        fps: int = 10,
    ) -> None:
        super().__init__(("x", "y", "block"), image_size, fps)
        self.speed, self.max_action, self.agent_radius = float(speed), float(max_action), float(agent_radius)
        self.start_x, self.finish_x, self.trigger_x = float(start_x), float(finish_x), float(trigger_x)
        self.block_centre = (float(block_centre[0]), float(block_centre[1]))
        self.block_half, self.block_probability = float(block_half), float(block_probability)
        if self.speed <= 0 or self.max_action <= 0:
            raise ValueError(f"speed and max_action must be positive, got {self.speed} and {self.max_action}")
        if not 0 <= self.block_probability <= 1:
            raise ValueError(f"block_probability must be in [0, 1], got {self.block_probability}")
        if not self.start_x < self.trigger_x < self.block_centre[0] - self.block_half - self.agent_radius:
            raise ValueError(
                "start_x < trigger_x < the block's left edge minus agent_radius must hold: the agent "
                "sees the block drop before it reaches it"
            )
        if not self.block_centre[0] + self.block_half + self.agent_radius < self.finish_x <= 1:
            raise ValueError("finish_x must lie beyond the block and within the square")
        self.background = np.broadcast_to(FLOOR, (self.image_size, self.image_size, 3)).copy()
        self._drops = np.zeros(0, dtype=bool)
        self.crashed = np.zeros(0, dtype=bool)
        self._steer = np.zeros(0)

    def reset(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Start n episodes at (start_x, 0.5) with no block; draw whether each episode's block will drop."""
        self._drops = rng.random(n) < self.block_probability
        self.crashed = np.zeros(n, dtype=bool)
        self._steer = rng.uniform(0.15, 0.85, n)  # the exploration's first lane
        self.state = np.tile(np.array([self.start_x, 0.5, 0.0], dtype=np.float32), (n, 1))
        return self.state.copy()

    @property
    def finished(self) -> np.ndarray:
        """(N,) bool: the episode is over (the agent crossed finish_x or crashed)."""
        return self.crashed | (self.state[:, 0] >= self.finish_x - 1e-6)

    def _advance(self, actions: np.ndarray) -> None:
        state = self.state.astype(np.float64)
        moving = ~self.finished
        low, high = self.agent_radius, 1 - self.agent_radius
        proposed = np.stack([state[:, 0] + self.speed, np.clip(state[:, 1] + actions[:, 0], low, high)], axis=1)
        block = state[:, 2] > 0.5
        block = block | (self._drops & (proposed[:, 0] >= self.trigger_x))
        crash = moving & block & self.hits_block(proposed)
        self.crashed |= crash
        advance = moving & ~crash  # a crashing agent stays where it was before the step
        state[advance, :2] = proposed[advance]
        state[:, 2] = block
        self.state = state.astype(np.float32)

    def hits_block(self, positions: np.ndarray) -> np.ndarray:
        """(M,) bool: the agent disc at positions (M, 2) overlaps the block (dropped or not)."""
        gap = np.maximum(np.abs(positions - np.asarray(self.block_centre)) - self.block_half, 0.0)
        return np.linalg.norm(gap, axis=1) < self.agent_radius

    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Frames (M, H, W, 3) uint8: the block where states[:, 2] is 1, and the agent at states[:, :2]."""
        states = np.asarray(states, dtype=np.float64)
        frames = blank(len(states), self.background)
        shown = np.flatnonzero(states[:, 2] > 0.5)
        half = self.block_half * self.image_size
        centres = np.tile(np.asarray(self.block_centre), (len(shown), 1))
        paint(frames, centres, square_sdf(half), half, BLOCK, episodes=shown)
        radius = self.agent_radius * self.image_size
        paint(frames, states[:, :2], disc_sdf(radius), radius, AGENT)
        return frames

    def exploration_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Steer towards a lane height drawn from U(0.15, 0.85) at reset and redrawn with probability 0.2 a step:
        data with straight runs, early and late swerves, crashes and near misses; (N, 1) float32."""
        redraw = rng.random(self.n) < 0.2
        self._steer = np.where(redraw, rng.uniform(0.15, 0.85, self.n), self._steer)
        toward = np.clip(self._steer - self.state[:, 1], -self.max_action, self.max_action)
        noise = rng.normal(0.0, 0.3 * self.max_action, self.n)
        return np.clip(toward + noise, -self.max_action, self.max_action)[:, None].astype(np.float32)

    def labels(self) -> dict[str, np.ndarray]:
        """{"drops": (N,) bool}: the episode's block drops when the agent passes trigger_x."""
        return {"drops": self._drops.copy()}
