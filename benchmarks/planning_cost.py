"""Mode-2 planning cost against search size (seed paper sec. 3.1.4), so a user can choose a horizon and population
for a laptop or a GPU: ms per plan (one MPC step) and peak memory of CEM and MPPI over horizon x population, the
share of that time spent in the world model's rollouts (the limit a planner cannot beat), and the batched search
against a naive loop that asks the world model for one candidate per call.

Each setting runs in a fresh process, so its peak memory is its own: on CPU the rise of the resident set (VmHWM
after the plans over VmRSS before them, peak reset through /proc/self/clear_refs), on CUDA the rise of
`torch.cuda.max_memory_allocated`. Beside it, `states_mib` is the predicted states (N, H, D) in float32, the one
tensor every rollout must hold.

`python -m benchmarks.planning_cost --model runs/two_rooms_cpu/checkpoints/last.ckpt [--device cuda]` writes
benchmarks/results/planning_cost.json and planning_cost.png; one torch thread on CPU, as the planning probe runs.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch
from matplotlib.figure import Figure

from benchmarks.common import RESULTS, write_results
from hjepa.agent.planners import build_planner
from hjepa.agent.task import TaskSpec
from hjepa.export import load_world_model

BOX = {"action_low": [-0.05, -0.05], "action_high": [0.05, 0.05]}
TASK = TaskSpec.from_yaml("configs/tasks/reach.yaml").planner  # the like-for-like task's CEM
ITERATIONS, NOISE_BETA = TASK["iterations"], TASK.get("noise_beta", 0.0)
SEARCH = {  # that CEM at each population (elites an eighth of it), and MPPI with the same iterations and noise
    "cem": lambda n: {"population": n, "elites": max(4, n // 8), "iterations": ITERATIONS, "noise_beta": NOISE_BETA},
    "mppi": lambda n: {"population": n, "iterations": ITERATIONS, "temperature": 0.1, "noise_beta": NOISE_BETA},
}


class OneAtATime(torch.nn.Module):
    """The naive baseline: the same world model asked for one candidate per call."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def unroll(self, s0, actions):
        return torch.cat([self.model.unroll(s0[i : i + 1], actions[i : i + 1]) for i in range(len(actions))])


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _resident_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: peak since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}: peak memory needs Linux")


def _reset_peak(device: str) -> int:
    """Starts a peak-memory window; returns the bytes in use at its start."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so earlier plans do not hide this one's peak
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    return _resident_kib("VmRSS") * 1024


def _peak(device: str) -> int:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device)
    return _resident_kib("VmHWM") * 1024


def _timed(fn, device: str, repeats: int) -> float:
    """Median wall ms of fn() over `repeats` runs."""
    times = []
    for seed in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn(seed)
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _setup(model_path: str, device: str):
    """The world model on `device` with one torch thread, a start state (D,) and the summed squared distance of a
    rollout to a goal state: the shape of the like-for-like cost."""
    torch.set_num_threads(1)
    model = load_world_model(model_path).to(device)
    g = torch.Generator().manual_seed(0)
    state, goal = torch.randn(2, model.encoder.embed_dim, generator=g).to(device)
    return model, state, lambda states, actions: (states - goal).pow(2).sum(-1).sum(-1)


def measure(model_path: str, planner: str, horizon: int, population: int, device: str, repeats: int) -> dict:
    """One setting, in its own process: ms per plan, ms of the rollouts it needs, peak memory over the start."""
    model, state, cost = _setup(model_path, device)
    dim = model.encoder.embed_dim
    search = build_planner(planner, horizon=horizon, **BOX, **SEARCH[planner](population))
    search.plan(state, cost, model, horizon=2, generator=0)  # first-call set-up outside the window
    start_bytes = _reset_peak(device)
    plan_ms = _timed(lambda seed: search.plan(state, cost, model, generator=seed), device, repeats)
    peak = _peak(device) - start_bytes
    actions = torch.zeros(population, horizon, len(BOX["action_low"]), device=device)
    with torch.no_grad():
        unroll_ms = _timed(lambda _: model.unroll(state.expand(population, -1), actions), device, repeats)
    return {
        "planner": planner,
        "horizon": horizon,
        "population": population,
        "ms_per_plan": round(plan_ms, 1),
        "model_share": round(ITERATIONS * unroll_ms / plan_ms, 2),
        "peak_mib": round(peak / 2**20, 1),
        "states_mib": round(population * horizon * dim * 4 / 2**20, 2),
    }


def naive_vs_batched(model_path: str, device: str, horizon: int = 32, population: int = 256) -> dict:
    """The like-for-like CEM priced with one world-model call per iteration against one call per candidate."""
    model, state, cost = _setup(model_path, device)
    search = build_planner("cem", horizon=horizon, **BOX, **SEARCH["cem"](population))
    batched = _timed(lambda seed: search.plan(state, cost, model, generator=seed), device, 3)
    naive = _timed(lambda seed: search.plan(state, cost, OneAtATime(model), generator=seed), device, 1)
    return {
        "planner": "cem (one candidate per call)",
        "horizon": horizon,
        "population": population,
        "ms_per_plan": round(naive, 1),
        "batched_speedup": round(naive / batched, 1),
    }


def plot(rows: list[dict], path: Path) -> Path:
    """ms per plan against population, one line per horizon and a panel per planner, and peak memory."""
    fig = Figure(figsize=(11, 3.5), layout="constrained")
    axes = fig.subplots(1, len(SEARCH) + 1)
    for ax, planner in zip(axes, SEARCH, strict=False):
        for horizon in sorted({r["horizon"] for r in rows if r["planner"] == planner}):
            points = [r for r in rows if r["planner"] == planner and r["horizon"] == horizon]
            ax.plot(
                [r["population"] for r in points], [r["ms_per_plan"] for r in points], marker="o", label=f"H {horizon}"
            )
        ax.set(xlabel="population", ylabel="ms per plan", title=f"{planner}, {ITERATIONS} iterations", xscale="log")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    memory = axes[-1]
    for planner, marker in zip(SEARCH, "os", strict=False):
        points = [r for r in rows if r["planner"] == planner]
        memory.plot(
            [r["population"] * r["horizon"] for r in points],
            [max(r["peak_mib"], 0.1) for r in points],
            marker=marker,
            linestyle="",
            label=f"{planner} peak",
        )
    memory.set(xlabel="population x horizon", ylabel="peak MiB over the start", xscale="log", yscale="log")
    memory.legend(fontsize=7)
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="export folder or Lightning .ckpt")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--horizons", type=int, nargs="+", default=[8, 16, 32, 64, 96])
    parser.add_argument("--populations", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3, help="plans per setting; the median is reported")
    args = parser.parse_args()
    rows = []
    context = get_context("spawn")
    settings = [(p, h, n) for p in SEARCH for h in args.horizons for n in args.populations]
    for planner, horizon, population in settings:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            rows.append(
                pool.submit(measure, args.model, planner, horizon, population, args.device, args.repeats).result()
            )
        print(rows[-1], flush=True)
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        rows.append(pool.submit(naive_vs_batched, args.model, args.device).result())
    plot(rows[:-1], RESULTS / "planning_cost.png")
    extra = {"model": args.model, "device": args.device, "iterations": ITERATIONS, "noise_beta": NOISE_BETA}
    write_results("planning_cost", rows, extra)


if __name__ == "__main__":
    main()
