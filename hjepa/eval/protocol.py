"""The planning protocol and its scores, like-for-like with the reference systems: success "ever reached" and
"at the end" of the episode within each radius, Wilson 95% intervals, median final distance (how PLDM and
eb_jepa report it).

Ground truth enters here only: it scores the episodes, it never reaches the agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

RADII = (0.022, 0.05, 0.069)
"""PLDM's first-reached radius (1 px^2 per coordinate of 64), the worlds' own radius, eb_jepa's 4.5 px of 65."""


def check_radii(radii: Sequence[float], field: str = "--radii") -> tuple[float, ...]:
    """Sorted, positive success radii; ValueError naming `field` otherwise."""
    if not radii or any(not np.isfinite(r) or r <= 0 for r in radii):
        raise ValueError(f"{field}: success radii must be positive distances in world units, got {list(radii)}")
    return tuple(sorted(float(r) for r in radii))


@dataclass(frozen=True)
class Protocol:
    """How planning episodes are run and scored.

    Attributes:
        episodes: episodes per actor, with seeds `seed`, `seed + 1`, ...: every actor sees the same starts and goals.
        max_steps: steps per episode (None: the task's `max_steps`).
        terminate: end an episode when the agent first comes within the smallest radius (PLDM's "first time
            reached"); False keeps it acting until `max_steps`, so "at the end" measures whether it stays (eb_jepa).
        radii: success radii in world units, each scored "ever reached" and "at the end".
        success_radius: the radius of the headline success rate.
    """

    episodes: int = 20
    seed: int = 0
    max_steps: int | None = None
    terminate: bool = True
    radii: tuple[float, ...] = RADII
    success_radius: float = 0.05

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"--episodes: expected at least 1 episode, got {self.episodes}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max_steps: expected at least 1 step per episode, got {self.max_steps}")
        check_radii([self.success_radius], "--success_radius")
        object.__setattr__(self, "radii", check_radii(sorted({*self.radii, self.success_radius})))

    @property
    def seeds(self) -> list[int]:
        """The episode seeds."""
        return [self.seed + i for i in range(self.episodes)]


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """Wilson score 95% interval of a success rate (a sensible interval also at 0 or n successes)."""
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return round(float(interval.low), 4), round(float(interval.high), 4)


def radius_key(radius: float) -> str:
    """`r0.022` for 0.022: the suffix of per-radius keys."""
    return f"r{radius:g}"


def score_distances(distances: Sequence[np.ndarray], radii: Sequence[float]) -> dict[str, object]:
    """Scores of episodes given each one's distances to the goal (T+1,), start included.

    For each radius r: `ever_<r>` (the share of episodes that came within r at some step) and `end_<r>` (still
    within r at the last step), each with its Wilson interval `*_ci`; `final_distance_median`.
    """
    n = len(distances)
    if n == 0:
        raise ValueError("no episodes to score")
    closest = np.array([float(np.min(d)) for d in distances])
    final = np.array([float(d[-1]) for d in distances])
    scores: dict[str, object] = {}
    for radius in radii:
        for name, values in (("ever", closest), ("end", final)):
            hits = int((values < radius).sum())
            scores[f"{name}_{radius_key(radius)}"] = round(hits / n, 4)
            scores[f"{name}_{radius_key(radius)}_ci"] = wilson_interval(hits, n)
    scores["final_distance_median"] = round(float(np.median(final)), 4)
    return scores


def first_reached(distances: np.ndarray, radius: float) -> int | None:
    """The step at which an episode first came within `radius` (None if never)."""
    hits = np.flatnonzero(distances < radius)
    return int(hits[0]) if hits.size else None


def paired_comparison(first: Sequence[bool], other: Sequence[bool]) -> dict[str, object]:
    """Two actors' successes on the same episodes, in order: how many episodes only one of them won, and the
    two-sided exact McNemar p-value (a sign test on those discordant episodes). Pairing removes the luck of
    the draw of starts and goals that two separate Wilson intervals carry, so fewer episodes tell two apart."""
    if len(first) != len(other) or not first:
        raise ValueError(f"paired episodes: expected two equal, non-empty lists, got {len(first)} and {len(other)}")
    only_first = sum(bool(a) and not bool(b) for a, b in zip(first, other))
    only_other = sum(bool(b) and not bool(a) for a, b in zip(first, other))
    discordant = only_first + only_other
    p_value = binomtest(only_first, discordant).pvalue if discordant else 1.0
    return {"only_first": only_first, "only_other": only_other, "p_value": round(float(p_value), 4)}
