"""Latent inference (seed paper sec. 4.5, appendix 8.3.3): cost and energy of ž = argmin_z E(x, y, z) by
enumeration over codes (discrete z) and by batched gradient steps (continuous z), against the amortized
encoder q(s_x, s_y) that predicts ž in one pass.

Tiny JEPAs with a discrete and a low-dimensional latent are trained on Fork clips
(`hjepa.eval.fork_probe`), then each method infers z for a batch of held-out clips. Rows: ms per batch,
the mean energy E(x, y, z) reached, and against the exact/iterative method of the same latent the
speed-up and energy ratio. Run: `python -m benchmarks.latent_inference [--steps 200 --batch_size 64]`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from benchmarks.common import write_results
from hjepa.eval.fork_probe import fork_clips, train_model

LATENTS = {"discrete": {"kind": "discrete", "num_codes": 2, "dim": 8}, "low_dim": {"kind": "low_dim", "dim": 2}}
ENERGY_MARGIN = 1.25  # the stated margin: amortized energy at most this many times that of ž


def timed(fn: Callable[[], Tensor], repeats: int) -> tuple[float, Tensor]:
    """Median ms of `fn()` over `repeats` calls (after one warm-up) and its last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200, help="training steps of each model")
    parser.add_argument("--batch_size", type=int, default=64, help="clips inferred per batch")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the figures are per core; the tiny batches gain nothing from more
    train = fork_clips(256, 8, 3, 32, seed=0)
    val = fork_clips(args.batch_size, 8, 3, 32, seed=1)
    rows = []
    for name, cfg in LATENTS.items():
        model = train_model(train, cfg, args.steps, 16, seed=0)
        wm, latent = model.world_model, model.world_model.latent
        with torch.no_grad():
            states = wm.encode(val["frames"])
        context, target, actions = states[:, :1], states[:, 1:], val["actions"]
        energy_fn = partial(wm.energy, context, target, actions)
        method = "enumeration" if cfg["kind"] == "discrete" else f"gradient ({latent.steps} Adam steps)"
        ms_infer, inferred = timed(lambda: latent.infer(energy_fn, len(states)).z, args.repeats)
        with torch.no_grad():
            ms_amortized, z_q = timed(lambda: latent.amortize(context, target), args.repeats)
            energy_infer = energy_fn(inferred[None]).mean().item()
            energy_amortized = energy_fn(z_q[None]).mean().item()
            energy_prior = energy_fn(latent.sample(len(states))[None]).mean().item()
        rows.append(
            {
                "latent": name,
                "method": method,
                "ms_per_batch": round(ms_infer, 3),
                "energy": round(energy_infer, 5),
                "speedup": 1.0,
                "energy_ratio": 1.0,
            }
        )
        rows.append(
            {
                "latent": name,
                "method": "amortized q(s_x, s_y)",
                "ms_per_batch": round(ms_amortized, 3),
                "energy": round(energy_amortized, 5),
                "speedup": round(ms_infer / ms_amortized, 1),
                "energy_ratio": round(energy_amortized / energy_infer, 3),
            }
        )
        rows.append(
            {
                "latent": name,
                "method": "prior sample (no inference)",
                "ms_per_batch": None,
                "energy": round(energy_prior, 5),
                "speedup": None,
                "energy_ratio": round(energy_prior / energy_infer, 3),
            }
        )
    amortized = [r for r in rows if r["method"].startswith("amortized")]
    verdict = {
        "energy_margin": ENERGY_MARGIN,
        "amortized_within_margin": all(r["energy_ratio"] <= ENERGY_MARGIN for r in amortized),
        "amortized_speedup_min": min(r["speedup"] for r in amortized),
    }
    write_results(
        "latent_inference",
        rows,
        {
            "batch_size": args.batch_size,
            "train_steps": args.steps,
            **verdict,
            "note": "speedup and energy_ratio are against the first row of the "
            "same latent (enumeration or gradient inference of ž)",
        },
    )
    print(verdict)


if __name__ == "__main__":
    main()
