"""Streaming clip dataset over WebDataset shards, split by rank and by DataLoader worker.

Shards are read with WebDataset's tar iterators; clips are decoded from bytes inside the worker
that reads them. Two modes:
- exact (`resampled=False`): shards are split over ranks x workers, every sample is seen exactly
  once per epoch (validation, evaluation);
- resampled (`resampled=True`): each worker draws shards at random, forever, and the epoch is cut at
  `samples_per_worker`, so every rank yields the same number of batches and DDP never waits on
  a rank that ran out of data (training).
Corrupt samples and unreadable shards are skipped, logged with their location, and counted in a
counter shared with the main process.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import zlib
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info

from hjepa.data.augment import ClipAugment
from hjepa.data.clips import clip_actions, clip_starts, frame_indices
from hjepa.data.shards import load_npy
from hjepa.data.video import VIDEO_EXTENSIONS, DecodeError, decode_video

log = logging.getLogger(__name__)


class SkipCounter:
    """Counts skipped samples and shards across DataLoader worker processes (shared memory)."""

    def __init__(self) -> None:
        self._samples = multiprocessing.Value("q", 0)
        self._shards = multiprocessing.Value("q", 0)

    def add_sample(self, where: str, reason: str) -> None:
        with self._samples.get_lock():
            self._samples.value += 1
        log.warning("skipped corrupt sample %s: %s", where, reason)

    def add_shard(self, reason: str) -> None:
        with self._shards.get_lock():
            self._shards.value += 1
        log.warning("skipped unreadable shard: %s", reason)

    @property
    def samples(self) -> int:
        return int(self._samples.value)

    @property
    def shards(self) -> int:
        return int(self._shards.value)


class DataConfigError(ValueError):
    """The shards or the clip settings cannot work together; raised, never skipped."""


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut from episodes and which episodes belong to this split."""

    num_frames: int = 16
    frame_stride: int = 1
    clips_per_episode: int = 1
    split: str = "all"  # "train", "val" or "all"
    val_fraction: float = 0.1


def episode_split(key: str, val_fraction: float) -> str:
    """Assign an episode to 'train' or 'val' from a hash of its key: stable across shards and runs."""
    return "val" if (zlib.crc32(key.encode()) % 10_000) < val_fraction * 10_000 else "train"


def distributed_position() -> tuple[int, int]:
    """(rank, world size) from torch.distributed when initialized, else the launcher's environment."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class ClipDataset(IterableDataset):
    """Yields clips `{"frames": (T, 3, H, W) uint8, "actions": (T-1, A*stride), "states": (T, S),
    "labels": {...}, "key": str}` from shards given as local paths or `pipe:` URLs."""

    def __init__(
        self,
        urls: list[str],
        clips: ClipSpec,
        decoder: str = "pyav",
        resampled: bool = False,
        samples_per_worker: int | None = None,
        shuffle_buffer: int = 0,
        augment: ClipAugment | None = None,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        counter: SkipCounter | None = None,
    ) -> None:
        super().__init__()
        if not urls:
            raise ValueError("shards: no shard to read")
        if resampled and not samples_per_worker:
            raise ValueError("samples_per_worker: required with resampled=True (the epoch length)")
        self.urls, self.clips, self.decoder = list(urls), clips, decoder
        self.resampled, self.samples_per_worker = resampled, samples_per_worker
        self.shuffle_buffer, self.augment, self.seed = shuffle_buffer, augment, seed
        self.rank, self.world_size = rank, world_size
        self.counter = counter or SkipCounter()
        self._iterations = 0  # distinguishes epochs when iterated in the main process

    # ----- shard selection
    def _position(self) -> tuple[int, int, int, int, int]:
        """(rank, world size, worker, workers, epoch seed) of the process iterating now."""
        rank, world_size = distributed_position()
        rank = self.rank if self.rank is not None else rank
        world_size = self.world_size if self.world_size is not None else world_size
        info = get_worker_info()
        if info is None:
            self._iterations += 1
            return rank, world_size, 0, 1, hash((self.seed, self._iterations)) & 0xFFFFFFFF
        # DataLoader draws a fresh base seed per epoch from the (seeded) main process generator.
        return rank, world_size, info.id, info.num_workers, (info.seed - info.id) & 0xFFFFFFFF

    def _shard_stream(self, rank: int, world_size: int, worker: int, workers: int, rng: np.random.Generator) -> Iterator[dict[str, str]]:
        slot, slots = rank * workers + worker, world_size * workers
        if self.resampled:
            while True:
                yield {"url": self.urls[int(rng.integers(len(self.urls)))]}
        mine = self.urls[slot::slots]
        if self.shuffle_buffer:
            mine = [mine[i] for i in rng.permutation(len(mine))]
        for url in mine:
            yield {"url": url}

    def _samples(self, shards: Iterator[dict[str, str]]) -> Iterator[dict[str, Any]]:
        """Raw samples of each shard in turn; a shard that cannot be opened or read to its end is
        counted once and the stream goes on with the next (its samples read so far are kept)."""
        for shard in shards:
            try:
                yield from wds.tarfile_samples(iter([shard]), handler=wds.reraise_exception)
            except Exception as error:  # missing file, truncated or damaged tar, failing pipe: command
                self.counter.add_shard(f"{shard['url']}: {type(error).__name__}: {error.args[0] if error.args else ''}")

    # ----- decoding
    def _clips_of(self, sample: dict[str, Any], rng: np.random.Generator | None) -> list[dict[str, Any]]:
        """Decode the clips of one raw sample (tar members as bytes)."""
        key, where = sample["__key__"], f"{sample.get('__url__', '?')}:{sample['__key__']}"
        video_ext = next((ext for ext in VIDEO_EXTENSIONS if ext in sample), None)
        if video_ext is None or "json" not in sample:
            members = sorted(k for k in sample if not k.startswith("__"))
            raise DataConfigError(
                f"{where}: expected members .json and a video (.{'/.'.join(VIDEO_EXTENSIONS)}), found "
                f"{members}; is this an hjepa shard? (make them with 'hjepa generate' or 'hjepa shard')"
            )
        meta = json.loads(sample["json"])
        total = int(meta["num_frames"])
        states = load_npy(sample["states.npy"], f"{where}.states.npy") if "states.npy" in sample else np.zeros((total, 0), np.float32)
        actions = load_npy(sample["actions.npy"], f"{where}.actions.npy") if "actions.npy" in sample else np.zeros((total - 1, 0), np.float32)
        if states.ndim != 2 or states.shape[0] != total or actions.ndim != 2 or actions.shape[0] != total - 1:
            raise DecodeError(f"states {states.shape} / actions {actions.shape} do not match num_frames={total}")
        spec = self.clips
        try:
            starts = clip_starts(total, spec.num_frames, spec.frame_stride, spec.clips_per_episode, rng)
        except ValueError as error:
            raise DataConfigError(f"data.num_frames: {error} ({where})") from error
        wanted = sorted({int(i) for s in starts for i in frame_indices(s, spec.num_frames, spec.frame_stride)})
        decoded = decode_video(sample[video_ext], wanted, self.decoder)
        position = {frame: row for row, frame in enumerate(wanted)}
        labels = {name: torch.as_tensor(value) for name, value in meta.get("labels", {}).items()}
        clips = []
        for start in starts:
            indices = frame_indices(start, spec.num_frames, spec.frame_stride)
            frames = torch.from_numpy(decoded[[position[int(i)] for i in indices]]).permute(0, 3, 1, 2)
            if self.augment is not None and rng is not None:
                frames = self.augment(frames, rng)
            clips.append({
                "frames": frames.contiguous(),
                "actions": torch.from_numpy(clip_actions(actions, start, spec.num_frames, spec.frame_stride).astype(np.float32)),
                "states": torch.from_numpy(states[indices].astype(np.float32)),
                "labels": labels,
                "key": f"{key}@{start}",
            })
        return clips

    def _decoded(self, samples: Iterator[dict[str, Any]], rng: np.random.Generator | None) -> Iterator[dict[str, Any]]:
        for sample in samples:
            if self.clips.split != "all" and episode_split(sample["__key__"], self.clips.val_fraction) != self.clips.split:
                continue
            try:
                clips = self._clips_of(sample, rng)
            except DataConfigError:
                raise
            except Exception as error:  # any damage to one sample's bytes: skip it, count it, go on
                where = f"{sample.get('__url__', '?')}:{sample['__key__']}"
                self.counter.add_sample(where, f"{type(error).__name__}: {error}")
                continue
            yield from clips

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world_size, worker, workers, epoch_seed = self._position()
        rng = np.random.default_rng([self.seed, rank, worker, epoch_seed])
        shards = self._shard_stream(rank, world_size, worker, workers, rng)
        samples = self._samples(shards)
        clips = self._decoded(samples, rng if self.clips.split != "val" else None)
        if self.shuffle_buffer:
            shuffle = wds.shuffle(self.shuffle_buffer, min(self.shuffle_buffer, 16), seed=int(rng.integers(2**31)))
            clips = shuffle(clips)
        for count, clip in enumerate(clips):
            if self.samples_per_worker is not None and count >= self.samples_per_worker:
                return
            yield clip

