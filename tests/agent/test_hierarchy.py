"""Hierarchical planning (sec. 4.7): level-2 subgoals on the route to a far goal, planned with the level-2 model or
found in memory; a two-level agent reaches goals that a flat one does not; level 1's cost through the level-2
encoder; errors for tasks that need a level 2 the model lacks."""

import numpy as np
import pytest
import torch

from hjepa.agent.configurator import Configurator
from hjepa.agent.experience import Experience
from hjepa.agent.hierarchy import MemorySubgoals, ModelSubgoals, SubgoalCost
from hjepa.agent.task import TaskSpec
from hjepa.envs import make_world
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.protocol import Protocol
from hjepa.export import export_world_model
from hjepa.models import build_world_model
from hjepa.models.encoder import FrameEncoder
from hjepa.models.level2 import Level2Encoder
from tests.agent.oracle import OracleLevel2, OracleWorldModel, WallOracleLevel2, WallOracleWorldModel, explored_episodes

MAZE = {"rows": 2, "cols": 3, "door_width": 0.2}  # layout seed 0: rooms 0-1-2-5-4-3 in a U
BOX = ([-0.05, -0.05], [0.05, 0.05])


@pytest.fixture(scope="module")
def maze_experience() -> Experience:
    """Recorded exploration of the U maze; the oracle's representations are the positions themselves."""
    positions = torch.from_numpy(explored_episodes(make_world("maze", **MAZE), 256, 48)).float()
    return Experience(positions, positions)


def test_level2_subgoals_lie_on_the_route_between_start_and_goal(maze_experience):
    world = make_world("maze", **MAZE)
    route = world.shortest_room_path(0, 3)
    assert route == [0, 1, 2, 5, 4, 3]  # neighbours through a wall, five doors apart along the maze
    hierarchy = MemorySubgoals(OracleLevel2(8), maze_experience.representations)
    start, goal = torch.tensor([0.17, 0.25]), torch.tensor([0.17, 0.75])
    hierarchy.set_goal(goal)
    probe = maze_experience.position_probe()  # subgoals are read as positions, as for a learned model
    position, rooms, remaining = start, [], [hierarchy.graph.steps_to_goal(start)]
    for _ in range(40):  # level 1 reaching each subgoal exactly: follow level 2's choices
        for _ in range(hierarchy.every):
            targets = hierarchy.subgoal(position, horizon=6)
        target = hierarchy.target
        assert torch.equal(hierarchy.subgoal_state, target)  # the oracle's level-2 state is where a window ends
        assert torch.equal(targets[-1], target) and len(targets) == 6  # level 1's per-step targets end at it
        position = target
        rooms.append(int(world.room_of(probe(target[None].double()).numpy())[0]))
        if torch.equal(target, goal):
            break
        remaining.append(hierarchy.graph.steps_to_goal(target))
    assert torch.equal(position, goal), f"level 2 never handed level 1 the goal; rooms visited {rooms}"
    assert set(rooms) <= set(route), f"a subgoal left the route {route}: {rooms}"
    order = [route.index(r) for r in rooms]
    assert order == sorted(order) and order[-1] == len(route) - 1  # through the doors in order, never back
    assert np.all(np.diff(remaining) < 0), f"a subgoal did not bring the goal closer: {remaining}"
    assert len(rooms) >= len(route) - 1  # one subgoal at most a room ahead: level 1 plans short hops


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_subgoals_lie_between_start_and_goal_along_the_maze(seed, one_thread):
    """Level 2 plans with its predictor (here one that knows the walls) from room 1 to room 4 below it, three doors
    round by room 2: its subgoal leaves toward room 2's door, not toward the wall between the two rooms."""
    world = make_world("maze", **MAZE)
    level2 = WallOracleLevel2(world, 8)
    planner = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml").level2["planner"]
    hierarchy = ModelSubgoals(level2, 2, *BOX, planner=planner, lookahead=1, seed=seed)
    start, goal = torch.tensor([0.5, 0.25]), torch.tensor([0.5, 0.75])
    hierarchy.set_goal(goal)
    assert hierarchy.observe(start)  # level 2 plans on its first step
    subgoal = hierarchy.subgoal_state  # the oracle's abstract state is a position: read directly
    assert subgoal[0] > start[0] + 0.03 and subgoal[1] < 0.45, subgoal  # toward room 2, still above the wall
    planned = level2.unroll(start[None], hierarchy.plan[None])[0].numpy()
    distance = np.linalg.norm(planned - goal.numpy(), axis=-1)
    assert distance.min() < 0.05  # the plan reaches the goal ...
    rooms = [1, *(int(room) for room in world.room_of(planned[: distance.argmin() + 1]))]
    route = world.shortest_room_path(1, 4)
    assert route == [1, 2, 5, 4] and list(dict.fromkeys(rooms))[:4] == route, rooms  # round by the doors, in order
    for _ in range(hierarchy.every - 1):
        assert not hierarchy.observe(start)  # in between, level 1 keeps the subgoal
    assert torch.equal(hierarchy.cost.subgoal, subgoal)


def test_subgoal_cost_matches_a_loop_over_each_predicted_window():
    """Each predicted level-1 state closes a window of the states seen before the plan and the plan's own; the
    level-2 encoder abstracts it; the cost is its squared distance to the subgoal."""
    torch.manual_seed(0)
    encoder = Level2Encoder(
        FrameEncoder("convnet_tiny", embed_dim=6, img_size=16, width=8),
        window=4,
        pool="conv",
        embed_dim=5,
        hidden_dim=8,
    )
    cost = SubgoalCost(encoder.abstract, 4, 6, 5)
    seen, subgoal = torch.randn(2, 6), torch.randn(5)  # fewer states than a window: the first stands still before
    cost.set_subgoal(subgoal, seen)
    states = torch.randn(3, 7, 5, 6)  # (B, N, H, D1)
    expected = torch.zeros(3, 7, 5)
    for b in range(3):
        for n in range(7):
            sequence = [seen[0], seen[0], seen[0], seen[1], *states[b, n]]  # padded to W - 1 seen states, then H
            for h in range(5):
                window = torch.stack(sequence[h + 1 : h + 5])  # the window of W = 4 that ends at predicted step h
                abstract = encoder.abstract(window[None])[0, 0]
                expected[b, n, h] = ((abstract - subgoal) ** 2).sum()
    torch.testing.assert_close(cost(states, torch.zeros(3, 7, 5, 2)), expected)
    assert not list(cost.parameters())  # immutable: the frozen encoder is held as a function


def test_hierarchical_agent_reaches_far_goals_through_the_model_that_the_flat_agent_does_not(tmp_path, one_thread):
    """Like-for-like: both levels of a model that knows the walls, no recorded data, no probe."""
    world = make_world("maze", **MAZE)
    task = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml")
    assert task.aids == ()
    summary = run_plan_probe(
        None,
        None,
        "hjepa/Maze-v0",
        task,
        tmp_path,
        Protocol(4, 3),
        baselines=["flat"],
        env_kwargs={**MAZE, "min_doors": 4},
        world_model=WallOracleWorldModel(world),
        level2=WallOracleLevel2(world, 8),
        random_baseline=False,
    )
    # Level 2's search in imagination goes round by the doors, the longest way round the U included
    assert summary["plan_success"] == 1.0, summary["plan_table"]
    assert summary["plan_success_flat"] == 0.0, summary["plan_table"]  # walls block the straight way


def test_memory_subgoals_reach_far_goals_that_the_flat_agent_does_not(maze_experience, tmp_path, one_thread):
    """The memory-assisted ablation: level 2 searches a graph over recorded windows, a probe reads positions."""
    task = TaskSpec.from_yaml("configs/tasks/maze_reach_aided.yaml").replace(max_steps=100)
    assert task.aids == ("level-2 memory", "probe")
    summary = run_plan_probe(
        None,
        None,
        "hjepa/Maze-v0",
        task,
        tmp_path,
        Protocol(3, 3),
        baselines=["flat"],
        env_kwargs={**MAZE, "min_doors": 3},
        world_model=OracleWorldModel(),
        level2=OracleLevel2(8),
        experience=maze_experience,
        random_baseline=False,
    )
    assert summary["plan_success"] == 1.0, summary["plan_table"]
    assert summary["plan_success_flat"] == 0.0, summary["plan_table"]


def test_task_levels_are_validated():
    base = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml")
    assert base.levels == [2, 1] and TaskSpec.from_yaml("configs/tasks/reach.yaml").levels == [1]
    with pytest.raises(ValueError, match="cost.subgoal_distance: with levels \\[2, 1\\] and level2.search model"):
        base.replace(cost={"goal_distance": 1.0})
    with pytest.raises(ValueError, match="level2.search: unknown search 'tree'"):
        Configurator(base.replace(level2={"search": "tree"}), 2, *BOX, level2=OracleLevel2(8))
    with pytest.raises(ValueError, match=r"level2: field\(s\) \['stride'\] do not apply to search model"):
        Configurator(base.replace(level2={**base.level2, "stride": 2}), 2, *BOX, level2=OracleLevel2(8))
    with pytest.raises(ValueError, match="level2.planner: search model needs a planner"):
        Configurator(base.replace(level2={"search": "model"}), 2, *BOX, level2=OracleLevel2(8))
    with pytest.raises(ValueError, match=r"levels: expected \[1\] \(flat\) or \[2, 1\]"):
        base.replace(levels=[3, 2, 1])
    with pytest.raises(ValueError, match="subgoals.kind: with levels \\[2, 1\\] level 2 sets the subgoals"):
        base.replace(subgoals={"kind": "landmarks"})
    with pytest.raises(ValueError, match="level2: unknown field"):
        base.replace(level2={"horizon": 3})


def test_hierarchical_task_without_level_2_names_the_fix(maze_experience, tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml")
    with pytest.raises(ValueError, match=r"levels \[2, 1\] needs a world model with level 2.*export both levels"):
        Configurator(task, 2, *BOX, maze_experience)
    aided = TaskSpec.from_yaml("configs/tasks/maze_reach_aided.yaml").replace(goal_metric="representation")
    with pytest.raises(ValueError, match="level2.search: memory read\\(s\\) recorded episodes: pass the shards"):
        Configurator(aided, 2, *BOX, level2=OracleLevel2(8))
    config = {
        "encoder": {"name": "convnet_tiny", "embed_dim": 8, "img_size": 64, "width": 8},
        "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 8},
    }
    export_world_model(build_world_model(config), config, tmp_path / "level1_only")
    flat = task.replace(levels=[1])
    with pytest.raises(ValueError, match=r"--baselines hierarchical: .* has levels \[1\]; train it \(hjepa fit"):
        run_plan_probe(
            tmp_path / "level1_only",
            None,
            "hjepa/Maze-v0",
            flat,
            tmp_path / "out",
            Protocol(1),
            baselines=["hierarchical"],
            experience=maze_experience,
        )
    with pytest.raises(ValueError, match="--baselines: unknown baseline"):
        run_plan_probe(tmp_path / "level1_only", None, "hjepa/Maze-v0", flat, tmp_path / "out", baselines=["tall"])
