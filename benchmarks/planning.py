"""Mode-2 planning success against compute: like-for-like success against CEM search size on TwoRooms (and
two labelled ablations: the squared cost, and the aided task), flat against hierarchical planning success against
compute on the demo's Maze (goals >= 2 doors away; both aided), and the ms of one Mode-1 decision (the distilled
policy) against one Mode-2 decision (the planner).

Run after the demo (it plans with the demo's exported models, remembers their shards and times its policy; the
Maze rows need the demo's Maze, `maze.run: true` in configs/demo.yaml):
`python -m benchmarks.planning [--model runs/demo/export --data data/demo_two_rooms --episodes 10]`.
Writes benchmarks/results/planning.json, planning_success_vs_compute.png and planning_maze_flat_vs_hier.png;
one torch thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from benchmarks.common import RESULTS, write_results
from hjepa.agent.configurator import Configurator
from hjepa.agent.cost import Cost
from hjepa.agent.distill import load_policy
from hjepa.agent.experience import record_experience
from hjepa.agent.task import TaskSpec
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.protocol import Protocol
from hjepa.export import load_world_model

BOX = {"action_low": [-0.05, -0.05], "action_high": [0.05, 0.05]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="runs/demo/export")
    parser.add_argument("--data", default="data/demo_two_rooms")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--maze_model", default="runs/demo/maze/export", help="two-level export trained on the maze")
    parser.add_argument("--maze_data", default="data/demo_maze")
    parser.add_argument("--policy", default="runs/demo/distill", help="a policy of `hjepa distill` on --model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_world_model(args.model)
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml")  # like-for-like: goal image, representation only
    variants = {
        f"cem H {h}, pop {n} x {it} it": task.replace(
            planner={**task.planner, "horizon": h, "population": n, "elites": max(4, n // 8), "iterations": it}
        )
        for h, n, it in ((16, 64, 3), (16, 128, 5), (32, 128, 5), (32, 256, 5), (48, 256, 5))
    }
    # Cost ablations at the default search: the squared distance summed over the horizon (PLDM's MSE), no terminal
    variants["cem, squared distance, no terminal"] = task.replace(goal_exponent=2.0, goal_terminal=0.0)
    # ...and the aided task (landmarks over recorded episodes, a probe fitted on ground truth): not like-for-like
    aided = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml")
    variants["cem [aided: landmarks, probe]"] = aided
    experience = record_experience(model, args.data, aided.subgoals["episodes"])
    curve = []
    for label, variant in variants.items():
        result = run_plan_probe(
            args.model,
            args.data,
            "hjepa/TwoRooms-v0",
            variant,
            Path("runs/bench_planning"),
            Protocol(args.episodes, 1000),
            world_model=model,
            experience=experience,
            random_baseline=False,
        )
        curve.append({"planner": label, "success": result["plan_success"], "ms_per_step": result["plan_ms_per_step"]})
    plot_curve(curve, RESULTS / "planning_success_vs_compute.png")
    modes = mode1_vs_mode2(model, load_policy(args.policy), task, experience)
    maze = []
    if Path(args.maze_model).is_dir():
        maze = maze_flat_vs_hier(args.maze_model, args.maze_data, args.episodes)
        plot_maze(maze, RESULTS / "planning_maze_flat_vs_hier.png")
    else:
        print(f"maze: skipped, no {args.maze_model} (run the demo with maze.run: true in configs/demo.yaml)")
    write_results(
        "planning",
        curve + modes + maze,
        {"model": args.model, "maze_model": args.maze_model, "episodes": args.episodes},
    )


def mode1_vs_mode2(model, policy, task: TaskSpec, experience, decisions: int = 20) -> list[dict]:
    """Median ms of one decision: the policy's forward pass against the task's plan, on remembered states."""
    configurator = Configurator(task, model.encoder.embed_dim, *BOX.values(), experience)
    planner, g = configurator.planner(), torch.Generator().manual_seed(0)
    states = experience.representations.flatten(0, 1)[torch.randperm(experience.representations.shape[0], generator=g)]
    goal = states[-1]
    cost = Cost(configurator.intrinsic_cost(goal))
    times: dict[str, list[float]] = {"mode1 (policy)": [], "mode2 (cem plan)": []}
    for state in states[:decisions]:
        with torch.no_grad():
            start = time.perf_counter()
            policy(state, goal)
            times["mode1 (policy)"].append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        planner.plan(state, cost, model, generator=0)
        times["mode2 (cem plan)"].append((time.perf_counter() - start) * 1e3)
    median = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return [
        {
            "planner": k,
            "ms_per_decision": round(v, 3),
            "mode2_over_mode1": round(median["mode2 (cem plan)"] / median["mode1 (policy)"], 1),
        }
        for k, v in median.items()
    ]


def maze_flat_vs_hier(model_path: str, data: str, episodes: int) -> list[dict]:
    """Success and planning ms per episode of flat and hierarchical agents on the same Maze episodes, like-for-like
    (level 2 plans with its own predictor), over a sweep of the level-1 CEM search (the compute both spend every
    step)."""
    task = TaskSpec.from_yaml("configs/tasks/maze_reach.yaml")
    model = load_world_model(model_path)
    rows = []
    for n, it in ((32, 3), (64, 5), (128, 5), (256, 8)):
        variant = task.replace(planner={**task.planner, "population": n, "elites": max(4, n // 8), "iterations": it})
        result = run_plan_probe(
            model_path,
            data,
            "hjepa/Maze-v0",
            variant,
            Path("runs/bench_planning_maze"),
            Protocol(episodes, 1000),
            world_model=model,
            random_baseline=False,
            baselines=["flat", "hierarchical"],
            env_kwargs={"min_doors": 2},
        )
        for label in ("hierarchical", "flat"):
            row = result["plan_table"][label]
            rows.append(
                {
                    "planner": f"maze {label}, cem pop {n} x {it} it",
                    "success": row["success"],
                    "ms_per_step": row["ms_per_step"],
                    "ms_per_episode": row["ms_per_episode"],
                }
            )
    return rows


def plot_maze(rows: list[dict], path: Path) -> Path:
    """Maze success against planning ms per episode, flat and hierarchical."""
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    for label in ("hierarchical", "flat"):
        points = [r for r in rows if r["planner"].startswith(f"maze {label},")]
        ax.plot([r["ms_per_episode"] / 1e3 for r in points], [r["success"] for r in points], marker="o", label=label)
    ax.legend(fontsize=8)
    ax.set(
        xlabel="planning seconds per episode (1 thread)",
        ylabel="success rate",
        xscale="log",
        title="Maze, goals >= 2 doors away, like-for-like",
        ylim=(-0.05, 1.05),
    )
    fig.savefig(path, dpi=100)
    return path


def plot_curve(curve: list[dict], path: Path) -> Path:
    """Success rate against planning ms per step."""
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    sweep = [c for c in curve if " x " in c["planner"]]
    ax.plot([c["ms_per_step"] for c in sweep], [c["success"] for c in sweep], marker="o", label="CEM, like-for-like")
    for c in curve:
        if " x " not in c["planner"]:
            ax.plot(c["ms_per_step"], c["success"], marker="s", linestyle="", label=c["planner"])
    ax.legend(fontsize=7)
    for c in sweep:
        ax.annotate(c["planner"].removeprefix("cem "), (c["ms_per_step"], c["success"]), fontsize=6)
    ax.set(
        xlabel="planning ms per step (1 thread)",
        ylabel="success rate",
        title="TwoRooms planning",
        xscale="log",
        ylim=(-0.05, 1.05),
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()
