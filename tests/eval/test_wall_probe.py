"""The wall-contact probe: a model that knows the walls scores 1, one that walks through them 0 where walls stop."""

import pytest

from hjepa.envs import Maze, TwoRooms
from hjepa.eval.wall_probe import wall_contact
from tests.agent.oracle import ActionBlindWorldModel, OracleWorldModel, WallOracleWorldModel


@pytest.mark.parametrize("world", [TwoRooms(random_door=True), Maze()], ids=["two_rooms_random_door", "maze"])
def test_a_model_with_the_worlds_own_walls_predicts_every_stop_and_every_pass(world) -> None:
    result = wall_contact(WallOracleWorldModel(world), world, resets=30)
    assert result.blocked >= 150 and result.passed >= 10, result
    assert result.stops == 1.0 and result.passes == 1.0, result


def test_a_model_that_ignores_walls_misses_every_stop_and_one_that_never_moves_every_pass() -> None:
    world = TwoRooms(random_door=True)
    through_walls = wall_contact(OracleWorldModel(), world, resets=30)
    assert through_walls.stops == 0.0 and through_walls.passes == 1.0, through_walls
    standing = wall_contact(ActionBlindWorldModel(), world, resets=30)
    assert standing.stops == 1.0 and standing.passes == 0.0, standing


def test_the_same_seed_pushes_the_same_agents() -> None:
    world = TwoRooms(random_door=True)
    assert wall_contact(OracleWorldModel(), world, seed=3) == wall_contact(OracleWorldModel(), world, seed=3)


def test_a_world_without_an_interior_vertical_wall_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no interior vertical wall"):
        wall_contact(OracleWorldModel(), Maze(rows=3, cols=1))
