"""Decode throughput: clips/s through the data module vs the raw decoder on the same shards.

For each backend and worker count, the raw rate is one process decoding the clips straight from the
shard bytes; the data module rate is divided by its worker count, so the ratio says how much of a
worker's decoding speed survives the pipeline (tar reading, splitting, collation, IPC).
Run: `python benchmarks/decode.py [--episodes 256]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import webdataset as wds

from benchmarks.common import write_results
from hjepa.data.clips import frame_indices
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.data.inspect import read_batches
from hjepa.data.shards import list_shards
from hjepa.data.video import backend_available, decode_video


def raw_clips_per_s(shards: list[Path], backend: str, num_frames: int) -> float:
    """One process decoding the first `num_frames` frames of every episode from in-memory bytes."""
    videos = [s["mp4"] for shard in shards for s in wds.WebDataset(str(shard), shardshuffle=False)]
    indices = list(frame_indices(0, num_frames, 1))
    start = time.perf_counter()
    for video in videos:
        decode_video(video, indices, backend)
    return len(videos) / (time.perf_counter() - start)


def module_clips_per_s(folder: Path, backend: str, workers: int, num_frames: int) -> float:
    data = VideoDataModule(str(folder), num_frames=num_frames, batch_size=16, num_workers=workers,
                           decoder=backend, resampled=False, val_fraction=0.0)
    data.loader(data.dataset("all"))  # resolve once outside the timing
    _, rate = read_batches(data.loader(data.dataset("all")))
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--num-frames", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate_shards(GenerateSettings("two_rooms", args.episodes, args.frames, shard_size=16), folder, progress=False)
        shards = list_shards(folder)
        rows = []
        for backend in [b for b in ("decord", "pyav") if backend_available(b)]:
            raw = raw_clips_per_s(shards, backend, args.num_frames)
            for workers in (1, 2):
                rate = module_clips_per_s(folder, backend, workers, args.num_frames)
                rows.append({"backend": backend, "workers": workers, "raw_clips_per_s_per_process": round(raw, 1),
                             "module_clips_per_s": round(rate, 1), "module_per_worker": round(rate / workers, 1),
                             "ratio_per_worker": round(rate / workers / raw, 3)})
    write_results("decode", rows, {"episodes": args.episodes, "frames": args.frames, "clip_frames": args.num_frames,
                                   "target": "module_per_worker >= 0.9 x raw"})


if __name__ == "__main__":
    main()
