"""Streaming clip dataset over WebDataset shards, split by rank and by DataLoader worker.

Shards are read as tar streams (`read_shard`); clips are decoded from bytes inside the worker
that reads them. Two modes:
- exact (`resampled=False`): shards are split over ranks x workers, every sample is seen exactly
  once per epoch (validation, evaluation);
- resampled (`resampled=True`): each worker draws shards at random, forever, and the epoch is cut at
  `samples_per_worker`, so every rank yields the same number of batches and DDP never waits on
  a rank that ran out of data (training).
Every random choice (shards, clip starts, augmentation, shuffling) is seeded by (seed, epoch, rank,
worker), so an epoch's stream is reproducible; `set_position` starts it after the batches a run
already consumed, which makes a resumed run read what the interrupted one would have read.
The shuffle buffer holds undecoded clips, so skipping consumed clips costs no decoding.
Corrupt samples and unreadable shards are skipped, logged with their location, and counted in a
counter shared with the main process.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info

from hjepa.data.augment import ClipAugment
from hjepa.data.batch_buffer import BatchBuffer
from hjepa.data.clips import clip_actions, clip_span, clip_starts, frame_indices
from hjepa.data.pixels import channels_first
from hjepa.data.shards import load_npy, read_shard
from hjepa.data.video import VIDEO_EXTENSIONS, DecodeError, FrameSizeMismatch, decode_video

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


# Set to 0 (or false, no) to refuse `pipe:` URLs, which run their text as a shell command.
ALLOW_PIPE_VARIABLE = "HJEPA_ALLOW_PIPE"


def check_pipe_allowed(url: str, field: str) -> None:
    """Refuse a `pipe:` URL when the environment variable HJEPA_ALLOW_PIPE turns them off."""
    setting = os.environ.get(ALLOW_PIPE_VARIABLE, "1")
    if url.startswith("pipe:") and setting.strip().lower() in ("0", "false", "no"):
        raise ValueError(
            f"{field}: {url!r} is a pipe: URL, which runs a shell command, and "
            f"{ALLOW_PIPE_VARIABLE}={setting} refuses them; give local shard paths, or unset "
            f"{ALLOW_PIPE_VARIABLE} if you trust the command"
        )


# Unreadable shards in a row after which a reader stops: the storage is unreachable, not one shard bad.
MAX_CONSECUTIVE_BAD_SHARDS = 16


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut from episodes and which episodes belong to this split."""

    num_frames: int = 16
    frame_stride: int = 1
    clips_per_episode: int = 1
    split: str = "all"  # "train", "val" or "all"
    val_fraction: float = 0.1


def episode_split(key: str, val_fraction: float) -> str:
    """Assign an episode to 'train' or 'val' from a hash of its key (of its video's key for a segment):
    stable across shards and runs."""
    return "val" if (zlib.crc32(key.encode()) % 10_000) < val_fraction * 10_000 else "train"


@dataclass
class ClipPlan:
    """One clip chosen but not yet decoded: its raw sample (tar members as bytes), the sample's parsed
    metadata, start frame and augmentation seed. Shuffling plans instead of decoded clips keeps the
    buffer small and lets a resumed run skip consumed clips without decoding them."""

    sample: dict[str, Any]
    meta: dict[str, Any]
    start: int
    augment_seed: int | None


def distributed_position() -> tuple[int, int]:
    """(rank, world size) from torch.distributed when initialized, else the launcher's environment."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class ClipDataset(IterableDataset):
    """Yields clips `{"frames": (T, 3, H, W) uint8, "actions": (T-1, A*stride), "states": (T, S),
    "labels": {...}, "key": str}` from shards given as local paths or `pipe:` URLs. Frames are channels-last in
    memory, as decoders write them (a view, see `channels_first`): `frames_to_float` makes them contiguous."""

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
        batch_size: int = 1,
    ) -> None:
        super().__init__()
        if not urls:
            raise ValueError("shards: no shard to read")
        if resampled and not samples_per_worker:
            raise ValueError("samples_per_worker: required with resampled=True (the epoch length)")
        for url in urls:
            check_pipe_allowed(url, "urls")
        self.urls, self.clips, self.decoder = list(urls), clips, decoder
        self.resampled, self.samples_per_worker = resampled, samples_per_worker
        self.shuffle_buffer, self.augment, self.seed = shuffle_buffer, augment, seed
        self.rank, self.world_size = rank, world_size
        self.counter = counter or SkipCounter()
        self.batch_size = batch_size
        self.epoch, self.start_batch = 0, 0
        self._buffer = BatchBuffer(batch_size)  # a new one for each pass (`__iter__`), in each worker

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        """Read epoch `epoch` from its batch `start_batch` on (the batches before it were consumed).

        DataLoader workers take batches in turn, so worker w of W skips its share of the first
        `start_batch` batches (those with index % W == w), each `batch_size` clips.
        """
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    # ----- shard selection
    def _position(self) -> tuple[int, int, int, int]:
        """(rank, world size, worker, workers) of the process iterating now."""
        rank, world_size = distributed_position()
        rank = self.rank if self.rank is not None else rank
        world_size = self.world_size if self.world_size is not None else world_size
        info = get_worker_info()
        if info is None:
            return rank, world_size, 0, 1
        return rank, world_size, info.id, info.num_workers

    def _shard_stream(
        self, rank: int, world_size: int, worker: int, workers: int, rng: np.random.Generator
    ) -> Iterator[str]:
        slot, slots = rank * workers + worker, world_size * workers
        if self.resampled:
            while True:
                yield self.urls[int(rng.integers(len(self.urls)))]
        mine = self.urls[slot::slots]
        if self.shuffle_buffer:
            mine = [mine[i] for i in rng.permutation(len(mine))]
        yield from mine

    def _samples(self, shards: Iterator[str]) -> Iterator[dict[str, Any]]:
        """Raw samples of each shard in turn; a shard that cannot be opened or read to its end is
        counted once and the stream goes on with the next (its samples read so far are kept).
        `MAX_CONSECUTIVE_BAD_SHARDS` failures in a row raise: the shards are unreachable."""
        failures = 0
        for url in shards:
            read = 0
            try:
                for sample in read_shard(url):
                    read += 1
                    yield sample
            except Exception as error:  # missing file, truncated or damaged tar, failing pipe: command
                reason = f"{url}: {type(error).__name__}: {error.args[0] if error.args else ''}"
                self.counter.add_shard(reason)
                failures = 0 if read else failures + 1
                if failures >= MAX_CONSECUTIVE_BAD_SHARDS:
                    raise DataConfigError(
                        f"data.shards: {failures} shards in a row could not be read, the last {reason}; "
                        "is the storage reachable (path, pipe: command, credentials)?"
                    ) from error
                continue
            failures = 0

    # ----- planning and decoding
    def _plans_of(self, sample: dict[str, Any], rng: np.random.Generator | None) -> list[ClipPlan]:
        """The clips to cut from one raw sample, from its metadata only (no video decoding)."""
        where = f"{sample.get('__url__', '?')}:{sample['__key__']}"
        video_ext = next((ext for ext in VIDEO_EXTENSIONS if ext in sample), None)
        if video_ext is None or "json" not in sample:
            members = sorted(k for k in sample if not k.startswith("__"))
            expected = f"expected members .json and a video (.{'/.'.join(VIDEO_EXTENSIONS)}), found {members}"
            if video_ext is not None or any(m in sample for m in ("json", "actions.npy", "states.npy")):
                # part of an hjepa sample (a shard cut between two members): skipped and counted by the caller
                raise ValueError(f"incomplete sample: {expected}; is the shard truncated?")
            raise DataConfigError(
                f"{where}: {expected}; is this an hjepa shard? (make them with 'hjepa generate' or 'hjepa shard')"
            )
        meta, spec = json.loads(sample["json"]), self.clips
        # the segments of one cut video share a group, so they fall on the same side of the split
        if spec.split != "all" and episode_split(meta.get("group", sample["__key__"]), spec.val_fraction) != spec.split:
            return []
        total, segment = int(meta["num_frames"]), meta.get("segment", {})
        if total < clip_span(spec.num_frames, spec.frame_stride) and segment.get("last") and segment["index"] > 0:
            return []  # the end of a cut video, shorter than a clip
        try:
            starts = clip_starts(total, spec.num_frames, spec.frame_stride, spec.clips_per_episode, rng)
        except ValueError as error:
            hint = "; cut the videos into longer segments (hjepa shard --segment)" if segment else ""
            raise DataConfigError(f"data.num_frames: {error} ({where}){hint}") from error
        augmented = rng is not None and self.augment is not None
        seeds = [int(rng.integers(2**63)) if augmented else None for _ in starts]
        return [ClipPlan(sample, meta, start, seed) for start, seed in zip(starts, seeds)]

    def _decode(self, plan: ClipPlan) -> dict[str, Any]:
        """Decode one planned clip: frames, the actions between them, states and labels."""
        sample, spec = plan.sample, self.clips
        key, where = sample["__key__"], f"{sample.get('__url__', '?')}:{sample['__key__']}"
        meta = plan.meta
        total = int(meta["num_frames"])
        states = (
            load_npy(sample["states.npy"], f"{where}.states.npy")
            if "states.npy" in sample
            else np.zeros((total, 0), np.float32)
        )
        actions = (
            load_npy(sample["actions.npy"], f"{where}.actions.npy")
            if "actions.npy" in sample
            else np.zeros((total - 1, 0), np.float32)
        )
        if states.ndim != 2 or states.shape[0] != total or actions.ndim != 2 or actions.shape[0] != total - 1:
            raise DecodeError(f"states {states.shape} / actions {actions.shape} do not match num_frames={total}")
        indices = frame_indices(plan.start, spec.num_frames, spec.frame_stride)
        clip = {
            "actions": torch.from_numpy(
                clip_actions(actions, plan.start, spec.num_frames, spec.frame_stride).astype(np.float32)
            ),
            "states": torch.from_numpy(states[indices].astype(np.float32, copy=False)),
            "labels": {name: torch.as_tensor(value) for name, value in meta.get("labels", {}).items()},
            "key": f"{key}@{plan.start}",
        }
        video = sample[next(ext for ext in VIDEO_EXTENSIONS if ext in sample)]
        wanted = [int(i) for i in indices]

        def decoded() -> torch.Tensor:  # (T, H, W, 3) uint8, an array of its own
            return torch.from_numpy(decode_video(video, wanted, self.decoder))

        if self.augment is not None and plan.augment_seed is not None:
            return {"frames": self.augment(channels_first(decoded()), np.random.default_rng(plan.augment_seed)), **clip}
        # the last step: a clip written into the batch buffer is one that will be yielded
        slot = self._buffer.slot()
        if slot is None:  # the batch's first clip: its size sets the buffer's
            return {"frames": self._buffer.start(decoded()), **clip}
        try:
            decode_video(video, wanted, self.decoder, out=slot.numpy())
        except FrameSizeMismatch:  # another size than the batch's first clip: stacked (and refused) as before
            return {"frames": channels_first(decoded()), **clip}
        return {"frames": self._buffer.commit(), **clip}

    def _plans(self, samples: Iterator[dict[str, Any]], rng: np.random.Generator | None) -> Iterator[ClipPlan]:
        for sample in samples:
            try:
                plans = self._plans_of(sample, rng)
            except DataConfigError:
                raise
            except Exception as error:  # damaged metadata or a member missing: skip the sample, count it, go on
                self.counter.add_sample(
                    f"{sample.get('__url__', '?')}:{sample['__key__']}", f"{type(error).__name__}: {error}"
                )
                continue
            yield from plans

    def _clips(self, plans: Iterator[ClipPlan], skip: int) -> Iterator[dict[str, Any]]:
        """Decoded clips of `plans` after the first `skip`, which are passed over undecoded; a damaged
        sample is counted once and its clips are dropped."""
        for position, plan in enumerate(plans):
            if self.samples_per_worker is not None and position >= self.samples_per_worker:
                return
            if position < skip or plan.sample.get("__damaged__"):
                continue
            try:
                yield self._decode(plan)
            except Exception as error:  # any damage to one sample's bytes: skip it, count it, go on
                plan.sample["__damaged__"] = True
                where = f"{plan.sample.get('__url__', '?')}:{plan.sample['__key__']}"
                self.counter.add_sample(where, f"{type(error).__name__}: {error}")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world_size, worker, workers = self._position()
        self._buffer = BatchBuffer(self.batch_size)
        # the epoch enters through a hash of (seed, epoch + 1): a fixed function, the same in every process
        rng = np.random.default_rng([self.seed, rank, worker, hash((self.seed, self.epoch + 1)) & 0xFFFFFFFF])
        shards = self._shard_stream(rank, world_size, worker, workers, rng)
        plans = self._plans(self._samples(shards), rng if self.clips.split != "val" else None)
        if self.shuffle_buffer:
            shuffle = wds.shuffle(self.shuffle_buffer, min(self.shuffle_buffer, 16), seed=int(rng.integers(2**31)))
            plans = shuffle(plans)
        consumed_batches = len(range(worker, self.start_batch, workers))
        yield from self._clips(plans, consumed_batches * self.batch_size)
