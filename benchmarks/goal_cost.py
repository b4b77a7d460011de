"""Does each model's goal cost see PushT's success, with perfect foresight (`hjepa.eval.goal_cost`)? Around the goal
states of stable-worldmodel's protocol pairs, states are placed and rendered, priced by each model's representation
distance to the goal frame and by the pixels' (a cost that learned nothing), and scored by the environment's rule.

A table row per encoder: `separation` (mean per-goal ROC AUC of the cost for success; 0.5 blind, 1 perfect),
`cheapest_succeeds` (share of goals whose cheapest random state succeeds; a blind cost scores `success_share`), and
the cost of moving the agent alone, the block alone and turning the block alone by one tolerance, over the median
cost of the random states: how much of the success rule the cost weighs; `recorded_gap`, the cost of the goal's
recorded frame (decoded from the shards, as the protocol shows it) against the same state rendered live, over that
median: how much of the cost the storage of the frames makes; `foresight_share`, a model's own foresight in place of
perfect foresight: the share of the random states that cost less than its prediction of the recorded actions that
reached the goal (rolled out from the pair's start; pairs too near their episode's start for the model's context are
left out). The PNG draws those factor costs against
the offset in tolerances, a panel per encoder.

`python -m benchmarks.goal_cost --data data/swm_pusht --models runs/swm_pusht_blocks_cpu/checkpoints/last.ckpt`
writes benchmarks/results/goal_cost_swm_pusht.json and .png and prints the table (about 1 s per goal on one core).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from matplotlib.figure import Figure

from benchmarks.action_ranking import model_label
from benchmarks.common import save_figure, write_results
from hjepa.eval.cost_map import encode_frames
from hjepa.eval.episodes import action_block
from hjepa.eval.goal_cost import FACTORS, Encoder, goal_cost_report, pixel_encoder, recorded_foresight
from hjepa.eval.swm_protocol import (
    SwmProtocol,
    goal_states,
    pair_options,
    protocol_env,
    recorded_env,
    recorded_pairs,
)
from hjepa.export import load_world_model
from hjepa.registration import SWM_PUSHT_ID


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="PushT episodes recorded for the protocol (its pairs' goals)")
    parser.add_argument("--models", nargs="*", default=[], help="export folders or Lightning .ckpt files")
    parser.add_argument("--pairs", type=int, default=50, help="protocol pairs whose goals are priced")
    parser.add_argument("--samples", type=int, default=96, help="random states placed around each goal")
    parser.add_argument("--reach", type=float, default=3.0, help="how far the random states go, in tolerances")
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0], help="factor offsets")
    parser.add_argument("--name", default="goal_cost_swm_pusht", help="results file name")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if recorded_env(args.data) != SWM_PUSHT_ID:
        raise SystemExit(f"--data: {args.data} holds {recorded_env(args.data)} episodes; this diagnosis is PushT's")
    protocol = SwmProtocol(pairs=args.pairs)
    episodes, pairs = recorded_pairs(args.data, protocol)
    env = protocol_env(args.data, protocol)
    encoders: dict[str, Encoder] = {"pixels": pixel_encoder}
    foresight = {}
    for path in args.models:
        model = load_world_model(path)
        block = action_block(model.predictor.action_dim, env.action_space, path)
        encoders[model_label(path)] = partial(encode_frames, model)
        foresight[model_label(path)] = [
            recorded_foresight(model, episodes[p.episode], p.start, protocol.goal_offset, block) for p in pairs
        ]
    report = goal_cost_report(
        env,
        goal_states(episodes, pairs, protocol.goal_offset),
        [pair_options(episodes[p.episode], p.start, protocol.goal_offset)["goal_image"] for p in pairs],
        encoders,
        samples=args.samples,
        reach=args.reach,
        scales=args.scales,
        foresight=foresight,
    )
    at_tolerance = args.scales.index(1.0) if 1.0 in args.scales else None
    rows = [
        {
            "encoder": name,
            "separation": report.separation[name],
            "cheapest_succeeds": report.cheapest_succeeds[name],
            "separation_recorded": report.separation_recorded[name],
            "cheapest_succeeds_recorded": report.cheapest_succeeds_recorded[name],
            "recorded_gap": report.recorded_gap[name],
            "foresight_share": report.foresight_share.get(name),
            **{
                f"{factor}_x1": None if at_tolerance is None else report.factor_cost[name][factor][at_tolerance]
                for factor in FACTORS
            },
        }
        for name in encoders
    ]
    figure = Figure(figsize=(3.2 * len(encoders), 3.0), layout="constrained")
    for axes, name in zip(figure.subplots(1, len(encoders), squeeze=False)[0], encoders):
        for factor in FACTORS:
            axes.plot(args.scales, report.factor_cost[name][factor], marker="o", label=f"{factor} alone")
        axes.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
        axes.set(title=name, xlabel="offset (tolerances)", ylabel="cost / median cost", xscale="log")
        axes.set_xticks(args.scales, [f"{scale:g}" for scale in args.scales], minor=False)
        axes.minorticks_off()
        axes.title.set_fontsize(8)
        axes.legend(fontsize=7)
    save_figure(figure, args.name, dpi=110)
    write_results(
        args.name,
        rows,
        {
            "data": args.data,
            "models": args.models,
            "goals_priced": report.goals,
            "samples": args.samples,
            "reach": args.reach,
            "scales": args.scales,
            "success_share": report.success_share,
            "factor_cost": report.factor_cost,
        },
    )


if __name__ == "__main__":
    main()
