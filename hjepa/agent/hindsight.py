"""A Mode-1 policy learned from recorded episodes by hindsight (seed paper sec. 3.1.4; goal-conditioned imitation):
every recorded action is a step towards each state its episode reached soon after, so A(s_t, s_{t+jk}) is
regressed onto the k actions taken from t, for goals 1 <= j <= `goal_blocks` blocks of k steps ahead.

States and goals are the frozen encoder's representations of the recorded frames: no ground-truth state and no
planner enters. It is the flat baseline a world-model planner has to beat (one network call per decision, no
foresight), and short goals teach it best: an action explains the next few steps far better than a distant goal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from hjepa.agent.policy import Policy
from hjepa.data.shards import Episode


def check_reach(block: int, goal_blocks: int, frames: int) -> None:
    """ValueError naming the field unless goals up to `goal_blocks` blocks of `block` steps lie within episodes of
    `frames` frames (known before any frame is encoded)."""
    for name, value in (("block", block), ("goal_blocks", goal_blocks)):
        if value < 1:
            raise ValueError(f"{name}: expected >= 1, got {value}")
    if block * goal_blocks >= frames:
        raise ValueError(f"goal_blocks: {goal_blocks} blocks of {block} steps reach past episodes of {frames} frames")


class HindsightExamples(NamedTuple):
    """Recorded states (E, T, D) and actions (E, T - 1, A), cut into (state, goal, action block) examples."""

    states: Tensor
    actions: Tensor
    block: int  # environment actions per policy action (the world model's action block)
    goal_blocks: int  # goals 1 ... goal_blocks blocks ahead

    def check(self) -> HindsightExamples:
        """Self, or ValueError naming the field that cannot make an example."""
        episodes, frames = self.states.shape[:2]
        if self.actions.shape[:2] != (episodes, frames - 1):
            raise ValueError(
                f"actions: expected ({episodes}, {frames - 1}, A) for states {tuple(self.states.shape)}, got "
                f"{tuple(self.actions.shape)}"
            )
        check_reach(self.block, self.goal_blocks, frames)
        return self

    def example(self, episode: Tensor, start: Tensor, blocks: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The examples at (episode, start, goal `blocks` ahead), each (N,): states (N, D), goals (N, D) and the
        block of actions taken from each start, concatenated (N, block x A)."""
        steps = start[:, None] + torch.arange(self.block)  # (N, block)
        taken = self.actions[episode[:, None], steps].flatten(1)
        return self.states[episode, start], self.states[episode, start + self.block * blocks], taken

    def sample(self, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """`count` examples drawn uniformly: an episode, a goal 1 ... goal_blocks blocks ahead, then a start from
        which that goal lies within the episode."""
        episodes, frames = self.states.shape[:2]
        episode = torch.randint(episodes, (count,), generator=generator)
        blocks = torch.randint(1, self.goal_blocks + 1, (count,), generator=generator)
        start = (torch.rand(count, generator=generator) * (frames - self.block * blocks)).long()
        return self.example(episode, start, blocks)

    def batches(self, size: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Batches of `size` examples, forever."""
        while True:
            yield self.sample(size, generator)


class HindsightFit(NamedTuple):
    """A fitted hindsight policy and how well it reads the recorded actions."""

    policy: Policy
    losses: list[float]  # training loss per step
    heldout_loss: float  # the same loss on held-out episodes
    mean_action_loss: float  # on those episodes, of the mean recorded action: what a policy that reads nothing gets


def fit_hindsight_policy(
    train: HindsightExamples,
    heldout: HindsightExamples,
    action_low: Sequence[float],
    action_high: Sequence[float],
    steps: int = 3000,
    hidden_dim: int = 512,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    heldout_examples: int = 4096,
) -> HindsightFit:
    """Fit a fresh policy to `train`'s examples and measure it on `heldout_examples` drawn from `heldout`."""
    train, heldout = train.check(), heldout.check()
    with torch.random.fork_rng():  # the same seed and episodes give the same policy
        torch.manual_seed(seed)
        policy = Policy(train.states.shape[-1], action_low, action_high, hidden_dim)
    if policy.centre.numel() != train.actions.shape[-1] * train.block:
        raise ValueError(
            f"action_low: {policy.centre.numel()} numbers, but a block of {train.block} recorded actions has "
            f"{train.actions.shape[-1] * train.block}"
        )
    losses = policy.fit_batches(train.batches(batch_size, torch.Generator().manual_seed(seed)), steps, lr, anneal=True)
    states, goals, actions = heldout.sample(heldout_examples, torch.Generator().manual_seed(seed + 1))
    mean_action = train.actions.flatten(0, 1).mean(0).repeat(train.block)
    with torch.no_grad():
        heldout_loss = float(((policy(states, goals) - actions) / policy.half_range).pow(2).sum(-1).mean())
        mean_loss = float(((mean_action - actions) / policy.half_range).pow(2).sum(-1).mean())
    return HindsightFit(policy.eval(), losses, heldout_loss, mean_loss)


def episode_actions(episodes: Sequence[Episode]) -> Tensor:
    """The recorded actions of each episode: (E, T - 1, A) float32."""
    return torch.from_numpy(np.stack([episode.actions for episode in episodes]).astype(np.float32))
