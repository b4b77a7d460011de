"""Recorded episodes seen through the frozen world model: what the configurator remembers (seed paper sec. 3).

The agent's perception module encodes whole recorded episodes once; from them the configurator draws
subgoals (`LandmarkGraph`) and reads positions out of representations with a linear probe (the
region-avoidance cost of sec. 3.2 is "read through a probe").
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from torch import Tensor

from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import SETTINGS_FILE, recorded_settings
from hjepa.readout.features import Encodes, encode_split
from hjepa.readout.linear_probe import LinearHead, fit_probe


class Experience(NamedTuple):
    """Encoded episodes (E, T, D) with their ground-truth states (E, T, S)."""

    representations: Tensor
    states: Tensor

    def position_probe(self) -> LinearHead:
        """Ridge probe representation (..., D) -> state (..., S), fitted on every remembered step."""
        return fit_probe(self.representations, self.states)


def record_experience(
    model: Encodes,
    data: str | Path,
    episodes: int,
    num_frames: int | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
) -> Experience:
    """Encode up to `episodes` episodes of the shards at `data`, each as one clip of `num_frames` from its start.

    num_frames defaults to the episode length in the folder's `generate.json` (shards of `hjepa generate`).
    """
    if episodes < 1:
        raise ValueError(f"subgoals.episodes: expected a positive number of episodes, got {episodes}")
    if num_frames is None:
        settings = recorded_settings(data)
        if settings is None:
            raise ValueError(f"{data}: no {SETTINGS_FILE} to read the episode length from; pass num_frames")
        num_frames = int(settings["frames"])
    module = VideoDataModule(
        data, num_frames=num_frames, batch_size=batch_size, num_workers=num_workers, resampled=False, val_fraction=0.0
    )
    batches = -(-episodes // batch_size)
    encoded = encode_split({"model": model}, module.loader(module.dataset("all")), max_batches=batches)
    if len(encoded.states) == 0:
        raise ValueError(f"{data}: no episode of {num_frames} frames could be read")
    return Experience(encoded.reprs["model"][:episodes], encoded.states[:episodes])
