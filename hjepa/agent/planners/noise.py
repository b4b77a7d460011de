"""Temporally correlated exploration noise for sampling planners (iCEM, Pinneri et al. 2020; seed paper sec. 3.1.4).

White noise per step cancels itself over a plan: its displacement grows as sqrt(H), so in a cost landscape that is
flat away from the goal a sampler never reaches the goal's basin. Noise with power spectrum 1 / f^beta along the
horizon keeps a direction for many steps (beta = 0: white, 2: a random walk's spectrum), at the same variance.
"""

import torch
from torch import Tensor


def check_noise_beta(beta: float) -> float:
    """`planner.noise_beta` as given, refused by name when negative (a spectrum rising with frequency)."""
    if beta < 0:
        raise ValueError(f"planner.noise_beta must be >= 0, got {beta}")
    return beta


def colored_noise(
    n: int,
    horizon: int,
    action_dim: int,
    beta: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """(n, H, A) Gaussian noise, unit variance at every step, power spectrum 1 / f^beta along H.

    Each (candidate, action dimension) is the inverse real FFT of complex Gaussian coefficients scaled by
    f^(-beta / 2); the zero frequency takes the scale of the lowest nonzero one, 1 / H, so a plan may drift.
    """
    freqs = torch.fft.rfftfreq(horizon, dtype=torch.float64)
    freqs[0] = 1.0 / horizon
    scale = freqs.pow(-beta / 2)
    # The zero and (even H) Nyquist terms are real: sqrt(2) gives them the variance of the complex ones, so that
    # beta = 0 is white noise. Var(x_t) of the inverse transform: every complex term counts twice.
    real_only = torch.zeros_like(scale, dtype=torch.bool)
    real_only[0] = True
    if horizon % 2 == 0:
        real_only[-1] = True
    scale = torch.where(real_only, scale * 2**0.5, scale)
    variance = torch.where(real_only, scale.pow(2), 4 * scale.pow(2)).sum() / horizon**2
    scale = (scale / variance.sqrt()).to(device=device, dtype=dtype or torch.get_default_dtype())
    shape = (n, action_dim, len(freqs))
    parts = torch.randn((2, *shape), generator=generator, device=device, dtype=scale.dtype)
    coefficients = torch.complex(parts[0], torch.where(real_only.to(device), 0.0, parts[1])) * scale
    return torch.fft.irfft(coefficients, n=horizon).transpose(1, 2)  # (n, A, H) -> (n, H, A)
