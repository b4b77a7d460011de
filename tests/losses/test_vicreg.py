"""VICReg against a slow float64 transcription of Bardes et al. 2022, written with explicit loops."""

import math

import pytest
import torch

from hjepa.losses import VICReg, VICRegOutput


def reference_vicreg(x, y, inv_coeff=25.0, var_coeff=25.0, cov_coeff=1.0, gamma=1.0, eps=1e-4):
    """Direct transcription on Python floats: unbiased (co)variances, loops over dimensions and pairs."""
    x, y = x.double().tolist(), y.double().tolist()
    n, d = len(x), len(x[0])

    def mean(z, j):
        return sum(z[i][j] for i in range(n)) / n

    def cov(z, j, k):
        mj, mk = mean(z, j), mean(z, k)
        return sum((z[i][j] - mj) * (z[i][k] - mk) for i in range(n)) / (n - 1)

    def v(z):
        return sum(max(0.0, gamma - math.sqrt(cov(z, j, j) + eps)) for j in range(d)) / d

    def c(z):
        return sum(cov(z, j, k) ** 2 for j in range(d) for k in range(d) if j != k) / d

    invariance = sum((x[i][j] - y[i][j]) ** 2 for i in range(n) for j in range(d)) / (n * d)
    variance = (v(x) + v(y)) / 2
    covariance = c(x) + c(y)
    loss = inv_coeff * invariance + var_coeff * variance + cov_coeff * covariance
    return loss, invariance, variance, covariance


def _pair(n, d, seed):
    """Correlated x, y with per-dimension scales spread around gamma, so some hinges are active."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.3, 2.0, d, dtype=torch.float64)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) * 0.3 + torch.eye(d, dtype=torch.float64)
    x = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale) @ mix
    y = x + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize("n,d", [(2, 1), (5, 3), (16, 8), (33, 12)])
def test_matches_reference(n, d):
    x, y = _pair(n, d, seed=n * 100 + d)
    out = VICReg()(x, y)
    assert isinstance(out, VICRegOutput)
    for got, want in zip(out, reference_vicreg(x, y)):
        assert got.item() == pytest.approx(want, rel=1e-10, abs=1e-12)


def reference_spatial_terms(x, positions, gamma=1.0, eps=1e-4):
    """Variance hinge and covariance penalty of maps (N, C * P), channel-major, by loops: each cell's batch
    (co)variance, averaged over the P cells of a channel (pair)."""
    z = x.double().tolist()
    n, channels = len(z), len(z[0]) // positions

    def at(i, c, p):
        return z[i][c * positions + p]

    def cov(c, k, p):
        mc = sum(at(i, c, p) for i in range(n)) / n
        mk = sum(at(i, k, p) for i in range(n)) / n
        return sum((at(i, c, p) - mc) * (at(i, k, p) - mk) for i in range(n)) / (n - 1)

    def pooled(c, k):
        return sum(cov(c, k, p) for p in range(positions)) / positions

    v = sum(max(0.0, gamma - math.sqrt(pooled(c, c) + eps)) for c in range(channels)) / channels
    off = sum(pooled(c, k) ** 2 for c in range(channels) for k in range(channels) if c != k) / channels
    return v, off


@pytest.mark.parametrize("n,channels,positions", [(5, 3, 4), (17, 4, 9)])
def test_spatial_statistics_match_reference(n, channels, positions):
    x, y = _pair(n, channels * positions, seed=n)
    out = VICReg(positions=positions)(x, y)
    vx, cx = reference_spatial_terms(x, positions)
    vy, cy = reference_spatial_terms(y, positions)
    assert out.variance.item() == pytest.approx((vx + vy) / 2, rel=1e-10)
    assert out.covariance.item() == pytest.approx(cx + cy, rel=1e-10)
    assert out.invariance.item() == pytest.approx(reference_vicreg(x, y)[1], rel=1e-10)


def test_a_fixed_cell_of_a_varying_channel_costs_no_variance_but_a_fixed_channel_does():
    n, positions = 64, 4
    g = torch.Generator().manual_seed(0)
    moving = torch.randn(n, 2, positions, generator=g, dtype=torch.float64) * 2.0
    moving[:, :, 0] = 3.0  # one cell never changes
    assert VICReg(positions=positions)(moving.flatten(1), moving.flatten(1)).variance.item() == 0.0
    assert VICReg()(moving.flatten(1), moving.flatten(1)).variance.item() > 0.2  # per column: the cell pays
    moving[:, 1] = 3.0  # a whole channel fixed: collapse, which the hinge prices at gamma
    assert VICReg(positions=positions)(moving.flatten(1), moving.flatten(1)).variance.item() == pytest.approx(
        0.5, abs=0.01
    )
    with pytest.raises(ValueError, match="positions"):
        VICReg(positions=3)(moving.flatten(1), moving.flatten(1))


def test_coefficients_and_gamma_match_reference():
    x, y = _pair(20, 6, seed=7)
    kwargs = dict(inv_coeff=2.0, var_coeff=3.0, cov_coeff=0.5, gamma=1.7, eps=1e-3)
    out = VICReg(**kwargs)(x, y)
    for got, want in zip(out, reference_vicreg(x, y, **kwargs)):
        assert got.item() == pytest.approx(want, rel=1e-10)


def test_gradients_match_finite_differences():
    x, y = _pair(6, 4, seed=3)
    x.requires_grad_()
    y.requires_grad_()
    loss = VICReg(gamma=1.2)
    assert torch.autograd.gradcheck(lambda a, b: tuple(loss(a, b)), (x, y))


def test_half_precision_inputs_give_fp32_statistics():
    x, y = _pair(64, 16, seed=11)
    xb, yb = x.bfloat16(), y.bfloat16()
    want = reference_vicreg(xb, yb)  # same bf16 values, exact arithmetic
    out = VICReg()(xb, yb)
    assert all(t.dtype == torch.float32 for t in out)
    for got, w in zip(out, want):
        assert got.item() == pytest.approx(w, rel=1e-5)
    # Autocast must not push the covariance matmul back to bf16.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = VICReg()(x.float(), y.float())
    for got, w in zip(out, reference_vicreg(x.float(), y.float())):
        assert got.dtype == torch.float32
        assert got.item() == pytest.approx(w, rel=1e-5)


def test_collapse_activates_the_full_hinge():
    z = torch.full((8, 5), 0.7)
    out = VICReg(gamma=1.0, eps=1e-4)(z, z.clone())
    # std of a constant column is sqrt(eps), so each hinge is gamma - sqrt(eps).
    assert out.variance.item() == pytest.approx(1.0 - math.sqrt(1e-4), rel=1e-6)
    assert out.invariance.item() == 0.0
    assert out.covariance.item() == pytest.approx(0.0, abs=1e-12)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        VICReg()(torch.zeros(4, 3), torch.zeros(4, 2))
