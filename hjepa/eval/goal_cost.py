"""Does the goal cost see success? The cost a Mode-2 planner minimises (seed paper sec. 3.2), priced on PushT states
placed around a goal, against stable-worldmodel's success rule.

A planner can only bring the world within the success tolerances of a goal if its cost is lower there than
outside: the distance of a state's representation to the goal image's must tell a state that succeeds from one that
fails, even with perfect foresight. Around each goal state, states are placed in the environment at rest and
rendered: the agent and the block moved and the block turned by offsets measured in the tolerances (20 px for the
four positions together, pi/9 for the angle), so that an offset inside the unit ball succeeds. Each encoder prices
them by its squared representation distance to the goal's frame (a flat baseline: the pixels themselves).
Ground truth places the states and scores them; it never enters a cost.
- `separation`: per goal, the ROC AUC of the cost for failing against succeeding states (1: every success costs
  less than every failure; 0.5: the cost is blind to success), averaged over the goals.
- `cheapest_succeeds`: the share of goals whose cheapest state succeeds (a blind cost: about the share that
  succeed, `success_share`).
- `factor_cost`: the cost of moving the agent alone, the block alone, or turning the block alone by k tolerances,
  over the median cost of the random states around that goal: which part of the goal the cost weighs.
- `separation_recorded`, `cheapest_succeeds_recorded`: the same against the goal's recorded frame, the image the
  protocol shows the agent (decoded from the shards), rather than the goal state rendered live.
- `foresight_share`: with a model's own foresight instead of perfect foresight, the share of the random states
  that cost less than its prediction of the recorded actions that did reach the goal, from the pair's start (a blind
  cost: 0.5; the search prefers every cheaper state to the goal it was asked for).
- `recorded_gap`: the cost of the goal's recorded frame (what the protocol shows the agent, decoded from the shards)
  against the same state rendered live (what the agent sees when it gets there), over the same median. Above about
  0.1, the cost is mostly made of how the frames were stored, not of where things are: a model trained on lossy
  video prices the codec's traces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional.classification import binary_auroc

from hjepa.data.clips import clip_actions
from hjepa.data.shards import Episode
from hjepa.data.video import decode_video
from hjepa.envs.swm import PUSHT_ANGLE, PUSHT_PIXELS, SwmPushTEnv
from hjepa.eval.cost_map import encode_frames
from hjepa.models import WorldModel

TOLERANCE = np.array([PUSHT_PIXELS] * 4 + [PUSHT_ANGLE])
"""One unit of an offset per coordinate (agent x, y, block x, y in pixels of the arena, block angle in radians)."""

FACTORS = {"agent": (0, 1), "block": (2, 3), "angle": (4,)}
"""The coordinates of an offset (5,) that each factor moves alone."""

PLACED_SLACK = 0.5
"""Pixels (and hundredths of a radian) the physics may move a placed state in its one settling step: more means the
agent overlapped the block or a wall, a state the world never shows, and it is not priced."""

Encoder = Callable[[np.ndarray], Tensor]
"""Frames (N, H, W, 3) uint8 -> representations (N, ...)."""


class Placed(NamedTuple):
    """States placed around one goal: their frames, where the physics left them, and their offsets."""

    frames: np.ndarray  # (N, H, W, 3) uint8
    states: np.ndarray  # (N, 7)
    offsets: np.ndarray  # (N, 5), in tolerances


def offset_state(goal: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The goal state (7,) moved by `offset` (5,) tolerances, at rest (velocity zero)."""
    state = np.asarray(goal, np.float64).copy()
    state[:5] += np.asarray(offset) * TOLERANCE
    state[5:] = 0.0
    return state


def place(env: SwmPushTEnv, state: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The frame (H, W, 3) of the arena set to `state` and the state the physics left, or None where its settling
    step moved it by more than `PLACED_SLACK` (the agent overlapped the block or a wall)."""
    frame, info = env.reset(options={"start": state, "goal": state})
    placed = np.asarray(info["state"], np.float64)
    turn = abs(placed[4] - state[4]) % (2 * np.pi)
    moved = max(np.abs(placed[:4] - state[:4]).max(), 100 * min(turn, 2 * np.pi - turn))
    return None if moved > PLACED_SLACK else (frame, placed)


def random_offsets(count: int, reach: float, rng: np.random.Generator) -> np.ndarray:
    """`count` offsets (count, 5): the four positions along a uniform direction, at a distance uniform in [0, reach]
    tolerances; the angle uniform in [-reach, reach] tolerances."""
    direction = rng.normal(size=(count, 4))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    positions = direction * rng.uniform(0, reach, (count, 1))
    return np.concatenate([positions, rng.uniform(-reach, reach, (count, 1))], axis=1)


def factor_offsets(factor: str, scales: Sequence[float], directions: int, rng: np.random.Generator) -> np.ndarray:
    """Offsets (len(scales) * directions, 5) that move only `factor` (`FACTORS`), by each scale in tolerances, along
    `directions` random directions (a random sign for the angle)."""
    coords = FACTORS[factor]
    offsets = np.zeros((len(scales), directions, 5))
    direction = rng.normal(size=(directions, len(coords)))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    offsets[:, :, coords] = np.asarray(scales)[:, None, None] * direction
    return offsets.reshape(-1, 5)


def place_around(env: SwmPushTEnv, goal: np.ndarray, offsets: np.ndarray) -> Placed:
    """The states `offsets` around `goal` that can be placed (`place`), in order."""
    kept = [(placed, offset) for offset in offsets if (placed := place(env, offset_state(goal, offset))) is not None]
    if not kept:
        return Placed(np.zeros((0, *env.observation_space.shape), np.uint8), np.zeros((0, 7)), np.zeros((0, 5)))
    return Placed(
        np.stack([frame for (frame, _), _ in kept]),
        np.stack([state for (_, state), _ in kept]),
        np.stack([offset for _, offset in kept]),
    )


def represent(encode: Encoder, frames: np.ndarray) -> Tensor:
    """Each frame's representation as one vector (N, D), in float64."""
    return encode(frames).flatten(1).double()


def goal_costs(goal: Tensor, reprs: Tensor) -> Tensor:
    """Squared distance (N,) of each representation (N, D) to the goal's (D,): the planner's goal cost."""
    return (reprs - goal).pow(2).sum(-1)


@torch.no_grad()
def recorded_foresight(model: WorldModel, episode: Episode, start: int, goal_offset: int, block: int) -> Tensor | None:
    """The model's prediction of the frame `goal_offset` steps after `start`, rolled out with the recorded actions in
    blocks of `block` environment actions from its context of `history` frames `block` steps apart; None where the
    episode has too few frames before `start` for that context, or the goal is not a whole number of blocks away."""
    first = start - block * (model.history - 1)
    if first < 0 or goal_offset % block:
        return None
    frames = model.history + goal_offset // block
    context = encode_frames(model, decode_video(episode.video, [first + block * i for i in range(model.history)]))
    actions = torch.from_numpy(clip_actions(episode.actions, first, frames, block).astype(np.float32))
    return model.unroll(context[None], actions[None])[0, -1]


def pixel_encoder(frames: np.ndarray) -> Tensor:
    """The frames themselves as representations, in [0, 1]: a cost that learned nothing."""
    return torch.from_numpy(frames).double() / 255


def separation(costs: Tensor, success: Tensor) -> float:
    """ROC AUC of `costs` (N,) as a score for `success` (N,) bool, lower cost meaning success (ties count half);
    NaN where all states succeed or all fail."""
    if success.all() or not success.any():
        return float("nan")
    low, high = costs.min(), costs.max()
    if high == low:
        return 0.5
    # scores in [0, 1]: torchmetrics reads anything else as logits, and a sigmoid of large costs would tie them at 0
    return float(binary_auroc((high - costs) / (high - low), success.long()))


class GoalCostReport(NamedTuple):
    """Per encoder, how its goal cost separates success from failure around the goals (see the module's doc)."""

    separation: dict[str, float]  # mean per-goal ROC AUC
    cheapest_succeeds: dict[str, float]  # share of goals whose cheapest random state succeeds
    separation_recorded: dict[str, float]  # the same two, priced against the recorded goal frame
    cheapest_succeeds_recorded: dict[str, float]
    success_share: float  # share of the random states that succeed: `cheapest_succeeds` of a blind cost
    factor_cost: dict[str, dict[str, list[float]]]  # encoder -> factor -> cost per scale, over the median cost
    recorded_gap: dict[str, float]  # median cost of the recorded goal frame, over the median cost
    foresight_share: dict[str, float]  # encoders with foresight: random states cheaper than its foresight
    goals: int  # goals priced (both outcomes among their random states)


def goal_cost_report(
    env: SwmPushTEnv,
    goals: Sequence[np.ndarray],
    recorded: Sequence[np.ndarray],
    encoders: dict[str, Encoder],
    samples: int = 96,
    reach: float = 3.0,
    scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    directions: int = 4,
    seed: int = 0,
    foresight: dict[str, Sequence[Tensor | None]] | None = None,
) -> GoalCostReport:
    """Price `samples` random states within `reach` tolerances of each goal state (7,), each factor moved alone by
    `scales` tolerances along `directions` directions, and the goal's `recorded` frame (H, W, 3), with each encoder's
    goal cost against the goal's frame rendered live. `foresight` (encoder -> a representation per goal, or None
    where there is none) prices an encoder's predictions of the goals the same way."""
    foresight = foresight or {}
    rng = np.random.default_rng(seed)
    auc: dict[str, dict[str, list[float]]] = {name: {"live": [], "recorded": []} for name in encoders}
    cheapest: dict[str, dict[str, list[bool]]] = {name: {"live": [], "recorded": []} for name in encoders}
    factor: dict[str, dict[str, list[np.ndarray]]] = {name: {f: [] for f in FACTORS} for name in encoders}
    gap: dict[str, list[float]] = {name: [] for name in encoders}
    foreseen: dict[str, list[float]] = {name: [] for name in foresight}
    shares = []
    for index, (goal, recorded_frame) in enumerate(zip(goals, recorded, strict=True)):
        at_goal = place(env, offset_state(goal, np.zeros(5)))
        if at_goal is None:
            continue
        goal_frame, goal_state = at_goal
        around = place_around(env, goal, random_offsets(samples, reach, rng))
        success = torch.tensor([SwmPushTEnv.within(goal_state, state) for state in around.states])
        if success.all() or not success.any():
            continue
        shares.append(float(success.double().mean()))
        moved = {f: place_around(env, goal, factor_offsets(f, scales, directions, rng)) for f in FACTORS}
        for name, encode in encoders.items():
            live, stored = represent(encode, np.stack([goal_frame, recorded_frame]))
            reprs = represent(encode, around.frames)
            for shown, goal_repr in (("recorded", stored), ("live", live)):  # `costs`: the live goal's
                costs = goal_costs(goal_repr, reprs)
                auc[name][shown].append(separation(costs, success))
                cheapest[name][shown].append(bool(success[costs.argmin()]))
            median = float(costs.median()) or float("nan")  # a blind cost: no scale to measure by
            gap[name].append(float(goal_costs(live, stored)) / median)
            predicted = foresight[name][index] if name in foresight else None
            if predicted is not None:
                foreseen[name].append(float((costs < goal_costs(live, predicted.flatten().double())).double().mean()))
            for f, placed in moved.items():
                cost = np.zeros(0)  # none of this factor's states placed: NaN at every scale below
                if len(placed.frames):
                    cost = goal_costs(live, represent(encode, placed.frames)).numpy() / median
                size = np.linalg.norm(placed.offsets[:, list(FACTORS[f])], axis=1)
                at = [np.isclose(size, k) for k in scales]
                factor[name][f].append(np.array([cost[a].mean() if a.any() else np.nan for a in at]))
    if not shares:
        raise ValueError("goals: no goal had both succeeding and failing states around it; raise reach")

    def mean(values: dict[str, dict[str, list]], shown: str) -> dict[str, float]:
        return {name: round(float(np.mean(v[shown])), 4) for name, v in values.items()}

    return GoalCostReport(
        mean(auc, "live"),
        mean(cheapest, "live"),
        mean(auc, "recorded"),
        mean(cheapest, "recorded"),
        round(float(np.mean(shares)), 4),
        {
            name: {
                f: [round(float(x), 4) for x in np.ma.masked_invalid(v).mean(0).filled(np.nan)] for f, v in per.items()
            }
            for name, per in factor.items()
        },
        {name: round(float(np.median(v)), 4) for name, v in gap.items()},
        {name: round(float(np.mean(v)), 4) for name, v in foreseen.items() if v},
        len(shares),
    )
