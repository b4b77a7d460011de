"""Continuous collision of a moving point against axis-aligned boxes (configuration-space walls).

Walls inflated by the agent's radius become open boxes that the agent's centre must never enter.
Each step moves along one straight, collision-free segment, so the agent cannot tunnel through a
wall whatever the step size, and the segment between two consecutive states is the path taken.
"""

from __future__ import annotations

import numpy as np

_BACKOFF = 1e-9  # distance kept from a hit face, far below a pixel and far above float64 rounding


def inside_any(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether points (N, 2) lie strictly inside any of the open boxes (B, 4) [x0, x1, y0, y1]; (N,) bool."""
    x, y = points[:, None, 0], points[:, None, 1]
    return ((x > boxes[:, 0]) & (x < boxes[:, 1]) & (y > boxes[:, 2]) & (y < boxes[:, 3])).any(axis=1)


def hit_time(start: np.ndarray, disp: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction (N,) in [0, 1] of the segment start + t * disp travelled before entering any box (1: free).

    Slab test on start (N, 2), disp (N, 2) against open boxes (B, 4); segments that only touch a
    face are free.
    """
    p, d = start[:, None, :], disp[:, None, :]  # (N, 1, 2)
    lo, hi = boxes[None, :, [0, 2]], boxes[None, :, [1, 3]]  # (1, B, 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_lo, t_hi = (lo - p) / d, (hi - p) / d
    parallel = d == 0
    between = (p > lo) & (p < hi)
    t_near = np.where(parallel, np.where(between, -np.inf, np.inf), np.minimum(t_lo, t_hi))
    t_far = np.where(parallel, np.where(between, np.inf, -np.inf), np.maximum(t_lo, t_hi))
    enter, leave = t_near.max(axis=2), t_far.min(axis=2)  # (N, B)
    hit = (enter < leave) & (leave > 0) & (enter < 1)
    return np.where(hit, np.maximum(enter, 0.0), 1.0).min(axis=1)


def move(start: np.ndarray, disp: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """End points (N, 2) of moving from start (N, 2) by disp (N, 2) without entering any box.

    Tries the full displacement and its two axis projections (so a push along a wall slides), each
    cut just before its first hit, and keeps the one that advances furthest along disp. Starts must
    be outside every box; ends are too, as an end that rounding puts inside is replaced by its start.
    """
    best, best_progress = start, np.zeros(len(start))
    for mask in ((1.0, 1.0), (1.0, 0.0), (0.0, 1.0)):
        d = disp * mask
        t = hit_time(start, d, boxes)
        length = np.linalg.norm(d, axis=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = np.where(t < 1, np.maximum(t - _BACKOFF / length, 0.0), t)
        end = start + t[:, None] * d
        end = np.where(inside_any(end, boxes)[:, None], start, end)
        progress = ((end - start) * disp).sum(axis=1)
        better = progress > best_progress
        best = np.where(better[:, None], end, best)
        best_progress = np.where(better, progress, best_progress)
    return best
