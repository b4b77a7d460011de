"""Data-parallel `hjepa fit` on CPU (gloo): 2 processes on one node, and 2 nodes on loopback started by
torchrun. Both ranks end with identical weights, and read disjoint shards that together hold every
episode exactly once per epoch (exact mode, asserted from the sample keys each rank logs)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import lightning as L
import torch
import yaml

from hjepa.train.callbacks import read_sample_keys
from tests.train.test_cli import checkpoint, tiny_config

ROOT = Path(__file__).parents[2]
EPISODES = 48  # tiny_rooms: 6 shards of 8 episodes


class RankWeights(L.Callback):
    """Saves this rank's final weights to `<default_root_dir>/weights_rank<r>.pt`."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.save(pl_module.state_dict(), Path(trainer.default_root_dir) / f"weights_rank{trainer.global_rank}.pt")


def ddp_config(tmp_path: Path, shards: Path, batch_size: int, workers: int) -> Path:
    """The tiny config in exact mode (every episode once per epoch), logging keys and weights per rank."""
    path = tiny_config(tmp_path, shards)
    config = yaml.safe_load(path.read_text())
    config["trainer"]["callbacks"] += [
        {"class_path": "hjepa.train.callbacks.SampleKeyLog"},
        {"class_path": "tests.train.test_ddp.RankWeights"},
    ]
    config["trainer"]["log_every_n_steps"] = 1
    config["data"].update(resampled=False, val_fraction=0.0, batch_size=batch_size, num_workers=workers)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def fit_command(config: Path, steps: int) -> list[str]:
    return [
        "-m",
        "hjepa.cli",
        "fit",
        "--config",
        str(config),
        "--trainer.max_steps",
        str(steps),
        "--trainer.accelerator",
        "cpu",
        "--trainer.strategy",
        "ddp",
    ]


def check_ranks(run_dir: Path, steps: int) -> None:
    weights = [torch.load(run_dir / f"weights_rank{r}.pt", weights_only=True) for r in range(2)]
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), f"{name} differs between the ranks"
    assert checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] == steps
    episodes = []
    for rank in range(2):
        keys = read_sample_keys(run_dir / "sample_keys" / f"rank{rank}.tsv")
        assert sorted(keys) == list(range(1, steps + 1)), f"rank {rank} trained {sorted(keys)}"
        episodes.append({k.split("@")[0] for step_keys in keys.values() for k in step_keys})
        assert sum(len(v) for v in keys.values()) == len(episodes[-1]), f"rank {rank} read an episode twice"
    assert not episodes[0] & episodes[1], "the ranks read the same episodes"
    assert len(episodes[0] | episodes[1]) == EPISODES
    assert len(list(run_dir.rglob("metrics.csv"))) == 1, "only rank 0 logs"


def run(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-4000:]


def test_two_processes_on_one_node(tiny_rooms, tmp_path):
    # 2 ranks x 1 worker: 3 shards, 24 episodes, 3 batches of 8 each
    config = ddp_config(tmp_path, tiny_rooms, batch_size=8, workers=1)
    finish(run([sys.executable, *fit_command(config, 3), "--trainer.devices", "2"]))
    check_ranks(tmp_path, 3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_on_loopback_with_the_torchrun_script(tiny_rooms, tmp_path):
    # scripts/torchrun.sh on 2 "nodes" x 1 rank x 3 workers: one shard (8 episodes) per worker,
    # 6 batches of 4 per rank
    config = ddp_config(tmp_path, tiny_rooms, batch_size=4, workers=3)
    env = {
        **os.environ,
        "NNODES": "2",
        "NPROC_PER_NODE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "CONFIG": str(config),
        "PYTHON": sys.executable,
    }
    nodes = [
        run(
            [
                "bash",
                "scripts/torchrun.sh",
                "--trainer.max_steps",
                "6",
                "--trainer.accelerator",
                "cpu",
                "--trainer.strategy",
                "ddp",
            ],
            env={**env, "NODE_RANK": str(rank)},
        )
        for rank in range(2)
    ]
    for node in nodes:
        finish(node)
    check_ranks(tmp_path, 6)
