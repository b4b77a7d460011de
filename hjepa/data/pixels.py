"""Pixels as the models read them: decoders and renderers hand out RGB images (..., H, W, 3) uint8, the encoders
read frames (..., 3, H, W) float32 in [0, 1], contiguous. Every conversion between the two goes through here."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def channels_first(frames: Tensor) -> Tensor:
    """`(..., H, W, 3)` -> `(..., 3, H, W)`, a view: decoders write channels-last, and a transpose in the worker
    would cost a copy of every frame; `unit_frames` makes them contiguous where they are converted anyway."""
    return frames.movedim(-1, -3)


def unit_frames(frames: Tensor) -> Tensor:
    """uint8 frames (..., 3, H, W) of any strides -> contiguous float32 in [0, 1], in the one copy that converts them
    (done on the device for training batches, so that uint8 crosses processes and PCIe)."""
    return frames.to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)


def images_to_frames(images: np.ndarray) -> Tensor:
    """RGB images (..., H, W, 3) uint8 -> frames (..., 3, H, W) float32 in [0, 1]."""
    return unit_frames(channels_first(torch.from_numpy(np.ascontiguousarray(images))))
