"""The distillation probe records the like-for-like planner, trains a policy on it and compares both."""

import json

from hjepa.agent.distill import load_policy
from hjepa.agent.task import TaskSpec
from hjepa.envs import make_world
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
    assert runs["parallel"]["distill_hindsight"] and runs["parallel"]["distill_corrections"] == 1
    assert runs["alone"]["distill_corrected_decisions"] == runs["parallel"]["distill_corrected_decisions"] > 0
    assert runs["parallel"]["distill_loss_last"] < runs["parallel"]["distill_loss_first"]
    written = json.loads((tmp_path / "parallel" / "distill.json").read_text())
    assert written["policy_success_distilled"] == runs["parallel"]["policy_success_distilled"]
    assert load_policy(tmp_path / "parallel").state_dim == 2
