"""Rooms worlds (TwoRooms, Maze): wall physics, rendering, exploration, oracle routes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hjepa.envs import Maze, RoomsWorld, TwoRooms
from hjepa.envs.rooms import AGENT


def _illegal_crossings(world: RoomsWorld, before: np.ndarray, after: np.ndarray) -> list[str]:
    """Moves (segments before[i] -> after[i], (N, 2)) that cross an interior grid line outside every door."""
    p0, p1 = before.astype(np.float64), after.astype(np.float64)
    problems = []
    for axis, count in ((0, world.layout.cols), (1, world.layout.rows)):
        for line in np.arange(1, count) / count:
            crossed = (p0[:, axis] < line) != (p1[:, axis] < line)
            for a, b in zip(p0[crossed], p1[crossed]):
                other = a[1 - axis] + (b[1 - axis] - a[1 - axis]) * (line - a[axis]) / (b[axis] - a[axis])
                through_door = any(
                    d.vertical == (axis == 0)
                    and np.isclose(d.centre[axis], line)
                    and d.span[0] - 1e-6 <= other <= d.span[1] + 1e-6
                    for d in world.doors
                )
                if not through_door:
                    problems.append(f"{a} -> {b} crosses {'xy'[axis]} = {line:.3f} at {other:.4f}")
    return problems


def _wall_overlaps(world: RoomsWorld, xy: np.ndarray) -> np.ndarray:
    """Whether the agent disc at xy (N, 2) overlaps a drawn wall rectangle (Euclidean distance < radius)."""
    rects = world.layout.wall_rects()
    x, y = xy[:, None, 0].astype(np.float64), xy[:, None, 1].astype(np.float64)
    gap_x = np.maximum.reduce([rects[:, 0] - x, np.zeros_like(x - rects[:, 0]), x - rects[:, 1]])
    gap_y = np.maximum.reduce([rects[:, 2] - y, np.zeros_like(y - rects[:, 2]), y - rects[:, 3]])
    return (np.hypot(gap_x, gap_y) < world.agent_radius - 1e-6).any(axis=1)


def _check_moves(world: RoomsWorld, before: np.ndarray, after: np.ndarray) -> None:
    assert _illegal_crossings(world, before, after) == []
    assert not _wall_overlaps(world, after).any()
    assert ((after >= world.clearance - 1e-6) & (after <= 1 - world.clearance + 1e-6)).all()


# float32 actions from tiny to far beyond max_step; the world clips them
_ACTIONS = hnp.arrays(np.float32, (30, 12, 2), elements=st.floats(-10.0, 10.0, width=32))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), actions=_ACTIONS)
def test_two_rooms_agent_crosses_the_wall_only_through_the_door(seed: int, actions: np.ndarray) -> None:
    world = TwoRooms()
    state = world.reset(actions.shape[1], np.random.default_rng(seed))
    for action in actions:
        new = world.step(action)
        _check_moves(world, state, new)
        state = new


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), layout_seed=st.integers(0, 20), actions=_ACTIONS)
def test_maze_agent_crosses_walls_only_through_doors(seed: int, layout_seed: int, actions: np.ndarray) -> None:
    world = Maze(layout_seed=layout_seed)
    state = world.reset(actions.shape[1], np.random.default_rng(seed))
    for action in actions:
        new = world.step(action)
        _check_moves(world, state, new)
        state = new


@settings(max_examples=60, deadline=None)
@given(
    y=st.floats(0.2, 0.8),
    side=st.sampled_from([-1.0, 1.0]),
    depth=st.floats(0.0, 0.06),
    dy=st.floats(-1.0, 1.0),
)
def test_two_rooms_pushing_at_the_door_jambs(y: float, side: float, depth: float, dy: float) -> None:
    """Adversarial moves: start right in front of the wall near the door edges and charge across."""
    world = TwoRooms()
    start = np.array([[0.5 - side * (world.clearance + depth), y]])
    if not world.is_free(start).all():
        return
    state = world.reset(1, np.random.default_rng(0), start=start)
    for _ in range(10):
        new = world.step(np.array([[side * 1.0, dy]], dtype=np.float32))
        _check_moves(world, state, new)
        state = new


@pytest.mark.parametrize(
    "world",
    [TwoRooms(), TwoRooms(random_door=True), Maze(), Maze(rows=2, cols=4, layout_seed=5)],
    ids=["two", "two_random_door", "maze", "maze24"],
)
def test_walls_hold_under_door_seeking_random_actions(world: RoomsWorld) -> None:
    """Thousands of saturated moves aimed at random door edges, with random sideways jitter."""
    rng = np.random.default_rng(1)
    state = world.reset(256, rng)
    edges = np.array([[d.centre[0], s] if d.vertical else [s, d.centre[1]] for d in world.doors for s in d.span])
    for _ in range(60):
        target = edges[rng.integers(len(edges), size=len(state))] + rng.normal(0, 0.05, size=state.shape)
        new = world.step(((target - state) * 50).astype(np.float32))
        _check_moves(world, state, new)
        state = new


def test_actions_are_clipped_per_axis() -> None:
    world = TwoRooms()
    start = np.array([[0.25, 0.5]])
    world.reset(1, np.random.default_rng(0), start=start)
    np.testing.assert_allclose(world.step(np.array([[3.0, -0.01]])), [[0.3, 0.49]], atol=1e-6)


def test_agent_walks_through_the_door() -> None:
    world = TwoRooms()
    world.reset(1, np.random.default_rng(0), start=np.array([[0.2, 0.5]]))
    for _ in range(12):
        world.step(np.array([[0.05, 0.0]]))
    assert world.room_of(world.state)[0] == 1
    np.testing.assert_allclose(world.state, [[0.8, 0.5]], atol=1e-6)


def test_reset_rejects_a_start_inside_a_wall() -> None:
    with pytest.raises(ValueError, match="inside a wall"):
        TwoRooms().reset(1, np.random.default_rng(0), start=np.array([[0.5, 0.1]]))


@pytest.mark.parametrize("world", [TwoRooms(), Maze()], ids=["two", "maze"])
def test_rendered_agent_centroid_matches_state(world: RoomsWorld, centroids: Callable) -> None:
    states = world.reset(200, np.random.default_rng(2))
    frames = world.render()
    assert frames.shape == (200, 64, 64, 3) and frames.dtype == np.uint8
    found = centroids(frames, world.background, AGENT)
    np.testing.assert_allclose(found, states * world.image_size - 0.5, atol=0.25)  # pixel-centre convention


def test_background_shows_walls_and_the_door() -> None:
    world = TwoRooms(door_centre=0.25, door_width=0.2)
    column = world.background[:, 31]  # pixel centre x = 31.5 / 64 lies inside the middle wall
    is_wall = (column == column[0]).all(axis=1)  # row 0 is the outer wall
    rows_y = (np.arange(64) + 0.5) / 64
    np.testing.assert_array_equal(is_wall[(rows_y > 0.16) & (rows_y < 0.34)], False)
    np.testing.assert_array_equal(is_wall[(rows_y < 0.14) | (rows_y > 0.36)], True)


@pytest.mark.parametrize("world", [TwoRooms(), Maze()], ids=["two", "maze"])
def test_same_seed_same_episodes_and_different_seed_different(world: RoomsWorld) -> None:
    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        states, frames = [world.reset(8, rng)], [world.render()]
        for _ in range(20):
            states.append(world.step(world.exploration_actions(rng)))
            frames.append(world.render())
        return np.stack(states), np.stack(frames)

    a, b, c = run(5), run(5), run(6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


def _explore(world: RoomsWorld, episodes: int, steps: int, seed: int = 0) -> np.ndarray:
    """States (T + 1, N, 2) of the exploration policy."""
    rng = np.random.default_rng(seed)
    states = [world.reset(episodes, rng)]
    for _ in range(steps):
        states.append(world.step(world.exploration_actions(rng)))
    return np.stack(states)


def test_two_rooms_exploration_covers_both_rooms_and_crosses_the_door() -> None:
    world = TwoRooms()
    states = _explore(world, 64, 64)
    for before, after in zip(states[:-1], states[1:]):
        _check_moves(world, before, after)
    rooms = world.room_of(states)  # (T + 1, N)
    crossings = (rooms[1:] != rooms[:-1]).sum()
    assert crossings >= 64, crossings
    assert ((rooms[1:] != rooms[:-1]).any(axis=0)).mean() >= 0.5  # most episodes change room
    cells = np.unique(np.floor(states.reshape(-1, 2) * 10).astype(int), axis=0)
    assert len(cells) >= 90  # of the 10 x 10 grid of cells, nearly all are visited


def test_maze_exploration_visits_every_room() -> None:
    world = Maze()
    states = _explore(world, 64, 64)
    rooms = world.room_of(states)
    assert set(np.unique(rooms)) == set(range(9))
    rooms_per_episode = np.array([len(np.unique(rooms[:, i])) for i in range(rooms.shape[1])])
    assert (rooms_per_episode >= 2).mean() >= 0.5, rooms_per_episode
    assert (rooms[1:] != rooms[:-1]).sum() >= 64


def test_sample_start_goal_puts_goals_in_other_rooms() -> None:
    world = Maze()
    start, goal = world.sample_start_goal(np.random.default_rng(0), n=500)
    assert start.shape == goal.shape == (500, 2)
    assert world.is_free(start).all() and world.is_free(goal).all()
    assert (world.room_of(start) != world.room_of(goal)).all()
    assert set(np.unique(world.room_of(goal))) == set(range(9))
    _, same_ok = world.sample_start_goal(np.random.default_rng(0), different_rooms=False, n=500)
    assert (world.room_of(start) == world.room_of(same_ok)).any()


@pytest.mark.parametrize(
    "world", [TwoRooms(), Maze(), Maze(rows=4, cols=4, layout_seed=3)], ids=["two", "maze", "maze44"]
)
def test_following_the_waypoints_reaches_the_goal(world: RoomsWorld) -> None:
    starts, goals = world.sample_start_goal(np.random.default_rng(4), n=16)
    for start, goal in zip(starts, goals):
        world.reset(1, np.random.default_rng(0), start=start[None])
        route = world.waypoints(start, goal)
        assert len(route) == 2 * (len(world.shortest_room_path(*world.room_of(np.stack([start, goal])))) - 1) + 1
        for waypoint in route:
            for _ in range(100):
                before = world.state
                world.step((waypoint - world.state).astype(np.float32))
                _check_moves(world, before, world.state)
                if np.linalg.norm(world.state[0] - waypoint) < 1e-5:
                    break
            else:
                pytest.fail(f"stuck at {world.state[0]} on the way to {waypoint}")
        np.testing.assert_allclose(world.state[0], goal, atol=1e-5)


def test_fixed_door_world_is_unchanged_by_the_random_door_option() -> None:
    """States and random stream of the default TwoRooms, as recorded before the door could move: no extra draws."""
    world = TwoRooms()
    assert not world.layout_per_reset and world.labels() == {}
    rng = np.random.default_rng(7)
    world.reset(6, rng)
    for _ in range(60):
        world.step(world.exploration_actions(rng))
    expected = [
        [0.265841, 0.490937],
        [0.657393, 0.609484],
        [0.110874, 0.725302],
        [0.330520, 0.429973],
        [0.503305, 0.500000],
        [0.865719, 0.159067],
    ]
    np.testing.assert_allclose(world.state, expected, atol=2e-6)
    assert rng.integers(2**31) == 1282618330
    assert world.doors[0].centre == (0.5, 0.5)


def test_random_door_draws_a_door_per_reset_shared_by_its_episodes() -> None:
    world = TwoRooms(random_door=True, door_range=(0.3, 0.7))
    assert world.layout_per_reset
    rng = np.random.default_rng(0)
    centres = []
    for _ in range(20):
        world.reset(5, rng)
        label = world.labels()["door_centre"]
        assert label.shape == (5,) and label.dtype == np.float32 and (label == label[0]).all()
        assert world.doors[0].centre[1] == pytest.approx(label[0])
        centres.append(world.doors[0].centre[1])
    assert len(set(centres)) == 20
    assert min(centres) >= 0.3 and max(centres) < 0.7


def test_random_door_agent_crosses_only_through_the_current_door() -> None:
    """A column of agents at every height in room 0 pushed right: those within the opening pass, all others stop."""
    world = TwoRooms(random_door=True)
    rng = np.random.default_rng(1)
    heights = np.linspace(0.1, 0.9, 33)
    passed_somewhere = np.zeros(len(heights), dtype=bool)
    for _ in range(10):
        world.reset(len(heights), rng, start=np.stack([np.full_like(heights, 0.2), heights], axis=1))
        door = world.doors[0].centre[1]
        for _ in range(15):
            world.step(np.tile([[0.05, 0.0]], (len(heights), 1)))
        fits = np.abs(heights - door) < world.door_width / 2 - world.agent_radius
        through = np.stack([np.full(fits.sum(), 1 - world.clearance), heights[fits]], axis=1)  # at the far wall
        np.testing.assert_allclose(world.state[fits], through, atol=1e-6)
        np.testing.assert_allclose(world.state[~fits, 0], 0.5 - world.clearance, atol=1e-6)
        passed_somewhere |= fits
    # the opening moved: more heights passed over the resets than two positions of the door let through
    assert passed_somewhere.sum() > 2 * (world.door_width - 2 * world.agent_radius) / (heights[1] - heights[0])


def test_random_door_frames_show_the_current_door(check_door_rows: Callable) -> None:
    world = TwoRooms(random_door=True)
    rng = np.random.default_rng(2)
    frames, backgrounds, centres = [], [], []
    for _ in range(12):
        world.reset(1, rng, start=np.array([[0.15, 0.5]]))
        frames.append(world.render()[0])
        backgrounds.append(world.background)
        centres.append(world.doors[0].centre[1])
    check_door_rows(np.stack(frames), np.array(centres), world.door_width)
    check_door_rows(np.stack(backgrounds), np.array(centres), world.door_width)


def test_random_door_exploration_crosses_the_door_of_each_episode() -> None:
    world = TwoRooms(random_door=True)
    changed = []
    for seed in range(16):
        states = _explore(world, 4, 64, seed)
        for before, after in zip(states[:-1], states[1:]):
            _check_moves(world, before, after)
        rooms = world.room_of(states)
        changed.extend((rooms[1:] != rooms[:-1]).any(axis=0))
    assert np.mean(changed) >= 0.6


def test_an_explorer_that_keeps_pushing_at_walls_records_more_middle_wall_contacts() -> None:
    """wall_bounce < 1 keeps the agent at a wall it met (sliding along it) instead of turning back at once: the data
    shows the middle wall stopping the agent far more often, every move stays legal, and doors are still crossed."""
    touching = {}
    for wall_bounce in (1.0, 0.0):
        world = TwoRooms(random_door=True, wall_bounce=wall_bounce)
        states = _explore(world, 32, 64)
        for before, after in zip(states[:-1], states[1:]):
            _check_moves(world, before, after)
        touching[wall_bounce] = np.isclose(np.abs(states[..., 0] - 0.5), world.clearance, atol=1e-6).mean()
        rooms = world.room_of(states)
        assert (rooms[1:] != rooms[:-1]).sum() >= 16
    assert touching[0.0] >= 3 * touching[1.0] > 0, touching


def _action_lengths(world: RoomsWorld, episodes: int, steps: int) -> np.ndarray:
    """Lengths (T * N,) of the exploration policy's actions, in units of the world's max_step."""
    rng = np.random.default_rng(0)
    world.reset(episodes, rng)
    lengths = []
    for _ in range(steps):
        actions = world.exploration_actions(rng)
        lengths.append(np.linalg.norm(actions, axis=-1) / world.max_step)
        world.step(actions)
    return np.concatenate(lengths)


@pytest.mark.parametrize("world", [TwoRooms, Maze])
def test_min_speed_zero_puts_near_standing_moves_in_the_data_and_keeps_them_legal(world: type[RoomsWorld]) -> None:
    """The default explorer never steps slower than half of max_step outside door approaches, so a world model never
    sees the agent (nearly) stand; min_speed 0 spreads the walking speeds over [0, 1] x max_step."""
    default, slow = _action_lengths(world(), 32, 64), _action_lengths(world(min_speed=0.0), 32, 64)
    assert np.mean(default < 0.2) < 0.05  # the last steps of door approaches only
    assert np.mean(slow < 0.2) > 0.12
    assert slow.max() <= 1.0 + 1e-6
    states = _explore(world(min_speed=0.0), 16, 64)
    for before, after in zip(states[:-1], states[1:]):
        _check_moves(world(min_speed=0.0), before, after)


@pytest.mark.parametrize("world", [TwoRooms, Maze])
@pytest.mark.parametrize("min_speed", [-0.1, 1.5])
def test_a_min_speed_outside_0_1_is_refused_by_name(world: type[RoomsWorld], min_speed: float) -> None:
    with pytest.raises(ValueError, match=r"min_speed: expected a share of max_step in \[0, 1\]"):
        world(min_speed=min_speed)


@pytest.mark.parametrize("world", [TwoRooms, Maze])
@pytest.mark.parametrize("wall_bounce", [-0.1, 1.5])
def test_a_wall_bounce_outside_0_1_is_refused_by_name(world: type[RoomsWorld], wall_bounce: float) -> None:
    with pytest.raises(ValueError, match="wall_bounce"):
        world(wall_bounce=wall_bounce)


@pytest.mark.parametrize("door_range", [(0.7, 0.3), (0.0, 0.5), (0.5, 1.0), (0.05, 0.6), (0.4, 0.95)])
def test_bad_door_range_is_refused_by_name(door_range: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="door_range"):
        TwoRooms(random_door=True, door_range=door_range)
    TwoRooms(door_range=door_range)  # not read without random_door
