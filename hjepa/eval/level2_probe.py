"""Probes of the hierarchy (seed paper sec. 4.6): do level-2 states hold slow variables, and does level 2
predict further ahead than level 1?

Every score compares level 2 with level 1 on the same held-out clips, with linear heads fit on the
training clips:
- slow variables: from the representation of window i (level 2: its state; level 1: the state of
  the window's last frame, the latest level 1 knows), read the room at the end of window i and the
  room and position W frames later (end of window i + 1): R^2 of ridge heads (one-hot rooms);
- far prediction: the state k * W frames after the end of the first window, decoded by each level's
  head from a k-step level-2 rollout (window-summed actions) and from a k * W-step level-1 rollout
  (per-frame actions), next to copy-last.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn.functional import one_hot

from hjepa.data.datamodule import VideoDataModule
from hjepa.eval.rollout_probe import rollout_probe
from hjepa.eval.targets import class_targets, shard_world
from hjepa.export import load_world_model, model_levels
from hjepa.models import WorldModel
from hjepa.models.level2 import Level2WorldModel, window_actions
from hjepa.models.tubelet import tubelet_states
from hjepa.readout.features import EncodedSplit, encode_split
from hjepa.readout.linear_probe import fit_probe, r2_per_dim


def _r(value: float | Tensor) -> float:
    return round(float(value), 4)


class Level2Split:
    """One split seen by both levels: level-1 states (N, T1, D1), level-2 states (N, n, D2), ground
    truth at every level-1 step and at window ends, and both levels' actions."""

    def __init__(self, encoded: EncodedSplit, level2: Level2WorldModel, rooms: Tensor | None) -> None:
        window = level2.encoder.window
        self.reprs1 = encoded.reprs["level1"]
        with torch.no_grad():
            self.reprs2 = torch.cat([level2.encoder.abstract(chunk) for chunk in self.reprs1.split(256)])
        self.states1, self.actions1 = encoded.states, encoded.actions
        self.states2 = tubelet_states(encoded.states, window)[:, : self.reprs2.shape[1]]
        # level-1 actions -> window sums, per world action (tubelet actions concatenate t of them)
        self.actions2 = window_actions(self.actions1, window).unflatten(-1, (-1, level2.predictor.action_dim)).sum(-2)
        self.last1 = tubelet_states(self.reprs1, window)[:, : self.reprs2.shape[1]]  # level 1 at each window's end
        self.rooms = None if rooms is None else tubelet_states(rooms, window)[:, : self.reprs2.shape[1]]


def _r2(features: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor], seed: int) -> float:
    """Mean R^2 on (val features, val targets) of a ridge head fit on the train pair."""
    head = fit_probe(features[0], targets[0], seed=seed)
    return _r(r2_per_dim(head(features[1]), targets[1]).mean())


def level2_scores(
    level1: WorldModel, level2: Level2WorldModel, train: Level2Split, val: Level2Split, horizon: int, seed: int = 0
) -> dict[str, float]:
    """Slow-variable and far-prediction scores of both levels (see the module docstring)."""
    window, scores = level2.encoder.window, {}
    later = {"level1": (train.last1[:, :-1], val.last1[:, :-1]), "level2": (train.reprs2[:, :-1], val.reprs2[:, :-1])}
    for level, features in later.items():
        scores[f"probe_r2_{level}_position_later"] = _r2(features, (train.states2[:, 1:], val.states2[:, 1:]), seed)
        if train.rooms is not None:
            num_rooms = int(max(train.rooms.max(), val.rooms.max())) + 1
            rooms = [one_hot(split.rooms, num_rooms).double() for split in (train, val)]
            scores[f"probe_r2_{level}_room_now"] = _r2(features, (rooms[0][:, :-1], rooms[1][:, :-1]), seed)
            scores[f"probe_r2_{level}_room"] = _r2(features, (rooms[0][:, 1:], rooms[1][:, 1:]), seed)
    head1 = fit_probe(train.reprs1, train.states1, seed=seed)
    head2 = fit_probe(train.reprs2, train.states2, seed=seed)
    far1 = rollout_probe(
        level1,
        head1,
        val.reprs1[:, window - 1 :],
        val.states1[:, window - 1 :],
        val.actions1[:, window - 1 :],
        horizon * window,
    )
    far2 = rollout_probe(level2, head2, val.reprs2, val.states2, val.actions2, horizon)
    for level, far in (("level1", far1), ("level2", far2)):
        scores |= {
            f"{level}_far_r2": _r(far.r2["rollout"][-1].mean()),
            f"{level}_far_r2_copy_last": _r(far.r2["copy_last"][-1].mean()),
            f"{level}_far_r2_encoder": _r(far.r2["encoder"][-1].mean()),
        }
    return scores | {"far_frames": horizon * level2.encoder.tubelet, "window": window, "horizon": horizon}


def run_level2_probe(
    model_path: str | Path,
    data: str | list[str],
    out_dir: str | Path,
    horizon: int | None = None,
    num_frames: int | None = None,
    batch_size: int = 32,
    max_batches: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    num_workers: int = 2,
) -> dict[str, Any]:
    """Probe both levels of the two-level export or checkpoint at `model_path` on the shards `data`.

    Clips of `num_frames` (default (horizon + 1) windows) are split by episode; `horizon` (k windows,
    default: as many as the clips hold) sets the far prediction at k * W frames. Writes
    out_dir/probe_level2.json and returns its scores.
    """
    start = time.perf_counter()
    if 2 not in model_levels(model_path):
        raise ValueError(f"{model_path}: holds no level-2 world model; train one with levels [2] or [1, 2]")
    level1, level2 = load_world_model(model_path, 1), load_world_model(model_path, 2)
    frames_per_window = level2.encoder.tubelet
    if num_frames is None:
        if horizon is None:
            raise ValueError("run_level2_probe: give horizon or num_frames")
        num_frames = (horizon + 1) * frames_per_window
    windows = num_frames // frames_per_window
    horizon = windows - 1 if horizon is None else horizon
    if not 1 <= horizon <= windows - 1:
        raise ValueError(
            f"horizon={horizon}: clips of num_frames={num_frames} hold {windows} windows of "
            f"{frames_per_window} frames; k windows ahead needs k + 1 <= {windows}"
        )
    dm = VideoDataModule(
        data,
        num_frames=num_frames,
        batch_size=batch_size,
        num_workers=num_workers,
        resampled=False,
        val_fraction=val_fraction,
        seed=seed,
    )
    world = shard_world(data) if isinstance(data, (str, Path)) else None
    splits = []
    for split in ("train", "val"):
        encoded = encode_split({"level1": level1}, dm.loader(dm.dataset(split)), max_batches=max_batches)
        if len(encoded.states) < 2:
            raise ValueError(
                f"{data}: the {split} split holds {len(encoded.states)} clips, the probe needs at "
                "least 2; add episodes or change val_fraction"
            )
        rooms = class_targets(world, encoded.states, encoded.labels).get("room")
        splits.append(Level2Split(encoded, level2, rooms))
    scores = level2_scores(level1, level2, *splits, horizon=horizon, seed=seed)
    scores |= {
        "probe_level2_train_clips": len(splits[0].reprs1),
        "probe_level2_val_clips": len(splits[1].reprs1),
        "probe_level2_seconds": round(time.perf_counter() - start, 1),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "probe_level2.json").write_text(json.dumps(scores, indent=2))
    return scores
