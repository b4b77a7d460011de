"""Fault tolerance end to end: a run SIGKILLed mid-epoch and resumed with `--ckpt_path last` against
the same run uninterrupted (same seed): per-step losses and the clips read, overlaid in a PNG.

Run: `python -m benchmarks.resume_continuity [--steps 60 --kill_step 37 --every 10]`
-> benchmarks/results/resume_continuity.{json,png}. `tests/train/test_resume.py` runs it small.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib
import torch

from hjepa.train.callbacks import read_sample_keys
from hjepa.train.cli import run_lightning_cli
from hjepa.train.run_config import write_run_config

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "configs" / "tiny_cpu.yaml"


class SigkillAtStep(L.Callback):
    """Kills its own process with SIGKILL when batch `step` starts (after the checkpoints of the steps
    before it were written): an interruption at a known place, mid-epoch, with batches prefetched."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step + 1 == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def _config(run_dir: Path, shards: Path, overrides: dict[str, Any], every: int, extra_callbacks: list[dict]) -> Path:
    callbacks = [
        {
            "class_path": "hjepa.train.callbacks.StepCheckpoint",
            "init_args": {"save_last": True, "every_n_train_steps": every, "save_top_k": -1},
        },
        {"class_path": "hjepa.train.callbacks.LossCurvePlot"},
        {"class_path": "hjepa.train.callbacks.SampleKeyLog"},
    ] + extra_callbacks
    trainer = {
        "val_check_interval": None,
        "limit_val_batches": 0,
        "enable_progress_bar": False,
        "log_every_n_steps": 1,
        "callbacks": callbacks,
    }
    merged = {
        **overrides,
        "trainer": {**trainer, **overrides.get("trainer", {})},
        "data": {**overrides.get("data", {}), "shards": str(shards)},
    }
    return write_run_config(CONFIG, run_dir, merged)


def _losses(run_dir: Path) -> dict[int, float]:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    (state,) = [v for k, v in checkpoint["callbacks"].items() if k.startswith("LossCurvePlot")]
    return {int(step): float(value) for step, value in state["history"]["train/loss"]}


def resume_pair(
    shards: Path, out: Path, overrides: dict[str, Any], steps: int, kill_step: int, every: int
) -> dict[str, Any]:
    """Train `steps` steps uninterrupted, and again killed at `kill_step` then resumed from `last`;
    returns both runs' per-step losses and sample keys, and the step the resumed run started from."""
    straight = _config(out / "uninterrupted", shards, overrides, every, [])
    run_lightning_cli(["fit", "--config", str(straight), "--trainer.max_steps", str(steps)])
    killer = {"class_path": "benchmarks.resume_continuity.SigkillAtStep", "init_args": {"step": kill_step}}
    interrupted = _config(out / "interrupted", shards, overrides, every, [killer])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    killed = subprocess.run(
        [sys.executable, "-m", "hjepa.cli", "fit", "--config", str(interrupted), "--trainer.max_steps", str(steps)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if killed.returncode != -signal.SIGKILL:
        raise RuntimeError(
            f"the run to interrupt ended with {killed.returncode}, not SIGKILL:\n{killed.stderr[-3000:]}"
        )
    saved = torch.load(out / "interrupted" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    resumed = _config(out / "interrupted", shards, overrides, every, [])  # the same run, without the killer
    run_lightning_cli(["fit", "--config", str(resumed), "--trainer.max_steps", str(steps), "--ckpt_path", "last"])
    return {
        "resumed_from_step": int(saved["global_step"]),
        "uninterrupted": _losses(out / "uninterrupted"),
        "resumed": _losses(out / "interrupted"),
        "keys_uninterrupted": read_sample_keys(out / "uninterrupted" / "sample_keys" / "rank0.tsv"),
        "keys_resumed": read_sample_keys(out / "interrupted" / "sample_keys" / "rank0.tsv"),
    }


def plot_pair(result: dict[str, Any], path: Path) -> Path:
    """Both loss curves against the step, the resume point marked."""
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, style in (("uninterrupted", dict(lw=3, alpha=0.4)), ("resumed", dict(lw=1, ls="--", color="k"))):
        steps, values = zip(*sorted(result[name].items()))
        axis.plot(steps, values, label=name, **style)
    axis.axvline(
        result["resumed_from_step"],
        color="r",
        lw=0.8,
        label=f"SIGKILL, resumed from step {result['resumed_from_step']}",
    )
    axis.set(xlabel="step", ylabel="train/loss", yscale="log", title="loss: uninterrupted vs killed and resumed")
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main() -> None:
    from benchmarks.common import RESULTS, write_results
    from hjepa.data.generate import GenerateSettings, generate_shards

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--kill_step", type=int, default=37)
    parser.add_argument("--every", type=int, default=10, help="checkpoint every N steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "shards"
        generate_shards(GenerateSettings("two_rooms", 128, 24, shard_size=16), shards, progress=False)
        overrides = {"data": {"num_frames": 8, "batch_size": 16, "num_workers": 2, "train_batches_per_epoch": 16}}
        result = resume_pair(shards, Path(tmp) / "runs", overrides, args.steps, args.kill_step, args.every)
    after = [s for s in result["uninterrupted"] if s > result["resumed_from_step"]]
    rows = [
        {
            "step": s,
            "uninterrupted": result["uninterrupted"][s],
            "resumed": result["resumed"][s],
            "abs_diff": abs(result["uninterrupted"][s] - result["resumed"][s]),
            "same_clips": result["keys_uninterrupted"][s] == result["keys_resumed"][s],
        }
        for s in after
    ]
    figure = plot_pair(result, RESULTS / "resume_continuity.png")
    write_results(
        "resume_continuity",
        rows,
        {
            "steps": args.steps,
            "kill_step": args.kill_step,
            "resumed_from_step": result["resumed_from_step"],
            "max_abs_diff_after_resume": max(r["abs_diff"] for r in rows),
            "all_clips_identical_after_resume": all(r["same_clips"] for r in rows),
            "figure": str(figure),
        },
    )


if __name__ == "__main__":
    main()
