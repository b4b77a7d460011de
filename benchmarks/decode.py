"""Decode throughput: the data module's clips/s against the raw decoder on the same clips.

The raw decoder is one process calling `decode_video` with the same backend on the bytes of the very
clips the data module delivered (same episodes, same frames), held in memory: no tar reading, no
dataset, no DataLoader. The data module reads in exact mode, one clip per episode; its figures are
those of the steady state after each worker's first batch, and `first_batches_s` is the wait for those
(worker start and first decode, paid once per epoch). Per backend and worker count W:
- `per_worker_ratio` = module clips/s / W / raw clips/s (target >= 0.9);
- `worker_cpu_ratio` = raw CPU seconds per clip / the workers' CPU seconds per clip: the same ratio in
  CPU time, which other jobs on the machine move less than wall time;
- `scaling` = module clips/s with W workers / with 1 (target >= 1.7 for 2 workers with 2 free cores);
- `loader_over_step` (64 px frames only) = module clips/s / samples/s of a training step (config tiny, fp32) measured in
  the same run: above 1, the loader keeps up with training.
`slot_write_ms_per_clip` times copying a decoded clip into its slot of a fresh shared-memory batch (what a worker
hands over) and of one already touched (where the decoder alone writes): the cost of the hand-over's memory, outside
any decoder.
Module and raw runs alternate `--repeats` times and the best of each is kept (other jobs only ever slow
a run down); the load average before and after is recorded, since they move every figure.
4096 episodes by default: with 512 a pass lasts 1-2 s, too short a window for a steady state after worker start-up;
4096 take about 5 minutes on 2 idle cores. `--image_size 224` measures frames of the size real videos are read at
(1024 episodes are enough there) and writes decode_224px.json.
Run: `python -m benchmarks.decode [--episodes 4096 --repeats 3 --image_size 64]`.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import webdataset as wds

from benchmarks.common import write_results
from benchmarks.train_step import make_batch, step_figures
from hjepa.data.batch_buffer import shared_frames
from hjepa.data.clips import frame_indices
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.data.shards import list_shards
from hjepa.data.video import backend_available, decode_video

WORKERS = (1, 2)


def episode_videos(folder: Path) -> dict[str, bytes]:
    """The video bytes of every episode in the shards of `folder`, by key (read outside any timing)."""
    return {
        s["__key__"]: s["mp4"] for shard in list_shards(folder) for s in wds.WebDataset(str(shard), shardshuffle=False)
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the running process `pid` (from /proc, in clock ticks of 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _record_pid(pids: multiprocessing.Array, worker: int) -> None:
    pids[worker] = os.getpid()


class ModuleRun(NamedTuple):
    """One pass of the data module over the shards; rates and CPU after each worker's first batch."""

    keys: list[str]  # `episode@start` of the clips delivered, in order
    clips_per_s: float
    worker_cpu_per_clip: float  # CPU seconds of all workers per clip
    first_batches_s: float  # until each worker's first batch arrived


def module_run(folder: Path, backend: str, workers: int, num_frames: int, batch_size: int) -> ModuleRun:
    """Read every clip through the data module, sampling the workers' CPU time as batches arrive."""
    data = VideoDataModule(
        str(folder),
        num_frames=num_frames,
        batch_size=batch_size,
        num_workers=workers,
        decoder=backend,
        resampled=False,
        val_fraction=0.0,
    )
    loader = data.loader(data.dataset("all"))
    pids = multiprocessing.Array("i", workers)
    loader.worker_init_fn = functools.partial(_record_pid, pids)
    keys: list[str] = []
    samples: list[tuple[float, int, float]] = []  # (time, clips received, workers' CPU seconds)
    start = time.perf_counter()
    for batch in loader:
        keys += batch["key"]
        samples.append((time.perf_counter(), len(keys), sum(map(process_cpu_seconds, pids))))
    (first_time, first_clips, first_cpu), (last_time, clips, cpu) = samples[min(workers, len(samples)) - 1], samples[-1]
    return ModuleRun(
        keys,
        (clips - first_clips) / (last_time - first_time),
        (cpu - first_cpu) / (clips - first_clips),
        first_time - start,
    )


def raw_run(videos: dict[str, bytes], keys: list[str], backend: str, num_frames: int) -> tuple[float, float]:
    """Clips/s and CPU seconds per clip of this process decoding the clips `keys` straight from their bytes."""
    clips = [
        (videos[name], [int(i) for i in frame_indices(int(first), num_frames, 1)])
        for name, first in (key.split("@") for key in keys)
    ]
    cpu, start = time.process_time(), time.perf_counter()
    for video, indices in clips:
        decode_video(video, indices, backend)
    return len(clips) / (time.perf_counter() - start), (time.process_time() - cpu) / len(clips)


def slot_write_ms(image_size: int, num_frames: int, batch_size: int, repeats: int = 5) -> dict[str, float]:
    """ms per clip to copy decoded frames (T, H, W, 3) into their slot of a batch tensor (B, T, H, W, 3): a fresh
    one in shared memory each batch (what a worker must hand over) against one already touched (where the decoder
    alone writes). The difference is first-touch page faults, which the DataLoader's own collation pays too."""
    clip = torch.randint(0, 256, (num_frames, image_size, image_size, 3), dtype=torch.uint8).numpy()
    shape = (batch_size, *clip.shape)
    touched = torch.zeros(shape, dtype=torch.uint8)
    times = {}
    for name, batch in (("fresh_shared", lambda: shared_frames(shape)), ("touched", lambda: touched)):
        start = time.perf_counter()
        for _ in range(repeats):
            frames = batch()
            for slot in range(batch_size):
                np.copyto(frames[slot].numpy(), clip)
        times[f"{name}_ms"] = round((time.perf_counter() - start) / (repeats * batch_size) * 1e3, 3)
    return times


def backend_rows(
    folder: Path, videos: dict[str, bytes], backend: str, args: argparse.Namespace, step_rate: float | None
) -> list[dict]:
    """One row per worker count, from the best of `args.repeats` alternating module and raw runs."""
    module: dict[int, list[ModuleRun]] = {w: [] for w in WORKERS}
    raw: dict[int, list[tuple[float, float]]] = {w: [] for w in WORKERS}
    for _ in range(args.repeats):
        for workers in WORKERS:
            run = module_run(folder, backend, workers, args.num_frames, args.batch_size)
            module[workers].append(run)
            raw[workers].append(raw_run(videos, run.keys, backend, args.num_frames))
    rows = []
    for workers in WORKERS:
        rate = max(run.clips_per_s for run in module[workers])
        raw_rate, raw_cpu = max(r for r, _ in raw[workers]), min(c for _, c in raw[workers])
        rows.append(
            {
                "backend": backend,
                "workers": workers,
                "raw_clips_per_s": round(raw_rate, 1),
                "module_clips_per_s": round(rate, 1),
                "per_worker_ratio": round(rate / workers / raw_rate, 3),
                "worker_cpu_ratio": round(raw_cpu / min(run.worker_cpu_per_clip for run in module[workers]), 3),
                "scaling": round(rate / max(run.clips_per_s for run in module[1]), 2),
                "first_batches_s": round(min(run.first_batches_s for run in module[workers]), 3),
                "loader_over_step": round(rate / step_rate, 2) if step_rate else None,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--num_frames", type=int, default=16)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image_size", type=int, default=64, help="frame side of the generated episodes")
    args = parser.parse_args()
    load_before = os.getloadavg()
    step_rate = None  # the tiny config reads 64 px frames: its step is the consumer of those only
    if args.image_size == 64:
        batch = make_batch(args.batch_size, args.num_frames, torch.device("cpu"))
        step_rate = step_figures("tiny", "fp32", batch, torch.device("cpu"), 5)["samples_per_s"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate_shards(
            GenerateSettings("two_rooms", args.episodes, args.frames, shard_size=16, image_size=args.image_size),
            folder,
            progress=False,
        )
        videos = episode_videos(folder)
        rows = [
            row
            for backend in ("decord", "pyav")
            if backend_available(backend)
            for row in backend_rows(folder, videos, backend, args, step_rate)
        ]
    write_results(
        "decode" if args.image_size == 64 else f"decode_{args.image_size}px",
        rows,
        {
            "episodes": args.episodes,
            "image_size": args.image_size,
            "frames": args.frames,
            "clip_frames": args.num_frames,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "train_step_samples_per_s": step_rate,
            "slot_write_ms_per_clip": slot_write_ms(args.image_size, args.num_frames, args.batch_size),
            "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "target": "per_worker_ratio >= 0.9; scaling >= 1.7 with 2 workers on 2 free cores",
        },
    )


if __name__ == "__main__":
    main()
