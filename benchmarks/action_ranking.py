"""Can a world model tell the actions that were taken from random ones, over the horizons a planner looks ahead
(`hjepa.eval.action_ranking`)? A curve per model, e.g. a run's checkpoints: how far its foresight is from what a
Mode-2 search needs (seed paper sec. 3.1.4).

On validation clips of `--data`, each clip's recorded actions and `--candidates` random sequences are rolled out
from the clip's start; the figure is the share of random sequences whose rollout ends nearer the encoded frame the
recorded actions led to (0: the recorded actions always come first, 0.5: the model is blind to actions).

`python -m benchmarks.action_ranking --data data/swm_pusht --models runs/swm_pusht_spatial_cpu/checkpoints/*.ckpt`
writes benchmarks/results/action_ranking.json and action_ranking.png and prints the table.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch
from matplotlib.figure import Figure

from benchmarks.common import save_figure, write_results
from hjepa.data.datamodule import VideoDataModule, frames_to_float
from hjepa.eval.action_ranking import rank_recorded_actions
from hjepa.export import load_world_model


def model_label(path: str) -> str:
    """A checkpoint's run folder and training step where its file name says it (`runs/x/checkpoints/..step=500..`:
    `x step 500`), else the path."""
    found = re.search(r"step=(\d+)", Path(path).name)
    return f"{Path(path).parent.parent.name} step {found.group(1)}" if found else path


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="shards with actions (their validation split is used)")
    parser.add_argument("--models", nargs="+", required=True, help="export folders or Lightning .ckpt files")
    parser.add_argument("--horizons", type=int, nargs="+", default=[1, 2, 5, 10], help="rollout steps")
    parser.add_argument("--clips", type=int, default=96, help="validation clips")
    parser.add_argument("--candidates", type=int, default=63, help="random action sequences per clip")
    parser.add_argument("--frame_stride", type=int, default=1, help="the models' data.frame_stride (action blocks)")
    parser.add_argument("--name", default="action_ranking", help="results file name")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {path: load_world_model(path) for path in args.models}
    frames = max(model.history for model in models.values()) + max(args.horizons)
    data = VideoDataModule(
        args.data,
        num_frames=frames,
        frame_stride=args.frame_stride,
        batch_size=args.clips,
        num_workers=0,
        val_fraction=0.1,
    )
    batch = frames_to_float(next(iter(data.loader(data.dataset("val")))))
    rows = []
    for path, model in models.items():
        reprs = model.encode(batch["frames"])
        for horizon in args.horizons:
            generator = torch.Generator().manual_seed(horizon)  # every model ranks against the same sequences
            ranking = rank_recorded_actions(model, reprs, batch["actions"], horizon, args.candidates, generator)
            rows.append({"model": model_label(path), "horizon": horizon, **ranking._asdict()})
    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    for label in dict.fromkeys(row["model"] for row in rows):
        own = [row for row in rows if row["model"] == label]
        axes.plot([row["horizon"] for row in own], [row["percentile"] for row in own], marker="o", label=label)
    axes.axhline(0.5, color="grey", linestyle="--", label="blind to actions")
    axes.set(xlabel="rollout steps", ylabel="random sequences ranked nearer", ylim=(0, 0.6))
    axes.legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, args.name)
    write_results(
        args.name,
        rows,
        {
            "data": args.data,
            "frame_stride": args.frame_stride,
            "models": args.models,
            "clips": len(batch["frames"]),
            "candidates": args.candidates,
        },
    )


if __name__ == "__main__":
    main()
