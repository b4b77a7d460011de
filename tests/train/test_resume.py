"""SIGKILL mid-epoch, then `--ckpt_path last`: the run continues from the saved step, reads the clips the
uninterrupted run read (data position in the checkpoint), and its losses match (same seed)."""

import math
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from benchmarks.resume_continuity import plot_pair, resume_pair
from hjepa.train.cli import run_lightning_cli
from hjepa.train.schedule import warmup_cosine
from tests.train.test_cli import tiny_config
from tests.train.test_schedule import chained

TINY = {
    "model": {
        "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32, "width": 8},
        "predictor": {"kind": "gru", "hidden_dim": 16},
        "expander": [32],
    },
    # 2 workers take batches in turn: the resumed epoch must skip each worker's share
    "data": {"num_frames": 4, "batch_size": 4, "num_workers": 2, "decoder": "pyav", "train_batches_per_epoch": 4},
}
# Losses after resume are computed from the same weights, optimizer state and clips; only the order of
# floating-point reductions across threads may differ.
RTOL = 1e-4


def test_killed_run_resumes_where_it_stopped_and_matches_the_uninterrupted_run(tiny_rooms, tmp_path):
    result = resume_pair(tiny_rooms, tmp_path, TINY, steps=10, kill_step=8, every=3)
    # killed at the start of step 8: the last checkpoint is step 6, in the middle of epoch 1 (4 batches)
    assert result["resumed_from_step"] == 6
    straight, resumed = result["uninterrupted"], result["resumed"]
    assert sorted(resumed) == list(range(1, 11)) == sorted(straight)
    for step in range(7, 11):
        assert result["keys_resumed"][step] == result["keys_uninterrupted"][step], f"step {step} read other clips"
        assert math.isclose(resumed[step], straight[step], rel_tol=RTOL), (step, resumed[step], straight[step])
    # the two runs did not merely start alike: the loss moved over the steps compared
    assert abs(straight[10] - straight[7]) > 100 * RTOL * straight[7]
    assert not list((tmp_path / "interrupted" / "checkpoints").glob("*.tmp"))
    assert plot_pair(result, tmp_path / "resume.png").stat().st_size > 0


class DeleteShard(L.Callback):
    """Deletes a shard once training has started: storage losing a file mid-run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        Path(self.path).unlink(missing_ok=True)


def test_training_goes_on_past_a_damaged_and_a_vanished_shard(tiny_rooms, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(tiny_rooms, shards)
    damaged = shards / "shard-000002.tar"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    config = tiny_config(tmp_path, shards)
    settings = yaml.safe_load(config.read_text())
    settings["trainer"]["callbacks"] += [
        {"class_path": "hjepa.train.callbacks.SkippedDataMonitor"},
        {"class_path": "tests.train.test_resume.DeleteShard", "init_args": {"path": str(shards / "shard-000005.tar")}},
    ]
    settings["data"].update(resampled=False, val_fraction=0.0, shuffle_buffer=0)  # every shard read each epoch
    config.write_text(yaml.safe_dump(settings))
    # the full epoch would be 6 batches of 8: one shard is half gone and one vanishes, so epochs are shorter
    cli = run_lightning_cli(["fit", "--config", str(config), "--trainer.max_steps", "7"])
    assert cli.trainer.global_step == 7 and cli.trainer.current_epoch >= 1
    assert cli.datamodule.skipped_shards >= 2  # counted in both epochs
    assert cli.trainer.callback_metrics["data/skipped_shards"] >= 2


class RecordRate(L.Callback):
    """Records the learning rate each training step runs with, by global step."""

    def __init__(self) -> None:
        self.rates: dict[int, float] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.rates[trainer.global_step] = trainer.optimizers[0].param_groups[0]["lr"]


def fit_recording_rates(config: Path, *args: str) -> dict[int, float]:
    cli = run_lightning_cli(["fit", "--config", str(config), "--model.warmup_steps", "2", *args])
    (recorder,) = [c for c in cli.trainer.callbacks if isinstance(c, RecordRate)]
    return recorder.rates


def test_a_run_resumed_for_longer_follows_the_schedule_of_its_new_length(tiny_rooms, tmp_path):
    config = tiny_config(tmp_path, tiny_rooms)
    settings = yaml.safe_load(config.read_text())
    settings["trainer"]["callbacks"].append({"class_path": "tests.train.test_resume.RecordRate"})
    config.write_text(yaml.safe_dump(settings))
    fit_recording_rates(config, "--trainer.max_steps", "6")
    last = next((tmp_path / "checkpoints").glob("last*.ckpt"))
    saved = torch.load(last, map_location="cpu", weights_only=True)  # step 6, before the resumed run saves over it
    peak, floor = settings["model"]["lr"], settings["model"].get("min_lr_ratio", 0.01)
    expected = {step: peak * warmup_cosine(step, 2, 12, floor) for step in range(6, 12)}
    resumed = fit_recording_rates(config, "--trainer.max_steps", "12", "--ckpt_path", str(last))
    assert resumed == pytest.approx(expected)
    # a checkpoint whose schedule was saved as torch's chained schedulers resumes at its step all the same
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))], lr=peak)
    old = chained(optimizer, 2, 6, floor)
    for _ in range(6):
        optimizer.step()
        old.step()
    saved["lr_schedulers"] = [old.state_dict()]
    torch.save(saved, tmp_path / "chained.ckpt")
    assert fit_recording_rates(config, "--trainer.max_steps", "12", "--ckpt_path", str(tmp_path / "chained.ckpt")) == (
        pytest.approx(expected)
    )
