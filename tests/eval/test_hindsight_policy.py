"""`hjepa hindsight`: a Mode-1 policy trained on recorded episodes in the world model's action blocks, saved where
`hjepa probe plan --policy` loads it; bad input exits 2 naming the field."""

import json

import pytest

from hjepa.agent.distill import load_policy
from hjepa.cli import main
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.eval.episodes import task_env
from hjepa.export import export_world_model
from hjepa.models import build_world_model

ENCODER = {"name": "convnet_tiny", "embed_dim": 8, "width": 8, "img_size": 32}


def _model(action_dim: int) -> dict:
    return {"encoder": ENCODER, "predictor": {"kind": "gru", "hidden_dim": 8, "action_dim": action_dim}}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hindsight")
    for name, action_dim in (("blocks", 4), ("odd", 3)):  # TwoRooms actions are 2 numbers: blocks of 2, and none
        export_world_model(build_world_model(_model(action_dim)), _model(action_dim), root / name)
    generate_shards(
        GenerateSettings("two_rooms", episodes=16, frames=10, shard_size=4, image_size=32),
        root / "shards",
        progress=False,
    )
    return root


def _run(inputs, out, model="blocks", *extra):
    common = ["--data", str(inputs / "shards"), "--env", "hjepa/TwoRooms-v0", "--out", str(out)]
    common += ["--steps", "30", "--val_fraction", "0.3"]
    return main(["hindsight", "--ckpt", str(inputs / model), *common, *extra])


def test_the_policy_acts_in_the_world_models_action_blocks_and_is_saved_with_its_summary(inputs, tmp_path):
    assert _run(inputs, tmp_path / "policy", "blocks") == 0
    summary = json.loads((tmp_path / "policy" / "hindsight.json").read_text())
    assert summary["action_block"] == 2 and summary["goal_blocks"] == 2
    assert summary["train_episodes"] + summary["heldout_episodes"] == 16 and summary["heldout_episodes"] > 0
    assert summary["heldout_loss"] > 0 and summary["mean_action_loss"] > 0
    policy = load_policy(tmp_path / "policy")
    assert policy.state_dim == ENCODER["embed_dim"]
    box = task_env("hjepa/TwoRooms-v0", 1).action_space
    low, high = policy.centre - policy.half_range, policy.centre + policy.half_range
    assert low.tolist() == pytest.approx([*box.low] * 2) and high.tolist() == pytest.approx([*box.high] * 2)


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("odd", [], "takes actions of 3 numbers, but the environment's are 2"),
        ("blocks", ["--goal_blocks", "5"], "goal_blocks: 5 blocks of 2 steps reach past episodes of 10 frames"),
        ("blocks", ["--val_fraction", "0.01"], "--data: no val episode among the 16"),
        ("blocks", ["--val_fraction", "1"], "--val_fraction: expected a share of the episodes in (0, 1), got 1.0"),
        ("blocks", ["--steps", "0"], "--steps: expected a positive integer, got 0"),
        ("blocks", ["--data", "/nonexistent/shards"], "--data: no such shard file"),
    ],
)
def test_bad_input_is_named(inputs, tmp_path, capsys, model, extra, message):
    assert _run(inputs, tmp_path / "policy", model, *extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "policy").exists()
