"""The learning-rate schedule of training: a linear warmup to the peak rate, then a cosine down to a floor.

Written as a function of the step alone, so that a run resumed with another `trainer.max_steps` follows the schedule
of its new length from the step it resumed at, and the rate rests at its floor past the end. torch's chained
`CosineAnnealingLR` keeps the length it was saved with: resumed for longer, its cosine climbs back toward the peak.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

WARMUP_START = 1e-3
"""The share of the peak rate at the first step of a warmup."""


def warmup_cosine(step: int, warmup: int, total: int, floor: float) -> float:
    """The share of the peak rate at `step`: linear from `WARMUP_START` over `warmup` steps, then a cosine from 1 to
    `floor` at step `total`, and `floor` after it."""
    if step < warmup:
        return WARMUP_START + (1.0 - WARMUP_START) * step / warmup
    span = max(total - warmup, 1)
    progress = min(step - warmup, span) / span
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_scheduler(optimizer: Optimizer, warmup: int, total: int, floor: float) -> LambdaLR:
    """`warmup_cosine` as a per-step scheduler of `optimizer`. A checkpoint keeps only its step (the rule is a
    function, which `LambdaLR` does not save), so a resumed run takes the rule of its own settings."""

    def share(step: int) -> float:
        return warmup_cosine(step, warmup, total, floor)

    return LambdaLR(optimizer, share)
