"""Does the world model stop the agent at walls and let it through doors? (seed paper sec. 4.4: the predictor
predicts the consequences of actions; a planner whose model walks through walls plans into them.)

Agents placed just before an interior vertical wall of a rooms world are pushed straight at it for a few steps.
Where the wall stops an agent, the predicted state should lie nearer, in the representation, to the encoding of
the stopped agent than to that of the agent beyond the wall, where it would be without the wall; where a door lets
it through, nearer to the agent beyond than to the stopped one. A model that knows the walls scores 1 on both, one
that ignores them 0 on the first; ground truth only sorts and scores the pushes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hjepa.envs.rooms import RoomsWorld
from hjepa.eval.cost_map import encode_frames
from hjepa.models import WorldModel


@dataclass(frozen=True)
class WallContact:
    """Fractions of pushes the model predicts right: `stops` where the wall stopped the agent (of `blocked`
    pushes), `passes` where a door let it through (of `passed` pushes)."""

    stops: float
    passes: float
    blocked: int
    passed: int


@torch.no_grad()
def wall_contact(
    world_model: WorldModel, world: RoomsWorld, resets: int = 50, agents: int = 16, steps: int = 6, seed: int = 0
) -> WallContact:
    """Push `agents` agents at a random interior vertical wall after each of `resets` resets (a random-door world
    draws its door at each) for `steps` steps of the largest action; score the model's predictions of them."""
    lines = np.arange(1, world.layout.cols) / world.layout.cols
    if not len(lines):
        raise ValueError(f"{world.name}: no interior vertical wall to push the agent at")
    rng = np.random.default_rng(seed)
    push = np.array([world.max_step, 0.0])
    right: dict[bool, list[bool]] = {True: [], False: []}
    nudge = np.array([0.0, 1.0 / world.image_size])  # one pixel along the wall
    for _ in range(resets):
        line = lines[rng.integers(len(lines))]
        start = np.stack([np.full(agents, line - world.clearance - world.max_step), rng.uniform(0, 1, agents)], 1)
        start = start[world.is_free(start) & world.is_free(start + nudge) & world.is_free(start - nudge)]
        n = len(start)
        world.reset(3 * n, rng, start=np.concatenate([start, start + nudge, start - nudge]))  # draws a random door
        for _ in range(steps):
            world.step(np.tile(push, (3 * n, 1)))
        passed = (world.state[:, 0] > line).reshape(3, n)  # each push and its two nudged twins
        through, end = passed[0], world.state[:n]
        at_wall = np.stack([np.full(n, line - world.clearance), start[:, 1]], 1)
        beyond = start + steps * push  # where the agent would be, were the wall not there
        other = np.where(through[:, None], at_wall, beyond)
        # clear-cut pushes only: straight to the wall or through, the same a pixel either side (not at a door's
        # jamb), against a counterfactual where the agent can stand
        stopped = np.isclose(end[:, 0], at_wall[:, 0])
        clean = world.is_free(other) & (through | stopped) & (passed == through).all(0)
        if not clean.any():
            continue
        actions = torch.from_numpy(np.tile(push, (int(clean.sum()), steps, 1))).float()
        first = world.render_states(start[clean].astype(np.float32))  # as reset placed them (float32 states)
        predicted = world_model.unroll(encode_frames(world_model, first), actions)[:, -1]
        to_truth = (predicted - encode_frames(world_model, world.render_states(end[clean]))).norm(dim=-1)
        to_other = (predicted - encode_frames(world_model, world.render_states(other[clean]))).norm(dim=-1)
        for went_through, ok in zip(through[clean], (to_truth < to_other).tolist()):
            right[bool(went_through)].append(ok)
    return WallContact(
        stops=float(np.mean(right[False])) if right[False] else float("nan"),
        passes=float(np.mean(right[True])) if right[True] else float("nan"),
        blocked=len(right[False]),
        passed=len(right[True]),
    )
