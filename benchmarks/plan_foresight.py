"""How far the world model's foresight of level 2's own plans is from what the world does (seed paper sec. 4.7):
a diagnosis of hierarchical planning in the Maze, beside `benchmarks/level2_walls.py`.

For start and goal pairs (goals `--min_doors` away), level 2 plans from the start with the task's `level2` search,
and the world walks the plan, each window action spread evenly over its W level-1 steps. At the end of every
window the true position is compared with three foresights, read as positions by linear probes fitted on recorded
episodes (ground truth enters the diagnosis only):
- level 2: the abstract states its predictor foresaw (what its search priced);
- level 1: its own rollout of the same W level-1 actions per window (one row per `--level1` model too, e.g. its
  earlier checkpoints: does more training sharpen the foresight?);
- no walls: the start plus the commanded displacement, what a model that knows no walls would predict.
The probe's own error on recorded windows is the floor. A search exploits whatever its model gets wrong, so these
errors, not those on recorded clips, say whether a plan can be trusted.

`python -m benchmarks.plan_foresight --model runs/maze_export --data data/maze64` writes
benchmarks/results/plan_foresight.json and plan_foresight.png and prints the table.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from benchmarks.common import save_figure, write_results
from benchmarks.level2_walls import encode_position, load_maze, maze_parser, plan_level2, window_probe
from hjepa.agent.experience import record_experience
from hjepa.agent.task import TaskSpec
from hjepa.envs import RoomsWorld
from hjepa.export import load_world_model


def walk(world: RoomsWorld, start: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Positions (T, 2) of the agent after each of the actions (T, 2) from start (2,), walls included."""
    world.reset(1, np.random.default_rng(0), start=start[None])
    positions = []
    for action in actions:
        world.step(action[None])
        positions.append(world.state[0].copy())
    return np.array(positions)


@torch.no_grad()
def main() -> None:
    parser = maze_parser(__doc__)
    parser.add_argument("--level1", nargs="*", default=[], help="more level-1 models whose rollouts are measured")
    args = parser.parse_args()
    world, level1, level2 = load_maze(parser, args)
    window = level2.encoder.window
    rollers = {f"level 1 ({args.model})": level1}
    rollers |= {f"level 1 ({path})": load_world_model(path) for path in args.level1}
    probes, floors = {}, {}
    for name, model in rollers.items():
        recorded = record_experience(model, args.data, args.episodes)
        probes[name] = recorded.position_probe()
        floors[name] = np.linalg.norm(probes[name](recorded.representations.double()) - recorded.states, axis=-1)
        if model is level1:
            level2_probe, windows, window_ends = window_probe(level2, recorded)
    floors["level 2"] = np.linalg.norm(level2_probe(windows.double()) - window_ends, axis=-1)

    fields = {k: v for k, v in TaskSpec.from_yaml(args.task).level2.items() if k != "search"}
    errors: dict[str, list[np.ndarray]] = {"level 2": [], **{name: [] for name in rollers}, "no walls": []}
    for pair in range(args.pairs):
        start, goal = (
            xy[0] for xy in world.sample_start_goal(np.random.default_rng(args.seed + pair), min_doors=args.min_doors)
        )
        subgoals = plan_level2(world, level1, level2, fields, start, goal, seed=pair)
        actions = subgoals.plan.repeat_interleave(window, 0) / window  # (H2 W, A): each window action spread evenly
        truth = walk(world, start, actions.numpy())[window - 1 :: window]  # (H2, 2) at the windows' ends
        foresight = {"level 2": level2_probe(subgoals.predicted[1:].double()).numpy()}
        for name, model in rollers.items():
            rollout = model.unroll(encode_position(world, model, start)[None], actions[None])[0]
            foresight[name] = probes[name](rollout[window - 1 :: window].double()).numpy()
        foresight["no walls"] = start + np.cumsum(subgoals.plan.numpy(), 0)
        for name, points in foresight.items():
            errors[name].append(np.linalg.norm(points - truth, axis=-1))

    ahead = [k for k in (1, 2, 3, 4, 6, 8, 12) if k <= len(errors["level 2"][0])]
    rows = []
    for name, per_pair in errors.items():
        error = np.stack(per_pair)  # (pairs, H2)
        floor = floors.get(name)
        rows.append(
            {
                "foresight": name,
                **{f"median_err_{k}": round(float(np.median(error[:, k - 1])), 3) for k in ahead},
                "probe_floor": None if floor is None else round(float(np.median(floor)), 3),
            }
        )
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    for name, per_pair in errors.items():
        axes.plot(range(1, len(per_pair[0]) + 1), np.median(np.stack(per_pair), 0), marker="o", label=name)
    axes.set_xlabel(f"windows ahead (W = {window} level-1 steps)")
    axes.set_ylabel("median position error of the foresight")
    axes.set_title("the world model's foresight of level 2's plans")
    axes.legend(fontsize=7)
    save_figure(figure, "plan_foresight", bbox_inches="tight")
    write_results(
        "plan_foresight",
        rows,
        {"model": args.model, "data": args.data, "task": args.task, "min_doors": args.min_doors, "seed": args.seed},
    )


if __name__ == "__main__":
    main()
