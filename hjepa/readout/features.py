"""Representations of a data split for probing (seed paper sec. 4: the state must be readable from s)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor

from hjepa.data.datamodule import frames_to_float
from hjepa.models.encoder import FrameEncoder
from hjepa.models.tubelet import tubelet_actions, tubelet_states


class Encodes(Protocol):
    """Anything with the world model's perception: frames (B, T, C, H, W) -> states (B, T, D)."""

    def encode(self, frames: Tensor) -> Tensor: ...


class PatchTokens:
    """A world model's perception read per patch: encode(frames (B, T, C, H, W)) -> tokens (B, T // t, N, D)
    (`FrameEncoder.patch_tokens`), so `encode_split` gathers patch tokens as it gathers states."""

    def __init__(self, encoder: FrameEncoder) -> None:
        self.encoder = encoder

    def encode(self, frames: Tensor) -> Tensor:
        return self.encoder.patch_tokens(frames)


class EncodedSplit(NamedTuple):
    """Every clip of a split: representations per model, ground truth, actions and per-episode labels."""

    reprs: dict[str, Tensor]  # model name -> (N, T, D) float32 ((N, T, P, D) for `PatchTokens`)
    states: Tensor  # (N, T, S) ground-truth states
    actions: Tensor  # (N, T-1, A)
    labels: dict[str, Tensor]  # per-episode labels, (N, ...)


@torch.no_grad()
def encode_split(
    models: Mapping[str, Encodes],
    loader: Iterable[dict[str, Any]],
    device: torch.device | str = "cpu",
    max_batches: int | None = None,
) -> EncodedSplit:
    """Encode up to `max_batches` batches of `loader` with every model (one decode serves all models).

    With a tubelet encoder (t frames -> one state), ground truth and actions are aligned to tubelets.
    """
    tubelet = {getattr(getattr(m, "encoder", None), "tubelet", 1) for m in models.values()}
    if len(tubelet) != 1:
        raise ValueError(f"models to compare use different encoder.tubelet values {sorted(tubelet)}")
    (t,) = tubelet
    reprs: dict[str, list[Tensor]] = {name: [] for name in models}
    states, actions, labels = [], [], []
    for index, batch in enumerate(loader):
        if max_batches is not None and index >= max_batches:
            break
        batch = frames_to_float(dict(batch, frames=batch["frames"].to(device, non_blocking=True)))
        for name, model in models.items():
            reprs[name].append(model.encode(batch["frames"]).float().cpu())
        states.append(tubelet_states(batch["states"], t))
        actions.append(tubelet_actions(batch["actions"], t))
        labels.append(batch["labels"])
    if not states:  # empty split: the caller decides whether that is an error
        return EncodedSplit({name: torch.empty(0) for name in models}, torch.empty(0), torch.empty(0), {})
    return EncodedSplit(
        {name: torch.cat(chunks) for name, chunks in reprs.items()},
        torch.cat(states).float(),
        torch.cat(actions).float(),
        {key: torch.cat([batch_labels[key] for batch_labels in labels]) for key in labels[0]},
    )
