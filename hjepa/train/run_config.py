"""Derive a runnable `hjepa fit` config from a base YAML: overrides and one output folder per run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


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
