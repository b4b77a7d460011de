"""Planning rollouts that start from the last step as well as the present state (seed paper sec. 3.1.4, Mode-2).

A predictor that looks back one state (`ConvPredictor(history=2)`) sees how fast things move from the change
between two states; rolled out from the present state alone it would take everything to be at rest. `AfterLastStep`
gives every rollout the state seen at the previous step and the action taken there as context, so a plan is priced
from the world as it moves now. It is meant for predictors with `history` 2: a recurrent one would also warm its
memory on the context, but it is planned from the present state alone, as its results were measured.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hjepa.agent.planners import RolloutModel


class AfterLastStep:
    """A rollout model: `model`'s rollouts from the context [last state, present state], with the action taken at
    the last state before the candidates' actions. Before the first step of an episode (after `forget`) the last
    state is the present one and its action 0: at rest, the same as a rollout from the present state alone."""

    def __init__(self, model: RolloutModel) -> None:
        self.model = model
        self.last: tuple[Tensor, Tensor] | None = None  # state (D,), action (A,)

    def remember(self, state: Tensor, action: Tensor) -> None:
        """The state (D,) seen at this step and the action (A,) taken there: the next rollouts' context."""
        self.last = (state, action)

    def forget(self) -> None:
        """A new episode: nothing was seen before its first state."""
        self.last = None

    def over(self, model: RolloutModel) -> AfterLastStep:
        """The same context over another model (the unbatched world model, for a check outside planning)."""
        other = AfterLastStep(model)
        other.last = self.last
        return other

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        """s0 (N, D), actions (N, H, A) -> (N, H, D)."""
        n = s0.shape[0]
        if self.last is None:
            before, action = s0, actions.new_zeros((n, actions.shape[-1]))
        else:
            before, action = self.last[0].expand_as(s0), self.last[1].to(actions.dtype).expand(n, -1)
        context = torch.stack([before, s0], dim=1)  # (N, 2, D)
        return self.model.unroll(context, torch.cat([action[:, None], actions], dim=1))
