"""stable-worldmodel's planning protocol (its `scripts/plan`, version 0.1.1): starts and goals taken from recorded
episodes, success as the environment reports it, beside the success rates it publishes.

From shards of recorded episodes (`hjepa generate --world hjepa/SwmTwoRoom-v1 --policy expert`, or `--world
hjepa/SwmPushT-v1 --policy explore`: PushT's data policy), `pairs` (episode, start) pairs are drawn with `seed`; the
goal is the state and the recorded frame `goal_offset` steps after the start. Each pair is one episode: the
environment is reset with the recorded episode's seed to the recorded start state, with the goal state as its
target; the actor is shown the recorded goal frame, and succeeds when the environment terminates (reaches the
target) within `budget` steps. As stable-worldmodel's recorded episodes end when the environment first terminates, a
pair starts only where its goal comes no later than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import numpy as np

from hjepa.data.generate import SETTINGS_FILE, is_env_id, recorded_settings
from hjepa.data.shards import Episode, list_shards, read_episodes
from hjepa.data.video import decode_video
from hjepa.envs.gym_ids import env_class
from hjepa.eval.episodes import ActorFactory, run_episodes, task_env
from hjepa.eval.plan_figures import plot_trajectories
from hjepa.eval.plan_summary import summarize
from hjepa.registration import SWM_PUSHT_ID, SWM_TWOROOM_ID
from hjepa.threads import one_torch_thread

PUBLISHED = {
    SWM_TWOROOM_ID: {"DINO-WM": 1.00, "PLDM": 0.97, "LeWM": 0.87},
    SWM_PUSHT_ID: {"DINO-WM": 0.74, "PLDM": 0.78, "LeWM": 0.96},
}
"""Success rates that stable-worldmodel publishes under this protocol (its documentation, 50-step budget)."""

TOLERANCES = (1.0, 2.0, 4.0)
"""Multiples of the environment's success tolerances at which `run_swm_protocol` also reports how many episodes came
that close (1: success itself): how far an actor is from succeeding."""

DATA_POLICY = {SWM_TWOROOM_ID: "expert", SWM_PUSHT_ID: "explore"}
"""The `--policy` whose episodes the protocol draws from, per environment: TwoRoom's expert; for PushT,
stable-worldmodel's data policy (its `WeakPolicy`, hjepa's `explore` there), as its recorded PushT expert
demonstrations cannot be downloaded here. Other environments: their expert."""


@dataclass(frozen=True)
class SwmProtocol:
    """The protocol's numbers; the defaults are stable-worldmodel's for TwoRoom."""

    pairs: int = 50
    seed: int = 42
    goal_offset: int = 25
    budget: int = 50

    def __post_init__(self) -> None:
        for name in ("pairs", "goal_offset", "budget"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected at least 1, got {getattr(self, name)} (--{name.replace('_', '-')})")


class Pair(NamedTuple):
    """A drawn start: the episode (its index in the shards' order) and the frame it starts from."""

    episode: int
    start: int


def recorded_env(data: str | Path) -> str:
    """The gymnasium id in which the shards at `data` were recorded; shards that are not episodes of a gymnasium
    environment under the protocol's data policy (`DATA_POLICY`) -> ValueError naming the fix."""
    settings = recorded_settings(data)
    if settings is None:
        raise ValueError(
            f"--data: {data} has no {SETTINGS_FILE}; record expert episodes with hjepa generate "
            f"--world {SWM_TWOROOM_ID} --policy expert"
        )
    world, policy = settings["world"], settings.get("policy", "explore")
    if not is_env_id(world):
        raise ValueError(
            f"--data: {data} was recorded in the procedural world {world}; the protocol resets a "
            f"gymnasium environment to recorded states, e.g. {SWM_TWOROOM_ID}"
        )
    wanted = DATA_POLICY.get(world, "expert")
    if policy != wanted:
        raise ValueError(
            f"--data: {data} was recorded with --policy {policy}; the protocol draws its starts and goals "
            f"from episodes of its data policy: hjepa generate --world {world} --policy {wanted}"
        )
    return world


def protocol_env(data: str | Path, protocol: SwmProtocol, env_kwargs: dict[str, Any] | None = None) -> gymnasium.Env:
    """The environment the shards at `data` were recorded in, with their image size and options and the protocol's
    budget as its time limit."""
    return task_env(recorded_env(data), protocol.budget, data, env_kwargs)


def start_frames(episode: Episode, goal_offset: int) -> range:
    """The frames a pair may start from: its goal, `goal_offset` frames later, comes no later than the frame at which
    the environment first terminated (where stable-worldmodel's recorded episodes end), or the last frame."""
    terminated_at = episode.meta["terminated_at"]
    end = episode.meta["num_frames"] - 1 if terminated_at is None else terminated_at
    return range(max(end - goal_offset + 1, 0))


def draw_pairs(episodes: list[Episode], protocol: SwmProtocol) -> list[Pair]:
    """`protocol.pairs` pairs drawn with `protocol.seed` as stable-worldmodel draws them: without replacement among
    every valid (episode, start) in order but the last one, then sorted."""
    offset = protocol.goal_offset
    valid = [Pair(i, start) for i, episode in enumerate(episodes) for start in start_frames(episode, offset)]
    if len(valid) - 1 < protocol.pairs:
        raise ValueError(
            f"--data: {len(episodes)} episodes hold {len(valid)} starts whose goal, {offset} steps "
            "later, comes before the episode ends or first reaches its target; the protocol draws "
            f"{protocol.pairs} from all but the last: record more or longer episodes (--episodes, "
            f"--frames above {offset + 1})"
        )
    chosen = np.random.default_rng(protocol.seed).choice(len(valid) - 1, size=protocol.pairs, replace=False)
    return [valid[i] for i in np.sort(chosen)]


def recorded_pairs(data: str | Path, protocol: SwmProtocol) -> tuple[list[Episode], list[Pair]]:
    """The recorded episodes at `data`, in the shards' order, and the pairs drawn from them (`draw_pairs`)."""
    episodes = [episode for shard in list_shards(data) for episode in read_episodes(shard)]
    return episodes, draw_pairs(episodes, protocol)


def goal_states(episodes: list[Episode], pairs: list[Pair], goal_offset: int) -> list[np.ndarray]:
    """The recorded state each pair's goal is, `goal_offset` steps after its start."""
    return [episodes[p.episode].states[p.start + goal_offset] for p in pairs]


def pair_options(episode: Episode, start: int, goal_offset: int) -> dict[str, Any]:
    """The reset options of a pair: the recorded start and goal states, and the recorded goal frame."""
    goal = start + goal_offset
    return {
        "start": episode.states[start],
        "goal": episode.states[goal],
        "goal_image": decode_video(episode.video, [goal])[0],
    }


def run_swm_protocol(
    data: str | Path,
    actors: Mapping[str, ActorFactory],
    protocol: SwmProtocol = SwmProtocol(),
    env_kwargs: dict[str, Any] | None = None,
    parallel: int = 1,
    figure: Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Each actor of `actors` (name -> `ActorFactory`) on the pairs drawn from the recorded episodes at `data`.

    Returns the protocol, the pairs (episode key, start frame), for each actor its success rate with the Wilson 95%
    interval, mean steps to success and planning ms (`plan_summary.summarize`), and the published rates of the
    environment. `parallel` episodes run at a time, their agents' rollouts priced together (`run_episodes`). With
    `figure`, a PNG there shows each actor's paths (the environment's `path_coords`) over the first pair's goal image.
    Where the environment states its rule (`within`), each row also has `within_x<k>`: the share of episodes that came
    within k times its tolerances of the goal at some step, k in `TOLERANCES`. `episodes` has each actor's outcome of
    each pair, in the pairs' order: [success, steps taken]. With `progress`, a bar per actor counts its finished
    episodes on stderr.
    """
    env_id = recorded_env(data)
    episodes, pairs = recorded_pairs(data, protocol)
    options = [pair_options(episodes[p.episode], p.start, protocol.goal_offset) for p in pairs]
    seeds = [episodes[p.episode].meta["reset_seed"] for p in pairs]

    def make_env() -> gymnasium.Env:
        return protocol_env(data, protocol, env_kwargs)

    with one_torch_thread():
        results = {
            name: run_episodes(make_env, act, seeds, parallel, options=options, progress=name if progress else None)
            for name, act in actors.items()
        }
    rule, arena, xy = (getattr(env_class(env_id), key, None) for key in ("within", "arena", "path_coords"))
    goals = goal_states(episodes, pairs, protocol.goal_offset)
    if figure is not None:
        plot_trajectories(results, options[0]["goal_image"], goals, figure, arena or 1.0, xy or (0, 1))
    table = {name: summarize(episode_results) for name, episode_results in results.items()}
    if rule is not None:
        for name, episode_results in results.items():
            for k in TOLERANCES:
                came = [any(rule(g, state, k) for state in r.positions[1:]) for g, r in zip(goals, episode_results)]
                table[name][f"within_x{k:g}"] = round(float(np.mean(came)), 4)
    return {
        "protocol": {**asdict(protocol), "env": env_id, "data": str(data)},
        "pairs": [[episodes[p.episode].key, p.start] for p in pairs],
        "table": table,
        "episodes": {name: [[r.success, r.steps] for r in rows] for name, rows in results.items()},
        "published": PUBLISHED.get(env_id, {}),
    }
