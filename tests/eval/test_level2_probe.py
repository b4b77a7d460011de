"""Level-2 probes on synthetic constant-velocity clips with oracle models: a model that integrates the true
actions scores R^2 ~ 1 at the far horizon (targets and actions aligned), one that stands still scores
copy-last, and a level 2 that holds velocity reads the later position better than a level-1 frame."""

import pytest
import torch
from torch import Tensor, nn

from hjepa.eval.level2_probe import Level2Split, level2_scores, run_level2_probe
from hjepa.export import export_world_model
from hjepa.models import build_world_model
from hjepa.readout.features import EncodedSplit

T, W = 16, 4


class Integrator(nn.Module):
    """Oracle level 1 (states = positions): s_{t+1} = s_t + a_t; `moves=False` stands still."""

    def __init__(self, moves: bool = True) -> None:
        super().__init__()
        self.moves = moves

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        return s0[:, None] + (actions.cumsum(1) if self.moves else 0 * actions)


class WindowEncoder(nn.Module):
    """Oracle level-2 encoder: [last position, last - first position] of each window of W positions."""

    window, tubelet = W, W

    def abstract(self, states: Tensor) -> Tensor:
        windows = states.unflatten(1, (-1, W))
        return torch.cat([windows[:, :, -1], windows[:, :, -1] - windows[:, :, 0]], dim=-1)


class Level2Integrator(nn.Module):
    """Oracle level 2: the next window's last position is the last one plus the window-summed action."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = WindowEncoder()
        self.predictor = nn.Module()
        self.predictor.action_dim = 2

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        positions = s0[:, None, :2] + actions.cumsum(1)
        return torch.cat([positions, actions * (W - 1) / W], dim=-1)


def split(n: int, seed: int) -> Level2Split:
    """Clips moving at a constant random velocity from random starts; rooms: x < 0 or x > 0."""
    g = torch.Generator().manual_seed(seed)
    start, velocity = torch.randn(n, 1, 2, generator=g), 0.1 * torch.randn(n, 1, 2, generator=g)
    positions = start + velocity * torch.arange(T)[None, :, None]
    encoded = EncodedSplit({"level1": positions}, positions, velocity.expand(n, T - 1, 2).clone(), {})
    return Level2Split(encoded, Level2Integrator(), (positions[..., 0] > 0).long())


def test_far_scores_are_aligned_and_level2_reads_velocity():
    train, val = split(200, 0), split(100, 1)
    scores = level2_scores(Integrator(), Level2Integrator(), train, val, horizon=3)
    assert scores["far_frames"] == 12
    assert scores["level1_far_r2"] > 0.999 and scores["level2_far_r2"] > 0.999
    assert scores["level1_far_r2_copy_last"] < 0.9
    still = level2_scores(Integrator(moves=False), Level2Integrator(), train, val, horizon=3)
    assert still["level1_far_r2"] == pytest.approx(still["level1_far_r2_copy_last"])
    # W frames later = last position + W * velocity: linear in level 2's features, not in level 1's frame
    assert scores["probe_r2_level2_position_later"] > 0.999 > scores["probe_r2_level1_position_later"] + 0.01
    assert scores["probe_r2_level2_room"] > scores["probe_r2_level1_room"]


def test_a_level1_export_is_refused_with_the_path(tmp_path):
    config = {
        "encoder": {"name": "convnet_tiny", "embed_dim": 8, "img_size": 32, "width": 8},
        "predictor": {"kind": "gru", "hidden_dim": 8, "action_dim": 2},
    }
    out = export_world_model(build_world_model(config), config, tmp_path / "export")
    with pytest.raises(ValueError, match=r"export: holds no level-2 world model"):
        run_level2_probe(out, str(tmp_path), tmp_path / "probe", horizon=2)
