"""Data-parallel scaling of `hjepa fit`: samples/s with 1 and 2 processes, and their ratio.

CPU (always): the tiny config (configs/tiny_cpu.yaml) on gloo, one thread per process, so 2 processes
can at best double the samples/s of 1 on a machine with 2 free cores.
GPU (when CUDA is present): configs/base_gpu.yaml in bf16 on 1 GPU and on all GPUs of the machine,
plus gradient checkpointing and torch.compile on 1 GPU: samples/s, peak memory, MFU against the bf16
matmul peak measured on that GPU (named in the results), and the loader's clips/s against the step's.
Each configuration runs as its own `python -m hjepa.cli fit` job, exactly as users launch it.
Run: `python -m benchmarks.ddp_scaling [--steps 30 --warmup 5]` -> benchmarks/results/ddp_scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import write_results
from hjepa.train.run_config import write_run_config

ROOT = Path(__file__).parents[1]


class StepTimer(L.Callback):
    """Rank 0 writes the wall time of every step after `warmup`, the global batch and its peak memory
    to `path` (JSON) when training ends."""

    def __init__(self, path: str, warmup: int = 5) -> None:
        self.path, self.warmup, self.times = path, warmup, []

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        steps = self.times[self.warmup :]
        seconds = (steps[-1] - steps[0]) / (len(steps) - 1)
        cuda = torch.cuda.is_available()
        peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        Path(self.path).write_text(
            json.dumps(
                {
                    "seconds_per_step": seconds,
                    "world_size": trainer.world_size,
                    "global_batch": trainer.world_size * trainer.datamodule.hparams.batch_size,
                    "peak_memory_mb": peak / 2**20,
                    "peak_memory_kind": "cuda allocated" if cuda else "process max RSS",
                }
            )
        )


def fit(
    base: Path, run_dir: Path, overrides: dict[str, Any], processes: int, steps: int, warmup: int, env: dict[str, str]
) -> dict[str, Any]:
    """One `hjepa fit` job of `steps` steps on `processes` devices; returns StepTimer's figures."""
    timing = run_dir / "timing.json"
    config = yaml.safe_load(base.read_text())
    callbacks = [c for c in config["trainer"].get("callbacks", []) if c["class_path"].endswith("EncoderOptions")]
    callbacks.append(
        {"class_path": "benchmarks.ddp_scaling.StepTimer", "init_args": {"path": str(timing), "warmup": warmup}}
    )
    trainer = {
        "callbacks": callbacks,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "max_steps": steps,
        "limit_val_batches": 0,
        "val_check_interval": None,
        "devices": processes,
        "num_nodes": 1,
        "strategy": "ddp" if processes > 1 else "auto",
    }
    path = write_run_config(base, run_dir, {**overrides, "trainer": {**trainer, **overrides.get("trainer", {})}})
    done = subprocess.run(
        [sys.executable, "-m", "hjepa.cli", "fit", "--config", str(path)],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fit on {processes} processes failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    figures = json.loads(timing.read_text())
    figures["samples_per_s"] = figures["global_batch"] / figures["seconds_per_step"]
    return figures


def flops_per_sample(base: Path, num_frames: int, image_size: int) -> float:
    """Training FLOPs (forward + backward) of one clip for the model of `base`, counted by torch."""
    from hjepa.train.module import JEPAModule

    model = JEPAModule(**yaml.safe_load(base.read_text())["model"]).cuda()
    batch = {
        "frames": torch.rand(2, num_frames, 3, image_size, image_size, device="cuda"),
        "actions": torch.randn(2, num_frames - 1, 2, device="cuda") * 0.03,
    }
    counter = FlopCounterMode(display=False)
    with counter, torch.autocast("cuda", dtype=torch.bfloat16):
        model.losses(batch)["loss"].backward()
    return counter.get_total_flops() / 2


def cpu_rows(shards: Path, run_root: Path, steps: int, warmup: int) -> list[dict[str, Any]]:
    overrides = {
        "data": {"shards": str(shards), "num_frames": 8, "batch_size": 16, "num_workers": 0},
        "trainer": {"accelerator": "cpu", "precision": "32-true"},
    }
    rows = []
    for processes in (1, 2):
        figures = fit(
            ROOT / "configs" / "tiny_cpu.yaml",
            run_root / f"cpu{processes}",
            overrides,
            processes,
            steps,
            warmup,
            {"OMP_NUM_THREADS": "1"},
        )
        rows.append(
            {"device": "cpu", "config": "tiny", "precision": "32-true", "processes": processes, **_row(figures)}
        )
    for row in rows:
        row["speedup_vs_1"] = round(row["samples_per_s"] / rows[0]["samples_per_s"], 2)
    return rows


def gpu_rows(shards: Path, run_root: Path, steps: int, warmup: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from benchmarks.train_step import loader_clips_per_s, matmul_peak

    base = ROOT / "configs" / "base_gpu.yaml"
    data = yaml.safe_load(base.read_text())["data"]
    peak = matmul_peak(torch.bfloat16, torch.device("cuda"))
    per_sample = flops_per_sample(base, data["num_frames"], 64)
    gpus = torch.cuda.device_count()
    variants = [
        ("base", 1, {}),
        ("base+grad_checkpointing", 1, {"grad_checkpointing": True}),
        ("base+compile", 1, {"compile": True}),
    ]
    if gpus > 1:
        variants.insert(1, ("base", gpus, {}))
    rows = []
    for name, processes, options in variants:
        config = yaml.safe_load(base.read_text())
        for callback in config["trainer"]["callbacks"]:
            if callback["class_path"].endswith("EncoderOptions"):
                callback["init_args"].update(options)
        variant = run_root / f"gpu-{name}-{processes}"
        variant.mkdir(parents=True)
        (variant / "base.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        figures = fit(variant / "base.yaml", variant, {"data": {"shards": str(shards)}}, processes, steps, warmup, {})
        row = {"device": "cuda", "config": name, "precision": "bf16-mixed", "processes": processes, **_row(figures)}
        row["mfu"] = round(per_sample * figures["samples_per_s"] / (processes * peak), 3)
        rows.append(row)
    for row in rows:
        row["speedup_vs_1"] = round(row["samples_per_s"] / rows[0]["samples_per_s"], 2)
    loader = loader_clips_per_s(data["batch_size"], {data["num_frames"]}, data["num_workers"])[data["num_frames"]]
    extra = {
        "gpu": torch.cuda.get_device_name(0),
        "gpus": gpus,
        "bf16_matmul_peak_tflops": round(peak / 1e12, 1),
        "train_gflop_per_sample": round(per_sample / 1e9, 2),
        "loader_clips_per_s_per_gpu": round(loader, 1),
        "loader_over_step": round(loader / rows[0]["samples_per_s"], 2),
    }
    return rows, extra


def _row(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "global_batch": figures["global_batch"],
        "ms_per_step": round(figures["seconds_per_step"] * 1e3, 1),
        "samples_per_s": round(figures["samples_per_s"], 1),
        "peak_memory_mb": round(figures["peak_memory_mb"]),
        "peak_memory_kind": figures["peak_memory_kind"],
    }


def main() -> None:
    from hjepa.data.generate import GenerateSettings, generate_shards

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--skip_cpu", action="store_true", help="GPU rows only")
    args = parser.parse_args()
    # other work on the machine takes cores from the ranks: the load says whether the ratio means anything
    extra: dict[str, Any] = {
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "cpu_threads_per_process": 1,
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "shards"
        generate_shards(GenerateSettings("two_rooms", 256, 32, shard_size=16), shards, progress=False)
        if not args.skip_cpu:
            rows += cpu_rows(shards, Path(tmp) / "runs", args.steps, args.warmup)
            extra["cpu_speedup_2_vs_1"] = rows[-1]["speedup_vs_1"]
        if torch.cuda.is_available():
            gpu, gpu_extra = gpu_rows(shards, Path(tmp) / "runs", args.steps, args.warmup)
            rows += gpu
            extra |= gpu_extra
        else:
            extra["gpu"] = None
            extra["note"] = (
                "no CUDA device here: GPU rows (base config, bf16, MFU) are measured only where one is present"
            )
    write_results("ddp_scaling", rows, extra)


if __name__ == "__main__":
    main()
