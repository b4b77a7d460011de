"""Planning probe (seed paper sec. 3.1.4): success rate of the agent in an environment, against a random policy.

The default protocol measures the world model like-for-like with the reference systems (PLDM, eb_jepa): the goal
is given as an image, the cost is computed from the learned representation only, and ground truth only scores
success (`hjepa.eval.protocol`): "ever reached" and "at the end" within each radius, with Wilson intervals.
Episodes use fixed seeds, so every actor sees the same starts and goals. Results: `plan.json`, a table,
`plan_trajectories.png` (paths over the world) and `plan_episode.gif` (one episode of the first actor).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator, experience_fields, needs_experience
from hjepa.agent.experience import Experience, record_experience
from hjepa.agent.policy import Policy
from hjepa.agent.task import TaskSpec
from hjepa.envs.rooms import RoomsWorld
from hjepa.eval.cost_map import plot_goal_distance_map
from hjepa.eval.episodes import EpisodeResult, agents, random_actors, run_episodes, task_env
from hjepa.eval.protocol import Protocol, first_reached, radius_key, score_distances, wilson_interval
from hjepa.eval.report import format_table
from hjepa.export import load_world_model, model_levels
from hjepa.models import WorldModel
from hjepa.models.level2 import Level2WorldModel
from hjepa.threads import one_torch_thread


def summarize(results: Sequence[EpisodeResult], protocol: Protocol = Protocol()) -> dict[str, Any]:
    """Success rate (ever reached within the protocol's `success_radius`, or the environment's own success where it
    reports no distance) with its Wilson interval, mean steps to success, planning ms per step and per episode, and,
    where the environment reports distances, the protocol's scores at each radius (`score_distances`)."""
    distances = [r.distances for r in results]
    scored = all(d is not None for d in distances)
    if scored:
        firsts = [first_reached(d, protocol.success_radius) for d in distances]
    else:
        firsts = [r.steps if r.success else None for r in results]
    wins = [f for f in firsts if f is not None]
    ms = [m for r in results for m in r.ms]
    row: dict[str, Any] = {
        "success": round(len(wins) / len(results), 4),
        "success_ci": wilson_interval(len(wins), len(results)),
        "steps": round(float(np.mean(wins)), 1) if wins else None,
        "ms_per_step": round(float(np.mean(ms)), 2) if ms else 0.0,
        "ms_per_episode": round(float(np.mean([sum(r.ms) for r in results])), 1),
    }
    if scored:
        row.update(score_distances(distances, protocol.radii))
    return row


def plot_trajectories(results: dict[str, list[EpisodeResult]], background: np.ndarray, goals: list[np.ndarray],
                      path: Path) -> Path:
    """One panel per actor: every episode's path (start o, goal *) over the world's empty frame (the first
    episode's, where each episode has its own door); paths and goals are the first two state coordinates (the
    agent's position), in the unit square."""
    fig = Figure(figsize=(3.2 * len(results), 3.4), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (name, episodes) in zip(axes, results.items()):
        ax.imshow(background, extent=(0, 1, 1, 0))
        for i, (episode, goal) in enumerate(zip(episodes, goals)):
            colour = f"C{i % 10}"
            ax.plot(episode.positions[:, 0], episode.positions[:, 1], color=colour, linewidth=1)
            ax.plot(*episode.positions[0, :2], "o", color=colour, markersize=3)
            ax.plot(*goal[:2], "*", color=colour, markersize=7, markeredgecolor="white", markeredgewidth=0.4)
        wins = sum(e.success for e in episodes)
        ax.set_title(f"{name}: {wins}/{len(episodes)}", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(1, 0)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=100)
    return path


def save_gif(frames: list[np.ndarray], path: Path, fps: int = 10, scale: int = 4) -> Path:
    """Frames (H, W, 3) uint8 -> an upscaled looping GIF."""
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def run_plan_probe(model_path: str | Path, data: str | Path | None, env_id: str, task: TaskSpec, out: str | Path,
                   protocol: Protocol | None = None, planners: Sequence[str] = (),
                   experience_episodes: int | None = None, world_model: WorldModel | None = None,
                   experience: Experience | None = None, random_baseline: bool = True, policy: Policy | None = None,
                   baselines: Sequence[str] = (), env_kwargs: dict[str, Any] | None = None,
                   level2: Level2WorldModel | None = None, parallel: int = 1) -> dict[str, Any]:
    """Success of the task's agent vs a random policy under `protocol`, in the same episodes as: the task with each
    planner in `planners`, each of `baselines` (`flat`: level 1 alone aiming at the goal; `hierarchical`: level 2
    sets level 1's subgoals, sec. 4.7) and a Mode-1 `policy`.

    The environment gets the world options of the shards at `data` when they come from the same world (the model
    plans in the world it learned), updated with `env_kwargs`. `world_model`, `level2` and `experience` default to
    those read from `model_path` and `data`; beyond its world options, `data` is read only by tasks that use
    recorded episodes (aids, see `TaskSpec.aids`). Returns the flat summary also written to `out/plan.json`.
    `parallel` episodes run at a time with their rollouts priced together (`run_episodes`); each episode's agent
    is seeded by the episode, so the outcomes do not depend on it.
    """
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"--baselines: unknown baseline(s) {unknown}; choose from {list(BASELINES)}")
    protocol = protocol or Protocol()
    if protocol.max_steps is not None:
        task = task.replace(max_steps=protocol.max_steps)
    with one_torch_thread():
        return _run_plan_probe(model_path, data, env_id, task, Path(out), protocol, planners, experience_episodes,
                               world_model, experience, random_baseline, policy, baselines, env_kwargs, level2,
                               parallel)


BASELINES = ("flat", "hierarchical")
SUMMARY_NAMES = {"flat": "plan_success_flat", "hierarchical": "plan_success_hier"}


def baseline(task: TaskSpec, name: str) -> TaskSpec:
    """The task planned flat (level 1 aims at the goal) or hierarchically (level 2 sets level 1's subgoals, at the
    task's `subgoal_distance` weight or 1)."""
    if name == "flat":
        return task.replace(levels=[1], subgoals={"kind": "none"})
    return task.replace(levels=[2, 1], subgoals={"kind": "none"},
                        cost={**task.cost, "subgoal_distance": task.cost.get("subgoal_distance") or 1.0})


def label(task: TaskSpec) -> str:
    """A task variant's name in tables: its planner, its levels when it plans on two, and its aids."""
    aids = f" [aided: {', '.join(task.aids)}]" if task.aids else ""
    return task.planner["name"] + (", levels [2, 1]" if task.levels == [2, 1] else "") + aids


def default_baselines(model_path: str | Path) -> list[str]:
    """Baselines a checkpoint supports: flat, and hierarchical when it has level 2."""
    return ["flat", "hierarchical"] if 2 in model_levels(model_path) else ["flat"]


def load_level2(model_path: str | Path, field: str) -> Level2WorldModel:
    """Level 2 of the exported model, or an error naming `field` and how to get one."""
    levels = model_levels(model_path)
    if 2 not in levels:
        raise ValueError(f"{field}: hierarchical planning (levels [2, 1]) needs level 2, but {model_path} has levels "
                         f"{levels}; train it (hjepa fit --config configs/level2_tiny_cpu.yaml "
                         f"--model.level1_checkpoint {model_path}), export both levels, or plan with levels: [1]")
    model = load_world_model(model_path, level=2)
    assert isinstance(model, Level2WorldModel)
    return model


def remembered_experience(task: TaskSpec, world_model: WorldModel, data: str | Path | None,
                          episodes: int | None = None) -> Experience | None:
    """The recorded episodes a task reads (see `experience_fields`), encoded once; None if it reads none."""
    if not needs_experience(task):
        return None
    if data is None:
        raise ValueError(f"task {task.name!r}: {', '.join(experience_fields(task))} read(s) recorded episodes: give "
                         "the shards to remember with --data, or plan like-for-like without them "
                         "(configs/tasks/reach.yaml)")
    return record_experience(world_model, data, episodes or task.subgoals.get("episodes", 256))


def _run_plan_probe(model_path: str | Path, data: str | Path | None, env_id: str, task: TaskSpec, out: Path,
                    protocol: Protocol, planners: Sequence[str], experience_episodes: int | None,
                    world_model: WorldModel | None, experience: Experience | None,
                    random_baseline: bool, policy: Policy | None, baselines: Sequence[str],
                    env_kwargs: dict[str, Any] | None, level2: Level2WorldModel | None,
                    parallel: int) -> dict[str, Any]:
    world_model = world_model or load_world_model(model_path)

    def new_env() -> gymnasium.Env:  # the environment's success is "first within the smallest radius"
        return task_env(env_id, task.max_steps, data, env_kwargs, success_radius=protocol.radii[0])

    env = new_env()
    size = env.observation_space.shape[0]
    if size != world_model.encoder.img_size:
        raise ValueError(f"{env_id} renders {size}x{size} images but the model at {model_path} takes "
                         f"{world_model.encoder.img_size}x{world_model.encoder.img_size} (encoder.img_size)")
    start = time.perf_counter()
    variants = {label(task): task}
    for name in planners:
        variant = task.replace(planner={"name": name, "horizon": task.planner["horizon"]})
        variants.setdefault(label(variant), variant)
    variants.update({name: baseline(task, name) for name in baselines})
    if level2 is None and any(v.levels == [2, 1] for v in variants.values()):
        level2 = load_level2(model_path, "--baselines hierarchical" if task.levels == [1] else "task.levels")
    if experience is None:
        readers = [v for v in variants.values() if needs_experience(v)]
        experience = remembered_experience(readers[0], world_model, data, experience_episodes) if readers else None
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    seeds = protocol.seeds
    actors: dict[str, list[EpisodeResult]] = {}
    first = next(iter(variants))
    aliases: dict[str, str] = {}  # variants identical to an earlier one share its episodes

    def episodes(configurator: Configurator, record: bool = False, **agent_options: Any) -> list[EpisodeResult]:
        make = agents(lambda seed: Agent(world_model, configurator, seed=seed, **agent_options))
        return run_episodes(new_env, make, seeds, parallel if configurator.concurrent else 1,
                            seeds[0] if record else None, protocol.terminate)

    for name, variant in variants.items():
        same = next((other for other in actors if variants[other] == variant), None)
        if same is not None:  # e.g. the hierarchical baseline of a hierarchical task: the same episodes
            actors[name], aliases[name] = actors[same], same
            continue
        configurator = Configurator(variant, world_model.encoder.embed_dim, low, high, experience, level2)
        actors[name] = episodes(configurator, record=name == first)
    if policy is not None:
        configurator = Configurator(task.replace(mode="mode1"), world_model.encoder.embed_dim, low, high, experience,
                                    level2)
        actors["policy"] = episodes(configurator, policy=policy)
    if random_baseline:
        actors["random"] = run_episodes(new_env, random_actors, seeds, parallel, terminate=protocol.terminate)
    goals = []
    for s in reversed(seeds):  # the first episode last: the frame under the paths and the cost map show its world
        _, info = env.reset(seed=s)
        goals.insert(0, info["goal_state"])
    # the world's empty frame under the paths, or the goal image for environments that are not hjepa worlds
    background = getattr(getattr(env.unwrapped, "world", None), "background", info["goal_image"])
    table = {name: summarize(results, protocol) for name, results in actors.items()}
    summary = plan_summary(task, env_id, protocol, table, first)
    summary.update({SUMMARY_NAMES[name]: table[name]["success"] for name in baselines})
    summary["plan_seconds"] = round(time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)  # only now: a run that fails leaves no folder behind
    plot_trajectories({k: v for k, v in actors.items() if k not in aliases}, background, goals,
                      out / "plan_trajectories.png")
    save_gif(actors[first][0].frames, out / "plan_episode.gif", fps=env.metadata["render_fps"])
    world = getattr(env.unwrapped, "world", None)
    if isinstance(world, RoomsWorld):  # what the agent's goal cost looks like over the map, first episode
        paths = {name: actors[name][0].positions for name in (first, "random") if name in actors}
        plot_goal_distance_map(world_model, world, goals[0], out / "plan_cost_map.png", paths)
    (out / "plan.json").write_text(json.dumps(summary, indent=2))
    print_table(table, protocol)
    return summary


def plan_summary(task: TaskSpec, env_id: str, protocol: Protocol, table: dict[str, dict[str, Any]],
                 first: str) -> dict[str, Any]:
    """The flat keys of `plan.json`: the protocol, the task's headline figures (`plan_*`), the random policy's and a
    distilled policy's success, and the whole table. `plan_aids` names any decision-time aid of the task (then the
    headline is an ablation, not a like-for-like figure)."""
    main = table[first]
    summary: dict[str, Any] = {
        "plan_task": task.name, "plan_env": env_id, "plan_episodes": protocol.episodes,
        "plan_planner": task.planner["name"], "plan_horizon": task.planner["horizon"],
        "plan_aids": list(task.aids), "plan_max_steps": task.max_steps, "plan_terminate": protocol.terminate,
        "plan_success_radius": protocol.success_radius,
        "plan_success": main["success"], "plan_success_ci": main["success_ci"], "plan_steps": main["steps"],
        "plan_ms_per_step": main["ms_per_step"],
    }
    for key in ("final_distance_median", *(f"{kind}_{radius_key(r)}" for r in protocol.radii for kind in ("ever", "end"))):
        if key in main:
            summary[f"plan_{key}"] = main[key]
    if "random" in table:
        summary["plan_success_random"] = table["random"]["success"]
    if "policy" in table:
        summary.update({"policy_success_distilled": table["policy"]["success"],
                        "policy_ms_per_step": table["policy"]["ms_per_step"]})
    summary["plan_table"] = table
    return summary


def print_table(table: dict[str, dict[str, Any]], protocol: Protocol) -> None:
    """Success with its 95% interval, the per-radius scores where distances are known, steps and planning time."""
    keys = [radius_key(r) for r in protocol.radii if any(f"ever_{radius_key(r)}" in row for row in table.values())]
    header = ["actor", "success [95% CI]", *(f"ever/end {key}" for key in keys), "final d", "steps", "ms/step",
              "ms/episode"]
    rows = [[name, "{:.2f} [{:.2f}, {:.2f}]".format(row["success"], *row["success_ci"]),
             *(f"{row[f'ever_{key}']:.2f}/{row[f'end_{key}']:.2f}" for key in keys),
             row.get("final_distance_median", ""), row["steps"], row["ms_per_step"], row["ms_per_episode"]]
            for name, row in table.items()]
    print(format_table(rows, header))
