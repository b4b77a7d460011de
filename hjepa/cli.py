"""The `hjepa` command: one subcommand per job (generate, shard, inspect, demo, ...)."""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _seed(text: str) -> int:
    """A --seed value: an integer that numpy, torch and gymnasium all take, in [0, 2**32)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {value}")
    return value


# add_argument specs shared by several flags
INT, FLOAT, SEED = {"type": int}, {"type": float}, {"type": _seed, "help": "random seed"}
STRIDE = {**INT, "help": "frames advanced between two frames of a clip"}
BATCH, MAX_BATCHES = {**INT, "help": "clips per batch"}, {**INT, "help": "batches read (None: all)"}
WORKERS = "DataLoader worker processes"
PARALLEL = {
    **INT,
    "help": "episodes run at a time, their planners' rollouts priced in one world-model call; each episode's agent "
    "is seeded by the episode, so outcomes do not depend on it",
}
DEFAULT_ENV, DEFAULT_TASK = "hjepa/TwoRooms-v0", "configs/tasks/reach.yaml"


def _generate(args: argparse.Namespace) -> int:
    from hjepa.data.generate import GenerateSettings, generate_shards

    world_kwargs = tuple(sorted((_json_option(args.world_kwargs or None, "--world_kwargs") or {}).items()))
    settings = GenerateSettings(
        args.world,
        args.episodes,
        args.frames,
        args.seed,
        args.shard_size,
        args.codec,
        args.image_size,
        world_kwargs,
        args.policy,
    )
    report = generate_shards(settings, Path(args.out), workers=args.workers)
    speed = f"  [{report.episodes_per_s:.1f} episodes/s]" if report.episodes_per_s else ""
    print(
        f"{report.episodes} episodes in {len(report.shards)} shards ({report.written_shards} written, "
        f"{report.reused_shards} kept) -> {args.out}{speed}"
    )
    return 0


def _shard(args: argparse.Namespace) -> int:
    from hjepa.data.convert import MANIFEST, convert_folder

    manifest = convert_folder(
        Path(args.src),
        Path(args.out),
        args.size,
        args.fps,
        args.shard_size,
        args.codec,
        labels=args.labels,
        segment=args.segment,
    )
    for entry in manifest.skipped:
        print(f"skipped {entry['path']}: {entry['reason']}", file=sys.stderr)
    for name in (name for name, count in manifest.class_counts.items() if count == 0):
        print(f"warning: --labels {args.labels}: class {name!r} has no converted video", file=sys.stderr)
    classes = f" of {len(manifest.classes)} classes" if manifest.classes else ""
    print(
        f"{manifest.written} videos{classes} ({manifest.samples} samples) in {len(manifest.shards)} shards, "
        f"{len(manifest.skipped)} skipped -> {Path(args.out) / MANIFEST}"
    )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from hjepa.data.datamodule import VideoDataModule
    from hjepa.data.inspect import contact_sheet, data_statistics, read_batches, state_names
    from hjepa.data.shards import check_output_folder

    check_output_folder(Path(args.out))
    data = VideoDataModule(
        args.data,
        num_frames=args.num_frames,
        frame_stride=args.frame_stride,
        batch_size=args.batch_size,
        num_workers=args.workers,
        decoder=args.decoder,
        val_fraction=0.0,
        resampled=False,
    )
    batches, clips_per_s = read_batches(data.loader(data.dataset("all")), args.max_batches)
    if not batches:
        raise ValueError(f"--data: no clip of {args.num_frames} frames could be read from {args.data}")
    stats = data_statistics(batches) | {
        "clips_per_s": round(clips_per_s, 1),
        "skipped_samples": data.skipped_samples,
        "skipped_shards": data.skipped_shards,
    }
    sheet = contact_sheet(batches[0], Path(args.out) / "contact_sheet.png", state_names(args.data))
    (Path(args.out) / "data_stats.json").write_text(json.dumps(stats, indent=2))
    print(json.dumps(stats, indent=2))
    print(f"contact sheet -> {sheet}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from hjepa.data.shards import check_output_folder
    from hjepa.export import export_checkpoint

    check_output_folder(Path(args.out))
    out = export_checkpoint(Path(args.ckpt), Path(args.out))
    print(f"exported {args.ckpt} -> {out} (model.safetensors + config.json)")
    return 0


def _features(args: argparse.Namespace) -> int:
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.video_features import extract_features

    check_output_folder(Path(args.out))
    report = extract_features(args.ckpt, args.src, args.out, args.window, args.stride, args.batch_size, args.device)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{report.windows} windows of {len(report.written)} videos, {len(report.skipped)} skipped -> {args.out}")
    return 0


def _shards_option(data: str | None, flag: str = "--data") -> None:
    """Refuse shards given but not there (a folder without shards, a missing file), before any work is done."""
    if data is not None:
        from hjepa.data.datamodule import resolve_shards

        resolve_shards(data, flag)


def _probe_linear(args: argparse.Namespace) -> int:
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.probe import run_linear_probe
    from hjepa.eval.report import format_table

    check_output_folder(Path(args.out))

    results = run_linear_probe(
        args.ckpt,
        args.data,
        args.out,
        num_frames=args.num_frames,
        frame_stride=args.frame_stride,
        batch_size=args.batch_size,
        max_batches=args.max_batches,
        rollout_k=args.rollout_k,
        seed=args.seed,
        val_fraction=args.val_fraction,
        num_workers=args.workers,
    )
    print(format_table(results.items(), left=2))
    print(f"-> {Path(args.out) / 'probe.json'}")
    return 0


def _probe_classify(args: argparse.Namespace) -> int:
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.classify_probe import run_classify_probe
    from hjepa.eval.report import format_table

    check_output_folder(Path(args.out))
    results = run_classify_probe(
        args.ckpt,
        args.data,
        args.out,
        num_frames=args.num_frames,
        frame_stride=args.frame_stride,
        clips_per_video=args.clips_per_video,
        batch_size=args.batch_size,
        max_batches=args.max_batches,
        seed=args.seed,
        val_fraction=args.val_fraction,
        num_workers=args.workers,
        tokens=args.tokens,
        attentive_epochs=args.attentive_epochs,
    )
    print(format_table(results.items(), left=2))
    print(f"-> {Path(args.out) / 'classify.json'}")
    return 0


def _probe_visualize(args: argparse.Namespace) -> int:
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.visualize import run_visualize

    check_output_folder(Path(args.out))
    report = run_visualize(
        args.ckpt,
        args.data,
        args.out,
        num_frames=args.num_frames,
        frame_stride=args.frame_stride,
        clips=args.clips,
        queries=args.queries,
        k=args.k,
        batch_size=args.batch_size,
        max_batches=args.max_batches,
        num_workers=args.workers,
        device=args.device,
    )
    out = Path(args.out)
    print(f"patch PCA maps -> {out / 'patch_pca.png'}")
    print(f"{len(report['queries'])} queries among {report['clips']} clips -> {out / 'retrieval.png'}, retrieval.json")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from hjepa.agent.distill import load_policy
    from hjepa.agent.task import TaskSpec
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.plan_probe import PlanProbeOptions, run_probe
    from hjepa.eval.plan_variants import default_baselines
    from hjepa.eval.protocol import Protocol

    check_output_folder(Path(args.out))
    _shards_option(args.data)
    probe = args.command == "probe"
    policy = load_policy(args.policy) if getattr(args, "policy", None) else None
    baselines = getattr(args, "baselines", None)
    if probe and baselines is None:
        baselines = default_baselines(args.ckpt)
    protocol = Protocol(
        args.episodes, args.seed, args.max_steps, args.terminate, tuple(args.radii), args.success_radius
    )
    summary = run_probe(
        PlanProbeOptions(
            args.ckpt,
            args.data,
            args.env,
            TaskSpec.from_yaml(args.task),
            Path(args.out),
            protocol,
            planners=args.planners if probe else (),
            baselines=baselines or (),
            random_baseline=probe,
            policy=policy,
            env_kwargs=_json_option(args.env_kwargs, "--env_kwargs"),
            parallel=args.parallel,
        )
    )
    aided = f" (aided: {', '.join(summary['plan_aids'])}; not like-for-like)" if summary["plan_aids"] else ""
    print(
        f"success {summary['plan_success']:.2f} within r = {protocol.success_radius:g} over "
        f"{summary['plan_episodes']} episodes{aided}; figures in {args.out}"
    )
    return 0


def _json_option(text: str | None, flag: str) -> dict | None:
    """A JSON object given on the command line (None when absent)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"{flag}: not valid JSON ({error}): {text!r}") from error
    if not isinstance(value, dict):
        raise SystemExit(f"{flag}: expected a JSON object such as '{{\"min_doors\": 2}}', got {text!r}")
    return value


def _distill(args: argparse.Namespace) -> int:
    from hjepa.agent.task import TaskSpec
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.distill_probe import run_distillation

    check_output_folder(Path(args.out))
    _shards_option(args.data)

    summary = run_distillation(
        args.ckpt,
        args.data,
        args.env,
        TaskSpec.from_yaml(args.task),
        args.out,
        episodes=args.episodes,
        steps=args.steps,
        eval_episodes=args.eval_episodes,
        parallel=args.parallel,
        hindsight=args.hindsight,
        corrections=args.corrections,
        correction_steps=args.correction_steps,
    )
    print(
        f"policy in {args.out}: success {summary['policy_success_distilled']:.2f} at "
        f"{summary['policy_ms_per_step']} ms/step (planner: {summary['plan_success']:.2f} at "
        f"{summary['plan_ms_per_step']} ms/step)"
    )
    return 0


def _hindsight(args: argparse.Namespace) -> int:
    from hjepa.data.shards import check_output_folder
    from hjepa.eval.hindsight_policy import train_hindsight_policy

    check_output_folder(Path(args.out))
    summary = train_hindsight_policy(
        args.ckpt,
        args.data,
        args.env,
        args.out,
        goal_blocks=args.goal_blocks,
        steps=args.steps,
        hidden_dim=args.hidden_dim,
        val_fraction=args.val_fraction,
        seed=args.seed,
    )
    print(
        f"policy in {args.out}: held-out loss {summary['heldout_loss']:.3f} against {summary['mean_action_loss']:.3f} "
        f"for the mean recorded action ({summary['train_episodes']} training episodes)"
    )
    return 0


def _default(function: Callable[..., Any], name: str) -> Any:
    """The default of `function`'s parameter `name`: each default is written once, where it is used, and the CLI
    shows it (a flag is named as the parameter it sets)."""
    return inspect.signature(function).parameters[name].default


def _options(parser: argparse.ArgumentParser, function: Callable[..., Any], **flags: dict[str, Any]) -> None:
    """`--name` for each named parameter of `function`, its default read from the signature; each value holds
    the rest of `add_argument`'s arguments (type, help, ...)."""
    for name, spec in flags.items():
        parser.add_argument(f"--{name}", default=_default(function, name), **spec)


def _add_plan_arguments(parser: argparse.ArgumentParser, episodes: int, out: str) -> None:
    from hjepa.eval.plan_probe import PlanProbeOptions
    from hjepa.eval.protocol import Protocol

    parser.set_defaults(handler=_plan)
    parser.add_argument("--ckpt", required=True, help="export folder or Lightning .ckpt of the world model")
    parser.add_argument("--env", default=DEFAULT_ENV, help="registered gymnasium id")
    parser.add_argument(
        "--task",
        default=DEFAULT_TASK,
        help="task YAML read by the configurator (default: like-for-like, goal image and the learned "
        "representation only)",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="shards of the world the model learned: their world options set up --env; aided tasks "
        "(landmark subgoals, probes, level-2 memory) also remember their episodes",
    )
    parser.add_argument("--episodes", type=int, default=episodes, help="episodes per actor, the same for each")
    _options(
        parser,
        Protocol,
        seed={**SEED, "help": "first episode seed; episode i uses seed + i"},
        max_steps={**INT, "help": "steps per episode (None: the task's max_steps)"},
        radii={
            **FLOAT,
            "nargs": "+",
            "help": "success radii (world units), each scored 'ever reached' and 'at the end'",
        },
        success_radius={**FLOAT, "help": "radius of the headline success rate"},
    )
    parser.add_argument(
        "--no_terminate",
        dest="terminate",
        action="store_false",
        default=_default(Protocol, "terminate"),
        help="keep acting after reaching the goal until --max_steps ('at the end' then measures staying there); "
        "terminate: %(default)s",
    )
    parser.add_argument("--out", default=out, help="output folder")
    parser.add_argument(
        "--env_kwargs",
        default=None,
        help="JSON of environment options, e.g. '{\"min_doors\": 2}' (default: the world options of "
        "--data when it was recorded in the same world)",
    )
    _options(parser, PlanProbeOptions, parallel=PARALLEL)


def _demo(args: argparse.Namespace) -> int:
    from hjepa.demo import run_demo

    run_demo(Path(args.config), Path(args.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (defaults shown in --help, read from the functions they feed)."""
    from hjepa.agent.planners import PLANNERS
    from hjepa.data.convert import convert_folder
    from hjepa.data.datamodule import VideoDataModule
    from hjepa.data.generate import GenerateSettings, generate_shards
    from hjepa.data.inspect import read_batches
    from hjepa.data.video import CODECS, DECODERS
    from hjepa.eval.classify_probe import TOKENS, run_classify_probe
    from hjepa.eval.distill_probe import run_distillation
    from hjepa.eval.hindsight_policy import train_hindsight_policy
    from hjepa.eval.plan_variants import BASELINES
    from hjepa.eval.probe import run_linear_probe
    from hjepa.eval.protocol import Protocol
    from hjepa.eval.video_features import extract_features
    from hjepa.eval.visualize import run_visualize

    parser = argparse.ArgumentParser(
        prog="hjepa", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in LIGHTNING_COMMANDS:  # listed in --help; handled by LightningCLI in main()
        commands.add_parser(name, help=f"LightningCLI {name}: hjepa {name} --config configs/tiny_cpu.yaml [--help]")

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str, under: Any = commands
    ) -> argparse.ArgumentParser:
        sub = under.add_parser(
            name, help=help, description=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        sub.set_defaults(handler=handler)
        return sub

    gen = command(
        "generate", _generate, "record episodes of a procedural world or a gymnasium environment into video shards"
    )
    gen.add_argument(
        "--world",
        "--env",
        dest="world",
        required=True,
        help="two_rooms, moving_shapes, fork, maze, or a gymnasium id such as hjepa/PushT-v0 "
        "(pip install 'hjepa[envs]'), hjepa/SwmTwoRoom-v1 or hjepa/SwmPushT-v1 (pip install 'hjepa[swm]')",
    )
    gen.add_argument("--episodes", type=int, required=True)
    gen.add_argument("--frames", type=int, required=True, help="frames per episode")
    gen.add_argument("--out", required=True, help="output folder of shard-NNNNNN.tar")
    _options(
        gen,
        GenerateSettings,
        seed=SEED,
        shard_size={**INT, "help": "episodes per shard"},
        codec={"choices": list(CODECS), "help": "ffv1 is lossless"},
        image_size={**INT, "help": "frame side in pixels"},
        policy={
            "help": "what acts in a gymnasium environment: explore (its data-collection policy, uniform actions "
            "where it has none), random (uniform actions), expert (its expert policy, where it has one)"
        },
    )
    gen.add_argument(
        "--world_kwargs", default="", help='JSON of world or environment options, e.g. \'{"rows": 2, "cols": 3}\''
    )
    _options(gen, generate_shards, workers={**INT, "help": "processes encoding shards in parallel"})

    shard = command("shard", _shard, "convert a folder of videos (and .actions/.states.npy sidecars) into shards")
    shard.add_argument("--src", required=True, help="folder searched recursively for mp4/webm/mkv/avi/mov")
    shard.add_argument("--out", required=True, help="output folder of shards and manifest.json")
    _options(
        shard,
        convert_folder,
        size={**INT, "help": "re-encode: shorter side to SIZE, centre square crop"},
        fps={**FLOAT, "help": "re-encode at this frame rate"},
        shard_size={**INT, "help": "samples per shard (a shard is closed after the video that fills it)"},
        codec={"choices": list(CODECS), "help": "codec when re-encoding"},
        labels={
            "help": "classes of the videos: 'folder' (each video's parent folder, as in Kinetics/UCF) or a "
            "CSV file of path,label lines (paths relative to --src; only the listed videos)"
        },
        segment={
            **FLOAT,
            "help": "cut each video into consecutive samples of SECONDS (re-encoded with --codec; sidecars "
            "cut in step); advised for videos longer than a minute",
        },
    )

    ins = command("inspect", _inspect, "read shards through the data module: statistics and a contact sheet")
    ins.add_argument("--data", required=True, help="shard folder, brace pattern or pipe: URL")
    ins.add_argument("--out", default="runs/inspect", help="output folder")
    _options(
        ins,
        VideoDataModule,
        num_frames={**INT, "help": "frames per clip"},
        frame_stride=STRIDE,
        batch_size=BATCH,
        decoder={
            "choices": DECODERS,
            "help": "video decoder; auto: decord if installed",
        },
    )
    ins.add_argument("--workers", type=int, default=_default(VideoDataModule, "num_workers"), help=WORKERS)
    _options(ins, read_batches, max_batches=MAX_BATCHES)

    export = command("export", _export, "write a checkpoint's world model as model.safetensors + config.json")
    export.add_argument("--ckpt", required=True, help="Lightning checkpoint (.ckpt)")
    export.add_argument("--out", required=True, help="output folder")

    features = command(
        "features",
        _features,
        "features of videos of any length: the frozen encoder over a sliding "
        "window, one safetensors file per video (features, timestamps)",
    )
    features.add_argument("--ckpt", required=True, help="export folder or Lightning .ckpt")
    features.add_argument("--src", required=True, help="a video file, or a folder searched recursively for videos")
    features.add_argument("--out", required=True, help="output folder: <video path relative to --src>.safetensors")
    _options(
        features,
        extract_features,
        window={**INT, "help": "frames per window (a multiple of encoder.tubelet)"},
        stride={**INT, "help": "frames between the starts of two windows"},
        batch_size={**INT, "help": "windows encoded at once"},
        device={"help": "torch device (default: cuda when available, else cpu)"},
    )

    probe = commands.add_parser("probe", help="evaluate a trained world model").add_subparsers(
        dest="probe", required=True
    )

    def probe_command(
        name: str,
        handler: Callable[[argparse.Namespace], int],
        help: str,
        function: Callable[..., Any],
        out: str,
        data_help: str = "shard folder, brace pattern or pipe: URL",
    ) -> argparse.ArgumentParser:
        """A probe over shards: the arguments every such probe takes, read from `function`."""
        sub = command(name, handler, help, under=probe)
        sub.add_argument("--ckpt", required=True, help="export folder or Lightning .ckpt")
        sub.add_argument("--data", required=True, help=data_help)
        sub.add_argument("--out", default=out, help="output folder")
        _options(sub, function, num_frames={**INT, "help": "frames per clip"}, frame_stride=STRIDE, batch_size=BATCH)
        sub.add_argument("--workers", type=int, default=_default(function, "num_workers"), help=WORKERS)
        return sub

    linear = probe_command(
        "linear",
        _probe_linear,
        "linear and rollout probes of the state, against a random-init encoder",
        run_linear_probe,
        "runs/probe",
    )
    _options(
        linear,
        run_linear_probe,
        rollout_k={**INT, "help": "steps the world model rolls forward (clips default to rollout_k + 1 frames)"},
        max_batches=MAX_BATCHES,
        val_fraction={**FLOAT, "help": "held-out episodes"},
        seed=SEED,
    )

    classify = probe_command(
        "classify",
        _probe_classify,
        "video classes read from clip features by a linear probe (pooled over time) and an attentive probe "
        "(over frame or patch tokens), against a random-init encoder",
        run_classify_probe,
        "runs/classify",
        data_help="shards with classes (hjepa shard --labels ...)",
    )
    _options(
        classify,
        run_classify_probe,
        clips_per_video={**INT, "help": "training clips per video (random starts)"},
        max_batches=MAX_BATCHES,
        val_fraction={**FLOAT, "help": "held-out videos"},
        seed=SEED,
        tokens={
            "choices": TOKENS,
            "help": "what the attentive probe attends over: the clip's per-frame states, or its per-patch tokens",
        },
        attentive_epochs={**INT, "help": "passes of the attentive probe over the training clips"},
    )

    visualize = probe_command(
        "visualize",
        _probe_visualize,
        "PCA maps of the encoder's patch tokens and nearest-neighbour retrieval of clips",
        run_visualize,
        "runs/visualize",
    )
    _options(
        visualize,
        run_visualize,
        clips={**INT, "help": "clips whose patch tokens are mapped"},
        queries={**INT, "help": "query clips (the first ones read)"},
        k={**INT, "help": "nearest clips per query, the query itself first"},
        max_batches={**INT, "help": "batches of clips searched (default all)"},
        device={"help": "torch device (default: cuda when available, else cpu)"},
    )

    plan = command("plan", _plan, "run the agent on a frozen world model in an environment for a task")
    _add_plan_arguments(plan, episodes=1, out="runs/plan")  # one episode to watch; probes default to more
    plan_probe = command("plan", _plan, "planning success rate vs a random policy and other planners", under=probe)
    _add_plan_arguments(plan_probe, episodes=_default(Protocol, "episodes"), out="runs/probe_plan")
    plan_probe.add_argument("--policy", default=None, help="a policy folder of `hjepa distill` to run as Mode-1")
    plan_probe.add_argument(
        "--planners", nargs="*", default=list(PLANNERS), help="planners run on the same task and episodes"
    )
    plan_probe.add_argument(
        "--baselines",
        nargs="*",
        default=None,
        choices=BASELINES,
        help="task variants run on the same episodes: flat (level 1 aims at the goal), "
        "hierarchical (level 2 sets subgoals; needs level 2) [default: flat, and "
        "hierarchical when the checkpoint has level 2]",
    )

    dis = command("distill", _distill, "train the Mode-1 policy on the planner's decisions (Mode-2 -> Mode-1)")
    dis.add_argument("--ckpt", required=True, help="export folder or Lightning .ckpt of the world model")
    dis.add_argument("--env", default=DEFAULT_ENV, help="registered gymnasium id")
    dis.add_argument("--task", default=DEFAULT_TASK, help="task YAML of the planner that is distilled")
    dis.add_argument("--data", default=None, help="shards the agent remembers (landmark subgoals, probes)")
    dis.add_argument("--out", default="runs/distill", help="output folder of the policy and distill.json")
    _options(
        dis,
        run_distillation,
        episodes={**INT, "help": "Mode-2 episodes recorded for distillation"},
        steps={**INT, "help": "policy training steps"},
        eval_episodes={**INT, "help": "held-out episodes comparing Mode-1 and Mode-2"},
        corrections={
            **INT,
            "help": "rounds in which the policy acts for --episodes episodes while the planner labels each "
            "state it visits, then the policy is refitted on all labels (DAgger)",
        },
        correction_steps={**INT, "help": "steps of each correction episode (None: the task's max_steps)"},
        hindsight={
            **INT,
            "help": "also train on each recorded state paired with the states of its episode up to HINDSIGHT "
            "steps later as goals (0: none)",
        },
    )
    _options(dis, run_distillation, parallel=PARALLEL)

    hind = command(
        "hindsight",
        _hindsight,
        "train a Mode-1 policy on recorded episodes by hindsight: the actions taken towards the states reached soon "
        "after (the flat baseline)",
    )
    hind.add_argument("--ckpt", required=True, help="export folder or Lightning .ckpt of the world model (its encoder)")
    hind.add_argument("--data", required=True, help="shards of recorded episodes with actions")
    hind.add_argument("--env", required=True, help="registered gymnasium id the policy acts in (its action box)")
    hind.add_argument("--out", default="runs/hindsight", help="output folder of the policy and hindsight.json")
    _options(
        hind,
        train_hindsight_policy,
        goal_blocks={**INT, "help": "goals up to this many of the world model's action blocks ahead"},
        steps={**INT, "help": "policy training steps"},
        hidden_dim={**INT, "help": "width of the policy's hidden layers"},
        val_fraction={**FLOAT, "help": "held-out episodes (the world model's split)"},
        seed=SEED,
    )

    demo = command("demo", _demo, "the main job end to end on a small built-in default")
    demo.add_argument("--config", default="configs/demo.yaml", help="the demo's YAML")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    return parser


LIGHTNING_COMMANDS = ("fit", "validate")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hjepa` console script."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            from hjepa.train.cli import run_lightning_cli

            run_lightning_cli(argv)
            return 0
        _refuse_dashed_flags(argv)
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2


def _refuse_dashed_flags(argv: list[str]) -> None:
    """Flags are spelled as the parameters they set, with underscores as in `hjepa fit --data.num_frames`:
    a dashed spelling (`--num-frames`) is refused with the flag to use instead."""
    for token in argv:
        dashed = re.fullmatch(r"--(\w+(?:-\w+)+)(=.*)?", token)
        if dashed:
            raise ValueError(f"--{dashed[1]}: flags are spelled with underscores; use --{dashed[1].replace('-', '_')}")


def _one_line(error: BaseException) -> str:
    """The error's message on one line. An error re-raised from a DataLoader worker carries the worker's
    traceback in its message: only the original error's last line is kept."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[1].startswith("Original Traceback"):
        return lines[-1].split(": ", 1)[-1]
    return " ".join(lines)


if __name__ == "__main__":
    sys.exit(main())
