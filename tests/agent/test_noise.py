"""Colored exploration noise: the transform against a plain cosine sum, its spectrum, and what it buys a planner."""

import math

import numpy as np
import pytest
import torch

from hjepa.agent.planners import build_planner
from hjepa.agent.planners.noise import colored_noise
from tests.agent.test_planners import CumSum


def _slow_colored_noise(n: int, horizon: int, action_dim: int, beta: float, seed: int) -> np.ndarray:
    """The same draws as `colored_noise`, turned into a signal by an explicit sum of cosines and sines, one time step
    and one frequency at a time, and divided by that sum's standard deviation."""
    generator = torch.Generator().manual_seed(seed)
    parts = torch.randn((2, n, action_dim, horizon // 2 + 1), generator=generator, dtype=torch.float64).numpy()
    out = np.zeros((n, horizon, action_dim))
    variance = 0.0
    for k in range(horizon // 2 + 1):
        real = k == 0 or 2 * k == horizon  # these coefficients have no imaginary part
        scale = max(k, 1) / horizon  # the zero frequency takes the lowest nonzero one's scale
        scale = scale ** (-beta / 2) * (math.sqrt(2) if real else 1.0)
        pairs = 1 if real else 2  # a complex coefficient stands for itself and its conjugate
        variance += pairs**2 * scale**2
        for t in range(horizon):
            angle = 2 * math.pi * k * t / horizon
            imaginary = 0.0 if real else parts[1, :, :, k]
            out[:, t] += pairs * scale * (parts[0, :, :, k] * math.cos(angle) - imaginary * math.sin(angle))
    return out / math.sqrt(variance)


@pytest.mark.parametrize("horizon", [7, 8, 32])
@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_matches_an_explicit_sum_of_cosines(horizon, beta):
    fast = colored_noise(5, horizon, 2, beta, torch.Generator().manual_seed(3), dtype=torch.float64)
    np.testing.assert_allclose(fast.numpy(), _slow_colored_noise(5, horizon, 2, beta, 3), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_unit_variance_at_every_step_and_spectrum_slope_minus_beta(beta):
    horizon = 64
    x = colored_noise(20_000, horizon, 1, beta, torch.Generator().manual_seed(0), dtype=torch.float64)[..., 0]
    assert x.shape == (20_000, horizon)
    torch.testing.assert_close(x.var(0), torch.ones(horizon, dtype=torch.float64), atol=0.05, rtol=0)
    power = torch.fft.rfft(x).abs().pow(2).mean(0)[1:-1]  # drop the zero and Nyquist frequencies
    freqs = torch.fft.rfftfreq(horizon, dtype=torch.float64)[1:-1]
    slope = np.polyfit(freqs.log().numpy(), power.log().numpy(), 1)[0]
    assert slope == pytest.approx(-beta, abs=0.05)


def test_white_noise_walks_sqrt_h_and_correlated_noise_farther():
    horizon = 32
    white, red = (colored_noise(20_000, horizon, 2, b, torch.Generator().manual_seed(1)) for b in (0.0, 2.0))
    assert white.sum(1).std().item() == pytest.approx(math.sqrt(horizon), rel=0.05)
    assert (white[:, 1:] * white[:, :-1]).mean().abs().item() < 0.02
    assert red.sum(1).std().item() > 2.5 * math.sqrt(horizon)


def test_correlated_noise_finds_a_far_goal_in_a_flat_cost():
    """A cost flat beyond 0.15 of a goal 0.6 away: white per-step noise (displacement ~0.14 in 32 steps) does not
    reach the basin; noise with beta = 2 reaches it, with the same search. A plan priced below the flat value has
    entered the basin."""
    goal, flat = torch.tensor([0.6, 0.0]), 0.15 * 32

    def basin_cost(states, actions):
        return (states - goal).norm(dim=-1).clamp(max=0.15).sum(-1)

    def found(beta: float) -> float:
        planner = build_planner(
            "cem", action_low=[-0.05] * 2, action_high=[0.05] * 2, horizon=32, population=64, elites=8, iterations=2,
            noise_beta=beta,
        )  # fmt: skip
        plans = [planner.plan(torch.zeros(2), basin_cost, CumSum(), generator=seed) for seed in range(20)]
        return sum(float(plan.cost) < flat - 1e-6 for plan in plans) / len(plans)

    white, colored = found(0.0), found(2.0)
    assert white <= 0.2 and colored >= 0.8, (white, colored)


def test_negative_beta_is_refused_by_name():
    with pytest.raises(ValueError, match=r"planner.noise_beta must be >= 0, got -1"):
        build_planner("cem", action_low=[-1.0], action_high=[1.0], horizon=4, noise_beta=-1.0)
    with pytest.raises(ValueError, match=r"planner.noise_beta must be >= 0, got -1"):
        build_planner("mppi", action_low=[-1.0], action_high=[1.0], horizon=4, noise_beta=-1.0)
