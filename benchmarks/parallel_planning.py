"""Planning evaluation with episodes run several at a time against one after another: wall time of the same
episodes, and whether their success counts agree (each episode's agent is seeded by the episode).

`python -m benchmarks.parallel_planning --model runs/demo/export --data data/demo_two_rooms --episodes 30
--parallel 1 5 10` writes benchmarks/results/parallel_planning.json and prints the table; one torch thread
per agent, as `hjepa probe plan --parallel N` runs them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import write_results
from hjepa.agent.task import TaskSpec
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.protocol import Protocol, radius_key
from hjepa.export import load_world_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="export folder or Lightning .ckpt")
    parser.add_argument("--data", default=None, help="the shards it was trained on (world options)")
    parser.add_argument("--env", default="hjepa/TwoRooms-v0")
    parser.add_argument("--task", default="configs/tasks/reach.yaml")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--max_steps", type=int, default=None)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 5, 10], help="the first is the baseline")
    args = parser.parse_args()
    task, world_model = TaskSpec.from_yaml(args.task), load_world_model(args.model)
    protocol = Protocol(args.episodes, seed=1000, max_steps=args.max_steps)
    rows = []
    for parallel in args.parallel:
        summary = run_plan_probe(
            args.model,
            args.data,
            args.env,
            task,
            Path("runs/bench_parallel_planning"),
            protocol,
            world_model=world_model,
            random_baseline=False,
            parallel=parallel,
        )
        rows.append(
            {
                "parallel": parallel,
                "seconds": summary["plan_seconds"],
                "success": summary["plan_success"],
                **{f"ever_{radius_key(r)}": summary[f"plan_ever_{radius_key(r)}"] for r in protocol.radii},
                "ms_per_step": summary["plan_ms_per_step"],
            }
        )
    for row in rows:
        row["speedup"] = round(rows[0]["seconds"] / row["seconds"], 2)
        row["same_success"] = row["success"] == rows[0]["success"]
    write_results("parallel_planning", rows, {"model": args.model, "task": args.task, "episodes": args.episodes})


if __name__ == "__main__":
    main()
