"""Derive a runnable `hjepa fit` config from a base YAML (overrides, one output folder per run), run it and
export what it trained."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml

from hjepa.export import export_checkpoint
from hjepa.train.cli import run_lightning_cli


def deep_update(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `overrides` merged in, nested dicts merged key by key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def retarget(config: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Point the trainer's root, its logger and its checkpoints at `run_dir` (logs/, checkpoints/)."""
    config = copy.deepcopy(config)
    trainer = config.setdefault("trainer", {})
    trainer["default_root_dir"] = str(run_dir)
    logger = trainer.get("logger")
    if isinstance(logger, dict):
        logger.setdefault("init_args", {})["save_dir"] = str(run_dir)
    for callback in trainer.get("callbacks") or []:
        if callback["class_path"].rsplit(".", 1)[-1] in ("ModelCheckpoint", "StepCheckpoint"):
            callback.setdefault("init_args", {})["dirpath"] = str(run_dir / "checkpoints")
    return config


def write_run_config(base: Path, run_dir: Path, overrides: dict[str, Any]) -> Path:
    """Write `run_dir/fit.yaml`: `base` with `overrides`, retargeted at `run_dir`; returns its path."""
    config = retarget(deep_update(yaml.safe_load(Path(base).read_text()), overrides), Path(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "fit.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def fit(base: str | Path, overrides: dict[str, Any], run_dir: Path, export: Path) -> tuple[Any, float]:
    """`hjepa fit` on `base` with `overrides` in `run_dir`, then export its last checkpoint to `export`;
    returns the LightningCLI and the training seconds."""
    fit_config = write_run_config(Path(base), run_dir, overrides)
    start = time.perf_counter()
    cli = run_lightning_cli(["fit", "--config", str(fit_config)])
    seconds = time.perf_counter() - start
    export_checkpoint(run_dir / "checkpoints" / "last.ckpt", export)
    return cli, seconds


def pretrain(shards: str | Path, base: str | Path, overrides: dict[str, Any], out: Path) -> dict[str, Any]:
    """Pretrain the level-1 JEPA on `shards` (run in out/pretrain, exported to out/export); its final figures."""
    overrides = deep_update(overrides, {"data": {"shards": str(shards)}})
    cli, seconds = fit(base, overrides, out / "pretrain", out / "export")
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    return {
        "pretrain_steps": cli.trainer.global_step,
        "pretrain_seconds": round(seconds, 1),
        "final_pred_loss": round(metrics["val/pred_loss_rollout"], 4),
        "final_pred_error_rel": round(metrics["val/pred_error_rollout_rel"], 4),
        "final_pred_error_over_copy": round(metrics["val/pred_error_over_copy"], 4),
        "embedding_std_min": round(metrics["diag/std_min"], 4),
        "effective_rank": round(metrics["diag/effective_rank"], 2),
    }
