"""Rollout probe on a hand-built world whose dynamics are known: a perfect model beats copy-last, a no-op equals it."""

import pytest
import torch

from hjepa.eval.rollout_probe import rollout_probe
from hjepa.readout.features import encode_split
from hjepa.readout.linear_probe import fit_probe

EMBED = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))  # fixed linear state code


class PerfectModel(torch.nn.Module):
    """encode: the linear code of the state, which the 'frames' carry; unroll: s_{t+1} = s_t + a_t in code space."""

    def encode(self, frames):
        return frames @ EMBED

    def unroll(self, s0, actions):
        return s0[:, None] + torch.cumsum(actions @ EMBED, dim=1)


class NoOpModel(PerfectModel):
    def unroll(self, s0, actions):
        return s0[:, None].expand(-1, actions.shape[1], -1)


def random_walks(n, t=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    actions = 0.1 * torch.randn(n, t - 1, 2, generator=g)
    states = torch.cat([torch.rand(n, 1, 2, generator=g), actions], dim=1).cumsum(dim=1)
    return states, actions


def probe(model, k=6):
    states, actions = random_walks(200)
    reprs = model.encode(states)
    head = fit_probe(reprs[:150], states[:150])
    return rollout_probe(model, head, reprs[150:], states[150:], actions[150:], k)


def test_perfect_model_beats_copy_last():
    result = probe(PerfectModel())
    assert result.r2["rollout"].shape == (6, 2) and result.predicted.shape == (50, 6, 2)
    rollout, copy_last = result.r2["rollout"].mean(-1), result.r2["copy_last"].mean(-1)
    assert (rollout > 0.999).all() and (result.r2["encoder"] > 0.999).all()
    assert rollout[-1] > copy_last[-1] + 0.2
    assert copy_last[0] > copy_last[-1]  # the walk drifts away from s_0


def test_no_op_model_equals_copy_last():
    result = probe(NoOpModel())
    torch.testing.assert_close(result.r2["rollout"], result.r2["copy_last"])


def test_rollout_longer_than_the_clip_is_refused():
    with pytest.raises(ValueError, match="rollout_k"):
        probe(PerfectModel(), k=10)


def test_encode_split_encodes_every_model_once_per_batch_and_stops_at_max_batches():
    states, actions = random_walks(12, t=4)
    batches = [
        {
            "frames": states[i : i + 4],
            "states": states[i : i + 4],
            "actions": actions[i : i + 4],
            "labels": {"branch": torch.arange(i, i + 4)},
            "key": [str(j) for j in range(i, i + 4)],
        }
        for i in range(0, 12, 4)
    ]
    split = encode_split({"a": PerfectModel(), "b": NoOpModel()}, batches, "cpu", max_batches=2)
    assert split.reprs["a"].shape == (8, 4, 8) and split.states.shape == (8, 4, 2) and split.actions.shape == (8, 3, 2)
    torch.testing.assert_close(split.reprs["b"], states[:8] @ EMBED)
    assert split.labels["branch"].tolist() == list(range(8))
    assert len(encode_split({"a": PerfectModel()}, [], "cpu").states) == 0
