"""`hjepa plan`, `probe plan`, `distill` and `probe linear` on bad input: exit status 2 and a one-line
`error: ...` naming what was wrong, never a traceback, never a partial output."""

from pathlib import Path

import pytest
import yaml

from hjepa.agent.distill import save_policy
from hjepa.agent.policy import Policy
from hjepa.cli import main
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.export import export_world_model
from hjepa.models import build_world_model

MODEL = {"encoder": {"name": "convnet_tiny", "embed_dim": 8, "width": 8, "img_size": 64},
         "predictor": {"kind": "gru", "hidden_dim": 8, "action_dim": 2}}
MODEL32 = {**MODEL, "encoder": {**MODEL["encoder"], "img_size": 32}}  # the shards' size
TASK = {"name": "tiny", "cost": {"goal_distance": 1.0},
        "planner": {"name": "cem", "horizon": 2, "population": 8, "elites": 2, "iterations": 1},
        "subgoals": {"kind": "none"}, "max_steps": 3}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny exported model, its task, a policy, TwoRooms shards and a few things that are none of these."""
    root = tmp_path_factory.mktemp("cli_agent")
    export_world_model(build_world_model(MODEL), MODEL, root / "model")
    export_world_model(build_world_model(MODEL32), MODEL32, root / "model32")
    (root / "task.yaml").write_text(yaml.safe_dump(TASK))
    save_policy(Policy(8, [-0.05, -0.05], [0.05, 0.05], hidden_dim=8), root / "policy")
    generate_shards(GenerateSettings("two_rooms", episodes=16, frames=10, shard_size=4, image_size=32), root / "shards",
                    progress=False)
    (root / "a_file").write_text("not a folder\n")
    (root / "empty").mkdir()
    return {"model": root / "model", "model32": root / "model32", "task": root / "task.yaml", "policy": root / "policy",
            "shards": root / "shards", "file": root / "a_file", "empty": root / "empty"}


def error_line(capsys) -> str:
    """The last line of stderr, checked to be the only thing printed after the logs: no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def plan_args(inputs: dict[str, Path], out: Path, command: str = "plan") -> list[str]:
    return [*command.split(), "--ckpt", str(inputs["model"]), "--task", str(inputs["task"]), "--out", str(out)]


@pytest.mark.parametrize(("command", "extra", "message"), [
    ("plan", ["--episodes", "0"], "--episodes: expected at least 1 episode, got 0"),
    ("plan", ["--episodes", "-2"], "--episodes: expected at least 1 episode, got -2"),
    ("probe plan", ["--episodes", "0"], "--episodes: expected at least 1 episode, got 0"),
    ("distill", ["--episodes", "0"], "--episodes: expected a positive integer, got 0"),
    ("distill", ["--eval-episodes", "0"], "--eval-episodes: expected a positive integer, got 0"),
    ("distill", ["--steps", "0"], "--steps: expected a positive integer, got 0"),
    ("plan", ["--env", "hjepa/Fork-v0"], "'hjepa/Fork-v0' is not a goal-reaching environment"),
    ("plan", ["--env", "hjepa/Crossing-v0"], "goal-reaching ones: .*'hjepa/TwoRooms-v0'"),
    ("plan", ["--data", "/nonexistent/shards"], "--data: no such shard file '/nonexistent/shards'"),
    ("probe plan", ["--data", "{empty}"], "--data: folder .*empty holds no shard"),
    ("distill", ["--data", "/nonexistent/shards"], "--data: no such shard file"),
])
def test_bad_plan_and_distill_arguments(inputs, tmp_path, capsys, command, extra, message):
    import re

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
    args = ["distill", "--ckpt", str(inputs["model32"]), "--task", str(inputs["task"]), "--data", str(inputs["shards"]),
            "--episodes", "1", "--steps", "2", "--eval-episodes", "1", "--out", str(out)]
    assert main(args) == 0  # the 32x32 shards set the environment's image size, as in the evaluation episodes
    assert {p.name for p in out.iterdir()} >= {"policy.safetensors", "policy.json", "distill.json"}


@pytest.mark.parametrize("command", ["plan", "probe plan", "distill", "probe linear"])
def test_an_output_that_is_a_file_is_refused_before_any_work(inputs, capsys, command):
    args = plan_args(inputs, inputs["file"] / "sub" if command == "distill" else inputs["file"], command)
    if command == "probe linear":
        args = ["probe", "linear", "--ckpt", str(inputs["model"]), "--data", str(inputs["shards"]),
                "--out", str(inputs["file"])]
    assert main(args) == 2
    assert f"error: --out: {inputs['file']} is a file, not a folder" in error_line(capsys)
    assert inputs["file"].read_text() == "not a folder\n"
