"""Look at what the data pipeline delivers: throughput, statistics and a contact sheet of clips."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from hjepa.data.datamodule import frames_to_float, resolve_shards
from hjepa.data.shards import shard_metadata

PADDING = 2  # white pixels between tiles


def read_batches(
    loader: Iterable[dict[str, Any]], max_batches: int | None = None
) -> tuple[list[dict[str, Any]], float]:
    """Consume up to `max_batches` batches; returns them and the clips per second delivered."""
    batches, clips = [], 0
    start = time.perf_counter()
    for index, batch in enumerate(loader):
        if max_batches is not None and index >= max_batches:
            break
        batches.append(batch)
        clips += batch["frames"].shape[0]
    return batches, clips / max(time.perf_counter() - start, 1e-9)


def data_statistics(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Pixel mean/std, per-dimension state and action ranges over a list of batches."""
    frames = torch.cat([frames_to_float(dict(b))["frames"] for b in batches])
    states = torch.cat([b["states"] for b in batches]).flatten(0, 1)
    actions = torch.cat([b["actions"] for b in batches]).flatten(0, 1)
    stats: dict[str, Any] = {
        "clips": int(frames.shape[0]),
        "clip_shape": list(frames.shape[1:]),
        "pixel_mean": [round(float(v), 4) for v in frames.mean(dim=(0, 1, 3, 4))],
        "pixel_std": [round(float(v), 4) for v in frames.std(dim=(0, 1, 3, 4))],
    }
    if states.shape[-1]:
        stats["state_min"] = [round(float(v), 4) for v in states.min(0).values]
        stats["state_max"] = [round(float(v), 4) for v in states.max(0).values]
    if actions.shape[-1]:
        stats["action_mean"] = [round(float(v), 4) for v in actions.mean(0)]
        stats["action_std"] = [round(float(v), 4) for v in actions.std(0)]
    return stats


def contact_sheet(
    batch: dict[str, Any],
    path: Path,
    state_names: list[str] | None = None,
    max_clips: int = 8,
    max_frames: int = 8,
    scale: int = 2,
) -> Path:
    """Write a PNG grid (one row per clip) of decoded frames with the ground-truth position drawn as
    a cross where the state has `x`, `y` columns (unit coordinates, pixel centre convention)."""
    frames = batch["frames"][:max_clips, :max_frames]  # (B, T, 3, H, W) uint8
    clips, steps = frames.shape[:2]
    tiles = F.interpolate(frames.flatten(0, 1), scale_factor=scale, mode="nearest")  # (B T, 3, sH, sW)
    grid = make_grid(tiles, nrow=steps, padding=PADDING, pad_value=255)  # (3, H', W')
    sheet = Image.fromarray(grid.permute(1, 2, 0).numpy())
    if state_names and "x" in state_names and "y" in state_names:
        draw = ImageDraw.Draw(sheet)
        height, width = tiles.shape[-2:]
        xy = batch["states"][:clips, :steps][..., [state_names.index("x"), state_names.index("y")]]  # (B, T, 2)
        for row in range(clips):
            for step in range(steps):
                x = PADDING + step * (width + PADDING) + float(xy[row, step, 0]) * width
                y = PADDING + row * (height + PADDING) + float(xy[row, step, 1]) * height
                draw.line([(x - 4, y), (x + 4, y)], fill=(255, 255, 0))
                draw.line([(x, y - 4), (x, y + 4)], fill=(255, 255, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def state_names(data: str) -> list[str] | None:
    """State column names from the metadata of the first readable sample of the shards (None if unknown
    or streamed from a pipe: command); unreadable shards are passed over, as the data module did."""
    for url in resolve_shards(data):
        if url.startswith("pipe:"):
            return None
        try:
            for meta in shard_metadata(url):
                return meta.get("state_names")
        except ValueError:  # unreadable shard: skipped and counted by the data module
            continue
    return None
