"""The distillation probe records the like-for-like planner, trains a policy on it and compares both."""

import json

import pytest
import torch

from hjepa.agent.distill import distill, load_policy
from hjepa.agent.task import TaskSpec
from hjepa.envs import make_world
from hjepa.eval import distill_probe
from hjepa.eval.distill_probe import run_distillation
from tests.agent.oracle import WallOracleWorldModel


def test_distillation_with_corrections_records_in_parallel_as_alone_and_saves_the_policy(tmp_path):
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(
        max_steps=15, planner={"name": "cem", "horizon": 8, "population": 64, "elites": 8, "iterations": 3}
    )
    runs = {}
    for name, parallel in (("alone", 1), ("parallel", 3)):
        runs[name] = run_distillation(
            None,
            None,
            "hjepa/TwoRooms-v0",
            task,
            tmp_path / name,
            episodes=2,
            steps=200,
            eval_episodes=1,
            world_model=WallOracleWorldModel(make_world("two_rooms")),
            parallel=parallel,
            corrections=1,
        )
    assert runs["alone"]["distill_decisions"] == runs["parallel"]["distill_decisions"] > 0  # the same episodes
    assert runs["alone"]["distill_loss_last"] == runs["parallel"]["distill_loss_last"]  # ... and the same policy
    assert runs["parallel"]["distill_hindsight"] == 16 and runs["parallel"]["distill_corrections"] == 1
    assert runs["alone"]["distill_corrected_decisions"] == runs["parallel"]["distill_corrected_decisions"] > 0
    assert runs["parallel"]["distill_loss_last"] < runs["parallel"]["distill_loss_first"]
    written = json.loads((tmp_path / "parallel" / "distill.json").read_text())
    assert written["policy_success_distilled"] == runs["parallel"]["policy_success_distilled"]
    assert load_policy(tmp_path / "parallel").state_dim == 2


def test_correction_episodes_stop_after_correction_steps_and_weigh_as_much_as_the_planners(tmp_path, monkeypatch):
    fits = []

    def recording_distill(examples, env, steps, seed=0, weights=None):
        fits.append((len(examples[0]), weights))
        return distill(examples, env, steps, seed=seed, weights=weights)

    monkeypatch.setattr(distill_probe, "distill", recording_distill)
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(
        max_steps=15, planner={"name": "cem", "horizon": 8, "population": 32, "elites": 4, "iterations": 2}
    )
    common = {"episodes": 2, "steps": 20, "eval_episodes": 1, "corrections": 1}
    model = WallOracleWorldModel(make_world("two_rooms"))
    summary = run_distillation(
        None, None, "hjepa/TwoRooms-v0", task, tmp_path, world_model=model, correction_steps=3, **common
    )
    assert summary["distill_correction_steps"] == 3
    assert 1 <= summary["distill_corrected_decisions"] <= 2 * 3  # a policy fitted in 20 steps does not arrive in 15
    (planned, none), (both, weights) = fits
    assert none is None and len(weights) == both == planned + summary["distill_corrected_decisions"]
    assert torch.isclose(weights[:planned].sum(), weights[planned:].sum())  # however few the labels are
    with pytest.raises(ValueError, match="--correction_steps: expected a positive number of steps, got 0"):
        run_distillation(None, None, "hjepa/TwoRooms-v0", task, tmp_path, world_model=model, correction_steps=0)
