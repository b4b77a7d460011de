"""The batched-world interface shared by every procedural world."""

from __future__ import annotations

import abc
import inspect
from typing import Any, ClassVar

import numpy as np


class BatchedWorld(abc.ABC):
    """N independent episodes of one world stepped together in numpy.

    Procedural worlds give video with known dynamics and ground-truth states for the world model
    (paper sec. 4, 4.10). Coordinates live in the unit square; state (x, y) is drawn at continuous
    pixel position (x * W, y * H), so pixel (row i, column j), which covers [j, j + 1) x [i, i + 1),
    has its centre at unit coordinates ((j + 0.5) / W, (i + 0.5) / H); y grows downwards.
    Subclasses store every constructor argument under an attribute of the same name, which is what
    `config()` reads. All randomness comes from the `np.random.Generator` passed in.
    """

    name: ClassVar[str]
    action_dim: ClassVar[int]
    state_names: tuple[str, ...]
    image_size: int
    fps: int
    max_action: float
    layout_per_reset: bool = False  # each reset draws a new layout shared by the whole batch (record one per reset)

    def __init__(self, state_names: tuple[str, ...], image_size: int, fps: int) -> None:
        if image_size < 8:
            raise ValueError(f"image_size must be at least 8, got {image_size}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.state_names = state_names
        self.image_size = int(image_size)
        self.fps = int(fps)
        self.state = np.zeros((0, len(state_names)), dtype=np.float32)  # (N, S), set by reset

    @abc.abstractmethod
    def reset(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Start n new episodes; returns their states (N, S) float32."""

    @abc.abstractmethod
    def _advance(self, actions: np.ndarray) -> None:
        """Advance every episode one step under validated, clipped actions (N, A) and update `state`."""

    @abc.abstractmethod
    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Render states (M, S) of this world to RGB images (M, H, W, 3) uint8 (e.g. goal images)."""

    @abc.abstractmethod
    def exploration_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Actions (N, A) float32 of the data-collection policy for the current step."""

    @property
    def n(self) -> int:
        """Number of episodes currently stepped together."""
        return len(self.state)

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Advance all episodes by one step; actions (N, A) are clipped to [-max_action, max_action]."""
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != (self.n, self.action_dim):
            raise ValueError(f"actions must have shape {(self.n, self.action_dim)}, got {actions.shape}")
        if not np.isfinite(actions).all():
            raise ValueError("actions must be finite")
        self._advance(np.clip(actions, -self.max_action, self.max_action))
        return self.state.copy()

    def render(self) -> np.ndarray:
        """Current frames (N, H, W, 3) uint8."""
        return self.render_states(self.state)

    def labels(self) -> dict[str, np.ndarray]:
        """Per-episode constants (e.g. shape classes, fork branch) for probes; empty by default."""
        return {}

    def config(self) -> dict[str, Any]:
        """Constructor arguments as a plain JSON-able dict: `make_world(name, **config)` rebuilds the world."""
        params = inspect.signature(type(self).__init__).parameters
        return {key: _plain(getattr(self, key)) for key in params if key != "self"}


class PassiveWorld(BatchedWorld):
    """A world that evolves on its own: no actions (action_dim 0), empty exploration actions."""

    action_dim: ClassVar[int] = 0
    max_action = 0.0

    def exploration_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Empty actions (N, 0) float32: nothing to choose."""
        return np.zeros((self.n, 0), dtype=np.float32)


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a constructor argument (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
