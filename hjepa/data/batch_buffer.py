"""Clips decoded straight into the batch they will travel in: a DataLoader stacks the clips of a batch into one
tensor (in shared memory inside a worker), a copy of every frame; decoding each clip into its slot of that tensor
saves it (the copy costs about half as much as a PyAV decode of 224 px frames).

A DataLoader worker over an IterableDataset makes each batch of the next `batch_size` items its iterator yields,
so a worker's clips fill its batches in order: `BatchBuffer` hands out slots in that order and `collate_clips`
takes the whole buffer as the batch's frames when its clips are exactly the buffer's slots, in order; otherwise
it stacks them as the DataLoader would (a clip of another size, one decoded elsewhere).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import default_collate, get_worker_info

from hjepa.data.pixels import channels_first


def shared_frames(shape: tuple[int, ...]) -> Tensor:
    """An uninitialised uint8 tensor of `shape` in shared memory."""
    storage = torch.UntypedStorage._new_shared(math.prod(shape))  # uint8: one byte per element
    return torch.empty(0, dtype=torch.uint8).set_(storage, 0, shape)


def new_frames(shape: tuple[int, ...]) -> Tensor:
    """An uninitialised uint8 tensor of `shape`, in shared memory inside a DataLoader worker (as the DataLoader's
    own collation allocates it there), so sending it to the main process copies nothing."""
    return torch.empty(shape, dtype=torch.uint8) if get_worker_info() is None else shared_frames(shape)


class BatchBuffer:
    """Slots (T, H, W, 3) of one batch tensor (B, T, H, W, 3) for a worker's next clips, yielded as (T, 3, H, W)
    views; a new tensor after every `batch_size` clips, so a batch already yielded is never written again."""

    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.frames: Tensor | None = None  # (B, T, H, W, 3)
        self.filled = 0

    def slot(self) -> Tensor | None:
        """Where the next clip (T, H, W, 3) goes, or None when it starts a batch (its size is not known yet)."""
        if self.frames is None or self.filled == self.batch_size:
            return None
        return self.frames[self.filled]

    def start(self, clip: Tensor) -> Tensor:
        """A new batch tensor shaped after `clip` (T, H, W, 3), holding it in its first slot; returns that slot
        (T, 3, H, W)."""
        self.frames, self.filled = new_frames((self.batch_size, *clip.shape)), 0
        self.frames[0].copy_(clip)
        return self.commit()

    def commit(self) -> Tensor:
        """The slot just written holds a clip that will be yielded: the next clip takes the next slot. Returns the
        clip (T, 3, H, W)."""
        assert self.frames is not None
        self.filled += 1
        return channels_first(self.frames[self.filled - 1])


def whole_buffer(frames: list[Tensor]) -> Tensor | None:
    """The clips (T, 3, H, W) as one (N, T, 3, H, W) tensor without a copy, when they are the first N slots of one
    buffer in order; None otherwise."""
    first = frames[0]
    storage, step = first.untyped_storage(), first.numel()
    for index, clip in enumerate(frames):
        if (
            clip.untyped_storage().data_ptr() != storage.data_ptr()
            or clip.storage_offset() != index * step
            or clip.shape != first.shape
            or not clip.movedim(-3, -1).is_contiguous()
        ):
            return None
    return channels_first(first.new_empty(0).set_(storage, 0, (len(frames), *first.movedim(-3, -1).shape)))


def collate_clips(clips: list[dict[str, Any]]) -> dict[str, Any]:
    """The DataLoader's collation of clips, with their frames taken whole from their batch buffer where they fill it
    in order (else stacked, as `default_collate` does)."""
    frames = [clip["frames"] for clip in clips]
    batch = default_collate([{k: v for k, v in clip.items() if k != "frames"} for clip in clips])
    together = whole_buffer(frames)
    batch["frames"] = together if together is not None else default_collate(frames)
    return batch
