"""Collapse diagnostics for (N, D) embeddings: per-dimension spread and effective rank (sec. 4.5)."""

import torch
from torch import Tensor


@torch.no_grad()
def embedding_std(z: Tensor) -> tuple[Tensor, Tensor]:
    """(min, mean) over dimensions of the unbiased per-dimension std of (N, D); near 0 means collapse."""
    std = z.float().std(dim=0, unbiased=True)
    return std.min(), std.mean()


@torch.no_grad()
def effective_rank(z: Tensor) -> Tensor:
    """exp of the entropy of the L1-normalised singular values of (N, D) (Roy & Vetterli 2007).

    Lies in [1, min(N, D)]: about D for isotropic data, 1 for rank-1 (fully collapsed) data.
    The matrix is used as given, not centred, as in RankMe (Garrido et al. 2023).
    """
    s = torch.linalg.svdvals(z.float())
    p = s / s.sum().clamp_min(torch.finfo(s.dtype).tiny)
    return torch.exp(torch.special.entr(p).sum())
