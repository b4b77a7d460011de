"""Level 2 of H-JEPA: window actions and temporal pooling against slow loops, shapes, named errors."""

import pytest
import torch

from hjepa.models import FrameEncoder
from hjepa.models.level2 import Level2Encoder, TemporalPool, build_level2_world_model, window_actions


def test_window_actions_sum_the_actions_between_window_ends():
    actions = torch.randn(2, 11, 3)  # 12 frames
    for f in (1, 3, 4):
        got = window_actions(actions, f)
        n = 12 // f
        assert got.shape == (2, n - 1, 3)
        for i in range(n - 1):
            # from the last frame of window i, (i+1)f - 1, to the last frame of window i+1, (i+2)f - 1
            expected = sum(actions[:, t] for t in range((i + 1) * f - 1, (i + 2) * f - 1))
            torch.testing.assert_close(got[:, i], expected)


def test_mean_and_conv_pools_match_slow_loops():
    torch.manual_seed(0)
    states = torch.randn(2, 11, 5)  # 11 states, windows of 3: the last 2 are dropped
    mean = TemporalPool("mean", 5, 3)
    conv = TemporalPool("conv", 5, 3)
    out_mean, out_conv = mean(states), conv(states)
    assert out_mean.shape == out_conv.shape == (2, 3, 5)
    for i in range(3):
        window = states[:, 3 * i : 3 * i + 3]  # (B, W, D)
        torch.testing.assert_close(out_mean[:, i], window.mean(1))
        # conv: out_o = b_o + sum_{c, j} weight[o, c, j] * window[j, c]
        expected = conv.conv.bias + torch.einsum("ocj,bjc->bo", conv.conv.weight, window)
        torch.testing.assert_close(out_conv[:, i], expected)


def test_attention_pool_is_a_softmax_weighted_mean_over_each_window():
    torch.manual_seed(0)
    pool = TemporalPool("attention", 4, 2)
    states = torch.randn(3, 6, 4)
    torch.testing.assert_close(pool(states), TemporalPool("mean", 4, 2)(states))  # zero query: uniform weights
    with torch.no_grad():
        pool.query.normal_()
    out = pool(states)
    for i in range(3):
        window = states[:, 2 * i : 2 * i + 2]
        scores = torch.stack([pool.key(window[:, j]) @ pool.query / 2.0 for j in range(2)], dim=1)
        weights = scores.exp() / scores.exp().sum(1, keepdim=True)
        torch.testing.assert_close(out[:, i], (weights[..., None] * window).sum(1))


def test_level2_encoder_maps_frames_to_window_states():
    level1 = FrameEncoder("convnet_tiny", embed_dim=8, img_size=32, width=8, tubelet=2)
    encoder = Level2Encoder(level1, window=3, pool="conv", embed_dim=6, hidden_dim=16)
    frames = torch.rand(2, 12, 3, 32, 32)
    assert encoder.tubelet == 6
    assert encoder(frames).shape == (2, 2, 6)  # 12 frames -> 6 level-1 tubelets -> 2 windows
    torch.testing.assert_close(encoder(frames), encoder.abstract(level1(frames)))


def test_bad_level2_fields_are_named():
    level1 = FrameEncoder("convnet_tiny", embed_dim=8, img_size=32, width=8)
    with pytest.raises(ValueError, match=r"level2\.pool: unknown kind 'max'"):
        build_level2_world_model(level1, {"window": 2, "pool": "max"})
    with pytest.raises(ValueError, match=r"level2\.windw: unknown"):
        build_level2_world_model(level1, {"windw": 2})
    with pytest.raises(ValueError, match=r"level2\.window: required"):
        build_level2_world_model(level1, {})
    with pytest.raises(ValueError, match=r"level2\.predictor\.hiden: unknown field"):
        build_level2_world_model(level1, {"window": 2, "predictor": {"kind": "gru", "hiden": 3}})
    with pytest.raises(ValueError, match=r"level2\.window=5 is longer than the clip's 4"):
        TemporalPool("mean", 8, 5)(torch.zeros(1, 4, 8))


@pytest.mark.parametrize("kind", ["mean", "conv", "attention"])
def test_a_pool_over_cells_pools_each_cells_history_with_the_same_weights(kind):
    """Maps (B, T, C * P), channel-major: cell p's pooled windows are the vector pool of its own (T, C) history."""
    torch.manual_seed(0)
    channels, cells = 3, 4
    pool = TemporalPool(kind, channels * cells, 2, cells=cells)
    vector = TemporalPool(kind, channels, 2)
    vector.load_state_dict(pool.state_dict())
    states = torch.randn(2, 7, channels * cells)
    out = pool(states).view(2, 3, channels, cells)
    for p in range(cells):
        torch.testing.assert_close(out[..., p], vector(states.view(2, 7, channels, cells)[..., p]))


def test_a_spatial_level2_state_is_a_map_that_a_level1_cell_changes_only_nearby():
    level1 = FrameEncoder(embed_dim=2 * 8 * 8, img_size=32, width=8, stages=2, spatial_channels=2)
    encoder = Level2Encoder(level1, window=2, pool="conv", embed_dim=3 * 8 * 8, hidden_dim=8, spatial_channels=3)
    assert encoder.state_shape == (3, 8, 8)
    states = torch.randn(1, 4, 2 * 8 * 8)
    bumped = states.clone().view(1, 4, 2, 8, 8)
    bumped[..., 4, 4] += 1.0
    with torch.no_grad():
        change = (encoder.abstract(bumped.flatten(2)) - encoder.abstract(states)).view(1, 2, 3, 8, 8)
    changed = change.abs().amax(dim=(0, 1, 2)) > 1e-6
    near = torch.zeros(8, 8, dtype=torch.bool)
    near[3:6, 3:6] = True  # the head's 3x3 conv: one cell either way
    assert torch.equal(changed, near)
    model = build_level2_world_model(
        level1, {"window": 2, "embed_dim": 192, "hidden_dim": 8, "spatial_channels": 3, "predictor": {"kind": "conv"}}
    )
    assert model.unroll(model.encoder.abstract(states)[:, 0], torch.zeros(1, 5, 0)).shape == (1, 5, 192)


def test_spatial_level2_errors_name_the_field():
    vector = FrameEncoder(embed_dim=16, img_size=32, width=8)
    with pytest.raises(ValueError, match=r"level2\.spatial_channels"):
        build_level2_world_model(vector, {"window": 2, "embed_dim": 16, "spatial_channels": 1})
    with pytest.raises(ValueError, match=r"level2\.predictor\.kind"):
        build_level2_world_model(vector, {"window": 2, "predictor": {"kind": "conv"}})
    spatial = FrameEncoder(embed_dim=2 * 8 * 8, img_size=32, width=8, stages=2, spatial_channels=2)
    with pytest.raises(ValueError, match=r"level2\.embed_dim.*set embed_dim: 64"):
        build_level2_world_model(spatial, {"window": 2, "embed_dim": 32, "spatial_channels": 1})
