"""run_linear_probe end to end on generated TwoRooms shards with an untrained tiny world model."""

import json
import math

import pytest
import torch

from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.eval import run_linear_probe
from hjepa.models import build_world_model

CFG = {"encoder": {"name": "convnet_tiny", "embed_dim": 32}, "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 32}}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_rooms")
    generate_shards(GenerateSettings("two_rooms", episodes=24, frames=12, shard_size=6), out, progress=False)
    return out


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    wm = build_world_model(CFG)
    state = {"world_model." + k: v for k, v in wm.state_dict().items()} | {"expander.0.weight": torch.zeros(3)}
    torch.save({"hyper_parameters": {"world_model_config": CFG}, "state_dict": state}, path)
    return path


def test_probe_writes_json_and_figures_with_finite_scores(shards, ckpt, tmp_path):
    results = run_linear_probe(ckpt, str(shards), tmp_path, num_frames=8, batch_size=8, rollout_k=4,
                               num_workers=0, device="cpu")
    keys = ["probe_r2_trained", "probe_r2_random", "probe_r2_rollout", "probe_r2_copy_last",
            "probe_acc_room_trained", "probe_acc_room_random", "probe_acc_room_majority"]
    assert all(math.isfinite(results[key]) for key in keys), results
    assert results["rollout_k"] == 4 and results["probe_train_clips"] + results["probe_val_clips"] == 24
    report = json.loads((tmp_path / "probe.json").read_text())
    assert report["state_names"] == ["x", "y"] and len(report["rollout_r2_curve"]["rollout"]) == 4
    assert {k: report[k] for k in results} == results
    for png in ("probe_scatter.png", "probe_rollout_r2.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_clips_shorter_than_the_rollout_are_refused(shards, ckpt, tmp_path):
    with pytest.raises(ValueError, match=r"num_frames=4 .*rollout_k \+ 1 = 9"):
        run_linear_probe(ckpt, str(shards), tmp_path, num_frames=4, rollout_k=8)


def test_a_split_too_small_to_score_is_named(shards, ckpt, tmp_path):
    with pytest.raises(ValueError, match=r"the val split holds [01] clips, the probe needs at least 2"):
        run_linear_probe(ckpt, str(shards), tmp_path, num_frames=5, rollout_k=4, val_fraction=0.01, num_workers=0,
                         device="cpu")


@pytest.mark.parametrize("fraction", ["0", "1", "-0.5", "nan"])
def test_a_probe_without_held_out_episodes_is_refused(shards, ckpt, tmp_path, capsys, fraction):
    from hjepa.cli import main

    out = tmp_path / "probe"
    args = ["probe", "linear", "--ckpt", str(ckpt), "--data", str(shards), "--out", str(out), "--val-fraction",
            fraction, "--rollout-k", "2", "--batch-size", "8", "--workers", "0"]
    assert main(args) == 2
    assert "error: val_fraction (--val-fraction): expected a share of held-out episodes in (0, 1)" in capsys.readouterr().err
    assert not out.exists()
