"""Shared helpers for the procedural-world tests."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest


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
