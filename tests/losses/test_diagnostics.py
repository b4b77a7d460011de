"""Collapse diagnostics against independent numpy / statistics transcriptions."""

import math
import statistics

import numpy as np
import pytest
import torch

from hjepa.losses.diagnostics import effective_rank, embedding_std


def test_embedding_std_matches_stdev_per_column():
    z = torch.randn(30, 4, generator=torch.Generator().manual_seed(0)) * torch.tensor([0.1, 1.0, 2.0, 3.0])
    stds = [statistics.stdev(z[:, j].tolist()) for j in range(4)]
    lo, avg = embedding_std(z)
    assert lo.item() == pytest.approx(min(stds), rel=1e-5)
    assert avg.item() == pytest.approx(sum(stds) / 4, rel=1e-5)


def test_effective_rank_matches_numpy_definition():
    z = np.random.default_rng(1).normal(size=(40, 6)) * np.array([5.0, 2.0, 1.0, 0.5, 0.1, 0.01])
    s = np.linalg.svd(z, compute_uv=False)
    p = s / s.sum()
    want = math.exp(-(p * np.log(p)).sum())
    assert effective_rank(torch.from_numpy(z)).item() == pytest.approx(want, rel=1e-5)


def test_effective_rank_isotropic_is_about_d():
    d = 16
    z = torch.randn(4096, d, generator=torch.Generator().manual_seed(2))
    assert d - 0.5 < effective_rank(z).item() <= d


def test_effective_rank_rank_one_is_one():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(256, 1, generator=g) @ torch.randn(1, 32, generator=g)
    assert effective_rank(z).item() == pytest.approx(1.0, abs=1e-3)
