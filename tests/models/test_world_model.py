"""build_world_model: plain-dict config to a working encoder + predictor, with named config errors."""

import pytest
import torch

from hjepa.models import FrameEncoder, WorldModel, build_predictor, build_world_model

CFG = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32},
    "predictor": {"kind": "transformer", "action_dim": 2, "hidden_dim": 32, "num_layers": 1},
}


def test_encode_then_unroll_end_to_end():
    wm = build_world_model(CFG)
    frames = torch.rand(2, 4, 3, 32, 32, requires_grad=True)
    states = wm.encode(frames)
    assert states.shape == (2, 4, 16)
    future = wm.unroll(states[:, :2], torch.randn(2, 5, 2))
    assert future.shape == (2, 4, 16)
    future.sum().backward()
    # Only the two context frames condition the rollout.
    assert frames.grad[:, :2].abs().sum() > 0 and frames.grad[:, 2:].abs().sum() == 0


@pytest.mark.parametrize(
    "cfg,field",
    [
        ({**CFG, "expander": {}}, "expander"),
        ({**CFG, "encoder": {**CFG["encoder"], "widht": 3}}, "encoder.widht"),
        ({**CFG, "predictor": {**CFG["predictor"], "state_dim": 16}}, "predictor.state_dim"),
        ({**CFG, "predictor": {**CFG["predictor"], "kind": "rnn"}}, "predictor.kind"),
        ({**CFG, "predictor": {"kind": "conv"}}, "spatial_channels"),
        (
            {
                "encoder": {"embed_dim": 64, "img_size": 32, "stages": 3, "spatial_channels": 4},
                "predictor": {"kind": "conv", "state_shape": [4, 4, 4]},
            },
            "predictor.state_shape",
        ),
    ],
)
def test_bad_config_names_the_field(cfg, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        build_world_model(cfg)


def test_mismatched_dims_are_refused():
    with pytest.raises(ValueError, match=r"encoder\.embed_dim"):
        WorldModel(FrameEncoder(embed_dim=16), build_predictor("gru", state_dim=8))
