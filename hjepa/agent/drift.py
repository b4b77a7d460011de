"""Drift-corrected rollouts for Mode-2 planning (seed paper sec. 3.1.4): only the predicted effect of the actions
counts.

A predictor trained on agents that walk foresees some motion even for an agent that stands still: rolled out
from the goal with action 0, the recipe's TwoRooms model drifts as far from the goal's representation as a
position 0.04-0.08 away. The planner then picks moves that cancel that drift, and the agent hovers beside the
goal. `DriftCorrected` measures every rollout against the model's own prediction of standing still from the
same start, s_h = f(s0, a)_h - (f(s0, 0)_h - s0), so a plan of action 0 stays where the agent is seen to be.
It is meant for worlds where action 0 stands still (hjepa's rooms worlds, displacement actions).
"""

from __future__ import annotations

import torch
from torch import Tensor

from hjepa.agent.planners import RolloutModel


class DriftCorrected:
    """A rollout model: `model`'s rollouts minus its drift under action 0 from the same start, in one call.

    The still rollout of each distinct start (D,) is priced in the same `unroll` call as the candidates, so
    batched evaluation still makes one world-model call per planner iteration.
    """

    def __init__(self, model: RolloutModel) -> None:
        self.model = model

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        """s0 (N, D), actions (N, H, A) -> (N, H, D)."""
        starts, index = torch.unique(s0, dim=0, return_inverse=True)  # a planner's N rows share one start
        still = actions.new_zeros((len(starts), *actions.shape[1:]))
        states = self.model.unroll(torch.cat([starts, s0]), torch.cat([still, actions]))
        drift = states[: len(starts)] - starts[:, None]  # (S, H, D)
        return states[len(starts) :] - drift[index]
