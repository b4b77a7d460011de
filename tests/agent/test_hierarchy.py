"""Hierarchical planning (sec. 4.7): level-2 subgoals on the route to a far goal; a two-level agent reaches goals
that a flat one does not; errors for tasks that need a level 2 the model lacks."""

import numpy as np
import pytest
import torch

from hjepa.agent.configurator import Configurator
from hjepa.agent.experience import Experience
from hjepa.agent.hierarchy import HierarchicalSubgoals
from hjepa.agent.task import TaskSpec
from hjepa.envs import make_world
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.protocol import Protocol
from hjepa.export import export_world_model
from hjepa.models import build_world_model
from tests.agent.oracle import OracleLevel2, OracleWorldModel, explored_episodes

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
    hierarchy = HierarchicalSubgoals(OracleLevel2(8), maze_experience.representations)
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


def test_model_search_subgoals_lie_between_start_and_goal(maze_experience, one_thread):
    """Level 2 planning with a Mode-2 planner over its world model (search: model), where the way is open."""
    world = make_world("maze", **MAZE)
    planner = {"name": "cem", "horizon": 3, "population": 128, "elites": 16, "iterations": 6}
    hierarchy = HierarchicalSubgoals(OracleLevel2(8), maze_experience.representations, search="model", planner=planner,
                                     lookahead=1, action_low=BOX[0], action_high=BOX[1])
    start, goal = torch.tensor([0.17, 0.25]), torch.tensor([0.83, 0.25])  # rooms 0 -> 2 through two open doors
    hierarchy.set_goal(goal)
    hierarchy.subgoal(start)
    target, predicted = hierarchy.target, hierarchy.subgoal_state
    assert 0.17 + 0.2 < predicted[0] < 0.17 + 0.45 and abs(predicted[1] - 0.25) < 0.1  # one window (<= 0.4) on
    assert torch.norm(target - predicted) < 0.1  # level 1 aims where a remembered window realised the subgoal
    assert int(world.room_of(target.numpy())) in (0, 1)
    with pytest.raises(ValueError, match="level2.planner: search model needs a planner"):
        HierarchicalSubgoals(OracleLevel2(8), maze_experience.representations, search="model")
    with pytest.raises(ValueError, match="level2.search: unknown search 'tree'"):
        HierarchicalSubgoals(OracleLevel2(8), maze_experience.representations, search="tree")


def test_hierarchical_agent_reaches_far_goals_that_the_flat_agent_does_not(maze_experience, tmp_path, one_thread):
    task = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml").replace(max_steps=100)
    summary = run_plan_probe(None, None, "hjepa/Maze-v0", task, tmp_path, Protocol(3, 3), baselines=["flat"],
                             env_kwargs={**MAZE, "min_doors": 3}, world_model=OracleWorldModel(),
                             level2=OracleLevel2(8), experience=maze_experience, random_baseline=False)
    assert summary["plan_success"] == 1.0, summary["plan_table"]
    assert summary["plan_success_flat"] == 0.0, summary["plan_table"]  # walls block the straight way


def test_task_levels_are_validated():
    base = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml")
    assert base.levels == [2, 1] and TaskSpec.from_yaml("configs/tasks/reach.yaml").levels == [1]
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
    config = {"encoder": {"name": "convnet_tiny", "embed_dim": 8, "img_size": 64, "width": 8},
              "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 8}}
    export_world_model(build_world_model(config), config, tmp_path / "level1_only")
    flat = task.replace(levels=[1])
    with pytest.raises(ValueError, match=r"--baselines hierarchical: .* has levels \[1\]; train it \(hjepa fit"):
        run_plan_probe(tmp_path / "level1_only", None, "hjepa/Maze-v0", flat, tmp_path / "out", Protocol(1),
                       baselines=["hierarchical"], experience=maze_experience)
    with pytest.raises(ValueError, match="--baselines: unknown baseline"):
        run_plan_probe(tmp_path / "level1_only", None, "hjepa/Maze-v0", flat, tmp_path / "out", baselines=["tall"])
