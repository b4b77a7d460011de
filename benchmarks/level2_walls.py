"""Whether level 2's plans in imagination could be walked (seed paper sec. 4.7): a diagnosis of hierarchical planning.

For start and goal pairs of the Maze (goals `--min_doors` away), level 2 plans from the start's abstract state
toward the goal's with the task's `level2` search. Its predicted abstract states up to the one closest to the goal
are read as positions by a linear probe fitted on recorded windows (ground truth enters the diagnosis only),
and a perfect follower walks straight from point to point through the world's walls. A plan counts as walkable
when the follower comes within `--tolerance` of every point. The same follower on the decoded windows of
recorded episodes (one every W steps) is the calibration: what the probe's error alone costs.

`python -m benchmarks.level2_walls --model runs/maze_export --data data/maze64` writes
benchmarks/results/level2_walls.json and prints the table.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import Tensor

from benchmarks.common import write_results
from hjepa.agent.agent import unit_image
from hjepa.agent.experience import Experience, record_experience
from hjepa.agent.hierarchy import ModelSubgoals, abstract_episodes
from hjepa.agent.task import TaskSpec
from hjepa.envs import RoomsWorld
from hjepa.eval.targets import shard_world
from hjepa.export import load_world_model
from hjepa.models.world_model import WorldModel
from hjepa.readout.linear_probe import LinearHead, fit_probe


def follow(world: RoomsWorld, points: np.ndarray, tolerance: float, steps: int = 20) -> bool | None:
    """Whether a follower starting at points[0] and walking straight to each next point (N, 2) in turn, at most
    `steps` moves of the largest step each, comes within `tolerance` of all of them; None when points[0] is
    not a free position."""
    if not world.is_free(points[:1])[0]:
        return None
    world.reset(1, np.random.default_rng(0), start=points[:1])
    reached = True
    for target in points[1:]:
        for _ in range(steps):
            offset = target - world.state[0]
            world.step((offset / max(1.0, np.linalg.norm(offset) / world.max_step))[None])
        reached &= bool(np.linalg.norm(world.state[0] - target) <= tolerance)
    return reached


def encode_position(world: RoomsWorld, level1, xy: np.ndarray) -> Tensor:
    """The level-1 state (D,) of the frame with the agent at xy (2,), seen as the agent perceives it."""
    frame = unit_image(world.render_states(xy[None])[0]).permute(2, 0, 1)
    return level1.encode(frame[None, None])[0, 0]


def plan_level2(
    world: RoomsWorld, level1, level2, fields: dict, start: np.ndarray, goal: np.ndarray, seed: int
) -> ModelSubgoals:
    """Level 2's first plan (the task's `level2` fields but `search`) from the agent standing at start (2,) toward
    the goal (2,), both seen as frames; its `plan` (H2, A) and `predicted` (H2 + 1, D2) hold the plan and foresight."""
    low, high = [-world.max_step] * 2, [world.max_step] * 2
    subgoals = ModelSubgoals(level2, level1.encoder.embed_dim, low, high, **fields, seed=seed)
    subgoals.set_goal(encode_position(world, level1, goal))
    subgoals.observe(encode_position(world, level1, start))
    assert subgoals.predicted is not None and subgoals.plan is not None
    return subgoals


def maze_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of the Maze diagnoses: the model, the shards, the task's level-2 search and the pairs."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="export folder or .ckpt with both levels")
    parser.add_argument("--data", required=True, help="Maze shards: the world, and episodes to fit the probes on")
    parser.add_argument("--task", default="configs/tasks/maze_reach.yaml", help="its level2 fields plan")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--min_doors", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=256, help="recorded episodes for the probes")
    parser.add_argument("--seed", type=int, default=2000)
    return parser


def load_maze(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[RoomsWorld, WorldModel, WorldModel]:
    """The world that recorded `--data`, and both levels of `--model`."""
    world = shard_world(args.data)
    if not isinstance(world, RoomsWorld):
        parser.error(f"--data: {args.data} was not recorded in a rooms world (TwoRooms, Maze)")
    return world, load_world_model(args.model, level=1), load_world_model(args.model, level=2)


def window_probe(level2, recorded: Experience) -> tuple[LinearHead, Tensor, Tensor]:
    """A linear probe from level-2 states to the position that ends their window, fitted on the recorded episodes,
    with those states (E, N, D2) (window i ends at step i + W - 1) and positions (E, N, 2)."""
    window = level2.encoder.window
    windows = abstract_episodes(level2, recorded.representations, 1).states
    ends = recorded.states[:, window - 1 : window - 1 + windows.shape[1]]
    return fit_probe(windows, ends), windows, ends


@torch.no_grad()
def main() -> None:
    parser = maze_parser(__doc__)
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    world, level1, level2 = load_maze(parser, args)
    window = level2.encoder.window
    probe, windows, ends = window_probe(level2, record_experience(level1, args.data, args.episodes))

    calibration = []
    for e in range(len(windows)):
        points = probe(windows[e, ::window].double()).numpy()
        points[0] = ends[e, 0].numpy()
        walked = follow(world, points, args.tolerance)
        if walked is not None:
            calibration.append(walked)

    fields = {k: v for k, v in TaskSpec.from_yaml(args.task).level2.items() if k != "search"}
    walkable, lengths = [], []
    for pair in range(args.pairs):
        start, goal = (
            xy[0] for xy in world.sample_start_goal(np.random.default_rng(args.seed + pair), min_doors=args.min_doors)
        )
        subgoals = plan_level2(world, level1, level2, fields, start, goal, seed=pair)
        path = subgoals.predicted[1:]  # level 2's foresight after the start's abstract state
        closest = int((path - subgoals.goal_state).norm(dim=-1).argmin())
        points = np.concatenate([start[None], probe(path[: closest + 1].double()).numpy()])
        walkable.append(bool(follow(world, points, args.tolerance)))
        lengths.append(closest + 1)
    rows = [
        {
            "paths": "level 2's plans (imagined)",
            "count": len(walkable),
            "walkable": round(float(np.mean(walkable)), 3),
            "mean_level2_steps": round(float(np.mean(lengths)), 1),
        },
        {
            "paths": "recorded windows (calibration)",
            "count": len(calibration),
            "walkable": round(float(np.mean(calibration)), 3),
            "mean_level2_steps": windows.shape[1] // window,
        },
    ]
    write_results(
        "level2_walls",
        rows,
        {
            "model": args.model,
            "data": args.data,
            "task": args.task,
            "min_doors": args.min_doors,
            "tolerance": args.tolerance,
            "seed": args.seed,
        },
    )


if __name__ == "__main__":
    main()
