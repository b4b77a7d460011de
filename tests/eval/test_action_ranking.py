"""Action ranking: an exact model ranks the recorded actions first, an action-blind one at chance, a trained one
in between; a model that looks back is given its context."""

import pytest
import torch

from hjepa.eval.action_ranking import rank_recorded_actions
from hjepa.models.predictor import GRUPredictor

LIFT = torch.tensor([[1.0, 0.0, 0.5, -1.0], [0.0, 1.0, 2.0, 0.5]])  # actions (A=2) -> change of the state (D=4)


def inertia_clips(n: int = 32, frames: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """States (N, T, 4) of s_{t+1} = s_t + 0.8 (s_t - s_{t-1}) + a_t LIFT from rest, actions (N, T - 1, 2)."""
    g = torch.Generator().manual_seed(seed)
    actions = torch.rand(n, frames - 1, 2, generator=g) * 2 - 1
    states = [torch.randn(n, 4, generator=g)]
    previous = states[0]
    for t in range(frames - 1):
        states.append(states[-1] + 0.8 * (states[-1] - previous) + actions[:, t] @ LIFT)
        previous = states[-2]
    return torch.stack(states, dim=1), actions


class ExactInertia:
    """The clips' own dynamics, from a context of the last two states."""

    history = 2

    def unroll(self, s0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        assert s0.shape[1] == 2 and actions.shape[1] >= 1, "a context of two states and the action between them"
        previous, state, preds = s0[:, 0], s0[:, 1], []
        for t in range(1, actions.shape[1]):
            previous, state = state, state + 0.8 * (state - previous) + actions[:, t] @ LIFT
            preds.append(state)
        return torch.stack(preds, dim=1)


class StandsStill:
    """Foresees no change whatever the actions."""

    history = 1

    def unroll(self, s0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return s0[:, -1:].expand(-1, actions.shape[1], -1)  # the ranking always passes a context (N, k, D)


@pytest.mark.parametrize("horizon", [1, 5])
def test_an_exact_model_ranks_the_recorded_actions_first(horizon):
    states, actions = inertia_clips()
    ranking = rank_recorded_actions(
        ExactInertia(), states, actions, horizon, generator=torch.Generator().manual_seed(1)
    )
    assert ranking.percentile == 0.0 and ranking.top1 == 1.0


def test_an_action_blind_model_ranks_them_at_chance():
    states, actions = inertia_clips()
    ranking = rank_recorded_actions(StandsStill(), states, actions, 3, generator=torch.Generator().manual_seed(1))
    assert ranking.percentile == 0.5 and ranking.top1 == 0.0


def test_a_trained_markov_model_ranks_them_better_than_its_untrained_self():
    torch.manual_seed(0)
    states, actions = inertia_clips(n=64)
    model = GRUPredictor(state_dim=4, action_dim=2, hidden_dim=32)
    before = rank_recorded_actions(model, states, actions, 2, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = (model.unroll(states[:, 0], actions) - states[:, 1:]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = rank_recorded_actions(model, states, actions, 2, generator=torch.Generator().manual_seed(1))
    # seed 0: 0.178 untrained (its random readout of the actions is not blind to them), 0.0017 trained
    assert after.percentile < 0.05 and after.percentile < 0.25 * before.percentile, (before, after)


def test_a_horizon_beyond_the_clips_is_refused():
    states, actions = inertia_clips(frames=6)
    with pytest.raises(ValueError, match="horizon: expected 1 to 4 for clips of 6 frames and a context of 2"):
        rank_recorded_actions(ExactInertia(), states, actions, 5)
