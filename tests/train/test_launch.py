"""Bad launches fail before any process group starts, naming the settings to change; unreachable
`pipe:` shards stop the reader with an error naming the URL instead of resampling forever."""

import pytest

from hjepa.data.dataset import MAX_CONSECUTIVE_BAD_SHARDS, ClipDataset, ClipSpec, DataConfigError
from hjepa.train.cli import run_lightning_cli
from hjepa.train.launch import check_launch, launcher_layout
from tests.train.test_cli import tiny_config

TORCHRUN_2x2 = {
    "RANK": "0",
    "GROUP_RANK": "0",
    "LOCAL_RANK": "0",
    "LOCAL_WORLD_SIZE": "2",
    "WORLD_SIZE": "4",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29500",
    "TORCHELASTIC_RUN_ID": "none",
}
SLURM_4x8 = {"SLURM_NTASKS": "32", "SLURM_NNODES": "4", "SLURM_NTASKS_PER_NODE": "8(x4)", "SLURM_JOB_NAME": "hjepa"}


def test_launcher_layout_is_read_from_the_environment():
    assert launcher_layout({}) is None
    assert launcher_layout(TORCHRUN_2x2)[:3] == ("torchrun", 4, 2)
    assert launcher_layout(SLURM_4x8)[:3] == ("SLURM", 32, 8)
    assert launcher_layout({**SLURM_4x8, "SLURM_JOB_NAME": "bash"}) is None  # interactive: not launched by SLURM


def test_matching_layouts_pass():
    check_launch(2, 2, TORCHRUN_2x2)
    check_launch(4, 8, SLURM_4x8)
    check_launch(4, "auto", SLURM_4x8)  # devices chosen by Lightning: only the node count is checked
    check_launch(1, 8, {})  # no launcher: Lightning starts the processes itself


@pytest.mark.parametrize(
    "env, nodes, devices, said",
    [
        (TORCHRUN_2x2, 1, 2, "WORLD_SIZE=4, LOCAL_WORLD_SIZE=2"),
        (TORCHRUN_2x2, 2, 1, "WORLD_SIZE=4"),
        (SLURM_4x8, 4, 2, "SLURM_NTASKS=32, SLURM_NNODES=4"),
        (SLURM_4x8, 2, 8, "SLURM_NTASKS=32"),
    ],
)
def test_mismatched_layouts_name_the_settings_and_the_fix(env, nodes, devices, said):
    launcher = launcher_layout(env)[0]
    expected_nodes, per_node = (2, 2) if launcher == "torchrun" else (4, 8)
    with pytest.raises(ValueError) as error:
        check_launch(nodes, devices, env)
    message = str(error.value)
    assert f"trainer.num_nodes={nodes} x trainer.devices={devices}" in message and said in message
    assert f"--trainer.num_nodes {expected_nodes} --trainer.devices {per_node}" in message


def test_fit_refuses_a_layout_the_launcher_did_not_start(tiny_rooms, tmp_path, monkeypatch):
    for name, value in TORCHRUN_2x2.items():
        monkeypatch.setenv(name, value)
    config = tiny_config(tmp_path, tiny_rooms)
    with pytest.raises(ValueError, match="trainer.num_nodes=1 x trainer.devices=1 does not match the torchrun"):
        run_lightning_cli(["fit", "--config", str(config), "--trainer.max_steps", "1"])


def test_unreachable_pipe_url_stops_resampling_with_its_name(caplog):
    url = "pipe:cat /nonexistent/bucket/shard-000000.tar"
    dataset = ClipDataset([url], ClipSpec(num_frames=4), resampled=True, samples_per_worker=8)
    with pytest.raises(DataConfigError, match=f"{MAX_CONSECUTIVE_BAD_SHARDS} shards in a row.*/nonexistent/bucket"):
        next(iter(dataset))
    assert dataset.counter.shards == MAX_CONSECUTIVE_BAD_SHARDS
