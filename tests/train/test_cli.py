"""`hjepa fit` through LightningCLI: YAML config, overrides, checkpoints, resuming with --ckpt_path last or a
file, and configuration errors as one line."""

import re
from pathlib import Path

import pytest
import torch

from hjepa.cli import main
from hjepa.threads import one_torch_thread
from hjepa.train.cli import run_lightning_cli
from hjepa.train.module import JEPAModule
from hjepa.train.run_config import write_run_config

CONFIG = Path(__file__).parents[2] / "configs" / "tiny_cpu.yaml"


def tiny_config(tmp_path: Path, shards: Path) -> Path:
    """configs/tiny_cpu.yaml made tiny and pointed at tmp_path."""
    return write_run_config(
        CONFIG,
        tmp_path,
        {
            "trainer": {
                "val_check_interval": None,
                "limit_val_batches": 0,
                "enable_progress_bar": False,
                "callbacks": [
                    {
                        "class_path": "hjepa.train.callbacks.StepCheckpoint",
                        "init_args": {"save_last": True, "every_n_train_steps": 3, "save_top_k": -1},
                    },
                    {"class_path": "hjepa.train.callbacks.LossCurvePlot"},
                ],
            },
            "model": {
                "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32, "width": 8},
                "predictor": {"kind": "gru", "hidden_dim": 16},
                "expander": [32],
            },
            "data": {
                "shards": str(shards),
                "num_frames": 4,
                "batch_size": 8,
                "num_workers": 0,
                "decoder": "pyav",
                "train_batches_per_epoch": 4,
            },
        },
    )


def checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def history_steps(ckpt: dict) -> list[int]:
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("LossCurvePlot")]
    return [step for step, _ in state["history"]["train/loss"]]


def test_fit_then_resume_from_last_continues_at_the_saved_step(tiny_rooms, tmp_path):
    config = tiny_config(tmp_path, tiny_rooms)
    run_lightning_cli(["fit", "--config", str(config), "--trainer.max_steps", "6"])
    first = checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert first["global_step"] == 6
    cli = run_lightning_cli(["fit", "--config", str(config), "--trainer.max_steps", "10", "--ckpt_path", "last"])
    assert cli.trainer.global_step == 10
    second = checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert second["global_step"] == 10
    # one continuous history: the resumed run started at step 6, not at 0
    steps = history_steps(second)
    assert steps == list(range(steps[0], steps[0] + 10))
    resolved = list(tmp_path.rglob("config.yaml"))
    assert any(p.parent != tmp_path for p in resolved), "the resolved config is saved with the run"
    assert (tmp_path / "logs").exists() and list(tmp_path.rglob("loss_curve.png"))


def test_overrides_reach_the_model(tiny_rooms, tmp_path):
    config = tiny_config(tmp_path, tiny_rooms)
    cli = run_lightning_cli(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.max_steps",
            "1",
            "--model.encoder.embed_dim",
            "12",
            "--model.lr",
            "0.01",
        ]
    )
    assert cli.model.world_model.encoder.embed_dim == 12 and cli.model.hparams.lr == 0.01
    assert cli.model.world_model.encoder.img_size == 32, "an override of one field keeps the others"


def test_unknown_config_field_is_named(tiny_rooms, tmp_path, capsys):
    config = tiny_config(tmp_path, tiny_rooms)
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(config), "--model.learning_rate", "0.1"])
    assert "learning_rate" in capsys.readouterr().err


def test_bf16_mixed_precision_trains(tiny_rooms, tmp_path, monkeypatch):
    """bf16-mixed: the forward computes in bf16 (autocast), the weights stay fp32, and the loss falls."""
    steps, dtypes, losses = 30, [], []
    forward = JEPAModule.losses

    def recorded(self: JEPAModule, batch: dict) -> dict:
        terms = forward(self, batch)
        dtypes.append(terms["states"].dtype)
        losses.append(float(terms["loss"]))
        return terms

    monkeypatch.setattr(JEPAModule, "losses", recorded)
    config = tiny_config(tmp_path, tiny_rooms)
    with one_torch_thread():
        cli = run_lightning_cli(
            ["fit", "--config", str(config), "--trainer.max_steps", str(steps), "--trainer.precision", "bf16-mixed"]
        )
    assert dtypes == [torch.bfloat16] * steps, "the encoder's states come out of autocast in bf16"
    assert {p.dtype for p in cli.model.parameters()} == {torch.float32}
    assert sum(losses[-3:]) < 0.85 * sum(losses[:3]), losses  # seeds 0-4: at most 0.71


def test_wandb_logger_works_offline(tiny_rooms, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = tiny_config(tmp_path, tiny_rooms)
    run_lightning_cli(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.max_steps",
            "2",
            "--trainer.logger",
            "lightning.pytorch.loggers.WandbLogger",
            "--trainer.logger.offline",
            "true",
            "--trainer.logger.save_dir",
            str(tmp_path),
            "--trainer.logger.project",
            "hjepa-test",
        ]
    )
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb")), "an offline run to `wandb sync` later"


def test_fit_and_validate_from_a_checkpoint_file(tiny_rooms, tmp_path):
    config = tiny_config(tmp_path, tiny_rooms)
    assert main(["fit", "--config", str(config), "--trainer.max_steps", "3"]) == 0
    saved = tmp_path / "checkpoints" / "epoch=0-step=3.ckpt"
    assert main(["fit", "--config", str(config), "--trainer.max_steps", "5", "--ckpt_path", str(saved)]) == 0
    assert checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == 5  # continued from step 3
    cli = run_lightning_cli(
        ["validate", "--config", str(config), "--trainer.limit_val_batches", "1", "--ckpt_path", str(saved)]
    )
    assert torch.isfinite(cli.trainer.callback_metrics["val/loss"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["--model.encoder.nme", "x"], "encoder.nme"),
        (["--model.predictor.kind", "lstm"], "predictor.kind: unknown kind 'lstm'"),
        (["--data.num_frames", "40", "--data.num_workers", "1"], "data.num_frames: num_frames=40"),
        (["--weights_only", "false"], "weights_only: false would unpickle arbitrary code"),
        (["--ckpt_path", "{tmp}/damaged.ckpt"], r"checkpoint \S+/damaged\.ckpt cannot be read"),
    ],
)
def test_config_errors_are_one_line_without_traceback(tiny_rooms, tmp_path, capsys, override, message):
    config = tiny_config(tmp_path, tiny_rooms)
    (tmp_path / "damaged.ckpt").write_bytes(b"PK\x03\x04 not a whole checkpoint")
    override = [arg.format(tmp=tmp_path) for arg in override]
    assert main(["fit", "--config", str(config), "--trainer.max_steps", "1", *override]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and re.search(message, last), last
