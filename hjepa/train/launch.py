"""Checks that the trainer's `num_nodes` x `devices` matches what the launcher started.

torchrun sets WORLD_SIZE / LOCAL_WORLD_SIZE and SLURM sets SLURM_NTASKS / SLURM_NNODES; when they
disagree with the config, DDP would wait forever for ranks that never come, so fail first and say
which setting to change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

# The variables by which Lightning recognises each launcher (TorchElasticEnvironment, SLURMEnvironment).
TORCHRUN_VARIABLES = ("RANK", "GROUP_RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "WORLD_SIZE")


def _device_count(devices: Any) -> int | None:
    """Devices per node as a number, or None when Lightning decides (`auto`, -1)."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str):
        devices = devices.strip()
        if "," in devices:
            return len([d for d in devices.split(",") if d.strip()])
        if not re.fullmatch(r"-?\d+", devices):
            return None
        devices = int(devices)
    return devices if isinstance(devices, int) and devices > 0 else None


def launcher_layout(env: Mapping[str, str] | None = None) -> tuple[str, int, int, str] | None:
    """(launcher, processes in all, processes per node, how they were asked for) from the
    environment of torchrun or SLURM, or None when neither launched this process."""
    env = os.environ if env is None else env
    if all(name in env for name in TORCHRUN_VARIABLES):
        world, local = int(env["WORLD_SIZE"]), int(env["LOCAL_WORLD_SIZE"])
        return (
            "torchrun",
            world,
            local,
            f"WORLD_SIZE={world}, LOCAL_WORLD_SIZE={local} (torchrun --nnodes x --nproc_per_node)",
        )
    if "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        world = int(env["SLURM_NTASKS"])
        nodes = int(env.get("SLURM_NNODES", env.get("SLURM_JOB_NUM_NODES", 1)))
        per_node = int(re.match(r"\d+", env.get("SLURM_NTASKS_PER_NODE", str(world // max(nodes, 1)))).group())
        return (
            "SLURM",
            world,
            per_node,
            f"SLURM_NTASKS={world}, SLURM_NNODES={nodes} (sbatch --nodes x --ntasks-per-node)",
        )
    return None


def check_launch(num_nodes: int, devices: Any, env: Mapping[str, str] | None = None) -> None:
    """Raise ValueError naming `trainer.num_nodes`/`trainer.devices` and the launcher's numbers when
    they describe a different number of processes."""
    layout = launcher_layout(env)
    if layout is None:
        return
    launcher, world, per_node, asked = layout
    count = _device_count(devices)
    nodes = world // max(per_node, 1)
    wrong_devices = count is not None and count != per_node
    if wrong_devices or num_nodes != nodes:
        raise ValueError(
            f"trainer.num_nodes={num_nodes} x trainer.devices={devices} does not match the {launcher} launch: "
            f"{asked} means {nodes} nodes x {per_node} processes; set --trainer.num_nodes {nodes} "
            f"--trainer.devices {per_node}"
        )
