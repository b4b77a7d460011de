"""`hjepa plan`, `probe plan`, `distill` and `probe linear` on bad input: exit status 2 and a one-line
`error: ...` naming what was wrong, never a traceback, never a partial output; the same properties under
fuzzed numbers and paths (hypothesis)."""

import json
import re
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from hjepa.agent.distill import save_policy
from hjepa.agent.policy import Policy
from hjepa.cli import main
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.data.video import encode_video
from hjepa.export import export_world_model
from hjepa.models import build_world_model
from tests.data.synthetic import synthetic_frames

MODEL = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 8, "width": 8, "img_size": 64},
    "predictor": {"kind": "gru", "hidden_dim": 8, "action_dim": 2},
}
MODEL32 = {**MODEL, "encoder": {**MODEL["encoder"], "img_size": 32}}  # the shards' size
TASK = {
    "name": "tiny",
    "cost": {"goal_distance": 1.0},
    "planner": {"name": "cem", "horizon": 2, "population": 8, "elites": 2, "iterations": 1},
    "subgoals": {"kind": "none"},
    "max_steps": 3,
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny exported model, its task, a policy, TwoRooms shards and a few things that are none of these."""
    root = tmp_path_factory.mktemp("cli_agent")
    export_world_model(build_world_model(MODEL), MODEL, root / "model")
    export_world_model(build_world_model(MODEL32), MODEL32, root / "model32")
    (root / "task.yaml").write_text(yaml.safe_dump(TASK))
    save_policy(Policy(8, [-0.05, -0.05], [0.05, 0.05], hidden_dim=8), root / "policy")
    generate_shards(
        GenerateSettings("two_rooms", episodes=16, frames=10, shard_size=4, image_size=32),
        root / "shards",
        progress=False,
    )
    wm = build_world_model(MODEL32)
    torch.save(
        {
            "hyper_parameters": {"world_model_config": MODEL32},
            "state_dict": {"world_model." + k: v for k, v in wm.state_dict().items()},
        },
        root / "model.ckpt",
    )
    (root / "videos").mkdir()
    for i in range(2):
        (root / "videos" / f"v{i}.mp4").write_bytes(encode_video(synthetic_frames(i, 6), 10, "h264"))
    (root / "a_file").write_text("not a folder\n")
    (root / "empty").mkdir()
    return {
        "model": root / "model",
        "model32": root / "model32",
        "task": root / "task.yaml",
        "policy": root / "policy",
        "shards": root / "shards",
        "videos": root / "videos",
        "ckpt": root / "model.ckpt",
        "file": root / "a_file",
        "empty": root / "empty",
    }


def error_line(capsys) -> str:
    """The last line of stderr, checked to be the only thing printed after the logs: no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def plan_args(inputs: dict[str, Path], out: Path, command: str = "plan") -> list[str]:
    return [*command.split(), "--ckpt", str(inputs["model"]), "--task", str(inputs["task"]), "--out", str(out)]


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        ("plan", ["--episodes", "0"], "--episodes: expected at least 1 episode, got 0"),
        ("plan", ["--episodes", "-2"], "--episodes: expected at least 1 episode, got -2"),
        ("probe plan", ["--episodes", "0"], "--episodes: expected at least 1 episode, got 0"),
        ("distill", ["--episodes", "0"], "--episodes: expected a positive integer, got 0"),
        ("distill", ["--eval_episodes", "0"], "--eval_episodes: expected a positive integer, got 0"),
        ("distill", ["--steps", "0"], "--steps: expected a positive integer, got 0"),
        ("plan", ["--env", "hjepa/Fork-v0"], "'hjepa/Fork-v0' is not a goal-reaching environment"),
        ("plan", ["--env", "hjepa/Crossing-v0"], "goal-reaching ones: .*'hjepa/TwoRooms-v0'"),
        ("plan", ["--data", "/nonexistent/shards"], "--data: no such shard file '/nonexistent/shards'"),
        ("probe plan", ["--data", "{empty}"], "--data: folder .*empty holds no shard"),
        ("distill", ["--data", "/nonexistent/shards"], "--data: no such shard file"),
    ],
)
def test_bad_plan_and_distill_arguments(inputs, tmp_path, capsys, command, extra, message):
    out = tmp_path / "out"
    args = plan_args(inputs, out, command) + [arg.format(**inputs) for arg in extra]
    assert main(args) == 2
    line = error_line(capsys)
    assert line.startswith("error: ") and re.search(message, line), line
    assert not out.exists()


def test_bad_task_files_are_named(inputs, tmp_path, capsys):
    task = tmp_path / "task.yaml"
    task.write_text("name: tiny\nplanner: {name: cem, horizon: 2\n")  # unclosed mapping
    assert main([*plan_args(inputs, tmp_path / "out"), "--task", str(task)]) == 2
    assert f"error: {task}: not valid YAML" in error_line(capsys)
    task.write_text(yaml.safe_dump({**TASK, "planner": {**TASK["planner"], "population": "many"}}))
    assert main([*plan_args(inputs, tmp_path / "out"), "--task", str(task)]) == 2
    assert f"error: {task}: planner.population: expected int, got 'many'" in error_line(capsys)


def test_damaged_policies_are_named(inputs, tmp_path, capsys):
    import shutil

    policy = tmp_path / "policy"
    shutil.copytree(inputs["policy"], policy)
    weights = policy / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert main([*plan_args(inputs, tmp_path / "out", "probe plan"), "--policy", str(policy)]) == 2
    assert f"error: {weights}: not a safetensors file" in error_line(capsys)
    shutil.copy(inputs["policy"] / "policy.safetensors", weights)
    config = policy / "policy.json"
    config.write_text(config.read_text().replace("hidden_dim", "hiden_dim"))
    assert main([*plan_args(inputs, tmp_path / "out", "probe plan"), "--policy", str(policy)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"error: {config}: ") and "hiden_dim" in line, line
    config.write_text("{")
    assert main([*plan_args(inputs, tmp_path / "out", "probe plan"), "--policy", str(policy)]) == 2
    assert f"error: {config}: not JSON" in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_distill_records_in_the_world_of_its_shards(inputs, tmp_path):
    out = tmp_path / "distill"
    args = [
        "distill",
        "--ckpt",
        str(inputs["model32"]),
        "--task",
        str(inputs["task"]),
        "--data",
        str(inputs["shards"]),
        "--episodes",
        "1",
        "--steps",
        "2",
        "--eval_episodes",
        "1",
        "--out",
        str(out),
    ]
    assert main(args) == 0  # the 32x32 shards set the environment's image size, as in the evaluation episodes
    assert {p.name for p in out.iterdir()} >= {"policy.safetensors", "policy.json", "distill.json"}


@pytest.mark.parametrize("command", ["plan", "probe plan", "distill", "probe linear"])
def test_an_output_that_is_a_file_is_refused_before_any_work(inputs, capsys, command):
    args = plan_args(inputs, inputs["file"] / "sub" if command == "distill" else inputs["file"], command)
    if command == "probe linear":
        args = [
            "probe",
            "linear",
            "--ckpt",
            str(inputs["model"]),
            "--data",
            str(inputs["shards"]),
            "--out",
            str(inputs["file"]),
        ]
    assert main(args) == 2
    assert f"error: --out: {inputs['file']} is a file, not a folder" in error_line(capsys)
    assert inputs["file"].read_text() == "not a folder\n"


# ----- fuzzing the numeric and path arguments

COUNTS = st.sampled_from([-(2**63), -2, -1, 0, 1, 2])  # huge positive counts are valid requests for long runs
SEEDS = st.sampled_from([-(2**63), -1, 0, 1, 2**32, 2**63, 10**30])
FRACTIONS = st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 1e300, float("inf"), float("nan")])
SIZES = st.sampled_from([-1, 0, 7, 8, 16, 33, 2**63])  # image sizes: larger valid ones cost memory
STEPS = st.one_of(st.sampled_from([-(2**63), 0, 2**63, 10**30]), st.integers(-2, 4))  # huge: refused or cheap
PATHS = ("valid", "valid", "valid", "missing", "file", "empty")  # what a --ckpt or --data argument points at
OUTS = ("new", "new", "new", "file", "empty", "under_file")  # what --out points at


def path_arg(inputs: dict[str, Path], kind: str, valid: Path) -> str:
    return str(
        {"valid": valid, "missing": inputs["empty"] / "missing", "file": inputs["file"], "empty": inputs["empty"]}[kind]
    )


def out_arg(inputs: dict[str, Path], kind: str, scratch: Path) -> Path:
    return {"new": scratch / "out", "file": inputs["file"], "empty": scratch, "under_file": inputs["file"] / "out"}[
        kind
    ]


def files_under(path: Path) -> set[Path]:
    return set(path.rglob("*")) if path.is_dir() else set()


def command_args(draw, inputs: dict[str, Path], command: str) -> list[str]:
    """Arguments of `command` with drawn numbers and drawn kinds of paths (--out is added by the test)."""

    def path(valid: Path) -> str:
        return path_arg(inputs, draw(st.sampled_from(PATHS)), valid)

    if command == "generate":
        numbers = {
            "--seed": SEEDS,
            "--shard_size": STEPS,
            "--image_size": SIZES,
            "--workers": st.sampled_from([-1, 0, 1]),
        }
        args = ["generate", "--world", "two_rooms", "--episodes", str(draw(COUNTS)), "--frames", str(draw(COUNTS))]
    elif command == "shard":
        numbers = {"--size": st.sampled_from([-1, 0, 7, 8, 16]), "--fps": FRACTIONS, "--shard_size": STEPS}
        args = ["shard", "--src", path(inputs["videos"])]
    elif command == "inspect":
        numbers = {
            "--num_frames": STEPS,
            "--frame_stride": STEPS,
            "--batch_size": STEPS,
            "--max_batches": STEPS,
            "--workers": st.sampled_from([-1, 0]),
        }
        args = ["inspect", "--data", path(inputs["shards"])]
    elif command == "export":
        numbers, args = {}, ["export", "--ckpt", path(inputs["ckpt"])]
    elif command == "probe linear":
        numbers = {
            "--rollout_k": STEPS,
            "--num_frames": STEPS,
            "--frame_stride": STEPS,
            "--batch_size": STEPS,
            "--max_batches": STEPS,
            "--val_fraction": FRACTIONS,
            "--seed": SEEDS,
            "--workers": st.sampled_from([-1, 0]),
        }
        args = ["probe", "linear", "--ckpt", path(inputs["model32"]), "--data", path(inputs["shards"])]
    else:
        numbers = (
            {"--episodes": COUNTS, "--seed": SEEDS}
            if command != "distill"
            else {"--episodes": COUNTS, "--steps": COUNTS, "--eval_episodes": COUNTS}
        )
        with_data = draw(st.booleans())
        model = inputs["model32"] if with_data else inputs["model"]  # the environment renders at the shards' size
        args = [*command.split(), "--ckpt", path(model), "--task", str(inputs["task"])]
        args += ["--data", path(inputs["shards"])] if with_data else []
        args += ["--planners", "cem"] if command == "probe plan" else []
    for flag, values in numbers.items():
        if draw(st.booleans()):
            args += [flag, str(draw(values))]
    return args


@pytest.mark.parametrize(
    "command", ["generate", "shard", "inspect", "export", "probe linear", "plan", "probe plan", "distill"]
)
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_arguments_exit_0_or_2_with_one_line_and_no_partial_output(inputs, capsys, command, data):
    capsys.readouterr()
    args = command_args(data.draw, inputs, command)
    with tempfile.TemporaryDirectory() as scratch:
        out = out_arg(inputs, data.draw(st.sampled_from(OUTS)), Path(scratch))
        before = files_under(out)
        try:
            status = main([*args, "--out", str(out)])
        except SystemExit as stop:  # argparse's usage errors
            status = stop.code
        err = capsys.readouterr().err
        assert status in (0, 2), err
        assert "Traceback" not in err, err
        if status == 2:
            last = err.strip().splitlines()[-1]
            assert re.match(r"(hjepa[\w ]*: )?error: ", last), err
            assert files_under(out) == before, "a failed run left output behind"
        assert inputs["file"].read_text() == "not a folder\n"


def test_plan_cli_names_bad_inputs(tmp_path, capsys):
    config = {
        "encoder": {"name": "convnet_tiny", "embed_dim": 8, "width": 8},
        "predictor": {"kind": "gru", "hidden_dim": 8, "action_dim": 2},
    }
    model = tmp_path / "model"
    export_world_model(build_world_model(config), config, model)
    common = ["--ckpt", str(model), "--task", "configs/tasks/reach.yaml", "--out", str(tmp_path)]
    assert main(["plan", "--env", "hjepa/Nowhere-v0", *common]) == 2
    assert "not a registered gymnasium id" in capsys.readouterr().err
    weights = load_file(model / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("predictor.")}, model / "model.safetensors")
    meta = json.loads((model / "config.json").read_text())
    del meta["weights_sha256"]  # an export from before checksums: loading reaches the missing predictor
    (model / "config.json").write_text(json.dumps(meta))
    assert main(["probe", "plan", "--env", "hjepa/TwoRooms-v0", *common]) == 2
    assert "predictor" in capsys.readouterr().err  # the planner needs the predictor the file lacks
