"""VICReg expander (seed paper sec. 4.5.1, fig. 14): maps states to the wider embeddings VICReg acts on."""

from collections.abc import Sequence

from torch import Tensor, nn


class Expander(nn.Module):
    """(Linear-BatchNorm-ReLU) for every width but the last, then a Linear: (..., D) -> (..., widths[-1])."""

    def __init__(self, in_dim: int, widths: Sequence[int] = (512, 512, 512)) -> None:
        super().__init__()
        dims = [in_dim, *widths]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-2], dims[1:-1]):
            layers += [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(dims[-2], dims[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Leading dims, e.g. (B, T), are flattened so BatchNorm sees every vector of the batch."""
        return self.net(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)
