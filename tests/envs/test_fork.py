"""Fork: a shared past, then one of two futures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from hjepa.envs import Fork
from hjepa.envs.fork import FLOOR, OBJECT, WALL


def _run(world: Fork, n: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    states = [world.reset(n, rng)]
    for _ in range(steps):
        states.append(world.step(world.exploration_actions(rng)))
    return np.stack(states).astype(np.float64)  # (T + 1, N, 2)


def test_before_the_junction_both_branches_share_the_path() -> None:
    world = Fork()
    states = _run(world, 256, 60)
    before = states[..., 0] < 0.5 - 1e-6
    assert before.sum() > 1000
    np.testing.assert_array_equal(states[..., 1][before], 0.5)
    speed = np.diff(states[..., 0], axis=0)[before[1:]]
    assert ((speed >= 0.025 - 1e-6) & (speed <= 0.035 + 1e-6)).all()  # constant speed along the stem


def test_after_the_junction_the_branches_part() -> None:
    world = Fork()
    states = _run(world, 512, 60)
    branch = world.labels()["branch"]
    assert branch.shape == (512,)
    end = states[-1]
    assert (end[branch == 0, 1] < 0.1).all() and (end[branch == 1, 1] > 0.9).all()  # up and down to the border
    # while in the branches, y is monotone: up for branch 0, down for branch 1
    dy = np.diff(states[..., 1], axis=0)
    assert (dy[:, branch == 0] <= 1e-6).all() and (dy[:, branch == 1] >= -1e-6).all()
    # mirror images of each other about y = 0.5 at equal distance travelled
    after = states[..., 0] > 0.5
    offset = np.abs(states[..., 1] - 0.5)
    np.testing.assert_allclose(offset[after], states[..., 0][after] - 0.5, atol=1e-6)  # 45 degree branches


def test_branches_are_balanced_and_drawn_from_the_rng() -> None:
    world = Fork()
    world.reset(4000, np.random.default_rng(0))
    first = world.labels()["branch"]
    assert 0.46 < first.mean() < 0.54
    world.reset(4000, np.random.default_rng(1))
    assert not np.array_equal(first, world.labels()["branch"])


def test_the_object_stops_inside_the_frame() -> None:
    world = Fork(branch_angle=90.0)
    states = _run(world, 64, 100)
    r = world.object_radius
    assert ((states >= r - 1e-6) & (states <= 1 - r + 1e-6)).all()
    np.testing.assert_allclose(states[-1, :, 0], 0.5, atol=1e-6)  # T-junction: straight up or down


def test_rendered_object_centroid_matches_state(centroids: Callable) -> None:
    world = Fork()
    states = _run(world, 64, 40)
    frames = world.render_states(states.reshape(-1, 2))
    found = centroids(frames, world.background, OBJECT)
    np.testing.assert_allclose(found, states.reshape(-1, 2) * world.image_size - 0.5, atol=0.25)


def test_corridor_is_drawn() -> None:
    background = Fork().background
    np.testing.assert_array_equal(background[32, 5], FLOOR)  # stem, left of the junction
    np.testing.assert_array_equal(background[5, 5], WALL)  # top-left corner is solid
    np.testing.assert_array_equal(background[6, 58], FLOOR)  # on the upper branch near the border
    np.testing.assert_array_equal(background[32, 60], WALL)  # right of the junction, between the branches


@pytest.mark.parametrize("kwargs", [{"branch_angle": 0.0}, {"object_radius": 0.2}, {"start_x_range": (0.3, 0.6)}])
def test_rejects_inconsistent_geometry(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Fork(**kwargs)
