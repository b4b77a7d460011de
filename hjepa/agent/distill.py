"""Mode-2 to Mode-1 distillation (seed paper sec. 3.1.4): the policy learns to do in one forward pass what the
planner found by search, by minimising D(a_plan, A(s, g)) over the planner's recorded decisions.

Policies are saved as `policy.safetensors` + `policy.json` (no pickle), like world-model exports.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import gymnasium
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hjepa.agent.agent import Agent
from hjepa.agent.policy import Policy
from hjepa.fields import check_field_types

POLICY_WEIGHTS, POLICY_CONFIG = "policy.safetensors", "policy.json"


def demonstrations(*agents: Agent, hindsight: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The agents' Mode-2 decisions as tensors: states (N, D), subgoals (N, D), actions (N, A).

    With `hindsight` = K > 0, each episode also teaches how to reach the states it went on to visit: every
    (s_t, a_t) is paired with each state s_{t+k}, 1 <= k <= K, of its episode as a goal (hindsight relabelling),
    since a_t was a step on a way there. Bounding k keeps a long episode that wandered (one that never arrived
    makes T^2 / 2 pairs) from outweighing the short ones that went straight to their goal.
    """
    if isinstance(hindsight, bool) or not isinstance(hindsight, int) or hindsight < 0:
        raise ValueError(f"hindsight: expected a number of steps ahead >= 0 (0: none), got {hindsight!r}")
    episodes: dict[tuple[int, int], list] = {}
    for i, agent in enumerate(agents):
        for decision in agent.demonstrations:
            episodes.setdefault((i, decision.episode), []).append(decision)
    if not episodes:
        raise ValueError("the agents hold no Mode-2 decisions: run them in mode2 first")
    parts = []
    for decisions in episodes.values():
        states, subgoals, actions = (torch.stack(column) for column in list(zip(*decisions))[1:])
        parts.append((states, subgoals, actions))
        for k in range(1, min(hindsight + 1, len(states))):
            parts.append((states[:-k], states[k:], actions[:-k]))
    states, subgoals, actions = (torch.cat(column) for column in zip(*parts))
    return states, subgoals, actions.detach()


def distill(
    examples: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    env: gymnasium.Env,
    steps: int,
    hidden_dim: int = 256,
    seed: int = 0,
    weights: torch.Tensor | None = None,
) -> tuple[Policy, list[float]]:
    """Fit a fresh policy to examples (states (N, D), goals (N, D), actions (N, A)), e.g. `demonstrations`, drawn
    in proportion to `weights` (N,) (None: uniformly); returns it and its training losses."""
    states, subgoals, actions = examples
    with torch.random.fork_rng():  # the same seed and decisions give the same policy
        torch.manual_seed(seed)
        policy = Policy(states.shape[-1], env.action_space.low.tolist(), env.action_space.high.tolist(), hidden_dim)
    generator = torch.Generator().manual_seed(seed)
    losses = policy.fit(states, subgoals, actions, steps, generator=generator, weights=weights)
    return policy.eval(), losses


def save_policy(policy: Policy, out: str | Path) -> Path:
    """Write `out/policy.safetensors` and `out/policy.json`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "state_dim": policy.state_dim,
        "hidden_dim": policy.hidden_dim,
        "num_layers": policy.num_layers,
        "action_low": (policy.centre - policy.half_range).tolist(),
        "action_high": (policy.centre + policy.half_range).tolist(),
    }
    save_file({k: v.contiguous() for k, v in policy.state_dict().items()}, out / POLICY_WEIGHTS)
    (out / POLICY_CONFIG).write_text(json.dumps(config, indent=2))
    return out


def load_policy(path: str | Path) -> Policy:
    """A policy saved by `save_policy` (eval mode)."""
    path = Path(path)
    for name in (POLICY_CONFIG, POLICY_WEIGHTS):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name}: missing; is {path} a policy saved by `hjepa distill`?")
    config_path, weights_path = path / POLICY_CONFIG, path / POLICY_WEIGHTS
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path}: not JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: expected an object of Policy fields, got {type(config).__name__}")
    check_field_types(config, Policy, f"{config_path}: ")
    try:
        policy = Policy(**config)
    except (TypeError, RuntimeError) as error:  # a field the policy does not have, a missing or impossible one
        fields = list(inspect.signature(Policy).parameters)
        raise ValueError(f"{config_path}: {error}; expected the fields {fields}") from error
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights_path}: not a safetensors file: {error}") from error
    try:
        policy.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ValueError(f"{weights_path}: weights do not match {config_path}: {error}") from error
    return policy.eval()
