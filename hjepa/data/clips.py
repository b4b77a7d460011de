"""Cutting clips out of episodes while keeping frames, actions and states aligned.

A clip of `num_frames` frames taken every `frame_stride` frames spans `(num_frames - 1) * stride + 1`
frames of the episode. The action between two kept frames is the concatenation of the `stride`
episode actions between them, so no action is lost: clip actions are `(num_frames - 1, A * stride)`.
"""

from __future__ import annotations

import numpy as np


def clip_span(num_frames: int, frame_stride: int) -> int:
    """Number of episode frames a clip covers."""
    return (num_frames - 1) * frame_stride + 1


def clip_starts(
    total: int, num_frames: int, frame_stride: int, count: int, rng: np.random.Generator | None
) -> list[int]:
    """Start frames of `count` clips in an episode of `total` frames: random when `rng` is given
    (training), else evenly spaced and deterministic (validation)."""
    last_start = total - clip_span(num_frames, frame_stride)
    if last_start < 0:
        raise ValueError(
            f"num_frames={num_frames} with frame_stride={frame_stride} needs "
            f"{clip_span(num_frames, frame_stride)} frames, but the episode has {total}"
        )
    if rng is not None:
        return sorted(int(s) for s in rng.integers(0, last_start + 1, size=count))
    if count == 1:
        return [0]
    return [int(round(s)) for s in np.linspace(0, last_start, count)]


def frame_indices(start: int, num_frames: int, frame_stride: int) -> np.ndarray:
    """Episode frame indices of a clip starting at `start`."""
    return start + frame_stride * np.arange(num_frames)


def clip_actions(actions: np.ndarray, start: int, num_frames: int, frame_stride: int) -> np.ndarray:
    """Actions between consecutive clip frames: `(T-1, A)` episode actions -> `(num_frames-1, A*stride)`."""
    span = actions[start : start + (num_frames - 1) * frame_stride]
    return span.reshape(num_frames - 1, frame_stride * actions.shape[1])
