"""Training callbacks: loss-curve PNG, data skip counters, step checkpoints, per-rank sample keys and
memory/speed options for large encoders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import matplotlib
from lightning.pytorch.callbacks import ModelCheckpoint

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class LossCurvePlot(L.Callback):
    """Records the logged training metrics each step and draws them to `<log dir>/loss_curve.png`.

    The history is part of the checkpoint, so a resumed run draws one continuous curve.
    """

    def __init__(
        self,
        metrics: tuple[str, ...] = ("train/loss", "train/pred_loss_rollout", "train/pred_loss_one_step"),
        filename: str = "loss_curve.png",
    ) -> None:
        self.metrics, self.filename = tuple(metrics), filename
        self.history: dict[str, list[tuple[int, float]]] = {m: [] for m in self.metrics}

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        for name in self.metrics:
            value = trainer.callback_metrics.get(name)
            if value is not None:
                self.history[name].append((trainer.global_step, float(value)))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = Path(trainer.log_dir or trainer.default_root_dir)  # a broadcast under DDP: every rank asks
        if trainer.is_global_zero:
            self.plot(folder / self.filename)

    def plot(self, path: Path) -> Path:
        """Draw every recorded metric against the optimizer step (log scale)."""
        figure, axis = plt.subplots(figsize=(6, 4))
        for name, points in self.history.items():
            if points:
                steps, values = zip(*points)
                axis.plot(steps, values, label=name)
        axis.set(xlabel="step", ylabel="loss", yscale="log", title="training losses")
        axis.legend()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return path

    def state_dict(self) -> dict[str, Any]:
        return {"history": {k: [list(p) for p in v] for k, v in self.history.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {k: [tuple(p) for p in v] for k, v in state_dict["history"].items()}


class SkippedDataMonitor(L.Callback):
    """Logs how many corrupt samples and unreadable shards the data module skipped so far."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        data = trainer.datamodule
        if data is not None and hasattr(data, "skipped_samples"):
            pl_module.log_dict(
                {"data/skipped_samples": float(data.skipped_samples), "data/skipped_shards": float(data.skipped_shards)}
            )


class StepCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` that also writes `last.ckpt` when training stops between two saving steps
    (max_steps not a multiple of every_n_train_steps), so `--ckpt_path last` and export see the end.

    A resumed run that reaches a step again replaces that step's file (and `last.ckpt`) instead of
    adding `-v1` copies beside it, so a damaged file left by a crash is overwritten by a good one.
    """

    def __init__(self, *args: Any, enable_version_counter: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, enable_version_counter=enable_version_counter, **kwargs)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self.save_last and trainer.global_step != self._last_global_step_saved:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class SampleKeyLog(L.Callback):
    """Appends the keys of every training batch this rank reads to `<dirpath>/rank<r>.tsv`
    (`step<TAB>key key ...`): shows how shards are split over nodes and workers, and what a resumed
    run read after the interruption. `dirpath` defaults to `<default_root_dir>/sample_keys`."""

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        folder = Path(self.dirpath or Path(trainer.default_root_dir) / "sample_keys")
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"rank{trainer.global_rank}.tsv", "a") as handle:
            handle.write(f"{trainer.global_step + 1}\t{' '.join(batch['key'])}\n")


def read_sample_keys(path: Path) -> dict[int, list[str]]:
    """`SampleKeyLog`'s file -> {step: keys}; a step read again after a resume keeps its last reading."""
    steps: dict[int, list[str]] = {}
    for line in Path(path).read_text().splitlines():
        step, keys = line.split("\t")
        steps[int(step)] = keys.split()
    return steps


class EncoderOptions(L.Callback):
    """Memory and speed options for large encoders, applied when training is set up.

    Args:
        grad_checkpointing: recompute the backbone's activations during backward instead of storing
            them (timm backbones; less memory for about one more forward pass).
        compile: `torch.compile` the encoder in place (`nn.Module.compile`), so parameter names and
            checkpoints are the same as without it.
        compile_backend, compile_mode: passed to `torch.compile` (`inductor`; `max-autotune`, ...).
    """

    def __init__(
        self,
        grad_checkpointing: bool = False,
        compile: bool = False,
        compile_backend: str = "inductor",
        compile_mode: str | None = None,
    ) -> None:
        self.grad_checkpointing, self.compile = grad_checkpointing, compile
        self.compile_backend, self.compile_mode = compile_backend, compile_mode

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        encoder = pl_module.world_model.encoder
        if self.grad_checkpointing:
            if not hasattr(encoder.backbone, "set_grad_checkpointing"):
                raise ValueError(
                    f"EncoderOptions.grad_checkpointing: the backbone {type(encoder.backbone).__name__} "
                    "cannot checkpoint its activations (timm backbones can)"
                )
            encoder.backbone.set_grad_checkpointing(True)
        if self.compile:
            encoder.compile(backend=self.compile_backend, mode=self.compile_mode)
