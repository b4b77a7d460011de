"""Planning probe (seed paper sec. 3.1.4): success rate of the agent in an environment, against a random policy.

The default protocol measures the world model like-for-like with the reference systems (PLDM, eb_jepa): the goal
is given as an image, the cost is computed from the learned representation only, and ground truth only scores
success (`hjepa.eval.protocol`): "ever reached" and "at the end" within each radius, with Wilson intervals.
Episodes use fixed seeds, so every actor sees the same starts and goals. Results: `plan.json`, a table,
`plan_trajectories.png` (paths over the world) and `plan_episode.gif` (one episode of the first actor).

This module runs the actors' episodes; what they are (`plan_variants`), the models they share (`plan_models`), their
scores (`plan_summary`) and the figures (`plan_figures`) each have their own module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.experience import Experience
from hjepa.agent.policy import Policy
from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import EpisodeResult, agents, random_actors, run_episodes, task_env
from hjepa.eval.plan_figures import write_figures
from hjepa.eval.plan_models import AgentModels, agent_models
from hjepa.eval.plan_summary import plan_summary, print_paired, print_table, summarize
from hjepa.eval.plan_variants import check_baselines, task_variants
from hjepa.eval.protocol import Protocol
from hjepa.export import load_world_model
from hjepa.models import WorldModel
from hjepa.models.level2 import Level2WorldModel
from hjepa.threads import one_torch_thread


@dataclass(frozen=True)
class PlanProbeOptions:
    """One planning probe: the model, the environment and task, the protocol, and what runs beside the task.

    Attributes:
        model_path: export folder or Lightning .ckpt of the world model (None when `world_model` is given).
        data: shards of the world the model learned: when they come from the same world, their world options set up
            the environment (the model plans in the world it learned); beyond them, read only by tasks that use
            recorded episodes (aids, see `TaskSpec.aids`).
        env_id: registered gymnasium id of the environment.
        task: the agent's task; `protocol.max_steps`, where set, replaces its `max_steps`.
        out: folder of `plan.json` and the figures, made only once the episodes have run.
        protocol: how episodes are run and scored.
        planners: planners also run on the task, at its horizon.
        baselines: task variants also run: `flat` (level 1 alone aims at the goal), `hierarchical` (level 2 sets level
            1's subgoals, sec. 4.7).
        random_baseline: also run a random policy.
        env_kwargs: environment options, over those of `data`.
        parallel: episodes run at a time, their rollouts priced together (`run_episodes`); each episode's agent is
            seeded by the episode, so the outcomes do not depend on it.
        world_model, level2, experience: models already in memory, used instead of those read from `model_path`
            and `data`.
        policy: a distilled Mode-1 policy, also run.
    """

    model_path: str | Path | None
    data: str | Path | None
    env_id: str
    task: TaskSpec
    out: Path
    protocol: Protocol = Protocol()
    planners: Sequence[str] = ()
    baselines: Sequence[str] = ()
    random_baseline: bool = True
    env_kwargs: dict[str, Any] | None = None
    parallel: int = 1
    world_model: WorldModel | None = None
    level2: Level2WorldModel | None = None
    experience: Experience | None = None
    policy: Policy | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "baselines", check_baselines(self.baselines))
        object.__setattr__(self, "planners", tuple(self.planners))
        object.__setattr__(self, "out", Path(self.out))
        if self.protocol.max_steps is not None:
            object.__setattr__(self, "task", self.task.replace(max_steps=self.protocol.max_steps))


def run_plan_probe(
    model_path: str | Path | None,
    data: str | Path | None,
    env_id: str,
    task: TaskSpec,
    out: str | Path,
    protocol: Protocol | None = None,
    **options: Any,
) -> dict[str, Any]:
    """`run_probe` with the options as arguments: these five and the protocol in order, any other field of
    `PlanProbeOptions` by keyword."""
    return run_probe(PlanProbeOptions(model_path, data, env_id, task, Path(out), protocol or Protocol(), **options))


def run_probe(options: PlanProbeOptions) -> dict[str, Any]:
    """Success of the task's agent vs a random policy under the protocol, in the same episodes as each variant of
    the task (`task_variants`) and a Mode-1 policy. Returns the flat summary (`plan_summary`), also written to
    `out/plan.json` beside the figures (`write_figures`), and prints the table."""
    with one_torch_thread():
        world_model = options.world_model or load_world_model(options.model_path)
        protocol, task = options.protocol, options.task

        def new_env() -> gymnasium.Env:  # the environment's success is "first within the smallest radius"
            return task_env(
                options.env_id, task.max_steps, options.data, options.env_kwargs, success_radius=protocol.radii[0]
            )

        env = new_env()
        size = env.observation_space.shape[0]
        if size != world_model.encoder.img_size:
            raise ValueError(
                f"{options.env_id} renders {size}x{size} images but the model at {options.model_path} "
                f"takes {world_model.encoder.img_size}x{world_model.encoder.img_size} (encoder.img_size)"
            )
        start = time.perf_counter()
        variants = task_variants(task, options.planners, options.baselines)
        models = agent_models(
            world_model, variants, options.model_path, options.data, options.level2, options.experience
        )
        actors, aliases = run_actors(options, variants, models, new_env, env.action_space)
        first = next(iter(variants))
        table = {name: summarize(results, protocol, protocol.seeds) for name, results in actors.items()}
        summary = plan_summary(task, options.env_id, protocol, table, first, options.baselines)
        summary["plan_seconds"] = round(time.perf_counter() - start, 1)
        options.out.mkdir(parents=True, exist_ok=True)  # only now: a run that fails leaves no folder behind
        write_figures(
            options.out, env, {k: v for k, v in actors.items() if k not in aliases}, first, world_model, protocol.seeds
        )
        (options.out / "plan.json").write_text(json.dumps(summary, indent=2))
        print_table(table, protocol)
        print_paired(summary.get("plan_paired", {}), first)
        return summary


def run_actors(
    options: PlanProbeOptions,
    variants: dict[str, TaskSpec],
    models: AgentModels,
    new_env: Callable[[], gymnasium.Env],
    action_space: gymnasium.spaces.Box,
) -> tuple[dict[str, list[EpisodeResult]], set[str]]:
    """The episodes of each variant's agent (those of the first recorded), then of the Mode-1 policy and the random
    policy where the options ask for them: name -> results, and the names of variants identical to an earlier one,
    which share its episodes (e.g. the hierarchical baseline of a hierarchical task)."""
    seeds, protocol = options.protocol.seeds, options.protocol
    low, high = action_space.low.tolist(), action_space.high.tolist()
    first = next(iter(variants))

    def configured(task: TaskSpec) -> Configurator:
        return Configurator(task, models.world_model.encoder.embed_dim, low, high, models.experience, models.level2)

    def episodes(configurator: Configurator, record: bool = False, **agent_options: Any) -> list[EpisodeResult]:
        make = agents(lambda seed: Agent(models.world_model, configurator, seed=seed, **agent_options))
        return run_episodes(
            new_env,
            make,
            seeds,
            options.parallel if configurator.concurrent else 1,
            seeds[0] if record else None,
            protocol.terminate,
        )

    actors: dict[str, list[EpisodeResult]] = {}
    aliases: set[str] = set()
    for name, variant in variants.items():
        same = next((other for other in actors if variants[other] == variant), None)
        if same is not None:
            actors[name] = actors[same]
            aliases.add(name)
            continue
        actors[name] = episodes(configured(variant), record=name == first)
    if options.policy is not None:
        actors["policy"] = episodes(configured(options.task.replace(mode="mode1")), policy=options.policy)
    if options.random_baseline:
        actors["random"] = run_episodes(new_env, random_actors, seeds, options.parallel, terminate=protocol.terminate)
    return actors, aliases
