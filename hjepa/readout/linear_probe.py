"""Linear probes (seed paper sec. 4): closed-form ridge heads from representations to states or classes.

Exact float64 solutions on standardized features: no SGD noise, so trained and random encoders are
compared by what their representations hold, not by how an optimiser fared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import one_hot
from torchmetrics.functional import r2_score
from torchmetrics.functional.classification import multiclass_accuracy

RIDGE_GRID = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class LinearHead:
    """y = x @ weight + bias, (..., D) -> (..., S), in float64."""

    weight: Tensor  # (D, S)
    bias: Tensor  # (S,)
    ridge: float

    def __call__(self, x: Tensor) -> Tensor:
        return x.to(self.weight) @ self.weight + self.bias


def _standardize(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(v - mean) / std per column of (N, D), with the mean and std; constant columns keep std 1."""
    mean, std = v.mean(0), v.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (v - mean) / std, mean, std


def fit_ridge(x: Tensor, y: Tensor, ridge: float) -> LinearHead:
    """Minimiser of mean ||y - f(x)||^2 + ridge ||W||^2 on standardized x and y; x (N, D), y (N, S)."""
    xn, x_mean, x_std = _standardize(x.double())
    yn, y_mean, y_std = _standardize(y.double())
    n, d = xn.shape
    gram = xn.T @ xn / n + ridge * torch.eye(d, dtype=xn.dtype, device=xn.device)
    w = torch.linalg.solve(gram, xn.T @ yn / n)
    weight = w / x_std[:, None] * y_std  # undo both standardizations: head acts on raw x, gives raw y
    return LinearHead(weight, y_mean - x_mean @ weight, ridge)


def fit_probe(
    x: Tensor, y: Tensor, grid: Sequence[float] = RIDGE_GRID, holdout: float = 0.2, seed: int = 0
) -> LinearHead:
    """Ridge head from clips x (N, T, D) to targets y (N, T, S), ridge picked on held-out clips.

    The penalty minimising the held-out squared error (standardized targets) among `grid` is chosen
    with `holdout` of the clips set aside (whole clips, so frames of one episode never straddle it),
    then the head is refit on every clip.
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"a probe needs at least 2 training clips, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(n - 1, max(1, round(holdout * n)))
    fit, val = order[n_val:], order[:n_val]
    x_fit, y_fit = x[fit].flatten(0, 1), y[fit].flatten(0, 1).double()
    x_val, y_val = x[val].flatten(0, 1), y[val].flatten(0, 1).double()
    scale = y_fit.std(0, unbiased=False).clamp_min(1e-12)
    errors = [(((fit_ridge(x_fit, y_fit, r)(x_val) - y_val) / scale) ** 2).mean().item() for r in grid]
    best = grid[min(range(len(grid)), key=errors.__getitem__)]
    return fit_ridge(x.flatten(0, -2), y.flatten(0, -2), best)


def fit_classifier(x: Tensor, labels: Tensor, num_classes: int, seed: int = 0) -> LinearHead:
    """Linear classifier (ridge on one-hot targets, argmax of the head): x (N, T, D), labels (N, T) int."""
    return fit_probe(x, one_hot(labels.long(), num_classes).double(), seed=seed)


def r2_per_dim(pred: Tensor, target: Tensor) -> Tensor:
    """R^2 (S,) of predictions against targets, both (..., S), every leading position a sample."""
    return r2_score(pred.flatten(0, -2).double(), target.flatten(0, -2).double(), multioutput="raw_values")


def accuracy(head: LinearHead, x: Tensor, labels: Tensor, num_classes: int, top_k: int = 1) -> float:
    """Fraction of frames x (..., D) whose `top_k` highest-scoring classes hold their label (...)."""
    return score_accuracy(head(x), labels, num_classes, top_k)


def score_accuracy(scores: Tensor, labels: Tensor, num_classes: int, top_k: int = 1) -> float:
    """Fraction of samples whose `top_k` highest class scores (..., K) hold their label (...)."""
    return multiclass_accuracy(
        scores.flatten(0, -2), labels.flatten().long(), num_classes, top_k=top_k, average="micro"
    ).item()
