"""The planning protocol's scores, checked against slow transcriptions of their definitions."""

import math

import numpy as np
import pytest

from hjepa.eval.protocol import (
    RADII,
    Protocol,
    first_reached,
    paired_comparison,
    score_distances,
    wilson_interval,
)


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval, transcribed from its formula."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (97, 100), (1, 3)])
def test_wilson_interval_matches_its_formula(k, n):
    low, high = wilson_interval(k, n)
    expected = wilson_by_hand(k, n)
    assert low == pytest.approx(expected[0], abs=1e-4) and high == pytest.approx(expected[1], abs=1e-4)
    assert low <= k / n <= high


def test_scores_match_a_loop_over_episodes():
    rng = np.random.default_rng(0)
    distances = [rng.uniform(0.0, 0.3, size=rng.integers(2, 40)) for _ in range(25)]
    scores = score_distances(distances, RADII)
    for radius in RADII:
        ever = sum(1 for d in distances if any(x < radius for x in d)) / len(distances)
        end = sum(1 for d in distances if d[-1] < radius) / len(distances)
        assert scores[f"ever_r{radius:g}"] == pytest.approx(ever, abs=1e-4)
        assert scores[f"end_r{radius:g}"] == pytest.approx(end, abs=1e-4)
    assert scores["final_distance_median"] == pytest.approx(sorted(d[-1] for d in distances)[12], abs=1e-4)


def test_first_reached_is_the_first_step_within_the_radius():
    assert first_reached(np.array([0.3, 0.1, 0.04, 0.2, 0.01]), 0.05) == 2
    assert first_reached(np.array([0.3, 0.1]), 0.05) is None


@pytest.mark.parametrize(
    ("fields", "flag"),
    [
        ({"radii": (0.05, 0.0)}, "--radii"),
        ({"radii": (-0.1,)}, "--radii"),
        ({"success_radius": 0.0}, "--success_radius"),
        ({"episodes": 0}, "--episodes"),
        ({"max_steps": 0}, "--max_steps"),
    ],
)
def test_bad_protocol_names_the_flag(fields, flag):
    with pytest.raises(ValueError, match=flag):
        Protocol(**fields)


def test_protocol_scores_its_headline_radius():
    assert Protocol(radii=(0.1,), success_radius=0.05).radii == (0.05, 0.1)


def sign_test_by_hand(wins_a: int, wins_b: int) -> float:
    """Two-sided exact sign test on the discordant pairs: twice the smaller tail of Binomial(n, 1/2), at most 1."""
    n = wins_a + wins_b
    tail = sum(math.comb(n, i) for i in range(min(wins_a, wins_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(
    ("both", "only_a", "only_b", "neither"), [(3, 9, 1, 17), (0, 4, 4, 2), (5, 0, 6, 0), (2, 1, 0, 7)]
)
def test_paired_comparison_is_a_sign_test_on_the_episodes_only_one_won(both, only_a, only_b, neither):
    pairs = [(1, 1)] * both + [(1, 0)] * only_a + [(0, 1)] * only_b + [(0, 0)] * neither
    order = np.random.default_rng(both + only_a).permutation(len(pairs))
    a, b = [bool(pairs[i][0]) for i in order], [bool(pairs[i][1]) for i in order]
    result = paired_comparison(a, b)
    assert (result["only_first"], result["only_other"]) == (only_a, only_b)
    assert result["p_value"] == pytest.approx(sign_test_by_hand(only_a, only_b), abs=1e-4)


def test_paired_comparison_needs_the_same_episodes():
    with pytest.raises(ValueError, match="paired episodes"):
        paired_comparison([True, False], [True])
