"""Rollout probe (seed paper sec. 4.4): does the world model's prediction k steps ahead still carry the state?

The linear head fit on encoder representations reads the predicted representations; a predictor
that learned the dynamics must beat copy-last (s_0 repeated: predicting no motion).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from hjepa.readout.linear_probe import LinearHead, r2_per_dim


class Unrolls(Protocol):
    """Anything with the world model's rollout: s0 (B, D), actions (B, H, A) -> states (B, H, D)."""

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor: ...


class RolloutProbe(NamedTuple):
    """R^2 per step 1..k and state dim, (k, S), of three readouts, and the rollout's decoded states."""

    r2: dict[str, Tensor]  # "rollout", "copy_last", "encoder" (the head on the true frames: the ceiling)
    predicted: Tensor  # (N, k, S) the head applied to the predicted representations


@torch.no_grad()
def rollout_probe(
    model: Unrolls,
    head: LinearHead,
    reprs: Tensor,
    states: Tensor,
    actions: Tensor,
    k: int,
    device: torch.device | str = "cpu",
) -> RolloutProbe:
    """Unroll k steps from each clip's first representation with its true actions and score the head.

    reprs (N, T, D) encoder representations, states (N, T, S) ground truth, actions (N, T-1, A), k < T.
    """
    if not 1 <= k < reprs.shape[1]:
        raise ValueError(
            f"rollout_k must be in [1, {reprs.shape[1] - 1}] for clips of {reprs.shape[1]} frames, got {k}"
        )
    predicted_reprs = model.unroll(reprs[:, 0].to(device), actions[:, :k].to(device)).cpu()
    truth = states[:, 1 : k + 1]
    readouts = {
        "rollout": head(predicted_reprs),
        "copy_last": head(reprs[:, :1]).expand_as(truth),
        "encoder": head(reprs[:, 1 : k + 1]),
    }
    r2 = {name: torch.stack([r2_per_dim(pred[:, j], truth[:, j]) for j in range(k)]) for name, pred in readouts.items()}
    return RolloutProbe(r2, readouts["rollout"])
