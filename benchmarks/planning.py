"""Mode-2 planning cost: ms per plan for each planner against horizon and population, the batched search
against a naive one-candidate-per-call loop, and planning success against compute on TwoRooms.

Run after the demo (it plans with the demo's exported model and remembers its shards):
`python -m benchmarks.planning [--model runs/demo/export --data data/demo_two_rooms --episodes 10]`.
Writes benchmarks/results/planning.json and planning_success_vs_compute.png; one torch thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from benchmarks.common import RESULTS, write_results
from hjepa.agent.experience import record_experience
from hjepa.agent.planners import build_planner
from hjepa.agent.task import TaskSpec
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.export import load_world_model

BOX = {"action_low": [-0.05, -0.05], "action_high": [0.05, 0.05]}
SEARCH = {  # how each planner spends a "population" of candidates per iteration
    "cem": lambda n: {"population": n, "elites": max(4, n // 8), "iterations": 5},
    "mppi": lambda n: {"population": n, "iterations": 5, "temperature": 0.1},
    "gradient": lambda n: {"restarts": max(1, n // 32), "iterations": 5},
    "discrete": lambda n: {"actions_per_dim": 3, "beam_width": max(1, n // 9)},
}


def ms_per_plan(planner, state, cost, model, repeats: int = 3) -> float:
    """Median wall time of one plan (ms)."""
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        planner.plan(state, cost, model, generator=seed)
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


class OneAtATime(torch.nn.Module):
    """The naive baseline: the same world model asked for one candidate per call."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def unroll(self, s0, actions):
        return torch.cat([self.model.unroll(s0[i:i + 1], actions[i:i + 1]) for i in range(len(actions))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="runs/demo/export")
    parser.add_argument("--data", default="data/demo_two_rooms")
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_world_model(args.model)
    g = torch.Generator().manual_seed(0)
    state, goal = torch.randn(model.encoder.embed_dim, generator=g), torch.randn(model.encoder.embed_dim, generator=g)
    cost = lambda states, actions: (states - goal).pow(2).sum(-1).sum(-1)  # noqa: E731
    rows = []
    for name, search in SEARCH.items():
        for horizon in (4, 8, 16):
            for population in (64, 128, 256):
                planner = build_planner(name, horizon=horizon, **BOX, **search(population))
                rows.append({"planner": name, "horizon": horizon, "population": population,
                             "ms_per_plan": round(ms_per_plan(planner, state, cost, model), 1)})
    planner = build_planner("cem", horizon=8, **BOX, **SEARCH["cem"](128))
    batched = ms_per_plan(planner, state, cost, model)
    naive = ms_per_plan(planner, state, cost, OneAtATime(model), repeats=1)
    rows.append({"planner": "cem (one candidate per call)", "horizon": 8, "population": 128,
                 "ms_per_plan": round(naive, 1), "batched_speedup": round(naive / batched, 1)})

    experience = record_experience(model, args.data, 512)
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml")
    variants = {f"cem pop {n} x {it} it": task.replace(planner={**task.planner, "population": n, "elites": max(4, n // 8),
                                                               "iterations": it})
                for n, it in ((16, 2), (32, 3), (64, 5), (128, 5), (256, 8))}
    # Ablations at the default search: no subgoals (aim at the goal), and goal distance over the whole state.
    variants["cem, no subgoals"] = task.replace(subgoals={"kind": "none"}, max_steps=100)
    variants["cem, representation metric"] = task.replace(goal_metric="representation", max_steps=100)
    curve = []
    for label, variant in variants.items():
        result = run_plan_probe(args.model, args.data, "hjepa/TwoRooms-v0", variant, Path("runs/bench_planning"),
                                episodes=args.episodes, seed=1000, world_model=model, experience=experience,
                                random_baseline=False)
        curve.append({"planner": label, "success": result["plan_success"], "ms_per_step": result["plan_ms_per_step"]})
    plot_curve(curve, RESULTS / "planning_success_vs_compute.png")
    write_results("planning", rows + curve, {"model": args.model, "episodes": args.episodes})


def plot_curve(curve: list[dict], path: Path) -> Path:
    """Success rate against planning ms per step."""
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    sweep = [c for c in curve if " x " in c["planner"]]
    ax.plot([c["ms_per_step"] for c in sweep], [c["success"] for c in sweep], marker="o", label="CEM + landmarks")
    for c in curve:
        if " x " not in c["planner"]:
            ax.plot(c["ms_per_step"], c["success"], marker="s", linestyle="", label=c["planner"])
    ax.legend(fontsize=7)
    for c in sweep:
        ax.annotate(c["planner"].removeprefix("cem "), (c["ms_per_step"], c["success"]), fontsize=7)
    ax.set(xlabel="planning ms per step (1 thread)", ylabel="success rate", title="TwoRooms planning",
           xscale="log", ylim=(-0.05, 1.05))
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()
