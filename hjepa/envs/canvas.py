"""Vectorized drawing: anti-aliased shapes blended into batches of frames.

Shapes are given by signed distance functions in pixel units, so one painter serves the disc of
the rooms agent, the fork's object and the moving shapes; anti-aliasing keeps sub-pixel position
readable from the image. Pixel convention as in `BatchedWorld`: unit (x, y) -> pixel (x * W, y * H).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# (dx, dy) pixel offsets from the shape centre, broadcastable to (N, P, P) -> signed distance in pixels
Sdf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def pixel_centres(size: int) -> np.ndarray:
    """Unit coordinates (size,) of the pixel centres along one image axis."""
    return (np.arange(size) + 0.5) / size


def disc_sdf(radius: float) -> Sdf:
    """Signed distance to a disc of `radius` pixels."""
    return lambda dx, dy: np.sqrt(dx * dx + dy * dy) - np.float32(radius)


def square_sdf(half_side: float) -> Sdf:
    """Signed distance (exact inside and along edges) to an axis-aligned square of `half_side` pixels."""
    return lambda dx, dy: np.maximum(np.abs(dx), np.abs(dy)) - np.float32(half_side)


def triangle_sdf(circumradius: float) -> Sdf:
    """Signed distance (exact inside and along edges) to an upright equilateral triangle centred on its centroid."""
    inradius = np.float32(circumradius / 2)
    slant = np.float32(np.sqrt(3) / 2)
    # outward edge normals in image coordinates (y down): (0, 1) for the bottom edge, (-/+ slant, -1/2)
    return lambda dx, dy: np.maximum(dy, slant * np.abs(dx) - dy / 2) - inradius


def paint(
    images: np.ndarray,
    centres: np.ndarray,
    sdf: Sdf,
    reach: float,
    colour: np.ndarray,
    episodes: np.ndarray | None = None,
) -> None:
    """Blend anti-aliased shapes of one colour (3,) into images (N, H, W, 3) uint8, in place.

    Shape i is centred at centres[i] (unit (x, y)) in image episodes[i] (default: image i; indices
    must be distinct). `sdf` receives pixel offsets dx (M, 1, P) and dy (M, P, 1) as float32;
    `reach` bounds the shape's extent along each axis in pixels. Only a (P, P) window around each
    centre is touched, so the cost does not grow with H * W.
    """
    _, h, w, _ = images.shape
    if episodes is None:
        episodes = np.arange(len(centres))
    size = min(2 * int(np.ceil(reach + 0.5)) + 1, h, w)
    cx, cy = centres[:, 0] * w, centres[:, 1] * h
    # windows are shifted to lie inside the image, so no pixel is written twice
    col0 = np.clip(np.floor(cx).astype(np.int64) - size // 2, 0, w - size)
    row0 = np.clip(np.floor(cy).astype(np.int64) - size // 2, 0, h - size)
    dx = (col0[:, None] + np.arange(size) + 0.5 - cx[:, None]).astype(np.float32)[:, None, :]
    dy = (row0[:, None] + np.arange(size) + 0.5 - cy[:, None]).astype(np.float32)[:, :, None]
    alpha = np.clip(0.5 - sdf(dx, dy), 0.0, 1.0)[:, None]  # pixel coverage, (M, 1, P, P)
    # every (P, P) window of every image as a view: (N, H - P + 1, W - P + 1, 3, P, P)
    windows = sliding_window_view(images, (size, size), axis=(1, 2), writeable=True)
    old = windows[episodes, row0, col0].astype(np.float32)  # (M, 3, P, P)
    target = np.asarray(colour, dtype=np.float32)[:, None, None]
    windows[episodes, row0, col0] = (old + alpha * (target - old) + 0.5).astype(np.uint8)


def blank(n: int, background: np.ndarray) -> np.ndarray:
    """n writable copies (N, H, W, 3) uint8 of a static background (H, W, 3)."""
    return np.repeat(background[None], n, axis=0)
