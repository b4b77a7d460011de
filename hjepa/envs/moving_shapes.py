"""MovingShapes: shapes gliding at constant velocity and bouncing off the borders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hjepa.envs.base import PassiveWorld
from hjepa.envs.canvas import blank, disc_sdf, paint, square_sdf, triangle_sdf

SHAPES = ("circle", "square", "triangle")
COLOURS = np.array(
    [[235, 60, 60], [60, 210, 80], [70, 110, 255], [240, 210, 40], [220, 70, 220], [60, 220, 220]], dtype=np.uint8
)  # one per shape slot
_EXTENT = 1.15  # largest centre-to-edge distance of any shape, in shape radii (triangle apex)


class MovingShapes(PassiveWorld):
    """K shapes (circle, square or triangle, drawn per episode) in elastic flight inside the frame.

    Fully predictable dynamics with ground-truth positions and velocities, for linear probes of what
    the representation keeps (paper sec. 4). State: (x, y, vx, vy) per shape, velocities in units
    per step; shape k is drawn in colour COLOURS[k], later shapes over earlier ones; centres stay
    `_EXTENT * shape_radius` from the borders so shapes are always whole.
    """

    name = "moving_shapes"

    def __init__(
        self,
        n_shapes: int = 3,
        shape_radius: float = 0.07,
        speed_range: Sequence[float] = (0.01, 0.04),
        image_size: int = 64,
        fps: int = 10,
    ) -> None:
        if not 1 <= n_shapes <= len(COLOURS):
            raise ValueError(f"n_shapes must be in [1, {len(COLOURS)}], got {n_shapes}")
        self.n_shapes = int(n_shapes)
        self.shape_radius = float(shape_radius)
        self.speed_range = (float(speed_range[0]), float(speed_range[1]))
        self._margin = _EXTENT * self.shape_radius
        if not 0 <= self.speed_range[0] <= self.speed_range[1] < 1 - 2 * self._margin:
            raise ValueError(f"speed_range must be ordered, non-negative and below {1 - 2 * self._margin}")
        names = tuple(f"shape{k}_{v}" for k in range(self.n_shapes) for v in ("x", "y", "vx", "vy"))
        super().__init__(names, image_size, fps)
        self.background = np.zeros((self.image_size, self.image_size, 3), dtype=np.uint8)
        r = self.shape_radius * self.image_size
        self._sdfs = (disc_sdf(r), square_sdf(0.85 * r), triangle_sdf(_EXTENT * r))
        self._reach = _EXTENT * r
        self._shape_class = np.zeros((0, self.n_shapes), dtype=np.int64)
        self._pos = np.zeros((0, self.n_shapes, 2))
        self._vel = np.zeros((0, self.n_shapes, 2))

    def reset(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw shape classes, positions and velocities (uniform speed and direction); states (N, 4K)."""
        k = self.n_shapes
        self._shape_class = rng.integers(0, len(SHAPES), size=(n, k))
        self._pos = rng.uniform(self._margin, 1 - self._margin, size=(n, k, 2))
        speed = rng.uniform(*self.speed_range, size=(n, k, 1))
        angle = rng.uniform(-np.pi, np.pi, size=(n, k, 1))
        self._vel = speed * np.concatenate([np.cos(angle), np.sin(angle)], axis=2)
        self._sync()
        return self.state.copy()

    def _advance(self, actions: np.ndarray) -> None:
        pos = self._pos + self._vel
        lo, hi = self._margin, 1 - self._margin
        # mirror any overshoot back inside and flip that velocity component (one bounce per step
        # suffices because speed < hi - lo)
        below, above = pos < lo, pos > hi
        pos = np.where(below, 2 * lo - pos, np.where(above, 2 * hi - pos, pos))
        self._vel = np.where(below | above, -self._vel, self._vel)
        self._pos = pos
        self._sync()

    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Frames (N, H, W, 3) uint8 of states (N, 4K), drawn with the current episodes' shape classes."""
        states = np.asarray(states, dtype=np.float64)
        if len(states) != len(self._shape_class):
            raise ValueError(f"states must cover the {len(self._shape_class)} current episodes, got {len(states)}")
        frames = blank(len(states), self.background)
        for k in range(self.n_shapes):
            for shape, sdf in enumerate(self._sdfs):
                episodes = np.flatnonzero(self._shape_class[:, k] == shape)
                paint(frames, states[episodes, 4 * k : 4 * k + 2], sdf, self._reach, COLOURS[k], episodes)
        return frames

    def labels(self) -> dict[str, np.ndarray]:
        """{"shape_class": (N, K) int}: index into SHAPES of every shape."""
        return {"shape_class": self._shape_class.copy()}

    def _sync(self) -> None:
        """Refresh the float32 state (N, 4K) from positions and velocities."""
        self.state = np.concatenate([self._pos, self._vel], axis=2).reshape(len(self._pos), -1).astype(np.float32)
