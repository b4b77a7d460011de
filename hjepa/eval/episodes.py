"""Running planning episodes (seed paper sec. 3.1.4): the task's environment, one episode, and many episodes, one
after another or several at a time with their world-model calls priced together.

The planning, distillation and Push-T probes all run their episodes here, so an episode means the same everywhere.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from tqdm import tqdm

from hjepa.agent.agent import Agent
from hjepa.agent.batching import BatchedRollouts
from hjepa.data.generate import recorded_settings

Actor = Callable[[np.ndarray], tuple[np.ndarray, float]]
"""actor(observation (H, W, 3)) -> (action (A,), planning ms)."""
Start = Callable[[np.ndarray], None]
"""start(goal image (H, W, 3)): what an actor does at reset, e.g. remember the goal."""
ActorFactory = Callable[[int, gymnasium.Env, BatchedRollouts | None], tuple[Actor, Start | None]]
"""make(episode seed, its environment, shared batch or None) -> (actor, start) of one episode."""


class EpisodeResult(NamedTuple):
    """One episode: success (the environment's success at some step), steps taken, positions (T+1, S), planning ms
    per step, frames when recorded, and distances to the goal (T+1,) when the environment reports them."""

    success: bool
    steps: int
    positions: np.ndarray
    ms: list[float]
    frames: list[np.ndarray]
    distances: np.ndarray | None = None


def world_options(data: str | Path | None, env_id: str) -> dict[str, Any]:
    """The world options (`world_kwargs`, `image_size`) of the shards at `data` when they were recorded in `env_id` or
    in the world it runs."""
    import hjepa.envs  # noqa: F401  registers the hjepa/* ids

    recorded = None if data is None else recorded_settings(data)
    if recorded is None or env_id not in gymnasium.registry:
        return {}
    if recorded.get("world") not in (env_id, gymnasium.registry[env_id].kwargs.get("world")):
        return {}
    return {**recorded.get("world_kwargs", {}), "image_size": recorded["image_size"]}


def task_env(
    env_id: str,
    max_steps: int,
    data: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
    success_radius: float | None = None,
) -> gymnasium.Env:
    """The environment a model plans in: `env_id` with the world options of the shards at `data` (the world it
    learned), updated with `env_kwargs`; `success_radius` sets where the environment reports success. Unknown ids
    and missing optional extras name the fix."""
    from hjepa.envs.gym_ids import make_goal_env  # importing hjepa.envs registers the hjepa/* ids

    options = {**world_options(data, env_id), **(env_kwargs or {})}
    env = make_goal_env(env_id, "--env", max_episode_steps=max_steps, **options)
    if success_radius is not None and hasattr(env.unwrapped, "success_radius"):
        env.unwrapped.success_radius = success_radius
    return env


def run_episode(
    env: gymnasium.Env,
    actor: Actor,
    seed: int,
    start: Start | None = None,
    record: bool = False,
    terminate: bool = True,
    options: dict[str, Any] | None = None,
) -> EpisodeResult:
    """Run actor(observation) -> (action, ms) from reset(seed, options) until the time limit, or until success when
    `terminate` (otherwise the agent keeps acting after reaching the goal, and must stay there)."""
    observation, info = env.reset(seed=seed, options=options)
    if start is not None:
        start(info["goal_image"])
    positions, ms, frames = [info["state"]], [], [observation] if record else []
    distances = [info["distance"]] if "distance" in info else None
    success = False
    while True:
        action, spent = actor(observation)
        observation, _, terminated, truncated, info = env.step(action)
        success = success or terminated
        positions.append(info["state"])
        ms.append(spent)
        if distances is not None:
            distances.append(info["distance"])
        if record:
            frames.append(observation)
        if truncated or (terminate and terminated):
            break
    return EpisodeResult(
        success, len(ms), np.stack(positions), ms, frames, None if distances is None else np.asarray(distances)
    )


def run_episodes(
    make_env_copy: Callable[[], gymnasium.Env],
    make_actor: ActorFactory,
    seeds: Sequence[int],
    parallel: int = 1,
    record_seed: int | None = None,
    terminate: bool = True,
    options: Sequence[dict[str, Any] | None] | None = None,
    progress: str | None = None,
) -> list[EpisodeResult]:
    """One episode per seed, each with a fresh actor from `make_actor(seed, env, batch)`, in seed order; `options`
    are the reset options of each episode (e.g. its start and goal).

    With `parallel` > 1, that many episodes run at a time in threads, each in its own environment copy, and the
    agents' rollouts are priced together (`BatchedRollouts`); an actor seeded by its episode then takes the same
    decisions as alone. The frames of the episode `record_seed` are kept. With `progress`, a bar of that name on
    stderr counts the finished episodes (an evaluation may take hours on a CPU).
    """
    if parallel < 1:
        raise ValueError(f"--parallel: expected at least 1 episode at a time, got {parallel}")
    options = [None] * len(seeds) if options is None else list(options)
    if len(options) != len(seeds):
        raise ValueError(f"options: one per episode, got {len(options)} for {len(seeds)} seeds")
    workers = min(parallel, len(seeds))
    jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(seeds)):
        jobs.put(index)
    results: list[EpisodeResult | None] = [None] * len(seeds)
    # every worker takes part in batches from the start, so no call is priced before a starting worker asks
    batch = BatchedRollouts(acting=workers) if workers > 1 else None
    bar = tqdm(total=len(seeds), desc=progress, unit="episode", disable=progress is None)

    def work(env: gymnasium.Env) -> None:
        try:
            while True:
                try:
                    index = jobs.get_nowait()
                except queue.Empty:
                    return
                seed = seeds[index]
                actor, start = make_actor(seed, env, batch)
                results[index] = run_episode(env, actor, seed, start, seed == record_seed, terminate, options[index])
                bar.update()
        finally:
            if batch is not None:
                batch.leave()

    envs = [make_env_copy() for _ in range(workers)]
    with bar:
        if workers == 1:
            work(envs[0])
        else:
            with ThreadPoolExecutor(workers) as pool:
                for done in [pool.submit(work, env) for env in envs]:
                    done.result()
    return [result for result in results if result is not None]


def agent_actor(agent: Agent) -> Actor:
    """The agent's decisions as an actor."""

    def act(observation: np.ndarray) -> tuple[np.ndarray, float]:
        decision = agent.act(observation)
        return decision.action, decision.ms

    return act


def agents(make_agent: Callable[[int], Agent], actor: Callable[[Agent], Actor] = agent_actor) -> ActorFactory:
    """An actor factory of fresh agents `make_agent(episode seed)`, sharing the batch of parallel episodes;
    `actor(agent)` turns each into what acts (default: its own decisions)."""

    def make(seed: int, env: gymnasium.Env, batch: BatchedRollouts | None) -> tuple[Actor, Start | None]:
        agent = make_agent(seed)
        if batch is not None:
            agent.share_rollouts(batch)
        return actor(agent), agent.reset

    return make


def action_block(model_action_dim: int, action_space: gymnasium.spaces.Box, model: str) -> int:
    """How many environment steps one action of a world model spans: a model trained with `data.frame_stride` k
    takes the k environment actions between its frames concatenated (stable-worldmodel's action blocks)."""
    env_dim = int(np.prod(action_space.shape))
    if model_action_dim < env_dim or model_action_dim % env_dim:
        raise ValueError(
            f"{model}: the world model takes actions of {model_action_dim} numbers, but the environment's are "
            f"{env_dim}; a model of this environment takes k x {env_dim} (trained with data.frame_stride k)"
        )
    return model_action_dim // env_dim


def block_action_box(action_space: gymnasium.spaces.Box, block: int) -> tuple[list[float], list[float]]:
    """The box (low, high) of `block` environment actions concatenated, each bound `(block x A,)`: what a model of
    action blocks (`action_block`) plans in."""
    return np.tile(action_space.low.ravel(), block).tolist(), np.tile(action_space.high.ravel(), block).tolist()


def blocked_actor(actor: Actor, block: int, env_action_shape: tuple[int, ...]) -> Actor:
    """An actor that decides every `block` steps, from what it sees then (the frames its model was trained on are
    `block` steps apart), and sends its `(block x A,)` action one `(A,)` piece a step in between."""
    pending: list[np.ndarray] = []

    def act(observation: np.ndarray) -> tuple[np.ndarray, float]:
        if pending:
            return pending.pop(0), 0.0
        action, ms = actor(observation)
        pending.extend(np.asarray(action).reshape(block, *env_action_shape))
        return pending.pop(0), ms

    return act


def random_actor(env: gymnasium.Env, seed: int) -> Actor:
    """Uniform actions from the action box: the baseline every planner must beat."""
    env.action_space.seed(seed)
    return lambda observation: (env.action_space.sample(), 0.0)


def random_actors(seed: int, env: gymnasium.Env, batch: BatchedRollouts | None) -> tuple[Actor, Start | None]:
    """An actor factory of `random_actor`s (they never plan, so they take no part in batches)."""
    return random_actor(env, seed), None


def still_actors(seed: int, env: gymnasium.Env, batch: BatchedRollouts | None) -> tuple[Actor, Start | None]:
    """An actor factory of actors that send the zero action every step, which in hjepa's worlds and
    stable-worldmodel's holds the agent where it is: the baseline of a goal already within reach."""
    zero = np.zeros(env.action_space.shape, env.action_space.dtype)
    return (lambda observation: (zero.copy(), 0.0)), None
