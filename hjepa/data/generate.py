"""Record episodes of a procedural world or a gymnasium environment under its exploration policy and write
them as video shards.

Data with known dynamics and ground truth (paper sec. 4: the world model is learned from observation).
Each shard is generated from its own seed `(seed, shard index)`, so shards are independent of each
other, can be made in parallel processes, and the same seed gives byte-identical shards.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from tqdm import tqdm

from hjepa.data.shards import Episode, check_output_folder, list_shards, sample_key, shard_path, write_shard
from hjepa.data.video import CODECS, encode_video
from hjepa.envs import BatchedWorld, make_world
from hjepa.envs.gym_ids import make_env

SETTINGS_FILE = "generate.json"


@dataclass(frozen=True)
class GenerateSettings:
    """Everything that determines the content of the shards; stored beside them as `generate.json`.

    `world` is a procedural world (`hjepa.envs.WORLDS`) or a namespaced gymnasium id such as hjepa/PushT-v0,
    built with `image_size` and `world_kwargs`. `policy` acts in a gymnasium environment (see `POLICIES`);
    procedural worlds record under their own exploration policy.
    """

    world: str
    episodes: int
    frames: int
    seed: int = 0
    shard_size: int = 64
    codec: str = "h264"
    image_size: int = 64
    world_kwargs: tuple[tuple[str, Any], ...] = ()
    policy: str = "explore"

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"episodes: expected >= 1, got {self.episodes}")
        if self.frames < 2:
            raise ValueError(f"frames: expected >= 2 (a clip needs a transition), got {self.frames}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size: expected >= 1, got {self.shard_size}")
        if self.codec not in CODECS:
            raise ValueError(f"codec: expected one of {sorted(CODECS)}, got {self.codec!r}")
        if self.codec == "h264" and self.image_size % 2:
            raise ValueError(f"image_size: h264 needs an even size, got {self.image_size}; use an even size or ffv1")
        if "image_size" in dict(self.world_kwargs):
            raise ValueError("world_kwargs: image_size has its own setting (--image_size); remove it from the options")
        if self.policy not in POLICIES:
            raise ValueError(f"policy: unknown policy {self.policy!r}; choose from {list(POLICIES)} (--policy)")
        if is_env_id(self.world):
            env = _make_env(self)  # validates the id, the extra it needs and the options
            env_policy(env, self.policy, self.world)
            env.close()
        else:
            make_world(self.world, image_size=self.image_size, **dict(self.world_kwargs))  # validates names
            if self.policy != "explore":
                raise ValueError(
                    f"policy: {self.world} records under its own exploration policy; --policy "
                    f"{self.policy} applies to gymnasium ids"
                )

    @property
    def num_shards(self) -> int:
        return -(-self.episodes // self.shard_size)

    def shard_episodes(self, shard_index: int) -> range:
        """Indices of the episodes stored in shard `shard_index`."""
        first = shard_index * self.shard_size
        return range(first, min(first + self.shard_size, self.episodes))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["world_kwargs"] = dict(self.world_kwargs)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerateSettings:
        """The settings that `to_json` wrote (a shard folder's `generate.json`)."""
        return cls(**{**data, "world_kwargs": tuple(data.get("world_kwargs", {}).items())})


@dataclass
class GenerateReport:
    """What a `generate_shards` call wrote."""

    shards: list[str]
    episodes: int
    written_shards: int
    reused_shards: int
    seconds: float

    written_episodes: int = 0

    @property
    def episodes_per_s(self) -> float | None:
        """Generation speed of this call; None when every shard was already there."""
        return self.written_episodes / max(self.seconds, 1e-9) if self.written_episodes else None


class Recording(NamedTuple):
    """Episodes of one shard as stepped, before encoding, and what the metadata says about their source."""

    video: np.ndarray  # (N, T, H, W, 3) uint8
    states: np.ndarray  # (N, T, S)
    actions: np.ndarray  # (N, T-1, A)
    labels: dict[str, np.ndarray]  # per-episode values (N, ...)
    config: dict[str, Any]  # what rebuilds the source: constructor arguments of the world or environment
    fps: int
    state_names: list[str]
    action_dim: int
    episode_meta: list[dict[str, Any]]  # per-episode metadata beyond the settings


def recorded_settings(data: str | Path) -> dict[str, Any] | None:
    """The settings a shard folder was generated with (its `generate.json`, as `GenerateSettings.to_json` wrote
    them); None where the folder has none (shards made by `hjepa shard` or elsewhere)."""
    path = Path(data) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path}: not readable as JSON ({error}); regenerate the folder or choose another") from error


def is_env_id(name: str) -> bool:
    """Whether `GenerateSettings.world` names a gymnasium id (namespaced, e.g. hjepa/PushT-v0), not a world."""
    return "/" in name


def _record_world(settings: GenerateSettings, n: int, rng: np.random.Generator) -> Recording:
    """Record n episodes of a procedural world: stepped together, or one per reset where each reset draws a
    new layout (`layout_per_reset`), so that every episode has its own."""
    world = make_world(settings.world, image_size=settings.image_size, **dict(settings.world_kwargs))
    if not world.layout_per_reset:
        return _explore(world, n, settings.frames, rng)
    parts = [_explore(world, 1, settings.frames, rng) for _ in range(n)]
    return parts[0]._replace(
        video=np.concatenate([p.video for p in parts]),
        states=np.concatenate([p.states for p in parts]),
        actions=np.concatenate([p.actions for p in parts]),
        labels={name: np.concatenate([p.labels[name] for p in parts]) for name in parts[0].labels},
        episode_meta=[meta for p in parts for meta in p.episode_meta],
    )


def _explore(world: BatchedWorld, n: int, frames: int, rng: np.random.Generator) -> Recording:
    """Reset n episodes of `world` and step them together for `frames` frames under its exploration policy."""
    states = [world.reset(n, rng)]
    video = [world.render()]
    actions = []
    for _ in range(frames - 1):
        action = world.exploration_actions(rng).astype(np.float32)
        actions.append(action)
        states.append(world.step(action))
        video.append(world.render())
    return Recording(
        np.stack(video, axis=1),
        np.stack(states, axis=1),
        np.stack(actions, axis=1),
        world.labels(),
        world.config(),
        world.fps,
        list(world.state_names),
        world.action_dim,
        [{} for _ in range(n)],
    )


def _make_env(settings: GenerateSettings) -> gymnasium.Env:
    """The gymnasium environment `settings.world` with the settings' image size and options."""
    return make_env(
        settings.world,
        "world",
        max_episode_steps=settings.frames - 1,
        image_size=settings.image_size,
        **dict(settings.world_kwargs),
    )


POLICIES = {
    "explore": "exploration_action",  # the environment's data-collection policy, uniform actions where it has none
    "random": None,  # uniform actions from the action box
    "expert": "expert_action",  # the environment's expert, where it has one
}
"""Policies that record a gymnasium environment (`--policy`) -> the environment's method that acts."""


def env_policy(env: gymnasium.Env, name: str, env_id: str) -> Callable[[], np.ndarray]:
    """The action source `name` of `POLICIES` in `env`; a policy the environment does not have -> ValueError."""
    method = POLICIES[name]
    act = getattr(env.unwrapped, method, None) if method is not None else None
    if act is not None:
        return act
    if name == "expert":
        raise ValueError(
            f"policy: {env_id} has no expert policy; choose from {[p for p in POLICIES if p != name]} (--policy)"
        )
    return env.action_space.sample


def _record_env(settings: GenerateSettings, n: int, rng: np.random.Generator) -> Recording:
    """Step n episodes of a gymnasium environment one after the other under `settings.policy`; each episode is
    reset with a seed drawn from rng. Frames are its observations, states its `info["state"]`; episodes run on
    after a success, and each one's metadata keeps its reset seed and the frame at which the environment first
    reported termination (`terminated_at`, None if never)."""
    env = _make_env(settings)
    act = env_policy(env, settings.policy, settings.world)
    video, states, actions, episode_meta = [], [], [], []
    for _ in range(n):
        seed = int(rng.integers(2**31))
        frame, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        frames, episode_states, episode_actions, terminated_at = [frame], [info["state"]], [], None
        for step in range(1, settings.frames):
            action = np.asarray(act(), dtype=np.float32)
            frame, _, terminated, _, info = env.step(action)
            if terminated and terminated_at is None:
                terminated_at = step
            episode_actions.append(action)
            frames.append(frame)
            episode_states.append(info["state"])
        video.append(np.stack(frames))
        states.append(np.stack(episode_states))
        actions.append(np.stack(episode_actions))
        episode_meta.append({"reset_seed": seed, "terminated_at": terminated_at})
    env.close()
    width = states[0].shape[-1]
    names = list(getattr(env.unwrapped, "state_names", [f"dim{i}" for i in range(width)]))
    config = {"image_size": settings.image_size, **dict(settings.world_kwargs)}
    return Recording(
        np.stack(video),
        np.stack(states),
        np.stack(actions),
        {},
        config,
        int(env.metadata.get("render_fps", 10)),
        names,
        int(env.action_space.shape[0]),
        episode_meta,
    )


def record_episodes(settings: GenerateSettings, shard_index: int) -> list[Episode]:
    """Record the episodes of one shard (a procedural world or a gymnasium environment) and encode each
    one's frames to video."""
    indices = settings.shard_episodes(shard_index)
    rng = np.random.default_rng([settings.seed, shard_index])
    record = _record_env if is_env_id(settings.world) else _record_world
    recording = record(settings, len(indices), rng)
    extension = CODECS[settings.codec][0]
    episodes = []
    for j, index in enumerate(indices):
        meta = {
            "world": settings.world,
            "world_config": recording.config,
            "fps": recording.fps,
            "size": settings.image_size,
            "num_frames": settings.frames,
            "seed": settings.seed,
            "episode": index,
            "codec": settings.codec,
            "policy": settings.policy,
            "state_names": recording.state_names,
            "action_dim": recording.action_dim,
            "labels": {name: np.asarray(value[j]).tolist() for name, value in recording.labels.items()},
            **recording.episode_meta[j],
        }
        episodes.append(
            Episode(
                key=sample_key(f"{settings.world}-s{settings.seed}-e{index:07d}"),
                video=encode_video(recording.video[j], recording.fps, settings.codec),
                video_ext=extension,
                actions=recording.actions[j],
                states=recording.states[j],
                meta=meta,
            )
        )
    return episodes


PR_SET_PDEATHSIG = 1  # prctl option of Linux: a signal this process gets when its parent dies


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process `parent` that started it dies, even by
    SIGKILL, so a killed `hjepa generate` leaves no worker (nor, through them, its resource tracker)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it died while this worker was starting
        os._exit(1)


def _watch_parent(parent: int) -> None:
    """Where prctl is missing: poll the parent and exit once this process was handed to another one."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _make_shard(settings: GenerateSettings, shard_index: int, out: Path) -> int:
    episodes = record_episodes(settings, shard_index)
    write_shard(shard_path(out, shard_index), episodes)
    return len(episodes)


def _check_settings(out: Path, settings: GenerateSettings) -> None:
    """Refuse to mix shards made with other settings into `out` (nothing already written is touched)."""
    check_output_folder(out)
    settings_path = out / SETTINGS_FILE
    # without shards, a settings file is what a failed run left: nothing to protect, it is replaced
    if list_shards(out):
        previous = recorded_settings(out)
        if previous is None:
            raise ValueError(f"{out}: holds shards but no {SETTINGS_FILE}; choose another --out")
        previous.setdefault("policy", "explore")  # written before the policy could be chosen
        if previous != settings.to_json():
            changed = sorted(k for k in settings.to_json() if previous.get(k) != settings.to_json()[k])
            raise ValueError(
                f"{out}: holds shards generated with other settings (differs in {', '.join(changed)}); "
                "choose another --out or delete the folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    settings_path.write_text(json.dumps(settings.to_json(), indent=2, sort_keys=True))


def generate_shards(settings: GenerateSettings, out: Path, workers: int = 1, progress: bool = True) -> GenerateReport:
    """Write `settings.episodes` episodes to `out/shard-NNNNNN.tar`; complete shards of an interrupted
    run with the same settings are kept, so re-running continues where it stopped."""
    out = Path(out)
    _check_settings(out, settings)
    start = time.perf_counter()
    todo = [i for i in range(settings.num_shards) if not shard_path(out, i).exists()]
    reused = settings.num_shards - len(todo)
    bar = tqdm(total=settings.episodes, desc=f"generate {settings.world}", unit="ep", disable=not progress)
    bar.update(settings.episodes - sum(len(settings.shard_episodes(i)) for i in todo))
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=_die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            for count in pool.map(_make_shard, [settings] * len(todo), todo, [out] * len(todo)):
                bar.update(count)
    else:
        for index in todo:
            bar.update(_make_shard(settings, index, out))
    bar.close()
    return GenerateReport(
        shards=[str(shard_path(out, i)) for i in range(settings.num_shards)],
        episodes=settings.episodes,
        written_shards=len(todo),
        reused_shards=reused,
        seconds=time.perf_counter() - start,
        written_episodes=sum(len(settings.shard_episodes(i)) for i in todo),
    )
