"""Distillation probe (seed paper sec. 3.1.4): record Mode-2 episodes, train the Mode-1 policy on them, and
compare both on held-out episodes: success and ms per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.distill import demonstrations, distill, save_policy
from hjepa.agent.experience import Experience
from hjepa.agent.policy import Policy
from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import Actor, EpisodeResult, agent_actor, agents, run_episodes, task_env
from hjepa.eval.plan_models import remembered_experience
from hjepa.eval.plan_probe import PlanProbeOptions, run_probe
from hjepa.eval.protocol import Protocol
from hjepa.export import load_world_model
from hjepa.models import WorldModel
from hjepa.threads import one_torch_thread

HELD_OUT = 10_000  # evaluation seeds start here, far from the recording seeds


def run_distillation(
    model_path: str | Path | None,
    data: str | Path | None,
    env_id: str,
    task: TaskSpec,
    out: str | Path,
    episodes: int = 40,
    steps: int = 2000,
    eval_episodes: int = 20,
    seed: int = 0,
    world_model: WorldModel | None = None,
    experience: Experience | None = None,
    parallel: int = 1,
    hindsight: int = 16,
    corrections: int = 0,
    correction_steps: int | None = None,
) -> dict[str, Any]:
    """Distil the task's planner into a policy saved in `out`; returns (and writes `out/distill.json`) the
    held-out comparison of Mode-2 and Mode-1.

    `hindsight` also teaches the policy to reach the states each recorded episode visited up to that many steps
    later (`demonstrations`; 0: none). Each of `corrections` rounds then lets the policy act for `episodes` more
    episodes while the planner labels every state it visits, and refits on all labels (DAgger): the policy learns
    what to do where its own mistakes lead, which the planner's episodes never show. The labels weigh as much in
    all as the planner's own examples, however few they are: they are what the policy lacks. A correction episode
    lasts at most `correction_steps` steps (None: the task's `max_steps`): a policy that has not arrived by then is
    mostly stuck, and the states it repeats would cost a plan each and add little. `parallel` episodes are
    recorded at a time (`run_episodes`); the comparison runs one at a time, so its ms per step are those of one
    agent.
    """
    for flag, value in (("--episodes", episodes), ("--steps", steps), ("--eval_episodes", eval_episodes)):
        if value < 1:
            raise ValueError(f"{flag}: expected a positive integer, got {value}")
    if corrections < 0:
        raise ValueError(f"--corrections: expected a number of rounds >= 0, got {corrections}")
    if correction_steps is not None and correction_steps < 1:
        raise ValueError(f"--correction_steps: expected a positive number of steps, got {correction_steps}")
    out = Path(out)
    world_model = world_model or load_world_model(model_path)
    if experience is None:
        experience = remembered_experience(task, world_model, data)
    env = task_env(env_id, task.max_steps, data)  # as the evaluation's run_probe
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    configurator = Configurator(task, world_model.encoder.embed_dim, low, high, experience)
    workers = parallel if configurator.concurrent else 1
    teachers: dict[int, Agent] = {}  # one per episode, by seed

    def teacher(episode_seed: int) -> Agent:
        teachers[episode_seed] = Agent(world_model, configurator, seed=episode_seed)
        return teachers[episode_seed]

    def record(first: int, policy: Policy | None = None) -> list[EpisodeResult]:
        """Episodes `first`, ... with the planner acting, or the policy acting and the planner labelling."""
        actor = agent_actor if policy is None else lambda agent: labelled_actor(agent, policy)
        length = task.max_steps if policy is None else correction_steps or task.max_steps
        return run_episodes(
            lambda: task_env(env_id, length, data),
            agents(teacher, actor),
            range(first, first + episodes),
            workers,
        )

    with one_torch_thread():
        recorded = record(seed)
        planned = demonstrations(*(teachers[s] for s in sorted(teachers)), hindsight=hindsight)
        policy, losses = distill(planned, env, steps, seed=seed)
        corrected: list[Agent] = []
        for round_ in range(corrections):
            first = seed + episodes * (round_ + 1)
            record(first, policy)
            corrected += [teachers[s] for s in range(first, first + episodes)]
            labels = demonstrations(*corrected)  # the policy's actions were taken: no hindsight pairs
            examples = tuple(torch.cat(pair) for pair in zip(planned, labels))
            weights = torch.cat(
                [torch.full((len(planned[0]),), 1 / len(planned[0])), torch.full((len(labels[0]),), 1 / len(labels[0]))]
            )
            policy, losses = distill(examples, env, steps, seed=seed, weights=weights)
    save_policy(policy, out)
    summary = run_probe(
        PlanProbeOptions(
            model_path,
            data,
            env_id,
            task,
            out,
            Protocol(eval_episodes, seed + HELD_OUT),
            world_model=world_model,
            experience=experience,
            policy=policy,
        )
    )
    summary.update(
        {
            "distill_episodes": episodes,
            "distill_decisions": len(planned[0]),
            "distill_hindsight": hindsight,
            "distill_corrections": corrections,
            "distill_correction_steps": correction_steps or task.max_steps,
            "distill_corrected_decisions": sum(len(agent.demonstrations) for agent in corrected),
            "distill_recorded_success": sum(r.success for r in recorded) / episodes,
            "distill_loss_first": round(losses[0], 4),
            "distill_loss_last": round(losses[-1], 4),
        }
    )
    (out / "distill.json").write_text(json.dumps(summary, indent=2))
    return summary


def labelled_actor(teacher: Agent, policy: Policy) -> Actor:
    """The policy acts; the planner of `teacher` decides too, and its decision is kept as the label of the
    state the policy brought the agent to (DAgger)."""

    def act(observation: np.ndarray) -> tuple[np.ndarray, float]:
        decision = teacher.act(observation)
        with torch.no_grad():
            action = policy(teacher.demonstrations[-1].state, decision.subgoal)
        return action.numpy().astype(np.float32), decision.ms

    return act
