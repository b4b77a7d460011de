"""Training callbacks: a loss-curve PNG per run and the data pipeline's skip counters as metrics."""

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

    def __init__(self, metrics: tuple[str, ...] = ("train/loss", "train/pred_loss_rollout", "train/pred_loss_one_step"),
                 filename: str = "loss_curve.png") -> None:
        self.metrics, self.filename = tuple(metrics), filename
        self.history: dict[str, list[tuple[int, float]]] = {m: [] for m in self.metrics}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        for name in self.metrics:
            value = trainer.callback_metrics.get(name)
            if value is not None:
                self.history[name].append((trainer.global_step, float(value)))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.plot(Path(trainer.log_dir or trainer.default_root_dir) / self.filename)

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
            pl_module.log_dict({"data/skipped_samples": float(data.skipped_samples),
                                "data/skipped_shards": float(data.skipped_shards)})


class StepCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` that also writes `last.ckpt` when training stops between two saving steps
    (max_steps not a multiple of every_n_train_steps), so `--ckpt_path last` and export see the end."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self.save_last and trainer.global_step != self._last_global_step_saved:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
