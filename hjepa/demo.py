"""The main job end to end on a small built-in default: generate -> shards -> data module -> figures.

Each step appends its figures to `summary.json` (flat keys) in the output folder, and a table of
them is printed at the end.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.data.inspect import contact_sheet, data_statistics, read_batches


def load_config(path: Path) -> dict[str, Any]:
    """Read the demo's YAML config."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def step_data(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Generate episodes into shards, read them back through the data module, draw and count them."""
    gen = config["generate"]
    settings = GenerateSettings(gen["world"], gen["episodes"], gen["frames"], gen["seed"], gen["shard_size"],
                                gen["codec"], gen["image_size"])
    report = generate_shards(settings, Path(gen["out"]))
    data = VideoDataModule(gen["out"], resampled=False, **config["data"])
    train, clips_per_s = read_batches(data.train_dataloader(), config["inspect"]["batches"])
    val, _ = read_batches(data.val_dataloader())
    stats = data_statistics(train)
    (out / "data_stats.json").write_text(json.dumps(stats, indent=2))
    contact_sheet(train[0], out / "contact_sheet.png", state_names=["x", "y"])
    return {
        "episodes": report.episodes,
        "shards": len(report.shards),
        "generate_episodes_per_s": round(report.episodes_per_s, 1),
        "clips_per_s": round(clips_per_s, 1),
        "train_clips_read": sum(b["frames"].shape[0] for b in train),
        "val_clips": sum(b["frames"].shape[0] for b in val),
        "skipped_samples": data.skipped_samples,
    }


def print_summary(summary: dict[str, Any]) -> None:
    """Print the summary as a two-column table."""
    width = max(len(k) for k in summary)
    print("\n" + "-" * (width + 24))
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
    print("-" * (width + 24))


def run_demo(config_path: Path, out: Path) -> dict[str, Any]:
    """Run every step of the demo and write `out/summary.json`."""
    start = time.perf_counter()
    config = load_config(config_path)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    summary.update(step_data(config, out))
    summary["seconds_total"] = round(time.perf_counter() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary)
    print(f"figures in {out}/ (summary.json, contact_sheet.png, data_stats.json)")
    return summary
