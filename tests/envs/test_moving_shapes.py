"""MovingShapes: elastic bounces, labels and drawing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from hjepa.envs import MovingShapes
from hjepa.envs.moving_shapes import COLOURS, SHAPES


def _fold(start: np.ndarray, velocity: np.ndarray, steps: int, lo: float, hi: float) -> np.ndarray:
    """Reference: a point bouncing elastically in [lo, hi] follows a triangle wave of its free flight."""
    span = hi - lo
    u = np.mod(start - lo + velocity * steps, 2 * span)
    return lo + np.where(u <= span, u, 2 * span - u)


def _run(world: MovingShapes, n: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    states = [world.reset(n, rng)]
    for _ in range(steps):
        states.append(world.step(world.exploration_actions(rng)))
    return np.stack(states)  # (T + 1, N, 4K)


def test_state_layout_and_labels() -> None:
    world = MovingShapes(n_shapes=2)
    state = world.reset(300, np.random.default_rng(0))
    assert state.shape == (300, 8) and state.dtype == np.float32
    assert world.state_names[:4] == ("shape0_x", "shape0_y", "shape0_vx", "shape0_vy")
    assert len(world.state_names) == 8 and world.action_dim == 0
    classes = world.labels()["shape_class"]
    assert classes.shape == (300, 2)
    assert set(np.unique(classes)) == set(range(len(SHAPES)))


def test_positions_follow_the_elastic_reference_and_stay_inside() -> None:
    world = MovingShapes(n_shapes=3)
    states = _run(world, 64, 300).reshape(301, 64, 3, 4).astype(np.float64)
    lo, hi = 1.15 * world.shape_radius, 1 - 1.15 * world.shape_radius
    pos, vel = states[..., :2], states[..., 2:]
    assert ((pos >= lo - 1e-6) & (pos <= hi + 1e-6)).all()
    expected = _fold(pos[0], vel[0], 300, lo, hi)
    np.testing.assert_allclose(pos[-1], expected, atol=1e-4)


def test_velocities_flip_sign_exactly_at_bounces() -> None:
    world = MovingShapes(n_shapes=3)
    states = _run(world, 64, 200).reshape(201, 64, 3, 4).astype(np.float64)
    pos, vel = states[..., :2], states[..., 2:]
    np.testing.assert_allclose(np.abs(vel), np.abs(vel[:1]).repeat(201, axis=0), rtol=1e-6)  # speed per axis kept
    flipped = np.sign(vel[1:]) != np.sign(vel[:-1])
    assert flipped.sum() > 100
    lo, hi = 1.15 * world.shape_radius, 1 - 1.15 * world.shape_radius
    # a flip happens when the free move would have left [lo, hi], and only then
    overshoot = (pos[:-1] + vel[:-1] < lo) | (pos[:-1] + vel[:-1] > hi)
    np.testing.assert_array_equal(flipped, overshoot)


@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_drawn_area_matches_the_shape(shape: int) -> None:
    world = MovingShapes(n_shapes=1, shape_radius=0.1, image_size=128)
    world.reset(200, np.random.default_rng(shape))
    frames = world.render()[world.labels()["shape_class"][:, 0] == shape]
    assert len(frames) > 30
    coverage = frames[..., 0].astype(np.float64).sum(axis=(1, 2)) / COLOURS[0, 0]  # red channel = coverage
    r = 0.1 * 128
    area = {0: np.pi * r**2, 1: (1.7 * r) ** 2, 2: 3 * np.sqrt(3) / 4 * (1.15 * r) ** 2}[shape]
    np.testing.assert_allclose(coverage, area, rtol=0.03)


def test_shape_centroids_match_state(centroids: Callable) -> None:
    world = MovingShapes(n_shapes=3)
    states = world.reset(400, np.random.default_rng(3)).reshape(400, 3, 4)
    xy = states[..., :2] * world.image_size
    gaps = np.linalg.norm(xy[:, :, None] - xy[:, None, :], axis=-1) + np.eye(3) * 1e9
    apart = gaps.min(axis=(1, 2)) > 4 * world.shape_radius * world.image_size  # shapes do not touch
    assert apart.sum() > 50
    frames = world.render()[apart]
    for k in range(3):
        # other shapes' colours leak into the projection; the unwanted ones are far, so look near shape k only
        window = np.zeros(frames.shape[:3], dtype=bool)
        for i, (x, y) in enumerate(xy[apart, k]):
            window[i, max(0, int(y) - 8) : int(y) + 9, max(0, int(x) - 8) : int(x) + 9] = True
        found = centroids(np.where(window[..., None], frames, 0).astype(np.uint8), world.background, COLOURS[k])
        np.testing.assert_allclose(found, xy[apart, k] - 0.5, atol=0.3)


def test_render_states_needs_the_current_episodes() -> None:
    world = MovingShapes()
    world.reset(4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="current episodes"):
        world.render_states(np.zeros((5, 12), dtype=np.float32))


def test_rejects_speeds_that_could_skip_a_bounce() -> None:
    with pytest.raises(ValueError, match="speed_range"):
        MovingShapes(speed_range=(0.1, 0.9))
