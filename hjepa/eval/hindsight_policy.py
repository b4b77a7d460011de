"""Train a Mode-1 policy on recorded episodes by hindsight (`hjepa.agent.hindsight`) and save it where `hjepa probe
plan --policy` and `benchmarks/swm_protocol.py --policy` run it: the flat baseline that acts without foresight.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hjepa.agent.distill import save_policy
from hjepa.agent.hindsight import HindsightExamples, check_reach, episode_actions, fit_hindsight_policy
from hjepa.data.datamodule import resolve_shards
from hjepa.data.dataset import episode_split
from hjepa.data.shards import Episode, read_episodes
from hjepa.data.video import decode_video
from hjepa.eval.cost_map import encode_frames
from hjepa.eval.episodes import action_block, block_action_box, task_env
from hjepa.export import load_world_model
from hjepa.models import WorldModel

SUMMARY = "hindsight.json"


@torch.no_grad()
def encode_episodes(world_model: WorldModel, episodes: Sequence[Episode]) -> Tensor:
    """Every frame of each episode as the encoder's flattened state: (E, T, D); the episodes must be of one length."""
    lengths = {len(episode.states) for episode in episodes}
    if len(lengths) != 1:
        raise ValueError(f"--data: expected episodes of one length, got lengths {sorted(lengths)}")
    frames = (decode_video(episode.video, list(range(len(episode.states)))) for episode in episodes)
    return torch.stack([encode_frames(world_model, clip).flatten(1) for clip in frames])


def train_hindsight_policy(
    model_path: str | Path,
    data: str | Path,
    env_id: str,
    out: str | Path,
    goal_blocks: int = 2,
    steps: int = 3000,
    hidden_dim: int = 512,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit the policy on the training episodes of the shards at `data` (the world model's split: `episode_split`
    with `val_fraction`), encoded by the world model at `model_path`, with goals 1 ... `goal_blocks` of its action
    blocks ahead; save it in `out` with `out/hindsight.json`: the settings and its loss on the held-out episodes
    beside that of the mean recorded action. The policy acts in blocks of the world model's (`action_block`) in the
    action box of `env_id`."""
    for flag, value in (("--goal_blocks", goal_blocks), ("--steps", steps), ("--hidden_dim", hidden_dim)):
        if value < 1:
            raise ValueError(f"{flag}: expected a positive integer, got {value}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"--val_fraction: expected a share of the episodes in (0, 1), got {val_fraction}")
    world_model = load_world_model(model_path)
    env = task_env(env_id, 1, data)
    block = action_block(world_model.predictor.action_dim, env.action_space, str(model_path))
    episodes = [episode for url in resolve_shards(str(data), "--data") for episode in read_episodes(Path(url))]
    parts = {
        split: [e for e in episodes if episode_split(e.meta.get("group", e.key), val_fraction) == split]
        for split in ("train", "val")
    }
    for split, chosen in parts.items():
        if not chosen:
            raise ValueError(
                f"--data: no {split} episode among the {len(episodes)} of {data} with --val_fraction {val_fraction}"
            )
    check_reach(block, goal_blocks, len(episodes[0].states))  # before the frames are encoded
    train, heldout = (
        HindsightExamples(encode_episodes(world_model, chosen), episode_actions(chosen), block, goal_blocks)
        for chosen in parts.values()
    )
    fit = fit_hindsight_policy(
        train, heldout, *block_action_box(env.action_space, block), steps=steps, hidden_dim=hidden_dim, seed=seed
    )
    save_policy(fit.policy, out)
    summary = {
        "model": str(model_path),
        "data": str(data),
        "env": env_id,
        "action_block": block,
        "goal_blocks": goal_blocks,
        "steps": steps,
        "hidden_dim": hidden_dim,
        "seed": seed,
        "train_episodes": len(parts["train"]),
        "heldout_episodes": len(parts["val"]),
        "final_train_loss": round(sum(fit.losses[-100:]) / len(fit.losses[-100:]), 4),
        "heldout_loss": round(fit.heldout_loss, 4),
        "mean_action_loss": round(fit.mean_action_loss, 4),
    }
    (Path(out) / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary
