"""Continuous point-versus-box collision."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hjepa.envs.collision import hit_time, inside_any, move

BOXES = np.array([[0.4, 0.6, 0.0, 0.45], [0.4, 0.6, 0.55, 1.0], [0.1, 0.2, 0.7, 0.8]])


def _first_entry(start: np.ndarray, disp: np.ndarray, boxes: np.ndarray, samples: int = 4001) -> np.ndarray:
    """Brute force: smallest sampled t in [0, 1] with start + t * disp strictly inside a box (1 if none)."""
    t = np.linspace(0.0, 1.0, samples)
    points = start[:, None, :] + t[None, :, None] * disp[:, None, :]  # (N, T, 2)
    inside = inside_any(points.reshape(-1, 2), boxes).reshape(len(start), samples)
    return np.where(inside.any(axis=1), t[np.argmax(inside, axis=1)], 1.0)


def test_hit_time_matches_dense_sampling() -> None:
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1, size=(600, 2))
    start = start[~inside_any(start, BOXES)]
    disp = rng.uniform(-0.5, 0.5, size=start.shape)
    np.testing.assert_allclose(hit_time(start, disp, BOXES), _first_entry(start, disp, BOXES), atol=3e-4)


def test_touching_a_face_or_sliding_along_it_is_free() -> None:
    start = np.array([[0.4, 0.2], [0.4, 0.2], [0.3, 0.45]])
    disp = np.array([[0.0, 0.1], [-0.1, 0.0], [0.2, 0.0]])  # along the face, away from it, along the top
    np.testing.assert_array_equal(hit_time(start, disp, BOXES), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(hit_time(np.array([[0.4, 0.2]]), np.array([[0.1, 0.0]]), BOXES), [0.0])


def test_move_stops_at_the_face_and_slides_along_it() -> None:
    start = np.array([[0.3, 0.2], [0.39, 0.2], [0.3, 0.5]])
    disp = np.array([[0.2, 0.0], [0.05, 0.05], [0.4, 0.02]])
    end = move(start, disp, BOXES)
    np.testing.assert_allclose(end[0], [0.4, 0.2], atol=1e-8)  # stopped at the face
    np.testing.assert_allclose(end[1], [0.39, 0.25], atol=1e-8)  # x blocked after 0.01: the y slide goes further
    np.testing.assert_allclose(end[2], [0.7, 0.52], atol=1e-8)  # straight through the gap


@settings(max_examples=200, deadline=None)
@given(
    start=hnp.arrays(np.float64, (16, 2), elements=st.floats(0, 1)),
    disp=hnp.arrays(np.float64, (16, 2), elements=st.floats(-2, 2)),
)
def test_move_never_enters_a_box(start: np.ndarray, disp: np.ndarray) -> None:
    start = start[~inside_any(start, BOXES)]
    disp = disp[: len(start)]
    end = move(start, disp, BOXES)
    assert not inside_any(end, BOXES).any()
    # the straight segment from start to end is the path: sample it densely
    t = np.linspace(0, 1, 2001)[None, :, None]
    path = start[:, None, :] + t * (end - start)[:, None, :]
    assert not inside_any(path.reshape(-1, 2), BOXES).any()
    # and it never goes backwards along the commanded displacement
    assert (((end - start) * disp).sum(axis=1) >= 0).all()
