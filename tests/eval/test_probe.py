"""run_linear_probe end to end on generated TwoRooms shards with a tiny world model whose encoder is collapsed."""

import json

import pytest
import torch

from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.eval import run_linear_probe
from hjepa.models import build_world_model

CFG = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 32},
    "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 32},
}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_rooms")
    generate_shards(GenerateSettings("two_rooms", episodes=24, frames=12, shard_size=6), out, progress=False)
    return out


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """An untrained world model whose encoder maps every frame to one state (its last layer's weights are 0)."""
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    torch.manual_seed(0)
    wm = build_world_model(CFG)
    torch.nn.init.zeros_(wm.encoder.proj.weight)
    state = {"world_model." + k: v for k, v in wm.state_dict().items()} | {"expander.0.weight": torch.zeros(3)}
    torch.save({"hyper_parameters": {"world_model_config": CFG}, "state_dict": state}, path)
    return path


def split_states(shards, split: str) -> torch.Tensor:
    """Ground-truth states (N, 8, 2) of the probe's clips of `split`, read as the probe reads them."""
    data = VideoDataModule(str(shards), num_frames=8, batch_size=8, num_workers=0, resampled=False, val_fraction=0.2)
    return torch.cat([batch["states"] for batch in data.loader(data.dataset(split))]).double()


def test_a_collapsed_encoder_scores_what_the_training_mean_scores(shards, ckpt, tmp_path):
    results = run_linear_probe(
        ckpt, str(shards), tmp_path, num_frames=8, batch_size=8, rollout_k=4, num_workers=0, device="cpu"
    )
    assert results["rollout_k"] == 4 and results["probe_train_clips"] + results["probe_val_clips"] == 24
    # One state for every frame: the best linear readout is the mean state of the training split. Its R^2 on the
    # held-out clips, over all their frames and at step 4 (rollout and copy-last alike), by hand:
    train, val = split_states(shards, "train"), split_states(shards, "val")

    def r2_of_train_mean(target: torch.Tensor) -> float:
        target = target.flatten(0, -2)
        error = (target - train.flatten(0, 1).mean(0)).square().sum(0)
        return float((1 - error / (target - target.mean(0)).square().sum(0)).mean())

    assert results["probe_r2_trained"] == pytest.approx(r2_of_train_mean(val), abs=1e-4)
    assert results["probe_r2_trained"] <= 0
    at_k = pytest.approx(r2_of_train_mean(val[:, 4]), abs=1e-4)
    assert results["probe_r2_rollout"] == results["probe_r2_copy_last"] == at_k
    assert results["probe_acc_room_trained"] == results["probe_acc_room_majority"]  # always the commonest room
    assert results["probe_r2_random"] != results["probe_r2_trained"], "the random twin is a fresh model"
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
        run_linear_probe(
            ckpt, str(shards), tmp_path, num_frames=5, rollout_k=4, val_fraction=0.01, num_workers=0, device="cpu"
        )


@pytest.mark.parametrize("fraction", ["0", "1", "-0.5", "nan"])
def test_a_probe_without_held_out_episodes_is_refused(shards, ckpt, tmp_path, capsys, fraction):
    from hjepa.cli import main

    out = tmp_path / "probe"
    args = [
        "probe",
        "linear",
        "--ckpt",
        str(ckpt),
        "--data",
        str(shards),
        "--out",
        str(out),
        "--val_fraction",
        fraction,
        "--rollout_k",
        "2",
        "--batch_size",
        "8",
        "--workers",
        "0",
    ]
    assert main(args) == 2
    assert (
        "error: val_fraction (--val_fraction): expected a share of held-out episodes in (0, 1)"
        in capsys.readouterr().err
    )
    assert not out.exists()
