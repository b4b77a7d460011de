"""Distillation probe (seed paper sec. 3.1.4): record Mode-2 episodes, train the Mode-1 policy on them, and
compare both on held-out episodes: success and ms per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.distill import distill, save_policy
from hjepa.agent.experience import Experience
from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import agents, run_episodes, task_env
from hjepa.eval.plan_probe import remembered_experience, run_plan_probe
from hjepa.eval.protocol import Protocol
from hjepa.export import load_world_model
from hjepa.models import WorldModel
from hjepa.threads import one_torch_thread

HELD_OUT = 10_000  # evaluation seeds start here, far from the recording seeds


def run_distillation(model_path: str | Path | None, data: str | Path | None, env_id: str, task: TaskSpec,
                     out: str | Path, episodes: int = 40, steps: int = 2000, eval_episodes: int = 20, seed: int = 0,
                     world_model: WorldModel | None = None, experience: Experience | None = None,
                     parallel: int = 1, hindsight: bool = True) -> dict[str, Any]:
    """Distil the task's planner into a policy saved in `out`; returns (and writes `out/distill.json`) the
    held-out comparison of Mode-2 and Mode-1. `parallel` recorded episodes run at a time (`run_episodes`); the
    comparison runs one at a time, so its ms per step are those of one agent. `hindsight` also teaches the policy
    to reach the states each episode visited (`demonstrations`)."""
    for flag, value in (("--episodes", episodes), ("--steps", steps), ("--eval-episodes", eval_episodes)):
        if value < 1:
            raise ValueError(f"{flag}: expected a positive integer, got {value}")
    out = Path(out)
    world_model = world_model or load_world_model(model_path)
    if experience is None:
        experience = remembered_experience(task, world_model, data)
    env = task_env(env_id, task.max_steps, data)  # as the evaluation's run_plan_probe
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    configurator = Configurator(task, world_model.encoder.embed_dim, low, high, experience)
    seeds = [seed + i for i in range(episodes)]
    teachers: dict[int, Agent] = {}

    def teacher(episode_seed: int) -> Agent:
        teachers[episode_seed] = Agent(world_model, configurator, seed=episode_seed)
        return teachers[episode_seed]

    with one_torch_thread():
        recorded = run_episodes(lambda: task_env(env_id, task.max_steps, data), agents(teacher), seeds,
                                parallel if configurator.concurrent else 1)
        policy, losses = distill([teachers[s] for s in seeds], env, steps, seed=seed, hindsight=hindsight)
    save_policy(policy, out)
    summary = run_plan_probe(model_path, data, env_id, task, out, Protocol(eval_episodes, seed + HELD_OUT),
                             world_model=world_model, experience=experience, policy=policy)
    decisions = sum(len(t.demonstrations) for t in teachers.values())
    summary.update({"distill_episodes": episodes, "distill_decisions": decisions, "distill_hindsight": hindsight,
                    "distill_recorded_success": sum(r.success for r in recorded) / episodes,
                    "distill_loss_first": round(losses[0], 4), "distill_loss_last": round(losses[-1], 4)})
    (out / "distill.json").write_text(json.dumps(summary, indent=2))
    return summary
