"""The inverse-dynamics head: the action read from two consecutive states, by an MLP on vectors and by convs shared
over the map on spatial states."""

import torch

from hjepa.models.inverse_dynamics import InverseDynamics

C, H, W, A = 2, 6, 6, 2


def test_spatial_head_reads_each_pair_of_maps_stacked_as_channels():
    torch.manual_seed(0)
    head = InverseDynamics(C * H * W, A, weight=1.0, state_shape=(C, H, W), conv_width=8)
    states = torch.randn(3, 4, C * H * W)
    read = head(states)
    assert read.shape == (3, 3, A)
    for b in range(3):
        for t in range(3):
            maps = torch.cat([states[b, t].view(C, H, W), states[b, t + 1].view(C, H, W)])  # (2C, H, W)
            torch.testing.assert_close(read[b, t], head.net(maps[None])[0])


def moving_dot(generator: torch.Generator, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two one-channel maps (n, 2, H * W) of a dot anywhere on the map and one cell further by its action, and the
    actions (n, 1, 2) in {-1, 0, 1} cells per axis."""
    y, x = (torch.randint(1, H - 1, (n,), generator=generator) for _ in range(2))
    moves = torch.randint(-1, 2, (n, 2), generator=generator)
    maps = torch.zeros(n, 2, H, W)
    maps[torch.arange(n), 0, y, x] = 1.0
    maps[torch.arange(n), 1, y + moves[:, 0], x + moves[:, 1]] = 1.0
    return maps.view(n, 2, H * W), moves[:, None].float()


def test_the_spatial_head_learns_to_read_a_move_anywhere_on_the_map():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    head = InverseDynamics(H * W, A, weight=1.0, state_shape=(1, H, W), conv_width=16)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    held_out = moving_dot(torch.Generator().manual_seed(9), 512)
    with torch.no_grad():
        before = float(head.loss(*held_out))
    for _ in range(150):
        loss = head.loss(*moving_dot(generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = float(head.loss(*held_out))
    assert before > 0.9 and after < 0.1, (before, after)  # measured: 0.04 after
