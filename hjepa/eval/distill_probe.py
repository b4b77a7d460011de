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
from hjepa.eval.plan_probe import (agent_actor, make_env, one_torch_thread, remembered_experience, run_episode,
                                  run_plan_probe, world_options)
from hjepa.eval.protocol import Protocol
from hjepa.export import load_world_model
from hjepa.models import WorldModel

HELD_OUT = 10_000  # evaluation seeds start here, far from the recording seeds


def run_distillation(model_path: str | Path | None, data: str | Path | None, env_id: str, task: TaskSpec,
                     out: str | Path, episodes: int = 40, steps: int = 2000, eval_episodes: int = 20, seed: int = 0,
                     world_model: WorldModel | None = None, experience: Experience | None = None) -> dict[str, Any]:
    """Distil the task's planner into a policy saved in `out`; returns (and writes `out/distill.json`) the
    held-out comparison of Mode-2 and Mode-1."""
    for flag, value in (("--episodes", episodes), ("--steps", steps), ("--eval-episodes", eval_episodes)):
        if value < 1:
            raise ValueError(f"{flag}: expected a positive integer, got {value}")
    out = Path(out)
    world_model = world_model or load_world_model(model_path)
    if experience is None:
        experience = remembered_experience(task, world_model, data)
    env = make_env(env_id, task.max_steps, **world_options(data, env_id))  # as the evaluation's run_plan_probe
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    with one_torch_thread():
        teacher = Agent(world_model, Configurator(task, world_model.encoder.embed_dim, low, high, experience), seed=seed)
        recorded = [run_episode(env, agent_actor(teacher), seed + i, teacher.reset) for i in range(episodes)]
        policy, losses = distill(teacher, env, steps, seed=seed)
    save_policy(policy, out)
    summary = run_plan_probe(model_path, data, env_id, task, out, Protocol(eval_episodes, seed + HELD_OUT),
                             world_model=world_model, experience=experience, policy=policy)
    summary.update({"distill_episodes": episodes, "distill_decisions": len(teacher.demonstrations),
                    "distill_recorded_success": sum(r.success for r in recorded) / episodes,
                    "distill_loss_first": round(losses[0], 4), "distill_loss_last": round(losses[-1], 4)})
    (out / "distill.json").write_text(json.dumps(summary, indent=2))
    return summary
