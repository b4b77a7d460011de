"""The CLI's one flag style and its defaults: flags are spelled as the parameters they set (as in `hjepa fit
--data.num_frames`), and each default is the one of the function the command calls."""

import inspect

import pytest

from hjepa.cli import build_parser, main
from hjepa.data.convert import convert_folder
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.eval.classify_probe import run_classify_probe
from hjepa.eval.distill_probe import run_distillation
from hjepa.eval.plan_probe import PlanProbeOptions
from hjepa.eval.probe import run_linear_probe
from hjepa.eval.protocol import Protocol
from hjepa.eval.video_features import extract_features
from hjepa.eval.visualize import run_visualize

REQUIRED = {
    "generate": ["--world", "two_rooms", "--episodes", "1", "--frames", "2", "--out", "o"],
    "shard": ["--src", "s", "--out", "o"],
    "inspect": ["--data", "d"],
    "features": ["--ckpt", "c", "--src", "s", "--out", "o"],
    "probe linear": ["--ckpt", "c", "--data", "d"],
    "probe classify": ["--ckpt", "c", "--data", "d"],
    "probe visualize": ["--ckpt", "c", "--data", "d"],
    "plan": ["--ckpt", "c"],
    "probe plan": ["--ckpt", "c"],
    "distill": ["--ckpt", "c"],
}
CALLED = {  # the functions whose parameters each command's flags set
    "generate": (GenerateSettings, generate_shards),
    "shard": (convert_folder,),
    "inspect": (VideoDataModule,),
    "features": (extract_features,),
    "probe linear": (run_linear_probe,),
    "probe classify": (run_classify_probe,),
    "probe visualize": (run_visualize,),
    "plan": (Protocol, PlanProbeOptions),
    "probe plan": (Protocol, PlanProbeOptions),
    "distill": (run_distillation,),
}
NOT_THE_FUNCTIONS = {  # the command's own choices, each stated once in the CLI
    "generate": {"world_kwargs"},  # JSON text on the command line, a tuple of pairs in the settings
    "plan": {"episodes"},  # one episode to watch; `probe plan` runs the protocol's
    "probe plan": {"planners", "baselines"},  # every planner; the variants the checkpoint has (default_baselines)
}


@pytest.mark.parametrize("command", list(REQUIRED))
def test_every_flag_is_underscored_and_defaults_to_the_called_functions_default(command):
    parser = build_parser()
    args = vars(parser.parse_args([*command.split(), *REQUIRED[command]]))
    sub = parser._subparsers._group_actions[0].choices[command.split()[0]]
    if " " in command:
        sub = sub._subparsers._group_actions[0].choices[command.split()[1]]
    flags = [flag for action in sub._actions for flag in action.option_strings if flag.startswith("--")]
    assert flags and all("-" not in flag[2:] for flag in flags), flags
    checked = 0
    for function in CALLED[command]:
        for name, parameter in inspect.signature(function).parameters.items():
            if name in args and parameter.default is not inspect.Parameter.empty:
                if name not in NOT_THE_FUNCTIONS.get(command, ()):
                    assert args[name] == parameter.default, (command, name)
                    checked += 1
    assert checked >= 2, command


def test_the_data_loaders_worker_count_comes_from_the_function_too():
    args = build_parser().parse_args(["probe", "linear", "--ckpt", "c", "--data", "d"])
    assert args.workers == inspect.signature(run_linear_probe).parameters["num_workers"].default
    args = build_parser().parse_args(["inspect", "--data", "d"])
    assert args.workers == inspect.signature(VideoDataModule).parameters["num_workers"].default


@pytest.mark.parametrize(
    "argv, dashed, fix",
    [
        (["inspect", "--data", "d", "--num-frames", "4"], "--num-frames", "--num_frames"),
        (["probe", "plan", "--ckpt", "c", "--no-terminate"], "--no-terminate", "--no_terminate"),
        (["generate", "--world", "two_rooms", "--image-size=32"], "--image-size", "--image_size"),
    ],
)
def test_a_dashed_flag_is_refused_with_the_underscored_one(argv, dashed, fix, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: {dashed}: flags are spelled with underscores; use {fix}"
