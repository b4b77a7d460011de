"""PushT probe (seed paper sec. 3.1.4, on an external environment): record PushT episodes into shards, pretrain
a level-1 JEPA on them with `hjepa fit`, then plan toward the goal image and compare with a random policy.

Success is gym-pusht's own rule (the block covers more than 95% of its goal area), rare at small scale, so
the final coverage and block-to-goal distance are reported too, beside their values at the start. Episodes
use fixed seeds, so both actors face the same starts. The task is the experiment `configs/probes/pusht.yaml`.
Needs the optional extra: pip install 'hjepa[envs]'.

Small run, from the repository root (2 shared CPU cores, about 5 minutes):
  python -m hjepa.eval.pusht_probe --out runs/pusht
Larger, pretraining on a GPU with the ViT config (planning runs on the CPU, as in every hjepa planning probe):
  python -m hjepa.eval.pusht_probe --out runs/pusht_gpu --base_config configs/base_gpu.yaml --episodes 4000
      --frames 64 --generate_workers 16 --steps 20000 --clip_frames 16 --batch_size 64 --workers 8
      --plan_episodes 20 --max_steps 200 --threads 8
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
import yaml

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.task import TaskSpec
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.envs.pusht import ARENA, GOAL_AGENT, MAX_ACTION, PUSHT_ID
from hjepa.eval.episodes import agent_actor, random_actor, run_episode, task_env
from hjepa.eval.experiment import PROBES, read_experiment
from hjepa.eval.report import print_results
from hjepa.export import load_world_model
from hjepa.models import WorldModel
from hjepa.threads import one_torch_thread
from hjepa.train.run_config import pretrain

EXPERIMENT = PROBES / "pusht.yaml"
HELD_OUT = 10_000  # planning seeds start here, far from the recording seeds


@dataclass(frozen=True)
class PushTExperiment:
    """What the PushT probe plans with (configs/probes/pusht.yaml).

    Attributes:
        task: the agent's task as in `configs/tasks` (`TaskSpec` fields); `--max_steps` sets its `max_steps`.
    """

    task: dict[str, Any]

    def __post_init__(self) -> None:
        TaskSpec.from_dict(self.task)


TASK = read_experiment(EXPERIMENT, PushTExperiment).task
"""The shipped experiment's task, as plain data."""


def pretrain_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """What the PushT run changes in the base `hjepa fit` config (configs/tiny_cpu.yaml by default)."""
    base = yaml.safe_load(Path(args.base_config).read_text())
    trainer = {
        "max_steps": args.steps,
        "enable_progress_bar": False,
        "val_check_interval": min(base["trainer"].get("val_check_interval", args.steps), args.steps),
    }
    if args.accelerator is not None:
        trainer["accelerator"] = args.accelerator
    return {
        "seed_everything": args.seed,
        "trainer": trainer,
        "model": {
            "encoder": {"img_size": args.image_size},
            "action_dim": 2,
            "predictor": {"action_scale": 1.0 / MAX_ACTION},
        },  # actions of at most MAX_ACTION -> O(1)
        "data": {
            "num_frames": args.clip_frames,
            "batch_size": args.batch_size,
            "num_workers": args.workers,
            "val_fraction": 0.1,
        },
    }


def evaluate(
    env: gymnasium.Env, make_actor: Callable[[int], tuple[Callable, Callable | None]], seeds: list[int]
) -> dict[str, Any]:
    """Run one actor from each seed. Means at the start and the end of the episodes: coverage, block-to-goal
    distance and agent-to-`GOAL_AGENT` distance (where the goal image shows the agent: an actor that only
    matches the goal image's agent moves that one, not the block); success rate and planning ms per step.
    `make_actor(seed)` -> (actor, start) as `run_episode` takes them."""
    goal_agent = np.array(GOAL_AGENT) / ARENA
    rows = []
    for seed in seeds:
        _, info = env.reset(seed=seed)
        actor, start = make_actor(seed)
        result = run_episode(env, actor, seed, start)
        agent_start, agent_end = np.linalg.norm(result.positions[[0, -1], :2] - goal_agent, axis=1)
        rows.append(
            {
                "success": result.success,
                "coverage_start": info["coverage"],
                "coverage_end": env.unwrapped.coverage(),
                "block_distance_start": info["block_distance"],
                "block_distance_end": env.unwrapped.block_distance(),
                "agent_distance_start": agent_start,
                "agent_distance_end": agent_end,
                "ms_per_step": np.mean(result.ms) if result.ms else 0.0,
            }
        )
    return {key: round(float(np.mean([row[key] for row in rows])), 4) for key in rows[0]}


def plan_vs_random(world_model: WorldModel, task: TaskSpec, episodes: int, seed: int) -> dict[str, dict[str, Any]]:
    """The task's agent on the frozen world model and a random policy from the same seeds."""
    env = task_env(PUSHT_ID, task.max_steps)
    size = env.observation_space.shape[0]
    if size != world_model.encoder.img_size:
        raise ValueError(f"{PUSHT_ID} renders {size}x{size} images but the model takes {world_model.encoder.img_size}")
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    seeds = [seed + HELD_OUT + i for i in range(episodes)]

    def planner(episode_seed: int) -> tuple[Callable, Callable]:
        agent = Agent(world_model, Configurator(task, world_model.encoder.embed_dim, low, high), seed=episode_seed)
        return agent_actor(agent), agent.reset

    with one_torch_thread():
        return {
            task.planner["name"]: evaluate(env, planner, seeds),
            "random": evaluate(env, lambda s: (random_actor(env, s), None), seeds),
        }


def run_pusht_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Record, pretrain, plan with the task of the experiment at `args.experiment`; returns the summary also written
    to `args.out/pusht.json`."""
    task = TaskSpec.from_dict({**read_experiment(args.experiment, PushTExperiment).task, "max_steps": args.max_steps})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = out / "data"
    settings = GenerateSettings(
        PUSHT_ID, args.episodes, args.frames, args.seed, args.shard_size, image_size=args.image_size
    )
    report = generate_shards(settings, data, workers=args.generate_workers, progress=False)
    trained = pretrain(data, args.base_config, pretrain_overrides(args), out)
    table = plan_vs_random(load_world_model(out / "export"), task, args.plan_episodes, args.seed)
    summary = {
        "pusht_episodes": args.episodes,
        "pusht_frames": args.frames,
        "pusht_image_size": args.image_size,
        "pusht_generate_seconds": round(report.seconds, 1),
        **trained,
        "plan_episodes": args.plan_episodes,
        "plan_max_steps": args.max_steps,
        "plan_task": task.as_dict(),
        "plan_table": table,
        "seconds_total": round(time.perf_counter() - start, 1),
    }
    (out / "pusht.json").write_text(json.dumps(summary, indent=2))
    print_table(table)
    return summary


def print_table(table: dict[str, dict[str, Any]]) -> None:
    """One row per actor: success, then coverage and distances as start -> end, ms per step."""
    measures = ("coverage", "block_distance", "agent_distance")
    print_results(
        table,
        {
            "success": "success",
            **{
                f"{m} start->end": lambda row, m=m: f"{row[m + '_start']:.3f} -> {row[m + '_end']:.3f}"
                for m in measures
            },
            "ms/step": "ms_per_step",
        },
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--out", default="runs/pusht")
    parser.add_argument("--experiment", default=EXPERIMENT, help="the probe's YAML (the task)")
    parser.add_argument("--episodes", type=int, default=128, help="recorded exploration episodes")
    parser.add_argument("--frames", type=int, default=32, help="frames per recorded episode")
    parser.add_argument("--shard_size", type=int, default=16)
    parser.add_argument("--generate_workers", type=int, default=1, help="processes recording shards in parallel")
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--base_config", default="configs/tiny_cpu.yaml", help="hjepa fit config the run starts from")
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps")
    parser.add_argument("--clip_frames", type=int, default=8, help="frames per training clip")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="data loader processes")
    parser.add_argument("--accelerator", default=None, help="override the base config's trainer.accelerator")
    parser.add_argument("--plan_episodes", type=int, default=8)
    parser.add_argument("--max_steps", type=int, default=100, help="steps per planning episode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared machines: keep it low)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    run_pusht_probe(args)


if __name__ == "__main__":
    main()
