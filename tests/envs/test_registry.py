"""The world registry and the contract every BatchedWorld keeps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hjepa.envs import WORLDS, BatchedWorld, make_world


def test_registry_names() -> None:
    assert set(WORLDS) == {"two_rooms", "moving_shapes", "fork", "maze", "crossing"}
    assert all(cls.name == name for name, cls in WORLDS.items())


def test_unknown_world_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'three_rooms'.*fork, maze, moving_shapes, two_rooms"):
        make_world("three_rooms")


def test_unknown_argument_is_named() -> None:
    with pytest.raises(ValueError, match="door_height.*'two_rooms'"):
        make_world("two_rooms", door_height=0.3)


@pytest.mark.parametrize(
    "name, options, field",
    [
        ("maze", {"door_width": "wide"}, "door_width: expected a finite number"),
        ("maze", {"rows": 0}, "rows"),
        ("maze", {"cols": 2.5}, "cols: expected an integer"),
        ("fork", {"start_x_range": [0.1]}, "start_x_range: expected a list of 2 numbers"),
        ("two_rooms", {"max_step": float("nan")}, "max_step: expected a finite number"),
    ],
)
def test_option_of_the_wrong_kind_is_named(name, options, field) -> None:
    with pytest.raises(ValueError, match=field):
        make_world(name, **options)


def _episode(world: BatchedWorld, seed: int, steps: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    states, frames = [world.reset(6, rng)], [world.render()]
    for _ in range(steps):
        states.append(world.step(world.exploration_actions(rng)))
        frames.append(world.render())
    return np.stack(states), np.stack(frames)


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_world_contract(name: str) -> None:
    world = make_world(name)
    states, frames = _episode(world, seed=0)
    s, size = len(world.state_names), world.image_size
    assert states.shape == (13, 6, s) and states.dtype == np.float32
    assert frames.shape == (13, 6, size, size, 3) and frames.dtype == np.uint8
    assert world.exploration_actions(np.random.default_rng(0)).shape == (6, world.action_dim)
    assert world.fps > 0
    for key, value in world.labels().items():
        assert isinstance(key, str) and len(value) == 6
    np.testing.assert_array_equal(world.render_states(states[-1]), frames[-1])


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_same_seed_is_bit_identical_and_other_seeds_differ(name: str) -> None:
    world = make_world(name)
    (s1, f1), (s2, f2), (s3, f3) = _episode(world, 7), _episode(make_world(name), 7), _episode(world, 8)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(s1, s3) and not np.array_equal(f1, f3)


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_config_is_json_and_rebuilds_the_world(name: str) -> None:
    world = make_world(name)
    config = json.loads(json.dumps(world.config()))
    assert config == world.config()
    rebuilt = make_world(name, **config)
    assert rebuilt.config() == config
    np.testing.assert_array_equal(_episode(world, 3)[1], _episode(rebuilt, 3)[1])


def test_config_records_non_default_arguments() -> None:
    world = make_world("maze", rows=2, cols=5, layout_seed=11, image_size=48)
    assert world.config()["rows"] == 2 and world.config()["layout_seed"] == 11
    assert make_world("maze", **world.config()).doors == world.doors


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_step_validates_actions(name: str) -> None:
    world = make_world(name)
    world.reset(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        world.step(np.zeros((2, world.action_dim), dtype=np.float32))
    if world.action_dim:
        with pytest.raises(ValueError, match="finite"):
            world.step(np.full((3, world.action_dim), np.nan, dtype=np.float32))
