"""Training-step throughput of the JEPA, against the machine's measured matmul peak and the loader.

For each model config and precision: ms/step, samples/s, FLOPs per step (torch's FlopCounterMode)
and achieved FLOP/s as a fraction of a dense matmul peak measured in the same run (an MFU-style
ratio). The data module's clips/s on the same machine says whether the loader keeps up. A
two-level (H-JEPA) config runs on clips long enough for its level 2 ((horizon + 1) windows), and
its `level2_overhead` is its step time over the level-1 `tiny` config's on the same clips.
Run: `python -m benchmarks.train_step [--steps 5 --batch_size 32 --num_frames 16]`.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import write_results
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.data.inspect import read_batches
from hjepa.train.module import JEPAModule

CONFIG_DIR = Path(__file__).parents[1] / "configs"
CONFIGS = {
    # the model the demo trains (configs/tiny_cpu.yaml), both levels trained jointly, and a GPU-sized one
    "tiny": {
        k: v
        for k, v in yaml.safe_load((CONFIG_DIR / "tiny_cpu.yaml").read_text())["model"].items()
        if k in ("encoder", "predictor", "expander", "action_dim")
    },
    "tiny_2level": {
        k: v
        for k, v in yaml.safe_load((CONFIG_DIR / "level2_joint_tiny_cpu.yaml").read_text())["model"].items()
        if k in ("encoder", "predictor", "expander", "action_dim", "levels", "level2", "stop_gradient")
    },
    "base": {
        "encoder": {"name": "resnet18", "embed_dim": 256},
        "predictor": {"kind": "transformer", "hidden_dim": 256},
        "expander": [1024, 1024],
    },
}


def matmul_peak(dtype: torch.dtype, device: torch.device) -> float:
    """Dense matmul FLOP/s of this machine for `dtype`: the ceiling a training step is compared with.
    CPUs without native bf16 run it at a few GFLOP/s, hence the small size there."""
    size, repeats = (4096, 20) if device.type == "cuda" else (512, 3)
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def clip_frames(name: str, num_frames: int) -> int:
    """The clip length a config is measured on: `num_frames`, or more where level 2 needs it."""
    config = CONFIGS[name]
    level2 = config.get("level2")
    if not level2:
        return num_frames
    tubelet = (config.get("encoder") or {}).get("tubelet", 1)
    return max(num_frames, (level2["horizon"] + 1) * level2["window"] * tubelet)


def make_batch(batch_size: int, num_frames: int, device: torch.device) -> dict:
    return {
        "frames": torch.rand(batch_size, num_frames, 3, 64, 64, device=device),
        "actions": torch.randn(batch_size, num_frames - 1, 2, device=device) * 0.03,
    }


def step_figures(name: str, precision: str, batch: dict, device: torch.device, steps: int) -> dict:
    model = JEPAModule(**CONFIGS[name]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    def step() -> None:
        with autocast:
            loss = model.losses(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = (time.perf_counter() - start) / steps
    flops = counter.get_total_flops()
    peak = matmul_peak(torch.bfloat16 if precision == "bf16" else torch.float32, device)
    size = batch["frames"].shape[0]
    return {
        "config": name,
        "precision": precision,
        "num_frames": batch["frames"].shape[1],
        "ms_per_step": round(seconds * 1e3, 1),
        "samples_per_s": round(size / seconds, 1),
        "gflop_per_step": round(flops / 1e9, 2),
        "achieved_tflops": round(flops / seconds / 1e12, 4),
        "matmul_peak_tflops": round(peak / 1e12, 4),
        "mfu": round(flops / seconds / peak, 3),
    }


def loader_clips_per_s(batch_size: int, frame_counts: set[int], workers: int) -> dict[int, float]:
    """The data module's clips/s for clips of each length in `frame_counts` (episodes of 32 frames)."""
    with tempfile.TemporaryDirectory() as tmp:
        generate_shards(GenerateSettings("two_rooms", 256, 32, shard_size=16), Path(tmp), progress=False)
        speeds = {}
        for num_frames in sorted(frame_counts):
            data = VideoDataModule(
                tmp,
                num_frames=num_frames,
                batch_size=batch_size,
                num_workers=workers,
                resampled=False,
                val_fraction=0.0,
            )
            speeds[num_frames] = read_batches(data.loader(data.dataset("all")))[1]
        return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--num_frames", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    for name in args.configs:
        batch = make_batch(args.batch_size, clip_frames(name, args.num_frames), device)
        for precision in args.precisions:
            row = step_figures(name, precision, batch, device, args.steps)
            if "level2" in CONFIGS[name]:  # the price of level 2: the level-1 step on the same clips
                row["level2_overhead"] = round(
                    row["ms_per_step"] / step_figures("tiny", precision, batch, device, args.steps)["ms_per_step"], 2
                )
            rows.append(row)
    loader = loader_clips_per_s(args.batch_size, {row["num_frames"] for row in rows}, args.workers)
    for row in rows:
        row["loader_clips_per_s"] = round(loader[row["num_frames"]], 1)
        row["loader_over_step"] = round(loader[row["num_frames"]] / row["samples_per_s"], 2)
    write_results(
        "train_step",
        rows,
        {
            "batch_size": args.batch_size,
            "num_frames": args.num_frames,
            "device": str(device),
            "loader_workers": args.workers,
            "note": "loader_over_step > 1: the loader is not the bottleneck",
        },
    )


if __name__ == "__main__":
    main()
