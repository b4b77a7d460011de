"""stable-worldmodel's planning protocol: which (episode, start) pairs it draws, and success as the environment
counts it (an oracle that uses the ground truth reaches the goals; standing still succeeds only where the start is
already within reach)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from hjepa.agent.batching import BatchedRollouts
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.data.shards import Episode, list_shards, read_episodes
from hjepa.data.video import decode_video
from hjepa.eval.episodes import Actor, ActorFactory, Start, random_actors, still_actors
from hjepa.eval.swm_protocol import SwmProtocol, draw_pairs, pair_options, run_swm_protocol, start_frames
from hjepa.registration import SWM_PUSHT_ID, SWM_TWOROOM_ID
from tests.extras import needs_swm


def recorded(frames: int, terminated_at: int | None) -> Episode:
    """An episode as far as drawing pairs reads it: its length and first termination."""
    return Episode(
        "e",
        b"",
        "mkv",
        np.zeros((frames - 1, 2)),
        np.zeros((frames, 2)),
        {"num_frames": frames, "terminated_at": terminated_at},
    )


# ----- drawing the pairs


def test_starts_end_where_the_goal_would_pass_the_first_termination_or_the_last_frame() -> None:
    assert start_frames(recorded(101, None), 25) == range(76)  # goal frames 25 ... 100
    assert start_frames(recorded(101, 40), 25) == range(16)  # goal frames 25 ... 40, where it terminated
    assert start_frames(recorded(101, 20), 25) == range(0)  # terminated before any goal


def test_same_seed_and_data_give_the_same_pairs_and_every_pair_is_valid() -> None:
    episodes = [recorded(101, t) for t in (None, 40, 10, 70, None, 30)]
    protocol = SwmProtocol(pairs=50, seed=42)
    pairs = draw_pairs(episodes, protocol)
    assert pairs == draw_pairs(episodes, SwmProtocol(pairs=50, seed=42))
    assert pairs != draw_pairs(episodes, SwmProtocol(pairs=50, seed=43))
    assert len(set(pairs)) == 50 and pairs == sorted(pairs)
    assert all(p.start in start_frames(episodes[p.episode], 25) for p in pairs)
    assert 2 not in {p.episode for p in pairs}  # it terminated before any goal


def test_data_too_short_for_the_goal_offset_is_refused_with_the_fix() -> None:
    with pytest.raises(
        ValueError,
        match=r"--data: 3 episodes hold 0 starts whose goal, 25 steps later.*--frames "
        r"above 26",
    ):
        draw_pairs([recorded(20, None)] * 3, SwmProtocol())
    with pytest.raises(ValueError, match=r"hold 6 starts .* the protocol draws 50"):
        draw_pairs([recorded(28, None)] * 2, SwmProtocol())


def test_only_expert_episodes_of_a_gymnasium_environment_are_accepted(tmp_path: Path) -> None:
    generate_shards(GenerateSettings("hjepa/TwoRooms-v0", episodes=1, frames=4), tmp_path / "explored", progress=False)
    with pytest.raises(ValueError, match=r"recorded with --policy explore.*--world hjepa/TwoRooms-v0 --policy expert"):
        run_swm_protocol(tmp_path / "explored", {"random": random_actors})
    generate_shards(GenerateSettings("fork", episodes=1, frames=4), tmp_path / "world", progress=False)
    with pytest.raises(ValueError, match="recorded in the procedural world fork"):
        run_swm_protocol(tmp_path / "world", {"random": random_actors})


# ----- running it


@pytest.fixture(scope="module")
def expert_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few expert episodes of TwoRoom at 32 px, lossless."""
    out = tmp_path_factory.mktemp("swm_tworoom")
    generate_shards(
        GenerateSettings(
            SWM_TWOROOM_ID, episodes=6, frames=61, shard_size=3, image_size=32, codec="ffv1", policy="expert"
        ),
        out,
        progress=False,
    )
    return out


def oracle(seed: int, env: gymnasium.Env, batch: BatchedRollouts | None) -> tuple[Actor, Start | None]:
    """Tests only: the environment's noiseless expert, which reads the true agent and target positions."""
    return (lambda observation: (env.unwrapped.expert_action(), 0.0)), None


@needs_swm
def test_pairs_reset_the_environment_to_the_recorded_start_with_the_recorded_goal(expert_data: Path) -> None:
    episodes = [episode for shard in list_shards(expert_data) for episode in read_episodes(shard)]
    pair = draw_pairs(episodes, SwmProtocol(pairs=5))[0]
    episode = episodes[pair.episode]
    env = gymnasium.make(SWM_TWOROOM_ID, image_size=32)
    obs, info = env.reset(seed=episode.meta["reset_seed"], options=pair_options(episode, pair.start, 25))
    np.testing.assert_array_equal(info["state"], episode.states[pair.start])
    np.testing.assert_array_equal(info["goal_state"], episode.states[pair.start + 25])
    frames = decode_video(episode.video, [pair.start, pair.start + 25])
    np.testing.assert_array_equal(info["goal_image"], frames[1])
    assert np.abs(obs.astype(int) - frames[0].astype(int)).max() <= 1  # the start frame, rendered again


@needs_swm
def test_success_is_counted_as_the_environment_counts_it(expert_data: Path) -> None:
    protocol = SwmProtocol(pairs=12)
    actors = {"oracle": oracle, "random": random_actors}
    result = run_swm_protocol(expert_data, actors, protocol, env_kwargs={"expert_noise": 0.0})
    table = result["table"]
    assert table["oracle"]["success"] >= 0.9 and table["oracle"]["steps"] <= protocol.budget
    assert all(row["within_x1"] == row["success"] for row in table.values())
    for name, outcomes in result["episodes"].items():  # each pair's [success, steps], the rate rounded in the table
        assert len(outcomes) == 12 and all(steps <= protocol.budget for _, steps in outcomes)
        assert np.mean([success for success, _ in outcomes]) == pytest.approx(table[name]["success"], abs=1e-4)
    assert 0.0 <= table["random"]["success"] <= 1.0 and len(table["random"]["success_ci"]) == 2
    assert result["published"] == {"DINO-WM": 1.00, "PLDM": 0.97, "LeWM": 0.87}
    assert result["protocol"]["env"] == SWM_TWOROOM_ID and len(result["pairs"]) == 12
    json.dumps(result)  # plain data, written as it is
    # standing still succeeds exactly where the start is within the environment's 16 px of the goal
    close = SwmProtocol(pairs=30, goal_offset=4, budget=3)
    episodes = [episode for shard in list_shards(expert_data) for episode in read_episodes(shard)]
    distances = [
        np.linalg.norm(episodes[p.episode].states[p.start] - episodes[p.episode].states[p.start + 4])
        for p in draw_pairs(episodes, close)
    ]
    expected = [bool(d < 16.0) for d in distances]
    assert 0 < sum(expected) < len(expected)  # the check can tell the two cases apart
    still = run_swm_protocol(expert_data, {"still": still_actors}, close)
    assert still["table"]["still"]["success"] == pytest.approx(np.mean(expected), abs=1e-4)
    # pair by pair, in the pairs' order: the environment says success at the first step, a failure takes the budget
    assert still["episodes"]["still"] == [[e, 1 if e else close.budget] for e in expected]


# ----- PushT


@pytest.fixture(scope="module")
def pusht_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few PushT episodes of its data policy at 32 px, lossless."""
    out = tmp_path_factory.mktemp("swm_pusht")
    settings = GenerateSettings(
        SWM_PUSHT_ID, episodes=6, frames=61, shard_size=3, image_size=32, codec="ffv1", policy="explore"
    )
    generate_shards(settings, out, progress=False)
    return out


def replaying(episodes: list[Episode], pairs: list, goal_offset: int) -> ActorFactory:
    """Tests only: actors that play each pair's recorded actions from its start (the k-th actor made plays the k-th
    pair), then stand still."""
    plans = iter([episodes[p.episode].actions[p.start : p.start + goal_offset] for p in pairs])

    def make(seed: int, env: gymnasium.Env, batch: BatchedRollouts | None) -> tuple[Actor, Start | None]:
        actions, zero = iter(next(plans)), np.zeros(2, np.float32)
        return (lambda observation: (next(actions, zero), 0.0)), None

    return make


@needs_swm
def test_pusht_pairs_lead_from_the_recorded_start_to_the_recorded_goal(pusht_data: Path) -> None:
    random_data = pusht_data.parent / "random_pusht"
    settings = GenerateSettings(SWM_PUSHT_ID, episodes=1, frames=4, image_size=32, policy="random")
    generate_shards(settings, random_data, progress=False)
    with pytest.raises(ValueError, match=r"recorded with --policy random.*--world hjepa/SwmPushT-v1 --policy explore"):
        run_swm_protocol(random_data, {"random": random_actors})
    protocol = SwmProtocol(pairs=10)
    episodes = [episode for shard in list_shards(pusht_data) for episode in read_episodes(shard)]
    pairs = draw_pairs(episodes, protocol)
    actors = {"replay": replaying(episodes, pairs, protocol.goal_offset), "still": still_actors}
    result = run_swm_protocol(pusht_data, actors, protocol, figure=pusht_data.parent / "paths.png")
    # the recorded actions from the recorded start reach the recorded goal (the environment's rule: agent and block
    # within 20 px, the block's angle within pi/9), where standing still mostly does not
    replay, still = result["table"]["replay"], result["table"]["still"]
    assert replay["success"] >= 0.8 and still["success"] <= 0.3
    # coming within the rule's tolerances at some step is success; looser tolerances count at least as many
    assert replay["within_x1"] == replay["success"] and still["within_x1"] == still["success"]
    assert still["within_x1"] <= still["within_x2"] <= still["within_x4"] and still["within_x4"] > still["within_x1"]
    assert result["published"] == {"DINO-WM": 0.74, "PLDM": 0.78, "LeWM": 0.96}
    assert (pusht_data.parent / "paths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
