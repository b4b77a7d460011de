"""Probe experiments are YAML under configs/probes: the shipped ones load and build what their probes run; a file
with a field the probe does not know is refused, naming the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hjepa.agent.planners import build_planner
from hjepa.agent.task import TaskSpec
from hjepa.envs import Crossing, Fork
from hjepa.eval import fork_probe, pusht_probe
from hjepa.eval.experiment import PROBES, read_experiment
from hjepa.eval.fork_probe import ForkExperiment, run_fork_probe
from hjepa.eval.pusht_probe import PushTExperiment
from hjepa.eval.risk_probe import RiskExperiment, run_risk_probe
from hjepa.train.module import JEPAModule

KINDS = {"fork": ForkExperiment, "risk": RiskExperiment, "pusht": PushTExperiment}


def test_the_shipped_experiments_load_and_build_what_their_probes_run():
    assert sorted(path.stem for path in PROBES.glob("*.yaml")) == sorted(KINDS)
    fork = read_experiment(PROBES / "fork.yaml", ForkExperiment)
    assert fork_probe.WORLD == fork.world and fork.world["speed_range"] == [0.03, 0.03]  # the branch is all z carries
    assert list(fork.latents) == ["discrete"] and fork.all_latents["discrete"] == fork.latents["discrete"]
    assert list(fork.all_latents) == ["discrete", "low_dim", "sparse", "noisy", "unregularized"]
    for latent in fork.all_latents.values():
        JEPAModule(**{**fork.model, "latent": latent})
    Fork(image_size=32, **fork.world)

    risk = read_experiment(PROBES / "risk.yaml", RiskExperiment)
    model = JEPAModule(**risk.model)
    assert model.world_model.latent.num_codes == 2 and risk.model["action_dim"] == 1
    assert {k: v for k, v in risk.model.items() if k not in ("predictor", "latent", "action_dim")} == {
        k: v for k, v in fork.model.items() if k not in ("predictor", "action_dim")
    }  # the Fork probe's JEPA
    build_planner(**risk.planner, action_low=[-0.05], action_high=[0.05])
    Crossing(**risk.world)

    pusht = read_experiment(PROBES / "pusht.yaml", PushTExperiment)
    assert pusht.task == pusht_probe.TASK and TaskSpec.from_dict(pusht.task).aids == ()  # like-for-like


@pytest.mark.parametrize(
    "name, change, field",
    [
        ("fork", {"worlds": {}}, "unknown field 'worlds'"),
        ("fork", {"world": {"speed": 0.03}}, "world.speed: unknown field"),
        ("fork", {"model": {"learning_rate": 0.1}}, "model.learning_rate: unknown field"),
        ("fork", {"all_latents": {"sparse": {"kind": "sparse", "l2": 0.1}}}, "all_latents.sparse.l2: unknown field"),
        ("fork", {"latents": {"d": {"kind": "categorical"}}}, "latents.d.kind: expected one of"),
        ("risk", {"world": {"image_size": "32"}}, "world.image_size: expected int"),
        ("risk", {"planner": {"name": "cem", "horizon": 12, "populations": 64}}, "planner.populations: unknown field"),
        (
            "pusht",
            {
                "task": {
                    "name": "t",
                    "cost": {"goal_distance": 1.0},
                    "planner": {"name": "cem", "horizon": 2},
                    "goals": 1,
                }
            },
            "task: unknown field 'goals'",
        ),
    ],
)
def test_a_field_the_probe_does_not_know_is_refused_naming_the_file_and_the_field(tmp_path, name, change, field):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load((PROBES / f"{name}.yaml").read_text()), **change}))
    with pytest.raises(ValueError, match=re.escape(f"{path}: {field}")):
        read_experiment(path, KINDS[name])


def test_missing_fields_and_files_that_are_no_mapping_are_refused(tmp_path):
    path = tmp_path / "risk.yaml"
    path.write_text(yaml.safe_dump({"world": {"image_size": 32}}))
    with pytest.raises(ValueError, match=re.escape(f"{path}: missing field 'model'")):
        read_experiment(path, RiskExperiment)
    path.write_text("- a list\n")
    with pytest.raises(ValueError, match="a probe experiment is a mapping of fields, got list"):
        read_experiment(path, RiskExperiment)
    with pytest.raises(FileNotFoundError, match="no such probe experiment"):
        read_experiment(tmp_path / "none.yaml", RiskExperiment)


def test_the_probes_read_the_experiment_they_are_given_before_any_work(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("worlds: {}\n")

    def refused():
        return pytest.raises(ValueError, match=re.escape(f"{bad}: unknown field 'worlds'"))

    with refused():
        run_fork_probe(tmp_path / "out", experiment=bad)
    with refused():
        run_risk_probe(tmp_path / "out", experiment=bad)
    with refused():
        pusht_probe.run_pusht_probe(
            pusht_probe.build_parser().parse_args(["--experiment", str(bad), "--out", str(tmp_path / "out")])
        )
    assert not (tmp_path / "out").exists()
    assert Path(pusht_probe.build_parser().parse_args([]).experiment) == PROBES / "pusht.yaml"
