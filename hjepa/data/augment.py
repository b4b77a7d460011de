"""Clip-consistent augmentation: one random crop and one brightness factor for all frames of a clip,
so motion between frames stays what the world did, not what the augmentation did."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torchvision.transforms import v2


@dataclass(frozen=True)
class ClipAugment:
    """Random resized crop (area fraction in `crop_scale`, the frame's aspect ratio) and brightness jitter
    (factor in 1 +/- `brightness`), torchvision v2 transforms drawn once per clip."""

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

    @lru_cache(maxsize=4)  # noqa: B019  a frozen, hashable config: at most 4 small transforms are kept
    def transform(self, height: int, width: int) -> v2.Compose:
        """uint8 frames `(T, C, H, W)` -> float `(T, C, H, W)` in [0, 1]; built once per frame size."""
        steps: list[v2.Transform] = [v2.ToDtype(torch.float32, scale=True)]
        if self.crop_scale != (1.0, 1.0):
            steps.append(v2.RandomResizedCrop((height, width), self.crop_scale, (width / height, width / height)))
        if self.brightness > 0:
            steps.append(v2.ColorJitter(brightness=self.brightness))
        return v2.Compose(steps)

    def __call__(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """`(T, C, H, W)` uint8 -> `(T, C, H, W)` uint8, the same transform for every frame."""
        _, _, height, width = frames.shape
        # v2 draws from torch's global generator: seed it from `rng` so a clip's augmentation follows its
        # seed, and restore it so the caller's torch stream is left as it was
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(rng.integers(2**63)))
            out = self.transform(height, width)(frames)
        return out.mul_(255).round_().to(torch.uint8)
