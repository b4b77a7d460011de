"""Mode-2 to Mode-1 distillation (seed paper sec. 3.1.4): the policy learns to do in one forward pass what the
planner found by search, by minimising D(a_plan, A(s, g)) over the planner's recorded decisions.

Policies are saved as `policy.safetensors` + `policy.json` (no pickle), like world-model exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium
import torch
from safetensors.torch import load_file, save_file

from hjepa.agent.agent import Agent
from hjepa.agent.policy import Policy

POLICY_WEIGHTS, POLICY_CONFIG = "policy.safetensors", "policy.json"


def demonstrations(agent: Agent) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The agent's Mode-2 decisions as tensors: states (N, D), subgoals (N, D), actions (N, A)."""
    if not agent.demonstrations:
        raise ValueError("the agent holds no Mode-2 decisions: run it in mode2 first")
    states, subgoals, actions = zip(*agent.demonstrations)
    return torch.stack(states), torch.stack(subgoals), torch.stack(actions).detach()


def distill(agent: Agent, env: gymnasium.Env, steps: int, hidden_dim: int = 256,
            seed: int = 0) -> tuple[Policy, list[float]]:
    """Fit a fresh policy to the agent's recorded Mode-2 decisions; returns it and its training losses."""
    states, subgoals, actions = demonstrations(agent)
    policy = Policy(states.shape[-1], env.action_space.low.tolist(), env.action_space.high.tolist(), hidden_dim)
    losses = policy.fit(states, subgoals, actions, steps, generator=torch.Generator().manual_seed(seed))
    return policy.eval(), losses


def save_policy(policy: Policy, out: str | Path) -> Path:
    """Write `out/policy.safetensors` and `out/policy.json`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"state_dim": policy.state_dim, "hidden_dim": policy.hidden_dim,
                              "num_layers": policy.num_layers,
                              "action_low": (policy.centre - policy.half_range).tolist(),
                              "action_high": (policy.centre + policy.half_range).tolist()}
    save_file({k: v.contiguous() for k, v in policy.state_dict().items()}, out / POLICY_WEIGHTS)
    (out / POLICY_CONFIG).write_text(json.dumps(config, indent=2))
    return out


def load_policy(path: str | Path) -> Policy:
    """A policy saved by `save_policy` (eval mode)."""
    path = Path(path)
    for name in (POLICY_CONFIG, POLICY_WEIGHTS):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name}: missing; is {path} a policy saved by `hjepa distill`?")
    config = json.loads((path / POLICY_CONFIG).read_text())
    policy = Policy(**config)
    policy.load_state_dict(load_file(path / POLICY_WEIGHTS), strict=True)
    return policy.eval()
