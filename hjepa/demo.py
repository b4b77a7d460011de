"""The main job end to end on a small built-in default: generate -> shards -> data module -> pretrain
-> export -> probe -> plan like-for-like (goal image, learned representation only) -> the same with aids (an
ablation) -> distil the planner into a policy -> level 2 -> Fork latent probe; with `maze.run: true`, also
Maze: hierarchical vs flat planning toward far goals (like-for-like: level 2 plans with its own predictor).

Each step appends its figures to `summary.json` (flat keys) in the output folder, and a table of
them is printed at the end.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from hjepa.agent.task import TaskSpec
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateReport, GenerateSettings, generate_shards
from hjepa.data.inspect import contact_sheet, data_statistics, read_batches
from hjepa.eval.distill_probe import run_distillation
from hjepa.eval.fork_probe import run_fork_probe
from hjepa.eval.level2_probe import run_level2_probe
from hjepa.eval.plan_probe import PlanProbeOptions, run_probe
from hjepa.eval.probe import run_linear_probe
from hjepa.eval.protocol import Protocol
from hjepa.eval.report import format_table
from hjepa.train.run_config import deep_update, fit, pretrain


def load_config(path: Path) -> dict[str, Any]:
    """Read the demo's YAML config."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def step_data(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Generate episodes into shards, read them back through the data module, draw and count them."""
    gen = config["generate"]
    report = generate(gen)
    data = VideoDataModule(gen["out"], resampled=False, **config["data"])
    train, clips_per_s = read_batches(data.train_dataloader(), config["inspect"]["batches"])
    val, _ = read_batches(data.val_dataloader())
    stats = data_statistics(train)
    (out / "data_stats.json").write_text(json.dumps(stats, indent=2))
    contact_sheet(train[0], out / "contact_sheet.png", state_names=["x", "y"])
    return {
        "episodes": report.episodes,
        "shards": len(report.shards),
        "generate_episodes_per_s": round(report.episodes_per_s, 1) if report.episodes_per_s else "reused",
        "clips_per_s": round(clips_per_s, 1),
        "train_clips_read": sum(b["frames"].shape[0] for b in train),
        "val_clips": sum(b["frames"].shape[0] for b in val),
        "skipped_samples": data.skipped_samples,
    }


def generate(gen: dict[str, Any]) -> GenerateReport:
    """`hjepa generate` with a `generate` section of the demo config."""
    settings = GenerateSettings(
        gen["world"],
        gen["episodes"],
        gen["frames"],
        gen["seed"],
        gen["shard_size"],
        gen["codec"],
        gen["image_size"],
        tuple(sorted(gen.get("world_kwargs", {}).items())),
    )
    return generate_shards(settings, Path(gen["out"]))


def step_pretrain(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Pretrain the level-1 JEPA with `hjepa fit` on the generated shards, then export it."""
    return pretrain(config["generate"]["out"], config["pretrain"]["base"], config["pretrain"].get("overrides", {}), out)


def step_probe(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Linear and rollout probes of the exported model against a random-init encoder."""
    probe = config["probe"]
    results = run_linear_probe(
        out / "export",
        config["generate"]["out"],
        out / "probe",
        rollout_k=probe["rollout_k"],
        val_fraction=probe["val_fraction"],
        num_workers=config["data"]["num_workers"],
    )
    keys = (
        "probe_r2_trained",
        "probe_r2_random",
        "probe_r2_rollout",
        "probe_r2_copy_last",
        "rollout_k",
        "probe_acc_room_trained",
        "probe_acc_room_random",
    )
    return {key: results[key] for key in keys if key in results}


def step_level2(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Train level 2 of H-JEPA on the frozen exported level 1 with `hjepa fit`, export both levels to
    out/export and compare the levels' probes (slow variables, far prediction)."""
    level2 = config["level2"]
    overrides = deep_update(
        level2.get("overrides", {}),
        {"data": {"shards": config["generate"]["out"]}, "model": {"level1_checkpoint": str(out / "export")}},
    )
    cli, seconds = fit(level2["base"], overrides, out / "level2", out / "export")
    scores = run_level2_probe(
        out / "export",
        config["generate"]["out"],
        out / "probe",
        cli.model.level2.horizon,
        cli.datamodule.hparams.num_frames,
        val_fraction=level2["probe"]["val_fraction"],
        num_workers=config["data"]["num_workers"],
    )
    keys = (
        "probe_r2_level2_room",
        "probe_r2_level1_room",
        "probe_r2_level2_position_later",
        "probe_r2_level1_position_later",
        "level2_far_r2",
        "level1_far_r2",
        "far_frames",
    )
    return {"level2_steps": cli.trainer.global_step, "level2_seconds": round(seconds, 1)} | {k: scores[k] for k in keys}


def step_fork(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Fork probe (sec. 4.5): a discrete latent predicts both futures, no latent predicts between them."""
    results = run_fork_probe(out / "fork", **config["fork"])
    keys = ("fork_error_ratio", "fork_error_none", "fork_error_min_z", "fork_code_purity", "mismatch_ratio_discrete")
    return {key: results[key] for key in keys}


def step_plan(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Planning probe on TwoRooms (sec. 3.1.4), like-for-like: the agent on the frozen exported model, from the goal
    image and the learned representation alone, vs a random policy; success within each radius of the protocol."""
    plan = config["plan"]
    results = run_probe(
        PlanProbeOptions(
            out / "export",
            config["generate"]["out"],
            plan["env"],
            TaskSpec.from_yaml(plan["task"]),
            out / "plan",
            Protocol(plan["episodes"], plan["seed"]),
        )
    )
    keys = (
        "plan_success",
        "plan_success_ci",
        "plan_success_random",
        "plan_ever_r0.022",
        "plan_ever_r0.069",
        "plan_final_distance_median",
        "plan_steps",
        "plan_ms_per_step",
        "plan_planner",
        "plan_horizon",
    )
    return {key: results[key] for key in keys}


def step_plan_aided(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """The same episodes with decision-time aids (landmarks over the recorded episodes, a head fitted on
    ground-truth positions): an ablation reported beside the like-for-like figure, never instead of it."""
    plan, aided = config["plan"], config["plan_aided"]
    task = TaskSpec.from_yaml(aided["task"])
    results = run_probe(
        PlanProbeOptions(
            out / "export",
            config["generate"]["out"],
            plan["env"],
            task,
            out / "plan_aided",
            Protocol(aided["episodes"], plan["seed"]),
            random_baseline=False,
        )
    )
    return {
        f"plan_success_aided_{'_'.join(a.replace(' ', '_').replace('-', '') for a in task.aids)}": results[
            "plan_success"
        ]
    }


def step_distill(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Mode-2 -> Mode-1 (sec. 3.1.4): train the policy on the planner's decisions, compare on held-out episodes."""
    plan, distill = config["plan"], config["distill"]
    results = run_distillation(
        out / "export",
        config["generate"]["out"],
        plan["env"],
        TaskSpec.from_yaml(plan["task"]),
        out / "distill",
        episodes=distill["episodes"],
        steps=distill["steps"],
        eval_episodes=distill["eval_episodes"],
        hindsight=distill["hindsight"],
        parallel=distill["parallel"],
        corrections=distill["corrections"],
        correction_steps=distill["correction_steps"],
    )
    # the planner on the same held-out episodes, so the policy's share of its success and time is in view
    return {
        **{key: results[key] for key in ("policy_success_distilled", "policy_ms_per_step")},
        "policy_teacher_success": results["plan_success"],
        "policy_teacher_ms_per_step": results["plan_ms_per_step"],
    }


def step_maze(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """Long-horizon planning in a small Maze (sec. 4.7): both levels trained on maze data, then goals several
    doors away reached by the hierarchical agent (level 2 sets subgoals) vs the flat one (level 1 alone)."""
    maze = config["maze"]
    gen, run = maze["generate"], out / "maze"
    generate(gen)
    shards = {"data": {"shards": gen["out"]}}
    _, l1_seconds = fit(
        maze["pretrain"]["base"], deep_update(maze["pretrain"]["overrides"], shards), run / "pretrain", run / "export"
    )
    level2 = deep_update(maze["level2"]["overrides"], {**shards, "model": {"level1_checkpoint": str(run / "export")}})
    _, l2_seconds = fit(maze["level2"]["base"], level2, run / "level2", run / "export")
    plan = maze["plan"]
    results = run_probe(
        PlanProbeOptions(
            run / "export",
            gen["out"],
            plan["env"],
            TaskSpec.from_yaml(plan["task"]),
            run / "plan",
            Protocol(plan["episodes"], plan["seed"]),
            baselines=["flat", "hierarchical"],
            random_baseline=False,
            env_kwargs={"min_doors": plan["min_doors"]},
        )
    )
    hier, flat = results["plan_table"]["hierarchical"], results["plan_table"]["flat"]
    return {
        "maze_min_doors": plan["min_doors"],
        "maze_success_hier": hier["success"],
        "maze_success_flat": flat["success"],
        "maze_ms_per_episode_hier": hier["ms_per_episode"],
        "maze_ms_per_episode_flat": flat["ms_per_episode"],
        "maze_train_seconds": round(l1_seconds + l2_seconds, 1),
    }


def print_summary(summary: dict[str, Any]) -> None:
    """Print the summary as a two-column table."""
    rule = "-" * (max(map(len, summary)) + 24)
    print(f"\n{rule}\n{format_table(summary.items(), left=2)}\n{rule}")


def run_demo(config_path: Path, out: Path) -> dict[str, Any]:
    """Run every step of the demo and write `out/summary.json`."""
    start = time.perf_counter()
    config = load_config(config_path)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    summary.update(step_data(config, out))
    summary.update(step_pretrain(config, out))
    summary.update(step_probe(config, out))
    summary.update(step_plan(config, out))
    summary.update(step_plan_aided(config, out))
    summary.update(step_distill(config, out))
    summary.update(step_level2(config, out))
    summary.update(step_fork(config, out))
    if config["maze"]["run"]:  # the aided Maze comparison, off by default
        summary.update(step_maze(config, out))
    summary["seconds_total"] = round(time.perf_counter() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary)
    print(
        f"figures in {out}/: summary.json, contact_sheet.png, data_stats.json, pretrain/logs/*/loss_curve.png, "
        "probe/probe_scatter.png, probe/probe_rollout_r2.png, plan/plan_trajectories.png, plan/plan_cost_map.png, "
        "plan/plan_episode.gif; "
        "exported model (both levels) in export/"
    )
    return summary
