"""The data pipeline as a LightningDataModule: shards -> clips decoded in workers -> batches.

Batches are dicts: `frames` `(B, T, 3, H, W)` (uint8 in workers, float in [0, 1] once on the device),
`actions` `(B, T-1, A*stride)`, `states` `(B, T, S)`, `labels` (dict of per-episode tensors), `key`.
The data position (epoch, training batches consumed in it) is part of every checkpoint, so a run
resumed mid-epoch reads on from where the interrupted one stopped (resampled mode).
"""

from __future__ import annotations

import glob
import itertools
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import braceexpand
import lightning as L
import torch
from torch.utils.data import DataLoader

from hjepa.data.augment import ClipAugment
from hjepa.data.batch_buffer import collate_clips
from hjepa.data.dataset import ClipDataset, ClipSpec, SkipCounter, check_pipe_allowed, distributed_position
from hjepa.data.pixels import unit_frames
from hjepa.data.shards import list_shards
from hjepa.data.video import resolve_decoder


def resolve_shards(spec: str | list[str], field: str = "shards") -> list[str]:
    """Expand a shard spec into URLs: a folder of shards, a brace pattern or glob of local tars,
    `pipe:` commands (not run here: they run in the workers; refused when HJEPA_ALLOW_PIPE=0), or a list
    of any of these."""
    if isinstance(spec, (list, tuple)):
        return [url for item in spec for url in resolve_shards(item, field)]
    spec = str(spec)
    if spec.startswith("pipe:"):
        check_pipe_allowed(spec, field)
        return list(braceexpand.braceexpand(spec))
    path = Path(spec)
    if path.is_dir():
        found = [str(p) for p in list_shards(path)]
        if not found:
            raise FileNotFoundError(f"{field}: folder {spec} holds no shard-NNNNNN.tar files")
        return found
    urls = [
        u
        for pattern in braceexpand.braceexpand(spec)
        for u in (sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern])
    ]
    missing = [u for u in urls if not Path(u).is_file()]
    if not urls or missing:
        raise FileNotFoundError(f"{field}: no such shard file {missing[0] if missing else spec!r}")
    return urls


def frames_to_float(batch: dict[str, Any]) -> dict[str, Any]:
    """uint8 frames -> contiguous float32 in [0, 1]; done after transfer, so uint8 crosses processes and PCIe, and
    the copy that converts them also lays channels-last frames out as the models read them."""
    if batch["frames"].dtype == torch.uint8:
        batch["frames"] = unit_frames(batch["frames"])
    return batch


class PositionedLoader(DataLoader):
    """A DataLoader that asks `position()` for (epoch, first batch) each time an epoch starts, and
    passes it to its `ClipDataset` before the workers copy it."""

    def __init__(self, dataset: ClipDataset, position: Callable[[], tuple[int, int]], **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.position = position

    def __iter__(self) -> Iterator[Any]:
        self.dataset.set_position(*self.position())
        return super().__iter__()


class VideoDataModule(L.LightningDataModule):
    """Clips from WebDataset shards, split by episode into train and val.

    Args:
        shards: folder, brace pattern, glob, `pipe:` URL, or a list of them.
        val_shards: separate validation shards; when None, `val_fraction` of the episodes of
            `shards` (chosen by a hash of their key) are held out.
        num_frames, frame_stride: clip length in frames and the step between kept frames.
        clips_per_episode: training clips cut from each episode read (random starts).
        decoder: `auto` (decord where installed, else PyAV), `decord`, `pyav` or `torchcodec`.
        resampled: training shards drawn with replacement and the epoch cut at
            `train_batches_per_epoch` (rounded up to a multiple of `num_workers`), equal on every rank.
        crop_scale, brightness: clip-consistent augmentation of training clips.
    """

    def __init__(
        self,
        shards: str | list[str] = "data/two_rooms",
        val_shards: str | list[str] | None = None,
        num_frames: int = 16,
        frame_stride: int = 1,
        clips_per_episode: int = 1,
        batch_size: int = 32,
        num_workers: int = 2,
        decoder: str = "auto",
        resampled: bool = True,
        train_batches_per_epoch: int = 100,
        val_fraction: float = 0.1,
        shuffle_buffer: int = 256,
        crop_scale: tuple[float, float] = (1.0, 1.0),
        brightness: float = 0.0,
        seed: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_frames", num_frames),
            ("frame_stride", frame_stride),
            ("clips_per_episode", clips_per_episode),
            ("batch_size", batch_size),
            ("train_batches_per_epoch", train_batches_per_epoch),
        ):
            if value < 1:
                raise ValueError(f"data.{name}: expected >= 1, got {value}")
        if num_frames < 2:
            raise ValueError(f"data.num_frames: expected >= 2 (a clip needs a transition), got {num_frames}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"data.val_fraction: expected in [0, 1), got {val_fraction}")
        self.save_hyperparameters()
        self.augment = ClipAugment(tuple(crop_scale), brightness)
        self.counter = SkipCounter()
        self._urls: list[str] | None = None
        self._val_urls: list[str] | None = None
        self._decoder: str | None = None
        # (epoch, training batches consumed in it): counted as batches reach the model, restored on resume
        self._epoch, self._consumed = -1, 0
        self._resume: tuple[int, int] | None = None

    # ----- resolution (main process, so bad paths fail before any worker starts)
    def setup(self, stage: str | None = None) -> None:
        if self._urls is None:
            self._urls = resolve_shards(self.hparams.shards, "data.shards")
            if self.hparams.val_shards is not None:
                self._val_urls = resolve_shards(self.hparams.val_shards, "data.val_shards")
            self._decoder = resolve_decoder(self.hparams.decoder)

    @property
    def skipped_samples(self) -> int:
        return self.counter.samples

    @property
    def skipped_shards(self) -> int:
        return self.counter.shards

    def _position(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            return trainer.global_rank, trainer.world_size
        return distributed_position()

    def dataset(self, split: str, rank: int | None = None, world_size: int | None = None) -> ClipDataset:
        """The clip dataset of `split` ('train', 'val' or 'all'), for this rank unless given."""
        self.setup()
        hp = self.hparams
        if rank is None:
            rank, world_size = self._position()
        separate_val = self._val_urls is not None
        urls = self._val_urls if split == "val" and separate_val else self._urls
        filter_split = "all" if (separate_val or split == "all" or hp.val_fraction == 0) else split
        training = split == "train"
        workers = max(1, hp.num_workers)
        if not (training and hp.resampled) and len(urls) < world_size * workers:
            warnings.warn(
                f"data: {len(urls)} shards for {world_size} ranks x {workers} workers: some workers get no "
                "shard and ranks see unequal numbers of batches; write more, smaller shards "
                "(--shard_size) or use resampled=True",
                stacklevel=2,
            )
        return ClipDataset(
            urls,
            ClipSpec(
                hp.num_frames, hp.frame_stride, hp.clips_per_episode if training else 1, filter_split, hp.val_fraction
            ),
            decoder=self._decoder,
            resampled=training and hp.resampled,
            samples_per_worker=math.ceil(hp.train_batches_per_epoch / workers) * hp.batch_size
            if training and hp.resampled
            else None,
            shuffle_buffer=hp.shuffle_buffer if training else 0,
            augment=self.augment if training and self.augment.active else None,
            seed=hp.seed,
            rank=rank,
            world_size=world_size,
            counter=self.counter,
            batch_size=hp.batch_size,
        )

    def loader(self, dataset: ClipDataset, position: Callable[[], tuple[int, int]] | None = None) -> DataLoader:
        """A DataLoader over `dataset` with this module's batch size and workers; each epoch starts at
        `position()` (epoch, first batch), by default the next epoch from its first batch."""
        hp = self.hparams
        epochs = itertools.count()
        return PositionedLoader(
            dataset,
            position or (lambda: (next(epochs), 0)),
            batch_size=hp.batch_size,
            num_workers=hp.num_workers,
            pin_memory=hp.pin_memory,
            persistent_workers=False,
            prefetch_factor=4 if hp.num_workers > 0 else None,
            collate_fn=collate_clips,  # frames decoded into their batch are taken whole, not stacked again
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader(self.dataset("train"), self._train_position)

    # ----- data position (fault tolerance)
    def _train_position(self) -> tuple[int, int]:
        """(epoch, first batch) of the training epoch starting now: the trainer's epoch, after the
        batches a resumed run already consumed in it."""
        trainer = getattr(self, "trainer", None)
        epoch, start = (trainer.current_epoch if trainer is not None else self._epoch + 1), 0
        if self._resume is not None:
            saved_epoch, saved_batches = self._resume
            self._resume = None
            if saved_epoch == epoch and saved_batches < self.batches_per_epoch:
                start = saved_batches
            elif saved_epoch >= epoch:  # saved at the end of an epoch: the next one starts afresh
                epoch = saved_epoch + 1
            if start and not self.hparams.resampled:
                warnings.warn(
                    "data.resampled=False: the resumed epoch is read again from its first batch", stacklevel=2
                )
                start = 0
        self._epoch, self._consumed = epoch, start
        return epoch, start

    @property
    def batches_per_epoch(self) -> int | float:
        """Training batches per epoch and rank in resampled mode (rounded up to whole worker rounds)."""
        if not self.hparams.resampled:
            return math.inf
        workers = max(1, self.hparams.num_workers)
        return math.ceil(self.hparams.train_batches_per_epoch / workers) * workers

    def state_dict(self) -> dict[str, Any]:
        """The data position saved in checkpoints: epoch and training batches consumed in it (equal
        on every rank in resampled mode, so rank 0's checkpoint serves all ranks)."""
        return {"epoch": self._epoch, "batches": self._consumed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resume = (int(state_dict["epoch"]), int(state_dict["batches"]))

    def val_dataloader(self) -> DataLoader | list:
        if self._val_urls is None and self.hparams.val_fraction == 0:
            return []
        return self.loader(self.dataset("val"))

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.training:
            self._consumed += 1  # this batch reaches the model now (prefetched ones do not count yet)
        return frames_to_float(batch)
