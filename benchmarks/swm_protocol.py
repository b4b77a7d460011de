"""stable-worldmodel's protocol (`hjepa.eval.swm_protocol`) on TwoRoom or PushT: an hjepa world model planning
with the environment's task (configs/tasks/swm_tworoom.yaml, configs/tasks/swm_pusht.yaml), a random policy and
standing still, on starts and goals drawn from recorded episodes, beside the success rates stable-worldmodel
publishes for DINO-WM, PLDM and LeWM.

`python -m benchmarks.swm_protocol --data data/swm_tworoom [--model runs/swm_tworoom_cpu/checkpoints/last.ckpt]`
writes benchmarks/results/swm_tworoom.json (swm_pusht.json for PushT data: the protocol, the pairs and a row per
actor, published rates included) and swm_tworoom_paths.png (each actor's paths), and prints the table; without --model
only the baselines run. The data are episodes of the protocol's data policy: `hjepa generate --world
hjepa/SwmTwoRoom-v1 --policy expert --frames 101 ...` or `--world hjepa/SwmPushT-v1 --policy explore`. It also records
`--record` episodes like them into a temporary folder and reports the recording rate (env steps/s, rendering and video
encoding included). A model trained on action blocks (`data.frame_stride` k, stable-worldmodel's `action_block`) plans
k environment actions per step and decides from every k-th frame (`hjepa.eval.episodes.blocked_actor`).
`--policy P ...` adds a Mode-1 row per policy folder (`hjepa hindsight`, `hjepa distill`), acting on --model's
representation of what it sees, one decision per action block: the flat baseline without foresight.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, write_results
from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.distill import load_policy
from hjepa.agent.task import TaskSpec
from hjepa.data.generate import GenerateSettings, generate_shards, recorded_settings
from hjepa.eval.episodes import (
    Actor,
    ActorFactory,
    action_block,
    agent_actor,
    agents,
    block_action_box,
    blocked_actor,
    random_actors,
    still_actors,
)
from hjepa.eval.plan_variants import label
from hjepa.eval.swm_protocol import SwmProtocol, protocol_env, recorded_env, run_swm_protocol
from hjepa.export import load_world_model
from hjepa.registration import SWM_PUSHT_ID, SWM_TWOROOM_ID

BENCHMARKS = {SWM_TWOROOM_ID: "swm_tworoom", SWM_PUSHT_ID: "swm_pusht"}
"""Environment -> the name of its results file and of its task under configs/tasks/."""


def recording_rate(data: str, episodes: int) -> dict[str, float]:
    """Record `episodes` more episodes with the settings of the shards at `data` (one process, into a temporary
    folder); their env steps per second and seconds per episode."""
    recorded = GenerateSettings.from_json(recorded_settings(data))
    settings = dataclasses.replace(recorded, episodes=episodes)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        generate_shards(settings, Path(out), progress=False)
        seconds = time.perf_counter() - start
    return {
        "record_episodes": episodes,
        "record_env_steps_per_s": round(episodes * (settings.frames - 1) / seconds, 1),
        "record_s_per_episode": round(seconds / episodes, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="shards of the protocol's data policy (hjepa generate --policy)")
    parser.add_argument("--model", default=None, help="export folder or Lightning .ckpt of the world model")
    parser.add_argument(
        "--policy", nargs="*", default=[], help="Mode-1 policy folders (hjepa hindsight or distill) on --model's states"
    )
    parser.add_argument("--task", default=None, help="task YAML (default: configs/tasks/<the environment's>.yaml)")
    parser.add_argument("--pairs", type=int, default=SwmProtocol.pairs, help="(episode, start) pairs drawn")
    parser.add_argument("--seed", type=int, default=SwmProtocol.seed, help="seed of the draw")
    parser.add_argument("--goal_offset", type=int, default=SwmProtocol.goal_offset, help="steps from start to goal")
    parser.add_argument("--budget", type=int, default=SwmProtocol.budget, help="steps per episode")
    parser.add_argument("--parallel", type=int, default=1, help="episodes run at a time, rollouts priced together")
    parser.add_argument("--name", default=None, help="results file name (default: swm_tworoom or swm_pusht)")
    parser.add_argument("--record", type=int, default=8, help="episodes recorded to time the recording (0: none)")
    args = parser.parse_args()
    if args.policy and args.model is None:
        parser.error("--policy: a policy acts on a world model's states; give its --model")
    if args.record < 0:
        parser.error(f"--record: expected >= 0 episodes, got {args.record}")
    protocol = SwmProtocol(args.pairs, args.seed, args.goal_offset, args.budget)
    env_id = recorded_env(args.data)
    if env_id not in BENCHMARKS:
        raise SystemExit(f"--data: {args.data} was recorded in {env_id}; this benchmark runs {sorted(BENCHMARKS)}")
    task_path = args.task or f"configs/tasks/{BENCHMARKS[env_id]}.yaml"
    name = args.name or BENCHMARKS[env_id]
    actors: dict[str, ActorFactory] = {}
    block: int | None = None
    if args.model is not None:
        task, world_model = TaskSpec.from_yaml(task_path), load_world_model(args.model)
        env = protocol_env(args.data, protocol)
        size = env.observation_space.shape[0]
        if size != world_model.encoder.img_size:
            raise SystemExit(
                f"--model: {args.model} takes {world_model.encoder.img_size}x"
                f"{world_model.encoder.img_size} images but --data was recorded at {size}x{size}"
            )
        block = action_block(world_model.predictor.action_dim, env.action_space, f"--model {args.model}")
        box = block_action_box(env.action_space, block)
        shape = env.action_space.shape

        def in_blocks(agent: Agent) -> Actor:
            return blocked_actor(agent_actor(agent), block, shape)

        configurator = Configurator(task, world_model.encoder.embed_dim, *box)
        actors[label(task)] = agents(lambda seed: Agent(world_model, configurator, seed=seed), in_blocks)
        if args.policy:
            mode1 = Configurator(task.replace(mode="mode1"), world_model.encoder.embed_dim, *box)
        for folder in args.policy:
            policy = load_policy(folder)
            actors[f"mode1 {folder}"] = agents(
                lambda seed, policy=policy: Agent(world_model, mode1, policy=policy, seed=seed), in_blocks
            )
    actors["random"] = random_actors
    actors["still"] = still_actors
    RESULTS.mkdir(parents=True, exist_ok=True)
    figure = RESULTS / f"{name}_paths.png"
    result = run_swm_protocol(args.data, actors, protocol, parallel=args.parallel, figure=figure, progress=True)
    rows = [
        {
            "actor": name,
            "success": row["success"],
            "success_ci": row["success_ci"],
            "steps": row["steps"],
            "ms_per_step": row["ms_per_step"],
            "s_per_episode": round(row["ms_per_episode"] / 1e3, 2),
            **{key: value for key, value in row.items() if key.startswith("within_")},
            "source": "hjepa",
        }
        for name, row in result["table"].items()
    ]
    rows += [{"actor": name, "success": rate, "source": "published"} for name, rate in result["published"].items()]
    write_results(
        name,
        rows,
        {
            "model": args.model,
            "task": task_path if args.model else None,
            "action_block": block,
            "protocol": result["protocol"],
            "pairs": result["pairs"],
            "episodes": result["episodes"],
            "parallel": args.parallel,
            "figure": figure.name,
            **(recording_rate(args.data, args.record) if args.record else {}),
        },
    )


if __name__ == "__main__":
    main()
