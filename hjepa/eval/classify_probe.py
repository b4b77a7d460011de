"""Classification probe (seed paper sec. 4, V-JEPA's frozen evaluation with a linear head): is the class
of a video linearly readable from the frozen encoder's clip features?

Clip states (N, T, D) are mean-pooled over time to (N, D); a ridge classifier (`fit_classifier`) is fit
on the training videos and scored top-1 (and top-5 with at least 5 classes) on held-out videos, next to
the same probe on a random-init encoder of the same architecture, the majority class and chance.
The classes are the `labels["class"]` of `hjepa shard --labels`; videos are split into train and val by
a hash of their key (segments of one video stay together).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics.functional.classification import multiclass_confusion_matrix

from hjepa.data.convert import MANIFEST
from hjepa.data.datamodule import VideoDataModule
from hjepa.eval.plots import plot_confusion
from hjepa.eval.probe import encode_probe_split, trained_and_random
from hjepa.readout.features import EncodedSplit
from hjepa.readout.linear_probe import accuracy, fit_classifier

LABEL = "class"


def _r(value: float | Tensor) -> float:
    return round(float(value), 4)


def clip_classes(split: EncodedSplit, data: str) -> Tensor:
    """Class index (N,) of every clip; ValueError naming --data when the shards carry no class."""
    if LABEL not in split.labels:
        raise ValueError(
            f"--data: the samples of {data} carry no labels['{LABEL}']; convert the videos with "
            "`hjepa shard --labels folder` (or a CSV file)"
        )
    return split.labels[LABEL].long()


def class_names(data: str, num_classes: int) -> list[str]:
    """Class names from the converter's manifest.json in the shard folder `data`, else the indices."""
    manifest = Path(data) / MANIFEST
    names = json.loads(manifest.read_text()).get("classes", []) if manifest.is_file() else []
    return names if len(names) >= num_classes else [str(i) for i in range(num_classes)]


def run_classify_probe(
    model_path: str | Path,
    data: str,
    out_dir: str | Path,
    num_frames: int = 16,
    frame_stride: int = 1,
    clips_per_video: int = 1,
    batch_size: int = 32,
    max_batches: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    num_workers: int = 2,
    device: str | None = None,
) -> dict[str, Any]:
    """Probe the encoder at `model_path` (export folder or .ckpt) for the classes of the shards `data`.

    Writes out_dir/classify.json and classify_confusion.png; returns the flat scores of classify.json.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(
            f"val_fraction (--val-fraction): expected a share of held-out videos in (0, 1), got "
            f"{val_fraction}; the probe is scored only on videos it was not fitted on"
        )
    start = time.perf_counter()
    run_on = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    models = trained_and_random(model_path, seed + 1, run_on)
    dm = VideoDataModule(
        data,
        num_frames=num_frames,
        frame_stride=frame_stride,
        clips_per_episode=clips_per_video,
        batch_size=batch_size,
        num_workers=num_workers,
        resampled=False,
        val_fraction=val_fraction,
        seed=seed,
    )
    train, val = (encode_probe_split(dm, split, models, run_on, max_batches) for split in ("train", "val"))
    train_y, val_y = clip_classes(train, data), clip_classes(val, data)
    num_classes = int(max(train_y.max(), val_y.max())) + 1
    names = class_names(data, num_classes)
    num_classes = len(names)
    majority = torch.bincount(train_y, minlength=num_classes).argmax()
    results: dict[str, Any] = {
        "classify_top1_majority": _r((val_y == majority).double().mean()),
        "classify_chance": _r(1 / num_classes),
    }
    confusion = {}
    for name in models:
        pooled_train, pooled_val = train.reprs[name].mean(1, keepdim=True), val.reprs[name].mean(1, keepdim=True)
        head = fit_classifier(pooled_train, train_y[:, None], num_classes, seed=seed)
        results[f"classify_top1_{name}"] = _r(accuracy(head, pooled_val, val_y[:, None], num_classes))
        if num_classes >= 5:
            results[f"classify_top5_{name}"] = _r(accuracy(head, pooled_val, val_y[:, None], num_classes, top_k=5))
        confusion[name] = multiclass_confusion_matrix(head(pooled_val)[:, 0].argmax(-1), val_y, num_classes)
    results |= {
        "classify_classes": num_classes,
        "classify_train_clips": len(train_y),
        "classify_val_clips": len(val_y),
        "classify_seconds": round(time.perf_counter() - start, 1),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion(
        {f"encoder ({name})": matrix for name, matrix in confusion.items()}, names, out_dir / "classify_confusion.png"
    )
    report = results | {"classes": names, "confusion": {name: m.tolist() for name, m in confusion.items()}}
    (out_dir / "classify.json").write_text(json.dumps(report, indent=2))
    return results
