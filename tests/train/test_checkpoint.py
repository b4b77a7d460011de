"""Atomic checkpoint files: a kill during a save leaves the previous file whole; a damaged file gives an
error naming it, and resuming from `last` falls back to the newest readable checkpoint."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hjepa.train.checkpoint_io import AtomicCheckpointIO, CorruptCheckpointError, resolve_last
from hjepa.train.cli import run_lightning_cli
from tests.train.test_cli import checkpoint, tiny_config

# Saves a ~16 MB checkpoint over and over; "saved" after the first one is complete.
SAVE_LOOP = """
import sys, torch
from hjepa.train.checkpoint_io import AtomicCheckpointIO
io, step = AtomicCheckpointIO(), 0
while True:
    io.save_checkpoint({"global_step": step, "w": torch.full((4_000_000,), float(step))}, sys.argv[1])
    step += 1
    if step == 1:
        print("saved", flush=True)
"""


def test_sigkill_during_saves_never_leaves_a_damaged_file(tmp_path):
    path = tmp_path / "last.ckpt"
    for delay in (0.3,):  # one process: its start (imports) costs more than the check
        process = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(path)], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "saved"
        time.sleep(delay)  # most of the loop's time is spent writing: the kill lands mid-write
        process.send_signal(signal.SIGKILL)
        process.wait()
        loaded = AtomicCheckpointIO().load_checkpoint(path, weights_only=True)
        assert torch.equal(loaded["w"], torch.full((4_000_000,), float(loaded["global_step"])))
    assert [p.name for p in tmp_path.iterdir()] != [] and all(
        p.suffix != ".ckpt" or p.name == "last.ckpt" for p in tmp_path.iterdir()
    )


def test_failed_save_keeps_the_previous_file_and_no_temporary(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"global_step": 2, "bad": Unpicklable()}, path)
    assert io.load_checkpoint(path, weights_only=True)["global_step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_damaged_checkpoint_is_named(tmp_path):
    path = tmp_path / "epoch=0-step=3.ckpt"
    AtomicCheckpointIO().save_checkpoint({"global_step": 3, "w": torch.ones(1000)}, path)
    truncate(path)
    with pytest.raises(CorruptCheckpointError, match=r"epoch=0-step=3\.ckpt.*damaged or truncated"):
        AtomicCheckpointIO().load_checkpoint(path)


def test_resume_from_damaged_last_uses_the_previous_good_checkpoint(tiny_rooms, tmp_path):
    config = tiny_config(tmp_path, tiny_rooms)
    cli = run_lightning_cli(["fit", "--config", str(config), "--trainer.max_steps", "6"])
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt", "last.ckpt"]
    truncate(folder / "last.ckpt")
    truncate(folder / "epoch=1-step=6.ckpt")
    with pytest.warns(UserWarning) as warned:
        cli = run_lightning_cli(["fit", "--config", str(config), "--trainer.max_steps", "8", "--ckpt_path", "last"])
    messages = " ".join(str(w.message) for w in warned)
    assert "last.ckpt cannot be read" in messages and "epoch=1-step=6.ckpt cannot be read" in messages
    assert "resuming from the previous good checkpoint" in messages and "epoch=0-step=3.ckpt (step 3)" in messages
    assert cli.trainer.global_step == 8
    # the damaged files were replaced by good ones when the resumed run saved again
    assert sorted(p.name for p in folder.iterdir()) == ["epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt", "last.ckpt"]
    assert checkpoint(folder / "last.ckpt")["global_step"] == 8


def test_last_prefers_a_newer_slurm_preemption_checkpoint(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    assert resolve_last([folder], tmp_path) == "last"  # nothing saved: Lightning starts afresh
    (folder / "last.ckpt").write_bytes(b"x")
    assert resolve_last([folder], tmp_path) == "last"
    preempted = tmp_path / "hpc_ckpt_1.ckpt"
    preempted.write_bytes(b"x")
    os.utime(folder / "last.ckpt", (1, 1))
    assert resolve_last([folder], tmp_path) == str(preempted)
    os.utime(preempted, (0, 0))  # a step checkpoint written after the pre-emption one wins
    assert resolve_last([folder], tmp_path) == "last"
