"""Probe figures: predicted vs true state scatter plots, R^2-vs-rollout-step curves and confusion matrices (PNG)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend needed
from torch import Tensor

MAX_POINTS = 2000  # per panel; more only slows the PNG down
MAX_DIMS = 4  # state columns drawn (worlds with many objects have many)


def plot_scatter(
    truth: Mapping[str, Tensor], predicted: Mapping[str, Tensor], names: Sequence[str], path: Path
) -> Path:
    """One row per readout, one column per state dim: predicted vs true, both (N, S), with the diagonal."""
    dims = range(min(len(names), MAX_DIMS))
    fig = Figure(figsize=(3 * len(dims), 3 * len(predicted)), layout="constrained")
    axes = fig.subplots(len(predicted), len(dims), squeeze=False)
    for row, (readout, pred) in enumerate(predicted.items()):
        true = truth[readout]
        step = max(1, len(true) // MAX_POINTS)
        for col in dims:
            ax = axes[row, col]
            t, p = true[::step, col].numpy(), pred[::step, col].numpy()
            ax.scatter(t, p, s=3, alpha=0.4)
            lo, hi = min(t.min(), p.min()), max(t.max(), p.max())
            ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8)
            ax.set_title(f"{readout}: {names[col]}", fontsize=9)
            ax.set_xlabel("true")
            ax.set_ylabel("predicted")
    fig.savefig(path, dpi=100)
    return path


def plot_r2_curve(curves: Mapping[str, Sequence[float]], path: Path) -> Path:
    """R^2 (mean over state dims) against rollout step 1..k, one line per readout; axis cut at -1."""
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("rollout step k")
    ax.set_ylabel("probe R$^2$")
    ax.axhline(0.0, color="grey", linewidth=0.6)
    lowest = min(min(values) for values in curves.values())
    ax.set_ylim(max(lowest, -1.0) - 0.05, 1.05)  # below -1 (worse than the mean) only squashes the rest
    ax.legend()
    fig.savefig(path, dpi=100)
    return path


def plot_confusion(matrices: Mapping[str, Tensor], names: Sequence[str], path: Path) -> Path:
    """One panel per model: its confusion matrix (K, K) of counts, rows true classes, columns predicted,
    shaded by the share of each row; class names are written when there are few enough to read."""
    size = min(2 + 0.35 * len(names), 12)
    fig = Figure(figsize=(size * len(matrices), size), layout="constrained")
    for ax, (title, matrix) in zip(fig.subplots(1, len(matrices), squeeze=False)[0], matrices.items()):
        rows = matrix.double() / matrix.sum(1, keepdim=True).clamp_min(1)
        ax.imshow(rows.numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if len(names) <= 30:
            ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
            ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.savefig(path, dpi=100)
    return path
