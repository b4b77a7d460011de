"""Clip-consistent augmentation: one random crop and one brightness factor for all frames of a clip,
so motion between frames stays what the world did, not what the augmentation did."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ClipAugment:
    """Random resized crop (area fraction in `crop_scale`) and brightness jitter (+/- `brightness`)."""

    crop_scale: tuple[float, float] = (1.0, 1.0)
    brightness: float = 0.0

    def __post_init__(self) -> None:
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"augment.crop_scale: expected 0 < low <= high <= 1, got {self.crop_scale}")
        if not 0 <= self.brightness < 1:
            raise ValueError(f"augment.brightness: expected in [0, 1), got {self.brightness}")

    @property
    def active(self) -> bool:
        return self.crop_scale != (1.0, 1.0) or self.brightness > 0

    def __call__(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """`(T, C, H, W)` uint8 -> `(T, C, H, W)` uint8, the same transform for every frame."""
        _, _, height, width = frames.shape
        out = frames.float()
        if self.crop_scale != (1.0, 1.0):
            side = float(np.sqrt(rng.uniform(*self.crop_scale)))
            crop_h, crop_w = max(1, round(height * side)), max(1, round(width * side))
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
            out = out[:, :, top : top + crop_h, left : left + crop_w]
            out = F.interpolate(out, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
        if self.brightness > 0:
            out = out * float(rng.uniform(1 - self.brightness, 1 + self.brightness))
        return out.round_().clamp_(0, 255).to(torch.uint8)
