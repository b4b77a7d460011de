"""ClipAugment: one crop and one brightness factor per clip, drawn from the clip's seed."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from hjepa.data.augment import ClipAugment


def random_clip(seed: int, frames: int = 3, size: int = 24) -> torch.Tensor:
    """(T, 3, H, W) uint8 noise."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (frames, 3, size, size), dtype=np.uint8))


def test_the_seed_fixes_the_augmentation_and_torch_stream_is_left_alone():
    clip, augment = random_clip(0), ClipAugment(crop_scale=(0.3, 0.9), brightness=0.3)
    torch.manual_seed(5)
    first = augment(clip, np.random.default_rng(1))
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(augment(clip, np.random.default_rng(1)), first)
    assert torch.equal(torch.rand(1), after)  # the global torch generator is restored
    assert not torch.equal(augment(clip, np.random.default_rng(2)), first)


def test_the_crop_is_a_window_of_the_drawn_area_resized_back():
    clip = random_clip(1, size=16)
    out = ClipAugment(crop_scale=(0.25, 0.25))(clip, np.random.default_rng(0))  # side 8 of 16
    windows = [
        F.interpolate(
            clip[:, :, top : top + 8, left : left + 8].float(),
            size=(16, 16),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        for top in range(9)
        for left in range(9)
    ]
    # within one grey level: the transform resizes in [0, 1], rounding once at the end
    assert sum(bool((window - out.float()).abs().max() <= 1) for window in windows) == 1


def test_brightness_scales_every_pixel_by_one_factor_in_range():
    clip = torch.full((2, 3, 8, 8), 100, dtype=torch.uint8)
    factors = [
        float(ClipAugment(brightness=0.2)(clip, np.random.default_rng(seed)).float().mean()) / 100
        for seed in range(200)
    ]
    assert 0.8 <= min(factors) < 0.82 and 1.18 < max(factors) <= 1.2
    out = ClipAugment(brightness=0.2)(clip, np.random.default_rng(0))
    assert (out == out[0, 0, 0, 0]).all()
