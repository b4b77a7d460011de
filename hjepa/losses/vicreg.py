"""VICReg loss (Bardes et al. 2022; seed paper sec. 4.5.1, fig. 14): invariance, variance, covariance."""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hjepa.losses.distributed import gather_with_grad


class VICRegOutput(NamedTuple):
    """The weighted total and its three unweighted terms (scalars)."""

    loss: Tensor
    invariance: Tensor
    variance: Tensor
    covariance: Tensor


def _upcast(z: Tensor) -> Tensor:
    """Half-precision inputs to fp32; fp32/fp64 unchanged (batch statistics are unstable in bf16)."""
    return z.to(torch.promote_types(z.dtype, torch.float32))


def _variance_hinge(z: Tensor, gamma: float, eps: float) -> Tensor:
    """mean_j max(0, gamma - sqrt(Var(z_j) + eps)) over the columns of (N, D), unbiased variance."""
    std = torch.sqrt(z.var(dim=0, unbiased=True) + eps)
    return F.relu(gamma - std).mean()


def _covariance_penalty(z: Tensor) -> Tensor:
    """Sum of squared off-diagonal entries of the unbiased (D, D) covariance of (N, D), divided by D."""
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = (z.T @ z) / (n - 1)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / d


class VICReg(nn.Module):
    """VICReg on two (N, D) embeddings, e.g. expander outputs of predicted and target states (sec. 4.5.1).

    loss = inv_coeff * mean((x - y)^2) + var_coeff * (v(x) + v(y)) / 2 + cov_coeff * (c(x) + c(y)),
    with v the per-dimension std hinge at gamma and c the off-diagonal covariance penalty. Statistics are
    computed in fp32 (autocast off) over the global batch when torch.distributed runs on several ranks:
    every rank returns the same global loss, and DDP's gradient averaging then gives exactly the
    single-process parameter gradient (see `gather_with_grad` for the world_size factor on inputs).
    """

    def __init__(
        self,
        inv_coeff: float = 25.0,
        var_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__()
        self.inv_coeff = inv_coeff
        self.var_coeff = var_coeff
        self.cov_coeff = cov_coeff
        self.gamma = gamma
        self.eps = eps

    def forward(self, x: Tensor, y: Tensor) -> VICRegOutput:
        """x, y: (N, D) on each rank -> VICRegOutput over the gathered (world * N, D) batch."""
        if x.dim() != 2 or x.shape != y.shape:
            raise ValueError(f"VICReg expects two (N, D) tensors of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = gather_with_grad(_upcast(x))
            y = gather_with_grad(_upcast(y))
            invariance = F.mse_loss(x, y)
            variance = (_variance_hinge(x, self.gamma, self.eps) + _variance_hinge(y, self.gamma, self.eps)) / 2
            covariance = _covariance_penalty(x) + _covariance_penalty(y)
            loss = self.inv_coeff * invariance + self.var_coeff * variance + self.cov_coeff * covariance
        return VICRegOutput(loss, invariance, variance, covariance)
