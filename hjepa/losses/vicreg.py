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


def _variance_hinge(z: Tensor, gamma: float, eps: float, positions: int) -> Tensor:
    """mean_c max(0, gamma - sqrt(v_c + eps)) over the channels of (N, C * positions), channel-major, where v_c is
    the unbiased variance over the batch of channel c averaged over its positions (with 1 position: per column)."""
    var = z.unflatten(1, (-1, positions)).var(dim=0, unbiased=True).mean(dim=1)
    return F.relu(gamma - torch.sqrt(var + eps)).mean()


def _covariance_penalty(z: Tensor, positions: int) -> Tensor:
    """Sum of squared off-diagonal entries of the unbiased (C, C) covariance of the channels of (N, C * positions)
    over the batch, pooled over positions, divided by C (with 1 position: the covariance of the columns)."""
    n = z.shape[0]
    z = (z - z.mean(dim=0)).unflatten(1, (-1, positions))  # (N, C, P): each position centred over the batch
    c = z.shape[1]
    cov = torch.einsum("ncp,nkp->ck", z, z) / ((n - 1) * positions)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / c


class VICReg(nn.Module):
    """VICReg on two (N, D) embeddings, e.g. expander outputs of predicted and target states (sec. 4.5.1).

    loss = inv_coeff * mean((x - y)^2) + var_coeff * (v(x) + v(y)) / 2 + cov_coeff * (c(x) + c(y)),
    with v the per-dimension std hinge at gamma and c the off-diagonal covariance penalty. Statistics are
    computed in fp32 (autocast off) over the global batch when torch.distributed runs on several ranks:
    every rank returns the same global loss, and DDP's gradient averaging then gives exactly the
    single-process parameter gradient (see `gather_with_grad` for the world_size factor on inputs).

    With `positions` > 1 the embeddings are maps (C, positions) flattened channel-major (spatial states): v and c
    measure each channel's change over the batch pooled over the map, so a channel must vary somewhere on the map
    (no collapse) but not in every cell: a cell where nothing ever moves, such as an outer wall, may stay fixed.
    """

    def __init__(
        self,
        inv_coeff: float = 25.0,
        var_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-4,
        positions: int = 1,
    ) -> None:
        super().__init__()
        if positions < 1:
            raise ValueError(f"positions: expected >= 1 cells per channel, got {positions}")
        self.positions = positions
        self.inv_coeff = inv_coeff
        self.var_coeff = var_coeff
        self.cov_coeff = cov_coeff
        self.gamma = gamma
        self.eps = eps

    def forward(self, x: Tensor, y: Tensor) -> VICRegOutput:
        """x, y: (N, D) on each rank -> VICRegOutput over the gathered (world * N, D) batch."""
        if x.dim() != 2 or x.shape != y.shape:
            raise ValueError(f"VICReg expects two (N, D) tensors of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
        if x.shape[1] % self.positions:
            raise ValueError(f"VICReg: {x.shape[1]} values are not channels of {self.positions} positions each")
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = gather_with_grad(_upcast(x))
            y = gather_with_grad(_upcast(y))
            invariance = F.mse_loss(x, y)
            p = self.positions
            variance = (_variance_hinge(x, self.gamma, self.eps, p) + _variance_hinge(y, self.gamma, self.eps, p)) / 2
            covariance = _covariance_penalty(x, p) + _covariance_penalty(y, p)
            loss = self.inv_coeff * invariance + self.var_coeff * variance + self.cov_coeff * covariance
        return VICRegOutput(loss, invariance, variance, covariance)
