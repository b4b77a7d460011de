"""Inverse dynamics head: the action a_t read from two consecutive states (s_t, s_{t+1}).

A training-only term (as in PLDM, Sobal et al. 2025): predicting the action from the states makes the encoder keep
what the action changed, such as the agent's position to within a step, which VICReg alone does not ask for.
It shapes the representation that planning measures distances in (seed paper sec. 4.5.1: information content).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InverseDynamics(nn.Module):
    """[s_t, s_{t+1}] -> a_t; `loss` is its squared error relative to the actions' variance (1: no better than the
    mean action), so its weight does not depend on the world's action units.

    On vectors it is an MLP. On spatial states (`state_shape` (C, h, w)) the two maps are stacked as 2C channels
    and read by two 3x3 convs of `conv_width` channels, averaged over the map: the same weights at every cell, so a
    move is read wherever it happens. An MLP over the flattened maps must learn each cell apart: on PushT's 8x8 maps
    it read nothing in 900 steps (relative error 1.0), the conv head 0.19 after 550.
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        weight: float,
        hidden_dim: int = 256,
        state_shape: tuple[int, int, int] | None = None,
        conv_width: int = 64,
    ) -> None:
        super().__init__()
        if weight <= 0:
            raise ValueError(f"model.inverse_dynamics: expected a weight > 0 (or leave it out), got {weight}")
        self.weight, self.state_shape = weight, state_shape
        if state_shape is None:
            self.net = nn.Sequential(
                nn.Linear(2 * state_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, action_dim)
            )
        else:
            self.net = nn.Sequential(
                nn.Conv2d(2 * state_shape[0], conv_width, 3, padding=1),
                nn.GELU(),
                nn.Conv2d(conv_width, conv_width, 3, padding=1),
                nn.GELU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(conv_width, action_dim),
            )

    def forward(self, states: Tensor) -> Tensor:
        """States (B, T, D) -> the actions between them, (B, T - 1, A)."""
        pairs = torch.cat([states[:, :-1], states[:, 1:]], dim=-1)  # (B, T - 1, 2D)
        if self.state_shape is None:
            return self.net(pairs)
        b, steps, _ = pairs.shape
        c, h, w = self.state_shape
        # two channel-major maps one after the other: s_t's C channels, then s_{t+1}'s
        return self.net(pairs.reshape(b * steps, 2 * c, h, w)).view(b, steps, -1)

    def loss(self, states: Tensor, actions: Tensor) -> Tensor:
        """Squared error of the actions (B, T - 1, A) read from states (B, T, D), over the actions' variance."""
        return F.mse_loss(self(states), actions) / actions.var((0, 1)).mean().clamp_min(1e-8)
