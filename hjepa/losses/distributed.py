"""All-gather with gradients, so batch statistics (VICReg variance/covariance) see the global batch."""

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn


def is_distributed() -> bool:
    """True when torch.distributed is initialized with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate (N, D) from every rank into (world * N, D), rank-major; a no-op when not distributed.

    Every rank must pass the same N. Backward sums the incoming gradients of all ranks, so when each
    rank computes the same global loss L, the local input receives world_size * dL/dx_local.
    """
    if not is_distributed():
        return x
    return torch.cat(dist_fn.all_gather(x), dim=0)
