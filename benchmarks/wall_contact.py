"""Whether world models stop the agent at walls and let it through doors (`hjepa/eval/wall_probe.py`): for each
model, the fraction of pushes at a wall whose predicted outcome lies nearer the true one than the counterfactual.

`python -m benchmarks.wall_contact --data data/two_rooms_random_door --models runs/a/checkpoints/last.ckpt ...`
writes benchmarks/results/wall_contact.json and prints the table. The world is the one that recorded `--data`
(a random-door world draws a new door for every group of pushes).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from benchmarks.common import write_results
from hjepa.envs import RoomsWorld
from hjepa.eval.targets import shard_world
from hjepa.eval.wall_probe import wall_contact
from hjepa.export import load_world_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="shards of a rooms world: the world the pushes happen in")
    parser.add_argument("--models", nargs="+", required=True, help="export folders or Lightning .ckpt files")
    parser.add_argument("--resets", type=int, default=50, help="groups of pushes, each after a reset")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    world = shard_world(args.data)
    if not isinstance(world, RoomsWorld):
        parser.error(f"--data: {args.data} was not recorded in a rooms world (TwoRooms, Maze)")
    rows = []
    for model in args.models:
        world_model = load_world_model(model).eval()
        rows.append({"model": model, **asdict(wall_contact(world_model, world, args.resets, seed=args.seed))})
    write_results("wall_contact", rows, {"data": args.data, "world": world.config(), "resets": args.resets})


if __name__ == "__main__":
    main()
