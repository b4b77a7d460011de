"""VICReg on 2 gloo ranks x B equals the single-process loss on the concatenated 2B batch (CPU)."""

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from hjepa.losses import VICReg

WORLD, B, D_IN, D = 2, 8, 5, 6


def _data():
    g = torch.Generator().manual_seed(0)
    scale = torch.linspace(0.3, 2.0, D, dtype=torch.float64)
    x = torch.randn(WORLD * B, D, generator=g, dtype=torch.float64) * scale
    y = x + 0.3 * torch.randn(WORLD * B, D, generator=g, dtype=torch.float64)
    inputs = torch.randn(WORLD * B, D_IN, generator=g, dtype=torch.float64)
    return x, y, inputs


def _net():
    torch.manual_seed(1)
    return torch.nn.Linear(D_IN, D).double()


def _worker(rank, port, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        x, y, inputs = _data()
        rows = slice(rank * B, (rank + 1) * B)
        xl, yl = x[rows].clone().requires_grad_(), y[rows].clone().requires_grad_()
        out = VICReg()(xl, yl)
        out.loss.backward()
        # A network under DDP: its averaged parameter gradient must be the single-process one.
        net = DistributedDataParallel(_net())
        VICReg()(net(inputs[rows]), y[rows]).loss.backward()
        torch.save(
            {"out": [t.detach() for t in out], "gx": xl.grad, "gy": yl.grad, "gw": net.module.weight.grad},
            f"{out_dir}/rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_equal_single_process_on_global_batch(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    x, y, inputs = _data()
    x.requires_grad_()
    y.requires_grad_()
    single = VICReg()(x, y)
    single.loss.backward()
    net = _net()
    VICReg()(net(inputs), y.detach()).loss.backward()

    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        rows = slice(rank * B, (rank + 1) * B)
        for a, b in zip(got["out"], single):
            torch.testing.assert_close(a, b.detach())
        # Every rank computes the same global loss and all_gather's backward sums the ranks' gradients,
        # so the local input gradient is WORLD x the matching slice of the single-process gradient ...
        torch.testing.assert_close(got["gx"], WORLD * x.grad[rows])
        torch.testing.assert_close(got["gy"], WORLD * y.grad[rows])
        # ... and DDP's averaging over ranks cancels that factor exactly.
        torch.testing.assert_close(got["gw"], net.weight.grad)
