"""Scores of a planning probe (seed paper sec. 3.1.4): each actor's row under the protocol, the flat summary of
`plan.json`, and the table printed at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import EpisodeResult
from hjepa.eval.protocol import (
    Protocol,
    first_reached,
    paired_comparison,
    radius_key,
    score_distances,
    wilson_interval,
)
from hjepa.eval.report import print_results

SUMMARY_NAMES = {"flat": "plan_success_flat", "hierarchical": "plan_success_hier"}
"""The summary's key of each baseline's success."""


def summarize(
    results: Sequence[EpisodeResult], protocol: Protocol = Protocol(), seeds: Sequence[int] | None = None
) -> dict[str, Any]:
    """Success rate (ever reached within the protocol's `success_radius`, or the environment's own success where it
    reports no distance) with its Wilson interval, mean steps to success, planning ms per step and per episode, and,
    where the environment reports distances, the protocol's scores at each radius (`score_distances`). With the
    episodes' `seeds`, `episodes` lists each one's outcome, so two actors can be compared episode by episode."""
    distances = [r.distances for r in results]
    scored = all(d is not None for d in distances)
    if scored:
        firsts = [first_reached(d, protocol.success_radius) for d in distances]
    else:
        firsts = [r.steps if r.success else None for r in results]
    wins = [f for f in firsts if f is not None]
    ms = [m for r in results for m in r.ms]
    row: dict[str, Any] = {
        "success": round(len(wins) / len(results), 4),
        "success_ci": wilson_interval(len(wins), len(results)),
        "steps": round(float(np.mean(wins)), 1) if wins else None,
        "ms_per_step": round(float(np.mean(ms)), 2) if ms else 0.0,
        "ms_per_episode": round(float(np.mean([sum(r.ms) for r in results])), 1),
    }
    if scored:
        row.update(score_distances(distances, protocol.radii))
    if seeds is not None:
        if len(seeds) != len(results):
            raise ValueError(f"seeds: one per episode, got {len(seeds)} for {len(results)} episodes")
        row["episodes"] = [
            {
                "seed": int(seed),
                "reached_at": reached,
                **({"closest": round(float(np.min(d)), 4), "final": round(float(d[-1]), 4)} if d is not None else {}),
            }
            for seed, reached, d in zip(seeds, firsts, distances)
        ]
    return row


def paired_with(table: dict[str, dict[str, Any]], first: str) -> dict[str, dict[str, object]]:
    """Every other actor of `table` against `first` on the same episodes (`paired_comparison`), where the rows list
    their `episodes` (`summarize` with seeds)."""
    if "episodes" not in table[first]:
        return {}
    won = {
        name: [e["reached_at"] is not None for e in row["episodes"]] for name, row in table.items() if "episodes" in row
    }
    return {name: paired_comparison(won[first], wins) for name, wins in won.items() if name != first}


def plan_summary(
    task: TaskSpec,
    env_id: str,
    protocol: Protocol,
    table: dict[str, dict[str, Any]],
    first: str,
    baselines: Sequence[str] = (),
) -> dict[str, Any]:
    """The flat keys of `plan.json`: the protocol, the task's headline figures (`plan_*`, from the row `first`), the
    random policy's and a distilled policy's success, the whole table, the success of each of `baselines`, and
    `plan_paired`: every other actor against `first` on the same episodes. `plan_aids` names any decision-time
    aid of the task (then the headline is an ablation, not a like-for-like figure)."""
    main = table[first]
    summary: dict[str, Any] = {
        "plan_task": task.name,
        "plan_env": env_id,
        "plan_episodes": protocol.episodes,
        "plan_planner": task.planner["name"],
        "plan_horizon": task.planner["horizon"],
        "plan_aids": list(task.aids),
        "plan_max_steps": task.max_steps,
        "plan_terminate": protocol.terminate,
        "plan_success_radius": protocol.success_radius,
        "plan_success": main["success"],
        "plan_success_ci": main["success_ci"],
        "plan_steps": main["steps"],
        "plan_ms_per_step": main["ms_per_step"],
    }
    for key in (
        "final_distance_median",
        *(f"{kind}_{radius_key(r)}" for r in protocol.radii for kind in ("ever", "end")),
    ):
        if key in main:
            summary[f"plan_{key}"] = main[key]
    if "random" in table:
        summary["plan_success_random"] = table["random"]["success"]
    if "policy" in table:
        summary.update(
            {
                "policy_success_distilled": table["policy"]["success"],
                "policy_ms_per_step": table["policy"]["ms_per_step"],
            }
        )
    summary["plan_table"] = table
    paired = paired_with(table, first)
    if paired:
        summary["plan_paired"] = paired
    summary.update({SUMMARY_NAMES[name]: table[name]["success"] for name in baselines})
    return summary


def print_table(table: dict[str, dict[str, Any]], protocol: Protocol) -> None:
    """Success with its 95% interval, the per-radius scores where distances are known, steps and planning time."""
    keys = [radius_key(r) for r in protocol.radii if any(f"ever_{radius_key(r)}" in row for row in table.values())]
    print_results(
        table,
        {
            "success [95% CI]": lambda row: "{:.2f} [{:.2f}, {:.2f}]".format(row["success"], *row["success_ci"]),
            **{
                f"ever/end {key}": lambda row, key=key: f"{row[f'ever_{key}']:.2f}/{row[f'end_{key}']:.2f}"
                for key in keys
            },
            "final d": lambda row: row.get("final_distance_median", ""),
            "steps": "steps",
            "ms/step": "ms_per_step",
            "ms/episode": "ms_per_episode",
        },
    )


def print_paired(paired: dict[str, dict[str, object]], first: str) -> None:
    """One line per actor: the episodes it and `first` won alone, with the exact McNemar p-value (`plan_paired`)."""
    for name, comparison in paired.items():
        print(
            f"{first} vs {name} on the same episodes: {comparison['only_first']} won by {first} alone, "
            f"{comparison['only_other']} by {name} alone (exact McNemar p = {comparison['p_value']:g})"
        )
