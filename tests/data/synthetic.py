"""Synthetic shards whose frames, states and actions encode (episode, frame) so alignment is checkable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

from hjepa.data.shards import Episode, shard_path, write_shard
from hjepa.data.video import CODECS, encode_video


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 arrays of the same shape (torchmetrics)."""
    return float(peak_signal_noise_ratio(torch.from_numpy(a).double(), torch.from_numpy(b).double(), data_range=255.0))


def synthetic_frames(episode: int, frames: int, size: int = 32) -> np.ndarray:
    """(T, H, W, 3) uint8: frame t has a white 2x2 block in column 2t and a grey level of the episode."""
    video = np.zeros((frames, size, size, 3), np.uint8)
    video[..., 2] = (episode * 7) % 200
    for t in range(frames):
        video[t, 4:6, 2 * t : 2 * t + 2] = 255
    return video


def synthetic_episode(episode: int, frames: int, codec: str = "ffv1") -> Episode:
    states = np.stack([np.arange(frames), np.full(frames, episode)], 1).astype(np.float32)  # (T, 2): t, e
    actions = np.stack([np.arange(frames - 1), np.full(frames - 1, -episode)], 1).astype(np.float32)  # (T-1, 2)
    return Episode(
        key=f"ep{episode:05d}",
        video=encode_video(synthetic_frames(episode, frames), 10, codec),
        video_ext=CODECS[codec][0],
        actions=actions,
        states=states,
        meta={"num_frames": frames, "fps": 10, "labels": {"episode": episode}},
    )


def write_synthetic_shards(out: Path, episodes: int, frames: int, shard_size: int, codec: str = "ffv1") -> list[Path]:
    paths = []
    for index, first in enumerate(range(0, episodes, shard_size)):
        batch = [synthetic_episode(e, frames, codec) for e in range(first, min(first + shard_size, episodes))]
        paths.append(shard_path(out, index))
        write_shard(paths[-1], batch)
    return paths
