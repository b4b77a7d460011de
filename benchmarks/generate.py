"""Generator throughput per world: episodes/s for simulation+rendering alone and with video encoding.

Run: `python benchmarks/generate.py [--episodes 256 --frames 32]`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import write_results
from hjepa.data.generate import GenerateSettings, record_episodes
from hjepa.envs import WORLDS, make_world


def simulate_per_s(world_name: str, episodes: int, frames: int) -> float:
    """Episodes/s of batched stepping and rendering, no encoding."""
    world, rng = make_world(world_name), np.random.default_rng(0)
    start = time.perf_counter()
    world.reset(episodes, rng)
    world.render()
    for _ in range(frames - 1):
        world.step(world.exploration_actions(rng))
        world.render()
    return episodes / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--frames", type=int, default=32)
    args = parser.parse_args()
    rows = []
    for name in sorted(WORLDS):
        simulated = simulate_per_s(name, args.episodes, args.frames)
        for codec in ("h264", "ffv1"):
            settings = GenerateSettings(name, args.episodes, args.frames, shard_size=args.episodes, codec=codec)
            start = time.perf_counter()
            record_episodes(settings, 0)
            total = args.episodes / (time.perf_counter() - start)
            rows.append(
                {
                    "world": name,
                    "codec": codec,
                    "simulate_render_episodes_per_s": round(simulated, 1),
                    "with_encoding_episodes_per_s": round(total, 1),
                    "frames_per_s": round(total * args.frames, 1),
                }
            )
    write_results("generate", rows, {"episodes": args.episodes, "frames": args.frames, "image_size": 64})


if __name__ == "__main__":
    main()
