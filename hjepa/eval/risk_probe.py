"""Risk probe (seed paper sec. 4.8): planning on the expected cost vs on mean + risk * std over sampled futures.

On the `Crossing` world a block drops onto the straight route with probability 1/2 once the agent is too
close to swerve. A tiny JEPA with a discrete latent (K = 2) learns both futures; a CEM planner prices each
plan under both codes (`SampledLatents`, `RiskCost`) with a cost read from the predicted states by a linear
probe: squared distance to the finish, lateral offset weighted by `lateral_weight`, summed over the horizon.
Planning on the mean (risk 0) keeps the straight route, whose expected cost is lower, and crashes whenever
the block drops; planning on mean + risk * std (risk > 0) swerves before the trigger in most episodes (at the
tiny scale of the default run: 7.5% crashes at risk 2 against 50% at risk 0, 40 episodes each).

Figures per risk setting (`risk.json`): collision rate, success rate (crossed the finish line), final lateral
offset from the finish's centre, mean cost spread (std over the codes) of the chosen plans, ms per step.
The world, the model and the planner are the experiment `configs/probes/risk.yaml`.
Run: `python -m hjepa.eval.risk_probe --out runs/risk`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hjepa.agent.cost import GoalDistanceCost, IntrinsicCost
from hjepa.agent.planners import build_planner, check_planner_fields, shift_plan
from hjepa.agent.uncertainty import RiskCost, SampledLatents, cost_spread
from hjepa.data.pixels import images_to_frames
from hjepa.envs import Crossing
from hjepa.eval.experiment import PROBES, check_options, read_experiment
from hjepa.eval.fork_probe import train_model
from hjepa.eval.report import print_results
from hjepa.models import WorldModel
from hjepa.readout.linear_probe import fit_probe
from hjepa.threads import one_torch_thread
from hjepa.train.module import JEPAModule

EXPERIMENT = PROBES / "risk.yaml"


@dataclass(frozen=True)
class RiskExperiment:
    """What the risk probe trains and plans with (configs/probes/risk.yaml).

    Attributes:
        world: options of the `Crossing` world.
        model: `JEPAModule` fields of the tiny JEPA, its `latent` the futures the planner prices.
        planner: `name` and fields of the planner (`build_planner`).
    """

    world: dict[str, Any]
    model: dict[str, Any]
    planner: dict[str, Any]

    def __post_init__(self) -> None:
        check_options(self.world, Crossing, "world")
        check_options(self.model, JEPAModule, "model")
        if not isinstance(self.planner, dict):
            raise ValueError(f"planner: expected a mapping of fields, got {type(self.planner).__name__}")
        check_planner_fields(self.planner.get("name"), {k: v for k, v in self.planner.items() if k != "name"})


def crossing_clips(episodes: int, frames: int, seed: int, world_options: dict[str, Any]) -> dict[str, Tensor]:
    """Windows of `frames` frames, starting every 2 steps, of exploration episodes in the world `world_options`:
    frames (N, T, 3, H, W), actions (N, T-1, 1), states (N, T, 3); windows start before and after the trigger
    alike."""
    world = Crossing(**world_options)
    rng = np.random.default_rng(seed)
    world.reset(episodes, rng)
    images, states, actions = [world.render()], [world.state.copy()], []
    length = int(np.ceil((world.finish_x - world.start_x) / world.speed - 1e-6))
    for _ in range(length):
        actions.append(world.exploration_actions(rng))
        states.append(world.step(actions[-1]))
        images.append(world.render())
    video, state, action = np.stack(images, 1), np.stack(states, 1), np.stack(actions, 1)
    starts = range(0, length + 2 - frames, 2)
    return {
        "frames": torch.cat([images_to_frames(video[:, s : s + frames]) for s in starts]),
        "actions": torch.from_numpy(np.concatenate([action[:, s : s + frames - 1] for s in starts])),
        "states": torch.from_numpy(np.concatenate([state[:, s : s + frames] for s in starts])),
    }


def crossing_cost(
    world_model: WorldModel, clips: dict[str, Tensor], world: Crossing, lateral_weight: float
) -> IntrinsicCost:
    """Sum over the horizon of the squared distance to the finish (finish_x, 0.5), read from predicted states
    by a linear probe onto (x, y), the lateral term weighted by `lateral_weight`. The goal is the encoded frame
    of the agent at the finish, as an agent given a goal image would hold it."""
    with torch.no_grad():
        head = fit_probe(world_model.encode(clips["frames"]), clips["states"])
        goal = world.render_states(np.array([[world.finish_x, 0.5, 0.0]]))
        goal_state = world_model.encode(images_to_frames(goal)[None])[0, 0]
    scale = torch.tensor([1.0, lateral_weight**0.5], dtype=head.weight.dtype)
    projection = (head.weight[:, :2] * scale).float()  # (D, 2): probe onto (x, sqrt(w) y)
    return IntrinsicCost({"goal": GoalDistanceCost(goal_state, projection)})


def run_episodes(
    world_model: WorldModel,
    cost: IntrinsicCost,
    risk: float,
    episodes: int,
    seed: int,
    samples: int,
    planner: dict[str, Any],
    world_options: dict[str, Any],
) -> dict[str, float]:
    """Model-predictive control on `episodes` episodes of the Crossing world `world_options` (seeded alike for
    every risk): the first action of each plan over the latents, replanned every step from the encoded frame, plan
    warm-started."""
    world = Crossing(**world_options)
    world.reset(episodes, np.random.default_rng(seed))
    fields = {k: v for k, v in planner.items() if k != "name"}
    search = build_planner(planner["name"], action_low=-world.max_action, action_high=world.max_action, **fields)
    futures = SampledLatents(world_model, samples, generator=seed)
    risk_cost = RiskCost(cost, risk)
    plans = torch.zeros(episodes, search.horizon, 1)
    spreads: list[float] = []
    ms: list[float] = []
    generator = torch.Generator().manual_seed(seed)
    while not world.finished.all():
        with torch.no_grad():
            states = world_model.encode(images_to_frames(world.render())[:, None])[:, 0]
        actions = np.zeros((episodes, 1), dtype=np.float32)
        for i in np.flatnonzero(~world.finished):
            futures.resample()  # the same futures for every candidate of this plan
            plan = search.plan(states[i], risk_cost, futures, init=plans[i], generator=generator)
            ms.append(plan.info["wall_ms"])
            with torch.no_grad():
                chosen = plan.actions[None]
                spreads.append(float(cost_spread(cost, futures.unroll(states[i][None], chosen), chosen)[0]))
            actions[i] = plan.actions[0].numpy()
            plans[i] = shift_plan(plan.actions)
        world.step(actions)
    crashed = world.crashed
    return {
        "risk": risk,
        "collision": round(float(crashed.mean()), 4),
        "success": round(float(1 - crashed.mean()), 4),
        "offset": round(float(np.abs(world.state[~crashed, 1] - 0.5).mean()) if (~crashed).any() else 0.0, 3),
        "collision_when_block_drops": round(float(crashed[world.labels()["drops"]].mean()), 4),
        "spread": round(float(np.mean(spreads)), 4),
        "ms_per_step": round(float(np.mean(ms)), 2),
    }


def run_risk_probe(
    out_dir: str | Path,
    episodes: int = 512,
    steps: int = 600,
    batch_size: int = 32,
    plan_episodes: int = 40,
    risks: Sequence[float] = (0.0, 2.0),
    samples: int = 2,
    lateral_weight: float = 2.0,
    seed: int = 0,
    experiment: str | Path = EXPERIMENT,
) -> dict[str, Any]:
    """Train the tiny world model of the experiment at `experiment`, then run `plan_episodes` episodes per risk
    setting with its planner; returns the figures (also written to `out_dir/risk.json`)."""
    start = time.perf_counter()
    settings = read_experiment(experiment, RiskExperiment)
    with one_torch_thread():
        clips = crossing_clips(episodes, 9, seed, settings.world)
        model = train_model(clips, settings.model["latent"], steps, batch_size, seed, settings.model)
        world_model = model.world_model
        cost = crossing_cost(world_model, clips, Crossing(**settings.world), lateral_weight)
        rows = [
            run_episodes(world_model, cost, risk, plan_episodes, seed + 1, samples, settings.planner, settings.world)
            for risk in risks
        ]
    results = {
        "risk_table": rows,
        "risk_train_steps": steps,
        "risk_plan_episodes": plan_episodes,
        "risk_seconds": round(time.perf_counter() - start, 1),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "risk.json").write_text(json.dumps(results, indent=2))
    return results


def print_table(rows: Sequence[dict[str, float]]) -> None:
    """One row per risk aversion: collision and success rates, lateral offset, cost spread, ms per step."""
    print_results(
        rows,
        {
            "risk": "risk",
            "collision": "collision",
            "success": "success",
            "offset": "offset",
            "spread": "spread",
            "ms/step": "ms_per_step",
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/risk")
    parser.add_argument("--steps", type=int, default=600, help="world-model training steps")
    parser.add_argument("--episodes", type=int, default=40, help="planning episodes per risk setting")
    parser.add_argument("--risk", type=float, default=2.0, help="risk aversion of the risk-aware planner")
    parser.add_argument("--experiment", default=EXPERIMENT, help="the probe's YAML (world, model, planner)")
    args = parser.parse_args()
    results = run_risk_probe(
        args.out, steps=args.steps, plan_episodes=args.episodes, risks=(0.0, args.risk), experiment=args.experiment
    )
    print_table(results["risk_table"])


if __name__ == "__main__":
    main()
