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
    """MLP [s_t, s_{t+1}] -> a_t; `loss` is its squared error relative to the actions' variance (1: no better
    than the mean action), so its weight does not depend on the world's action units."""

    def __init__(self, state_dim: int, action_dim: int, weight: float, hidden_dim: int = 256) -> None:
        super().__init__()
        if weight <= 0:
            raise ValueError(f"model.inverse_dynamics: expected a weight > 0 (or leave it out), got {weight}")
        self.weight = weight
        self.net = nn.Sequential(
            nn.Linear(2 * state_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, action_dim)
        )

    def forward(self, states: Tensor) -> Tensor:
        """States (B, T, D) -> the actions between them, (B, T - 1, A)."""
        return self.net(torch.cat([states[:, :-1], states[:, 1:]], dim=-1))

    def loss(self, states: Tensor, actions: Tensor) -> Tensor:
        """Squared error of the actions (B, T - 1, A) read from states (B, T, D), over the actions' variance."""
        return F.mse_loss(self(states), actions) / actions.var((0, 1)).mean().clamp_min(1e-8)
