"""Safe, self-describing world-model files: safetensors weights + JSON config, loadable without Lightning.

An export folder holds `model.safetensors` and `config.json`
(`{"format": "hjepa-world-model", "version": 1, "levels": [1], "world_model_config": {...}}`).
Level-1 weights (the `WorldModel` state dict, `encoder.*`, `predictor.*`) sit at the top level; a
level-n model of the hierarchy (seed paper sec. 4.6) will live under the prefix `level<n>.`, which a
level-1 reader skips. Lightning `.ckpt` files are read with `torch.load(weights_only=True)` only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from hjepa.models import FrameEncoder, WorldModel, build_world_model

FORMAT = "hjepa-world-model"
VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CKPT_PREFIX = "world_model."  # the LightningModule's attribute holding the WorldModel
UPPER_LEVEL = re.compile(r"^level\d+\.")  # weights of levels >= 2, see the module docstring


def _check_level(levels: list[int], level: int, source: Path) -> None:
    if level not in levels:
        raise ValueError(f"{source}: has no level-{level} world model (levels: {levels})")


def _match_weights(model: WorldModel, weights: dict[str, Tensor], source: str) -> None:
    """ValueError naming the first parameters whose names or shapes differ between `weights` and `model`."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{source}: weights do not match world_model_config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ValueError(
                f"{source}: weights do not match world_model_config: {name} is {tuple(weights[name].shape)} "
                f"in the file but {shape} in the architecture"
            )


def restore_world_model(
    config: dict[str, Any], weights: dict[str, Tensor] | None = None, source: str = "weights"
) -> WorldModel:
    """The architecture of `config` in eval mode, with `weights` loaded strictly (fresh init when None).

    `encoder.pretrained` is switched off: the weights come from the file, not from a download.
    """
    config = {**config, "encoder": {**(config.get("encoder") or {}), "pretrained": False}}
    try:
        model = build_world_model(config)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: world_model_config: {error}") from error
    if weights is not None:
        _match_weights(model, weights, source)
        model.load_state_dict(weights, strict=True)
    return model.eval()


def _read_export(folder: Path, level: int) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(world_model_config, level weights) of an export folder."""
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; is {folder} an hjepa export folder?")
    try:
        meta = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path}: not JSON: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{config_path}: format is not {FORMAT!r}; not an hjepa world-model export")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise ValueError(f"{config_path}: version {meta.get('version')!r}; this hjepa reads versions <= {VERSION}")
    if not isinstance(meta.get("world_model_config"), dict):
        raise ValueError(f"{config_path}: no world_model_config")
    _check_level(meta.get("levels", [1]), level, folder)
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights_path}: not a safetensors file: {error}") from error
    return meta["world_model_config"], {k: v for k, v in weights.items() if not UPPER_LEVEL.match(k)}


def _read_checkpoint(path: Path, level: int) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(world_model_config, level-1 weights) of a Lightning checkpoint, read without unpickling objects."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any non-checkpoint: random bytes, text, pickles of arbitrary objects
        # Keep torch's diagnosis (e.g. the refused global), not its advice to retry unsafely.
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)(?: Please|$)", str(error), re.MULTILINE)
        reason = detail.group(1) if detail else type(error).__name__
        message = f"{path}: not an hjepa checkpoint (torch.load(weights_only=True) refused it: {reason})"
        raise ValueError(message) from error
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    config = hparams.get("world_model_config") if isinstance(hparams, dict) else None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not an hjepa checkpoint: no hyper_parameters.world_model_config")
    _check_level([1], level, path)
    state = ckpt.get("state_dict")
    state = state if isinstance(state, dict) else {}
    weights = {k[len(CKPT_PREFIX):]: v for k, v in state.items() if k.startswith(CKPT_PREFIX)}
    if not weights:
        raise ValueError(f"{path}: state_dict holds no {CKPT_PREFIX}* weights")
    return config, weights


def read_world_model(path: str | Path, level: int = 1) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(world_model_config, weights) of level `level` from an export folder or a Lightning `.ckpt` file."""
    path = Path(path)
    if path.is_dir():
        return _read_export(path, level)
    if path.is_file():
        return _read_checkpoint(path, level)
    raise FileNotFoundError(f"{path}: no such export folder or checkpoint file")


def load_world_model(path: str | Path, level: int = 1) -> WorldModel:
    """The world model (eval mode, CPU) of an export folder or a Lightning `.ckpt` file."""
    config, weights = read_world_model(path, level)
    return restore_world_model(config, weights, str(path))


def load_encoder(path: str | Path, level: int = 1) -> FrameEncoder:
    """The encoder Enc (eval mode, CPU): frames (B, T, C, H, W) in [0, 1] -> states (B, T, D)."""
    return load_world_model(path, level).encoder


def export_world_model(world_model: WorldModel, config: dict[str, Any], out: str | Path) -> Path:
    """Write `out/model.safetensors` and `out/config.json` for a level-1 world model built from `config`.

    The weights are checked against `config` first, so an export that would not load is never written.
    """
    out = Path(out)
    # Own contiguous CPU copies: safetensors refuses tensors that share storage (tied weights).
    weights = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in world_model.state_dict().items()}
    _match_weights(restore_world_model(config, source=str(out)), weights, str(out))
    meta = {"format": FORMAT, "version": VERSION, "levels": [1], "world_model_config": config}
    try:
        text = json.dumps(meta, indent=2)
    except TypeError as error:  # caught before anything is written
        raise ValueError(f"{out}: world_model_config is not plain JSON data: {error}") from error
    out.mkdir(parents=True, exist_ok=True)
    save_file(weights, out / WEIGHTS_FILE)
    (out / CONFIG_FILE).write_text(text)
    return out


def export_checkpoint(ckpt_path: str | Path, out: str | Path) -> Path:
    """Lightning checkpoint -> export folder (its world model only; expander and optimizer state dropped)."""
    config, weights = read_world_model(ckpt_path)
    return export_world_model(restore_world_model(config, weights, str(ckpt_path)), config, out)
