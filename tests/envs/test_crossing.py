"""Crossing: a block may drop onto the straight route once the agent is too close to swerve."""

import gymnasium
import numpy as np
import pytest

from hjepa.envs import Crossing, make_world  # importing hjepa.envs registers hjepa/Crossing-v0
from hjepa.envs.crossing import AGENT, BLOCK


def _drive(world: Crossing, steer, n: int = 400, seed: int = 0) -> np.ndarray:
    """Run n episodes to the end with steer(t) -> action; states (T + 1, N, 3)."""
    world.reset(n, np.random.default_rng(seed))
    states = [world.state.copy()]
    t = 0
    while not world.finished.all():
        states.append(world.step(np.full((n, 1), steer(t), dtype=np.float32)))
        t += 1
    return np.stack(states)


def test_the_straight_route_crashes_exactly_when_the_block_drops():
    world = Crossing()
    states = _drive(world, lambda t: 0.0)
    drops = world.labels()["drops"]
    assert 0.4 < drops.mean() < 0.6  # block_probability 0.5
    np.testing.assert_array_equal(world.crashed, drops)
    assert (states[-1, drops, 0] < world.block_centre[0] - world.block_half).all()  # stopped before the block
    assert np.allclose(states[-1, ~drops, 0], world.finish_x)


def test_the_block_appears_only_once_the_agent_passes_the_trigger():
    world = Crossing()
    states = _drive(world, lambda t: 0.0)
    drops = world.labels()["drops"]
    shown = states[..., 2] > 0.5
    assert not shown[:, ~drops].any()
    assert (shown[:, drops] == (states[:, drops, 0] >= world.trigger_x)).all()


def test_swerving_before_the_trigger_is_safe_and_after_it_too_late():
    world = Crossing()
    early = lambda t: 0.05 if t < 4 else 0.0  # noqa: E731  lateral offset 0.2 > block_half + agent_radius
    _drive(world, early)
    assert not world.crashed.any()
    states = _drive(world, lambda t: 0.05 if t >= 4 else 0.0)  # starts swerving when the block drops
    assert (world.crashed == world.labels()["drops"]).all()
    assert (np.abs(np.diff(states[:, :, 1], axis=0)) <= world.max_action + 1e-6).all()


def test_frames_show_the_block_and_the_agent():
    world = Crossing(image_size=32)
    frames = world.render_states(np.array([[0.2, 0.5, 0.0], [0.2, 0.5, 1.0]]))
    block = (np.abs(frames.astype(int) - BLOCK).sum(-1) < 10).sum((1, 2))
    agent = (np.abs(frames.astype(int) - AGENT).sum(-1) < 10).sum((1, 2))
    assert block[0] == 0 and block[1] > 20
    assert (agent > 3).all()


def test_exploration_covers_crashes_and_safe_crossings():
    world = Crossing()
    rng = np.random.default_rng(1)
    world.reset(512, rng)
    while not world.finished.all():
        actions = world.exploration_actions(rng)
        assert actions.shape == (512, 1) and (np.abs(actions) <= world.max_action).all()
        world.step(actions)
    drops = world.labels()["drops"]
    assert 0.2 < world.crashed[drops].mean() < 0.8  # both outcomes of a drop are in the data


def test_registered_and_rebuilt_from_config():
    world = Crossing(block_probability=0.25)
    assert make_world("crossing", **world.config()).block_probability == 0.25
    env = gymnasium.make("hjepa/Crossing-v0")
    observation, info = env.reset(seed=0)
    assert observation.shape == (64, 64, 3) and info["state"].shape == (3,)
    with pytest.raises(ValueError, match="trigger_x"):
        Crossing(trigger_x=0.5)
