"""Fork: an object runs along a corridor and takes one of two branches at random."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hjepa.envs.base import PassiveWorld
from hjepa.envs.canvas import blank, disc_sdf, paint, pixel_centres

FLOOR = np.array([24, 24, 32], dtype=np.uint8)
WALL = np.array([120, 120, 140], dtype=np.uint8)
OBJECT = np.array([255, 210, 40], dtype=np.uint8)
JUNCTION = np.array([0.5, 0.5])


class Fork(PassiveWorld):
    """A Y-shaped corridor: the object moves right at constant speed to the junction at the centre,
    then up (branch 0) or down (branch 1), drawn 50/50 per episode, to the border and stops there.

    The future after the junction is not predictable from the past: multimodal prediction that needs
    a latent variable (paper sec. 4.2, 4.8). Branches leave the junction at `branch_angle` degrees
    from the horizontal (90: a T). Start x and speed vary per episode. State: (x, y).
    """

    name = "fork"

    def __init__(
        self,
        branch_angle: float = 45.0,
        corridor_width: float = 0.16,
        object_radius: float = 0.045,
        speed_range: Sequence[float] = (0.025, 0.035),
        start_x_range: Sequence[float] = (0.05, 0.15),
        image_size: int = 64,
        fps: int = 10,
    ) -> None:
        super().__init__(("x", "y"), image_size, fps)
        self.branch_angle = float(branch_angle)
        self.corridor_width = float(corridor_width)
        self.object_radius = float(object_radius)
        self.speed_range = (float(speed_range[0]), float(speed_range[1]))
        self.start_x_range = (float(start_x_range[0]), float(start_x_range[1]))
        if not 0 < self.branch_angle <= 90:
            raise ValueError(f"branch_angle must be in (0, 90] degrees, got {self.branch_angle}")
        if not 0 < self.object_radius < self.corridor_width / 2:
            raise ValueError("object_radius must be positive and fit in the corridor")
        if not 0 < self.speed_range[0] <= self.speed_range[1]:
            raise ValueError(f"speed_range must be positive and ordered, got {self.speed_range}")
        if not self.object_radius <= self.start_x_range[0] <= self.start_x_range[1] < JUNCTION[0]:
            raise ValueError(f"start_x_range must lie in [object_radius, {JUNCTION[0]}), got {self.start_x_range}")
        angle = np.deg2rad(self.branch_angle)
        # unit directions of branch 0 (up, towards y = 0) and branch 1 (down): (2, 2)
        self.directions = np.array([[np.cos(angle), -np.sin(angle)], [np.cos(angle), np.sin(angle)]])
        room = 0.5 - self.object_radius  # the object stops when it touches the border
        self.branch_length = min(room / np.sin(angle), room / np.cos(angle) if np.cos(angle) > 1e-9 else np.inf)
        self.background = self._draw_background()
        self._start_x = np.zeros(0)
        self._speed = np.zeros(0)
        self._branch = np.zeros(0, dtype=np.int64)
        self._progress = np.zeros(0)

    def reset(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw start x, speed and branch per episode; states (N, 2) at the start of the corridor."""
        self._start_x = rng.uniform(*self.start_x_range, size=n)
        self._speed = rng.uniform(*self.speed_range, size=n)
        self._branch = rng.integers(0, 2, size=n)
        self._progress = np.zeros(n)
        self._sync()
        return self.state.copy()

    def _advance(self, actions: np.ndarray) -> None:
        stem = JUNCTION[0] - self._start_x
        self._progress = np.minimum(self._progress + self._speed, stem + self.branch_length)
        self._sync()

    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Frames (M, H, W, 3) uint8 with the object drawn at states (M, 2)."""
        frames = blank(len(states), self.background)
        radius = self.object_radius * self.image_size
        paint(frames, np.asarray(states, dtype=np.float64), disc_sdf(radius), radius, OBJECT)
        return frames

    def labels(self) -> dict[str, np.ndarray]:
        """{"branch": (N,) int}: 0 if the object turns up, 1 if down."""
        return {"branch": self._branch.copy()}

    def _sync(self) -> None:
        """Refresh the float32 state (N, 2) from the distance travelled along the path."""
        stem = JUNCTION[0] - self._start_x
        on_stem = np.stack([self._start_x + self._progress, np.full_like(self._progress, JUNCTION[1])], axis=1)
        on_branch = JUNCTION + (self._progress - stem)[:, None] * self.directions[self._branch]
        self.state = np.where((self._progress <= stem)[:, None], on_stem, on_branch).astype(np.float32)

    def _draw_background(self) -> np.ndarray:
        """Static frame (H, W, 3) uint8: corridor floor within corridor_width / 2 of the path, walls elsewhere."""
        centres = pixel_centres(self.image_size)
        pixels = np.stack(np.meshgrid(centres, centres, indexing="xy"), axis=-1).reshape(-1, 2)  # (H * W, 2) as (x, y)
        ends = [np.array([-1.0, JUNCTION[1]])] + [JUNCTION + 2.0 * d for d in self.directions]
        distance = np.min([_distance_to_segment(pixels, end, JUNCTION) for end in ends], axis=0)
        floor = (distance <= self.corridor_width / 2).reshape(self.image_size, self.image_size)
        return np.where(floor[:, :, None], FLOOR, WALL).astype(np.uint8)


def _distance_to_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance (M,) from points (M, 2) to the segment from a (2,) to b (2,)."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)
