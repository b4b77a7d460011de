"""The like-for-like planning protocol: the agent decides from the goal image and the world model alone."""

import json

import gymnasium
import numpy as np
import pytest

from hjepa.agent.task import TaskSpec
from hjepa.envs import make_world
from hjepa.eval.episodes import task_env
from hjepa.eval.plan_probe import run_plan_probe
from hjepa.eval.protocol import Protocol
from tests.agent.oracle import ActionBlindWorldModel, OracleWorldModel, WallOracleWorldModel


@pytest.fixture()
def no_recorded_data(monkeypatch):
    """Fail the test if anything reads recorded episodes or fits a probe on ground truth."""

    def touched(*args, **kwargs):
        raise AssertionError("the like-for-like protocol touched recorded data or a ground-truth probe")

    monkeypatch.setattr("hjepa.eval.plan_models.record_experience", touched)
    monkeypatch.setattr("hjepa.agent.experience.Experience.position_probe", touched)
    monkeypatch.setattr("hjepa.agent.configurator.LandmarkGraph", touched)


def test_like_for_like_default_reaches_goals_with_a_perfect_model(no_recorded_data, tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml")
    assert task.aids == ()
    summary = run_plan_probe(
        None,
        None,
        "hjepa/TwoRooms-v0",
        task,
        tmp_path,
        Protocol(3, seed=1000),
        world_model=WallOracleWorldModel(make_world("two_rooms")),
    )
    # A greedy distance cost can still stall at a wall where the way round is long (1 of these 3 episodes)
    assert summary["plan_success"] >= 2 / 3 and summary["plan_success_random"] == 0.0, summary["plan_table"]
    assert summary["plan_ever_r0.022"] == summary["plan_success"]  # episodes end on first reaching r = 0.022
    assert summary["plan_final_distance_median"] < 0.022 and summary["plan_aids"] == []
    table = json.loads((tmp_path / "plan.json").read_text())["plan_table"]
    assert table["cem"]["end_r0.022"] == table["cem"]["ever_r0.022"]
    # each episode's outcome, and the planner against random on the same episodes
    episodes = table["cem"]["episodes"]
    assert [e["seed"] for e in episodes] == [1000, 1001, 1002]
    won = [e["reached_at"] is not None for e in episodes]
    assert sum(won) / 3 == pytest.approx(summary["plan_success"], abs=1e-4)
    assert all(e["closest"] < 0.05 for e, w in zip(episodes, won) if w)
    # random wins none, so the sign test's p-value is twice the chance of k heads in k fair tosses
    assert summary["plan_paired"]["random"] == {"only_first": sum(won), "only_other": 0, "p_value": 2 * 0.5 ** sum(won)}
    assert (tmp_path / "plan_cost_map.png").stat().st_size > 0


def test_a_model_that_ignores_actions_does_not_beat_random(no_recorded_data, tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(max_steps=60)
    summary = run_plan_probe(
        None, None, "hjepa/TwoRooms-v0", task, tmp_path, Protocol(3, seed=1000), world_model=ActionBlindWorldModel()
    )
    assert summary["plan_success"] <= summary["plan_success_random"] == 0.0


def test_without_termination_the_agent_keeps_acting_and_is_scored_at_the_end(tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml")
    protocol = Protocol(2, seed=1000, max_steps=90, terminate=False)
    summary = run_plan_probe(
        None,
        None,
        "hjepa/TwoRooms-v0",
        task,
        tmp_path,
        protocol,
        random_baseline=False,
        world_model=WallOracleWorldModel(make_world("two_rooms")),
    )
    row = summary["plan_table"]["cem"]
    assert summary["plan_max_steps"] == 90 and row["ms_per_episode"] > 0
    assert row["ever_r0.022"] >= 0.5 and row["end_r0.05"] >= row["ever_r0.022"]  # where it arrived, it stayed
    assert summary["plan_steps"] < 90  # steps to first success, not the episode length
    assert np.isfinite(row["final_distance_median"])


def test_maps_show_the_first_episodes_door_where_each_episode_draws_one(no_recorded_data, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(
        "hjepa.eval.plan_figures.plot_trajectories",
        lambda results, background, goals, path: drawn.update(background=background, goals=goals),
    )
    monkeypatch.setattr(
        "hjepa.eval.plan_figures.plot_goal_distance_map",
        lambda model, world, goal, path, paths: drawn.update(door=world.doors[0], goal=goal),
    )
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(max_steps=3)
    run_plan_probe(
        None,
        None,
        "hjepa/TwoRoomsRandomDoor-v0",
        task,
        tmp_path,
        Protocol(3, seed=1000),
        random_baseline=False,
        world_model=ActionBlindWorldModel(),
    )
    first = gymnasium.make("hjepa/TwoRoomsRandomDoor-v0")
    _, info = first.reset(seed=1000)
    assert drawn["door"] == first.unwrapped.world.doors[0]
    np.testing.assert_array_equal(drawn["background"], first.unwrapped.world.background)
    np.testing.assert_array_equal(drawn["goal"], info["goal_state"])
    np.testing.assert_array_equal(drawn["goals"][0], info["goal_state"])
    assert len({tuple(goal) for goal in drawn["goals"]}) == 3


def test_plan_probe_writes_results_and_beats_random(experience, tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/reach_aided.yaml").replace(max_steps=80)
    summary = run_plan_probe(
        None,
        None,
        "hjepa/TwoRooms-v0",
        task,
        tmp_path,
        Protocol(3),
        planners=["mppi"],
        world_model=OracleWorldModel(),
        experience=experience,
    )
    assert summary["plan_success"] == 1.0 and summary["plan_success_random"] == 0.0
    assert summary["plan_aids"] == ["landmarks", "probe"]
    assert set(summary["plan_table"]) == {"cem [aided: landmarks, probe]", "mppi [aided: landmarks, probe]", "random"}
    assert json.loads((tmp_path / "plan.json").read_text())["plan_success"] == 1.0
    assert (tmp_path / "plan_trajectories.png").stat().st_size > 0
    assert (tmp_path / "plan_episode.gif").read_bytes()[:3] == b"GIF"
    with pytest.raises(ValueError, match="not a registered gymnasium id"):
        task_env("hjepa/Nowhere-v0", 10)
