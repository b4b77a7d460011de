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
