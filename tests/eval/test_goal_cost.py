"""The goal-cost diagnosis: PushT states placed around a goal by offsets in the success tolerances, scored by the
environment's rule, and a cost's separation of success from failure checked against a slow count of pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hjepa.data.pixels import images_to_frames
from hjepa.data.shards import Episode
from hjepa.data.video import decode_video, encode_video
from hjepa.eval.goal_cost import (
    FACTORS,
    TOLERANCE,
    factor_offsets,
    goal_cost_report,
    offset_state,
    pixel_encoder,
    place,
    random_offsets,
    recorded_foresight,
    separation,
)
from hjepa.models import build_world_model
from tests.extras import needs_swm


def slow_separation(costs: list[float], success: list[bool]) -> float:
    """ROC AUC as a count: the share of (failure, success) pairs whose success costs less, ties counted half."""
    pairs = [(f, s) for f, fs in zip(costs, success) if not fs for s, ss in zip(costs, success) if ss]
    return sum(1.0 if s < f else 0.5 if s == f else 0.0 for f, s in pairs) / len(pairs)


def test_separation_is_the_share_of_failure_success_pairs_the_cost_orders_right() -> None:
    rng = np.random.default_rng(0)
    for scale in (1.0, 1e6):  # large costs too: they must not saturate into ties
        costs = rng.integers(0, 6, 60) * scale  # many ties
        success = rng.random(60) < 0.3
        expected = slow_separation(costs.tolist(), success.tolist())
        assert separation(torch.tensor(costs), torch.tensor(success)) == pytest.approx(expected)
    costs = torch.arange(10.0)
    assert separation(costs, costs < 3) == pytest.approx(1.0) and separation(costs, costs > 6) == pytest.approx(0.0)
    assert separation(torch.ones(10), costs < 3) == 0.5  # a blind cost
    assert math.isnan(separation(costs, torch.ones(10, dtype=torch.bool)))


def test_offsets_stay_within_reach_and_a_factor_moves_alone_by_its_scale() -> None:
    rng = np.random.default_rng(1)
    offsets = random_offsets(500, 2.5, rng)
    assert offsets.shape == (500, 5)
    assert np.linalg.norm(offsets[:, :4], axis=1).max() <= 2.5 and np.abs(offsets[:, 4]).max() <= 2.5
    assert np.linalg.norm(offsets[:, :4], axis=1).min() < 0.1  # uniform in distance, down to the goal itself
    for factor, coords in FACTORS.items():
        moved = factor_offsets(factor, [0.5, 2.0], 3, rng)
        others = [c for c in range(5) if c not in coords]
        assert np.all(moved[:, others] == 0)
        assert np.allclose(np.linalg.norm(moved[:, list(coords)], axis=1), [0.5] * 3 + [2.0] * 3)
    goal = np.array([100.0, 200.0, 300.0, 250.0, 1.0, 5.0, -3.0])
    state = offset_state(goal, np.array([1.0, 0.0, 0.0, -2.0, 0.5]))
    assert np.allclose(state, [100 + TOLERANCE[0], 200, 300, 250 - 2 * TOLERANCE[0], 1 + TOLERANCE[4] / 2, 0, 0])


@pytest.fixture(scope="module")
def pusht() -> tuple[object, np.ndarray]:
    """stable-worldmodel's PushT at 64 px and a start state of its own (where nothing overlaps)."""
    from hjepa.envs.swm import SwmPushTEnv

    env = SwmPushTEnv(image_size=64)
    _, info = env.reset(seed=3)
    return env, np.asarray(info["state"], np.float64)


@needs_swm
def test_a_state_is_placed_where_asked_and_one_that_overlaps_the_block_is_refused(pusht) -> None:
    from hjepa.envs.swm import SwmPushTEnv

    env, goal = pusht
    frame, placed = place(env, offset_state(goal, np.zeros(5)))
    assert frame.shape == (64, 64, 3) and np.allclose(placed[:5], goal[:5], atol=0.5)
    inside = place(env, offset_state(goal, np.array([0.3, 0.0, 0.0, 0.3, 0.5])))
    outside = place(env, offset_state(goal, np.array([0.0, 0.0, 1.5, 0.0, 0.0])))
    assert SwmPushTEnv.within(goal, inside[1]) and not SwmPushTEnv.within(goal, outside[1])
    on_the_block = goal.copy()
    on_the_block[:2] = goal[2:4]  # the agent's centre on the block's
    assert place(env, on_the_block) is None


@needs_swm
def test_pixels_tell_success_apart_a_blind_cost_does_not_and_a_live_goal_frame_has_no_gap(pusht) -> None:
    env, goal = pusht
    live = place(env, offset_state(goal, np.zeros(5)))[0]
    report = goal_cost_report(
        env,
        [goal],
        [live],
        {"pixels": pixel_encoder, "blind": lambda frames: torch.zeros(len(frames), 1)},
        samples=48,
        reach=2.5,
        scales=(0.5, 2.0),
        directions=2,
        foresight={"pixels": [pixel_encoder(live[None])[0]], "blind": [None]},
    )
    assert report.goals == 1 and 0 < report.success_share < 1
    assert report.separation["pixels"] > 0.8 and report.separation["blind"] == 0.5
    assert report.foresight_share == {"pixels": 0.0}  # foreseen exactly: no state costs less
    assert report.recorded_gap["pixels"] == 0.0  # the recorded frame is the live one: priced alike
    assert report.separation_recorded == report.separation
    assert report.cheapest_succeeds_recorded == report.cheapest_succeeds
    for factor in FACTORS:  # moving any part of the scene further costs the pixels more
        near, far = report.factor_cost["pixels"][factor]
        assert far > near > 0


@needs_swm
def test_a_goal_frame_stored_as_h264_is_a_small_gap_in_pixels(pusht) -> None:
    env, goal = pusht
    live = place(env, offset_state(goal, np.zeros(5)))[0]
    stored = decode_video(encode_video(np.stack([live, live]), 10.0, "h264"), [0])[0]
    blank = pixel_encoder(np.zeros_like(live)[None])[0]
    report = goal_cost_report(
        env,
        [goal],
        [stored],
        {"pixels": pixel_encoder},
        samples=48,
        reach=2.5,
        directions=1,
        foresight={"pixels": [blank]},
    )
    assert 0 < report.recorded_gap["pixels"] < 0.1
    assert report.foresight_share["pixels"] == 1.0  # a foresight of an empty arena: every placed state is nearer


def test_foresight_rolls_the_recorded_action_blocks_out_from_the_context_before_the_start() -> None:
    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"embed_dim": 32, "img_size": 32, "stages": 3, "spatial_channels": 2},
            "predictor": {"kind": "conv", "action_dim": 6, "hidden_dim": 8, "history": 2},  # blocks of 3 actions (2,)
        }
    ).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (39, 2)).astype(np.float32)
    episode = Episode("e", encode_video(images, 10.0, "ffv1"), "mkv", actions, np.zeros((40, 7)), {})
    got = recorded_foresight(model, episode, start=5, goal_offset=9, block=3)
    # by hand: the context is the frames 2 and 5, each step takes the 3 actions (2,) after its frame, concatenated
    blocks = torch.tensor(np.array([np.concatenate([actions[t + i] for i in range(3)]) for t in (2, 5, 8, 11)]))
    with torch.no_grad():
        context = model.encode(images_to_frames(images[[2, 5]])[None])
        expected = model.unroll(context, blocks[None])[0, -1]
    assert torch.allclose(got, expected, atol=1e-5)
    assert recorded_foresight(model, episode, start=2, goal_offset=9, block=3) is None  # no frame 3 steps before
    assert recorded_foresight(model, episode, start=5, goal_offset=10, block=3) is None  # not a whole number of blocks
