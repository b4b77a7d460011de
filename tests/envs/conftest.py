"""Shared helpers for the procedural-world tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from hjepa.envs.rooms import WALL


def _centroids(images: np.ndarray, background: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Coverage-weighted pixel centroids (M, 2) as (column, row) of `colour` blended over `background`.

    Each pixel is background * (1 - a) + colour * a, so a is read back by projecting on colour - background.
    """
    diff = images.astype(np.float64) - background.astype(np.float64)
    direction = colour.astype(np.float64) - background.astype(np.float64)
    weight = np.clip((diff * direction).sum(-1) / (direction * direction).sum(-1), 0.0, 1.0)  # (M, H, W)
    rows, cols = np.indices(images.shape[1:3])
    total = weight.sum(axis=(1, 2))
    return np.stack([(weight * cols).sum(axis=(1, 2)) / total, (weight * rows).sum(axis=(1, 2)) / total], axis=1)


@pytest.fixture
def centroids() -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Centroid reader: (images (M, H, W, 3), background (H, W, 3), colour (3,)) -> (M, 2) pixel (col, row)."""
    return _centroids


def _check_door_rows(frames: np.ndarray, centres: np.ndarray, width: float) -> None:
    """Assert that the middle wall of TwoRooms frames (M, H, W, 3) is open exactly around y = centres (M,).

    Reads the pixel column just left of x = 0.5 (inside the wall from 64 px on); rows more than a pixel
    inside the opening must not show wall, rows more than a pixel outside it must (an agent's
    anti-aliased edge may tint them slightly).
    """
    size = frames.shape[1]
    column = frames[:, :, size // 2 - 1].astype(np.int64)  # (M, H, 3)
    is_wall = np.abs(column - WALL).max(axis=-1) <= 8
    offset = np.abs((np.arange(size) + 0.5) / size - np.asarray(centres)[:, None])  # (M, H)
    assert not is_wall[offset < width / 2 - 1 / size].any()
    assert is_wall[offset > width / 2 + 1 / size].all()


@pytest.fixture
def check_door_rows() -> Callable[[np.ndarray, np.ndarray, float], None]:
    """Door reader: (frames (M, H, W, 3), door centres (M,), door width) -> asserts the wall opens just there."""
    return _check_door_rows
