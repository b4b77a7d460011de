"""The probe job (seed paper sec. 4): fit linear heads on training episodes, score them on held-out ones.

Reads the state from a trained encoder and from a random-init twin of the same architecture, reads
it from the world model's k-step rollout against copy-last, and writes probe.json and figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hjepa.data.datamodule import VideoDataModule
from hjepa.envs import BatchedWorld
from hjepa.eval.plots import plot_r2_curve, plot_scatter
from hjepa.eval.rollout_probe import rollout_probe
from hjepa.eval.targets import class_targets, shard_world, state_names
from hjepa.export import read_world_model, restore_world_model
from hjepa.readout.features import EncodedSplit, encode_split
from hjepa.readout.linear_probe import LinearHead, accuracy, fit_classifier, fit_probe, r2_per_dim


def _r(value: float | torch.Tensor) -> float:
    return round(float(value), 4)


def trained_and_random(model_path: str | Path, seed: int, device: torch.device) -> dict[str, nn.Module]:
    """{"trained": the model at model_path, "random": the same architecture freshly initialised from seed}."""
    config, weights = read_world_model(model_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        trained = restore_world_model(config, weights, str(model_path))
        models = {"trained": trained, "random": restore_world_model(config)}
    return {name: model.to(device) for name, model in models.items()}


def encode_probe_split(
    dm: VideoDataModule, split: str, models: dict[str, nn.Module], device: torch.device, max_batches: int | None
) -> EncodedSplit:
    """encode_split of one split, refusing splits too small to score (R^2 needs two clips)."""
    encoded = encode_split(models, dm.loader(dm.dataset(split)), device, max_batches)
    if len(encoded.states) < 2:
        raise ValueError(
            f"{dm.hparams.shards}: the {split} split holds {len(encoded.states)} clips, the probe "
            "needs at least 2; add episodes or change val_fraction"
        )
    return encoded


def _class_scores(world: BatchedWorld | None, train: EncodedSplit, val: EncodedSplit, seed: int) -> dict[str, float]:
    """Accuracy of linear classifiers per class target and model, next to always guessing the majority class."""
    scores = {}
    val_classes = class_targets(world, val.states, val.labels)
    for label, train_y in class_targets(world, train.states, train.labels).items():
        val_y = val_classes[label]
        num_classes = int(max(train_y.max(), val_y.max())) + 1
        majority = torch.bincount(train_y.flatten(), minlength=num_classes).argmax()
        scores[f"probe_acc_{label}_majority"] = _r((val_y == majority).double().mean())
        for name, reprs in train.reprs.items():
            classifier = fit_classifier(reprs, train_y, num_classes, seed=seed)
            scores[f"probe_acc_{label}_{name}"] = _r(accuracy(classifier, val.reprs[name], val_y, num_classes))
    return scores


def run_linear_probe(
    model_path: str | Path,
    data: str | list[str],
    out_dir: str | Path,
    num_frames: int | None = None,
    frame_stride: int = 1,
    batch_size: int = 32,
    max_batches: int | None = None,
    rollout_k: int = 8,
    seed: int = 0,
    val_fraction: float = 0.2,
    num_workers: int = 2,
    device: str | None = None,
) -> dict[str, Any]:
    """Probe the world model at `model_path` (export folder or .ckpt) on the shards `data`.

    Heads are fit on the train split and scored on the val split (split by episode, `val_fraction`),
    up to `max_batches` batches each, on clips of `num_frames` (default rollout_k + 1: encoding
    dominates the cost, and the rollout needs no more). Writes out_dir/probe.json, probe_scatter.png
    and probe_rollout_r2.png; returns the flat scores of probe.json.
    """
    if rollout_k < 1:
        raise ValueError(f"rollout_k (--rollout_k): expected at least 1 step, got {rollout_k}")
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches (--max_batches): expected at least 1 batch, got {max_batches}")
    if not 0 < val_fraction < 1:  # with no held-out episodes the heads would be scored on their own training clips
        raise ValueError(
            f"val_fraction (--val_fraction): expected a share of held-out episodes in (0, 1), got "
            f"{val_fraction}; the probe is scored only on episodes it was not fitted on"
        )
    start = time.perf_counter()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    models = trained_and_random(model_path, seed + 1, device)
    tubelet = models["trained"].encoder.tubelet  # frames per encoded state (1: per-frame encoder)
    num_frames = (rollout_k + 1) * tubelet if num_frames is None else num_frames
    if num_frames // tubelet < rollout_k + 1:
        raise ValueError(
            f"num_frames={num_frames} gives {num_frames // tubelet} states (encoder.tubelet="
            f"{tubelet}); rollout_k={rollout_k} needs rollout_k + 1 = {rollout_k + 1}"
        )
    dm = VideoDataModule(
        data,
        num_frames=num_frames,
        frame_stride=frame_stride,
        batch_size=batch_size,
        num_workers=num_workers,
        resampled=False,
        val_fraction=val_fraction,
        seed=seed,
    )
    train, val = (encode_probe_split(dm, split, models, device, max_batches) for split in ("train", "val"))
    world = shard_world(data) if isinstance(data, (str, Path)) else None
    names = state_names(world, train.states.shape[-1])

    results: dict[str, Any] = {}
    per_dim: dict[str, dict[str, float]] = {}
    heads: dict[str, LinearHead] = {}
    for name in models:
        heads[name] = fit_probe(train.reprs[name], train.states, seed=seed)
        r2 = r2_per_dim(heads[name](val.reprs[name]), val.states)
        results |= {f"probe_r2_{name}": _r(r2.mean()), f"probe_ridge_{name}": heads[name].ridge}
        per_dim[name] = {n: _r(v) for n, v in zip(names, r2)}
    results |= _class_scores(world, train, val, seed)

    rollout = rollout_probe(
        models["trained"], heads["trained"], val.reprs["trained"], val.states, val.actions, rollout_k, device
    )
    curves = {name: [_r(v) for v in r2.mean(-1)] for name, r2 in rollout.r2.items()}
    results |= {
        "probe_r2_rollout": curves["rollout"][-1],
        "probe_r2_copy_last": curves["copy_last"][-1],
        "rollout_k": rollout_k,
        "probe_train_clips": len(train.states),
        "probe_val_clips": len(val.states),
    }
    per_dim |= {f"{name}_at_k": {n: _r(v) for n, v in zip(names, r2[-1])} for name, r2 in rollout.r2.items()}

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rollout_name, frame_truth = f"rollout k={rollout_k}", val.states.flatten(0, 1)
    plot_scatter(
        {"encoder (trained)": frame_truth, "encoder (random)": frame_truth, rollout_name: val.states[:, rollout_k]},
        {f"encoder ({name})": heads[name](val.reprs[name]).flatten(0, 1) for name in models}
        | {rollout_name: rollout.predicted[:, -1]},
        names,
        out_dir / "probe_scatter.png",
    )
    plot_r2_curve(curves, out_dir / "probe_rollout_r2.png")
    results["probe_seconds"] = round(time.perf_counter() - start, 1)
    report = results | {"state_names": names, "r2_per_dim": per_dim, "rollout_r2_curve": curves}
    (out_dir / "probe.json").write_text(json.dumps(report, indent=2))
    return results
