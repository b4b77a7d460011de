"""Classification probes (seed paper sec. 4; V-JEPA's frozen evaluation): is the class of a video readable
from the frozen encoder's features?

Two probes are fitted on the training videos and scored top-1 (and top-5 with at least 5 classes) on held-out
videos, for the trained encoder and a random-init encoder of the same architecture, beside the majority class and
chance: a linear (ridge) classifier (`fit_classifier`) on the clip states mean-pooled over time, and V-JEPA's
attentive probe (`fit_attentive_probe`) over the clip's tokens, its per-frame states or per-patch tokens, which
can read what the mean discards (the order of frames, the place of things). The encoder is frozen: every clip
is encoded once and the probes train on the stored features (patch tokens: clips x T x N x D floats in memory).
The classes are the `labels["class"]` of `hjepa shard --labels`; videos are split into train and val by a hash
of their key (segments of one video stay together).
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
from hjepa.readout.attentive_probe import class_scores, fit_attentive_probe
from hjepa.readout.features import EncodedSplit, PatchTokens
from hjepa.readout.linear_probe import fit_classifier, score_accuracy

LABEL = "class"
TOKENS = ("frames", "patches")  # what the attentive probe attends over: per-frame states or per-patch tokens
PATCHES = "/patches"  # suffix of the patch-token representations of a model in an EncodedSplit
VAL_CLIPS_PER_VIDEO = 1  # VideoDataModule.dataset("val") cuts one clip per video, from its first frame


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


def clip_tokens(split: EncodedSplit, name: str, tokens: str) -> Tensor:
    """The tokens (N, L, D) the attentive probe reads of model `name`: its states (L = T) or its patch tokens
    (L = T * patches, time-major)."""
    return split.reprs[name] if tokens == "frames" else split.reprs[name + PATCHES].flatten(1, 2)


def accuracies(scores: Tensor, labels: Tensor, num_classes: int, key: str) -> dict[str, float]:
    """classify_top1_<key> (and classify_top5_<key> with at least 5 classes) of class scores (N, K)."""
    top_k = (1, 5) if num_classes >= 5 else (1,)
    return {f"classify_top{k}_{key}": _r(score_accuracy(scores, labels, num_classes, top_k=k)) for k in top_k}


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
    tokens: str = "frames",
    attentive_epochs: int = 20,
) -> dict[str, Any]:
    """Probe the encoder at `model_path` (export folder or .ckpt) for the classes of the shards `data`; the
    attentive probe attends over `tokens` ("frames" or "patches") for `attentive_epochs` passes.

    Writes out_dir/classify.json and classify_confusion.png; returns the flat scores of classify.json: the
    linear probe's under classify_top1_<model>, the attentive probe's under classify_top1_attentive_<model>.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(
            f"val_fraction (--val_fraction): expected a share of held-out videos in (0, 1), got "
            f"{val_fraction}; the probe is scored only on videos it was not fitted on"
        )
    if tokens not in TOKENS:
        raise ValueError(f"tokens (--tokens): expected one of {', '.join(TOKENS)}, got {tokens!r}")
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
    views = dict(models)  # one decode of each batch serves the states and, with --tokens patches, the patch tokens
    if tokens == "patches":
        views |= {name + PATCHES: PatchTokens(model.encoder) for name, model in models.items()}
    train, val = (encode_probe_split(dm, split, views, run_on, max_batches) for split in ("train", "val"))
    train_y, val_y = clip_classes(train, data), clip_classes(val, data)
    num_classes = int(max(train_y.max(), val_y.max())) + 1
    names = class_names(data, num_classes)
    num_classes = len(names)
    unseen = sorted(set(val_y.tolist()) - set(train_y.tolist()))
    if unseen:
        raise ValueError(
            f"--data: {data}: class(es) {[names[c] for c in unseen]} have held-out videos but none in the training "
            f"split (val_fraction {val_fraction}), so no probe can learn them; add videos of them or lower "
            "--val_fraction"
        )
    majority = torch.bincount(train_y, minlength=num_classes).argmax()
    results: dict[str, Any] = {
        "classify_top1_majority": _r((val_y == majority).double().mean()),
        "classify_chance": _r(1 / num_classes),
    }
    scores, titles = {}, {}  # per probe and model: class scores (N, K) of the val clips, title of its figure panel
    for name in models:
        pooled_train, pooled_val = train.reprs[name].mean(1, keepdim=True), val.reprs[name].mean(1, keepdim=True)
        head = fit_classifier(pooled_train, train_y[:, None], num_classes, seed=seed)
        scores[name], titles[name] = head(pooled_val)[:, 0], f"linear ({name})"
        probe = fit_attentive_probe(
            clip_tokens(train, name, tokens), train_y, num_classes, attentive_epochs, seed=seed, device=run_on
        )
        key = f"attentive_{name}"
        scores[key], titles[key] = class_scores(probe, clip_tokens(val, name, tokens)), f"attentive ({name})"
    for key, clip_scores in scores.items():
        results |= accuracies(clip_scores, val_y, num_classes, key)
    results |= {
        "classify_classes": num_classes,
        "classify_train_clips": len(train_y),
        "classify_val_clips": len(val_y),
        "classify_seconds": round(time.perf_counter() - start, 1),
    }
    confusion = {key: multiclass_confusion_matrix(s.argmax(-1), val_y, num_classes) for key, s in scores.items()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion(
        {titles[key]: matrix for key, matrix in confusion.items()}, names, out_dir / "classify_confusion.png"
    )
    report = results | {
        "classes": names,
        "confusion": {key: m.tolist() for key, m in confusion.items()},
        "sampling": {
            "frames_per_clip": num_frames,
            "frame_stride": frame_stride,
            "train_clips_per_video": clips_per_video,
            "train_clip_starts": "random",
            "val_clips_per_video": VAL_CLIPS_PER_VIDEO,
            "val_clip_starts": "first frame",
            "views_per_clip": 1,  # the whole frame as sharded: no spatial crops
            "averaging": "none: every clip is one sample, fitted or scored on its own",
            "video": "one shard sample (a segment of a video cut by `hjepa shard --segment`)",
        },
        "linear": {"features": "clip states mean-pooled over time", "head": "ridge on one-hot classes"},
        "attentive": {
            "tokens": tokens,
            "tokens_per_clip": probe.position.shape[0],
            "queries": probe.queries.shape[0],
            "heads": probe.attend.num_heads,
            "epochs": attentive_epochs,
        },
    }
    (out_dir / "classify.json").write_text(json.dumps(report, indent=2))
    return results
