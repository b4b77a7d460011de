"""How much training like-for-like planning needs: success of the default task (goal image, learned
representation only) at each saved checkpoint of a pretraining run, with Wilson 95% intervals.

`python -m benchmarks.planning_vs_training --run runs/two_rooms_cpu --data data/demo_two_rooms [--episodes 30]`
(after `hjepa fit --config configs/two_rooms_cpu.yaml`, which saves a checkpoint every 250 steps). Writes
benchmarks/results/planning_vs_training.json and planning_vs_training.png; one torch thread.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from matplotlib.figure import Figure

from benchmarks.common import RESULTS, write_results
from hjepa.agent.task import TaskSpec
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.plan_variants import label
from hjepa.eval.protocol import Protocol, radius_key
from hjepa.export import load_world_model

STEP = re.compile(r"step=(\d+)")


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, path) of the run's step checkpoints, by step."""
    found = [(int(m.group(1)), p) for p in (run / "checkpoints").glob("*.ckpt") if (m := STEP.search(p.name))]
    if not found:
        raise FileNotFoundError(f"{run / 'checkpoints'}: no checkpoint named *step=N.ckpt")
    return sorted(found)


def plot_curve(rows: list[dict], radii: tuple[float, ...], path: Path) -> Path:
    """Success ("ever reached") against training steps, one line per radius, with 95% intervals."""
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    steps = [row["steps"] for row in rows]
    for i, radius in enumerate(radii):
        key = f"ever_{radius_key(radius)}"
        values = [row[key] for row in rows]
        low = [v - row[f"{key}_ci"][0] for v, row in zip(values, rows)]
        high = [row[f"{key}_ci"][1] - v for v, row in zip(values, rows)]
        ax.errorbar(steps, values, yerr=[low, high], marker="o", capsize=3, color=f"C{i}", label=f"r = {radius:g}")
    ax.plot(steps, [row["random"] for row in rows], "k--", label="random policy")
    ax.set_xlabel("pretraining steps")
    ax.set_ylabel("success (ever reached)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("like-for-like planning vs training", fontsize=9)
    fig.savefig(path, dpi=100)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/two_rooms_cpu", help="a pretraining run folder (checkpoints/)")
    parser.add_argument("--data", default="data/demo_two_rooms", help="the shards it was trained on (world options)")
    parser.add_argument("--task", default="configs/tasks/reach.yaml")
    parser.add_argument("--episodes", type=int, default=30)
    args = parser.parse_args()
    task, protocol = TaskSpec.from_yaml(args.task), Protocol(args.episodes, seed=1000)
    rows = []
    for steps, path in checkpoints(Path(args.run)):
        result = run_plan_probe(
            path,
            args.data,
            "hjepa/TwoRooms-v0",
            task,
            Path("runs/bench_planning_vs_training"),
            protocol,
            world_model=load_world_model(path),
        )
        scores = result["plan_table"][label(task)]
        row = {
            "steps": steps,
            "random": result["plan_success_random"],
            "ms_per_step": result["plan_ms_per_step"],
            "final_distance_median": result["plan_final_distance_median"],
        }
        for radius in protocol.radii:
            for kind in ("ever", "end"):
                key = f"{kind}_{radius_key(radius)}"
                row[key], row[f"{key}_ci"] = scores[key], scores[f"{key}_ci"]
        rows.append(row)
    plot_curve(rows, protocol.radii, RESULTS / "planning_vs_training.png")
    write_results("planning_vs_training", rows, {"run": args.run, "task": args.task, "episodes": args.episodes})


if __name__ == "__main__":
    main()
