"""Checkpoint files that survive crashes: written atomically, checked when read.

A checkpoint is written to a temporary file in the same folder, flushed to disk (fsync) and then
renamed over the target, so a process killed mid-save (SIGKILL, pre-emption, node failure) leaves the
previous file intact, never a truncated one. Reading a damaged file raises an error naming it; for a
damaged `last*.ckpt` the newest readable checkpoint of the same folder is used instead, with a warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO


class CorruptCheckpointError(ValueError):
    """A checkpoint file exists but cannot be read (truncated, damaged or not a checkpoint)."""

    @classmethod
    def of(cls, path: str | Path, error: Exception) -> CorruptCheckpointError:
        """The error naming `path` and the first line of what reading it raised."""
        return cls(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {(str(error).splitlines() or [''])[0]}); "
            "it is damaged or truncated"
        )


def _is_local(path: str | Path) -> bool:
    return "://" not in str(path)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable: the folder's entry, not only the file's bytes."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` with fsync'ed temp-file-and-rename saves and a clear error (or, for
    `last*.ckpt`, a fallback to the previous good checkpoint) when a file is damaged. Remote paths
    (`s3://...`) keep Lightning's fsspec transaction."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if storage_options is not None or not _is_local(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # not *.ckpt: never taken for a checkpoint
        try:
            with open(temporary, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        _fsync_folder(path.parent)

    def load_checkpoint(
        self,
        path: str | Path,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        try:
            return self._read(path, map_location, weights_only)
        except CorruptCheckpointError as error:
            if not (_is_local(path) and Path(path).name.startswith("last")):
                raise
            for candidate in previous_checkpoints(Path(path)):
                try:
                    checkpoint = self._read(candidate, map_location, weights_only)
                except CorruptCheckpointError as other:
                    warnings.warn(str(other), stacklevel=2)
                    continue
                warnings.warn(
                    f"{error}; resuming from the previous good checkpoint {candidate} "
                    f"(step {checkpoint.get('global_step')})",
                    stacklevel=2,
                )
                return checkpoint
            raise CorruptCheckpointError(f"{error}; no other readable checkpoint in {Path(path).parent}") from error

    def _read(self, path: str | Path, map_location: Callable | None, weights_only: bool | None) -> dict[str, Any]:
        try:
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        except FileNotFoundError:
            raise
        except Exception as error:  # truncated zip, damaged pickle, not a checkpoint at all
            raise CorruptCheckpointError.of(path, error) from error


def previous_checkpoints(path: Path) -> list[Path]:
    """The other `*.ckpt` files beside `path`, newest first."""
    others = [p for p in path.parent.glob("*.ckpt") if p.resolve() != path.resolve()]
    return sorted(others, key=lambda p: p.stat().st_mtime, reverse=True)


def resolve_last(checkpoint_dirs: list[str | Path], root_dir: str | Path) -> str:
    """What `--ckpt_path last` resumes from: the newest of the `last*.ckpt` files in `checkpoint_dirs`
    and the `hpc_ckpt_*.ckpt` files Lightning writes to `root_dir` when SLURM pre-empts a job; returns
    the pre-emption checkpoint's path when it is newer, else "last" (Lightning's own choice)."""
    lasts = [p for d in checkpoint_dirs if _is_local(d) for p in Path(d).glob("last*.ckpt")]
    preempted = list(Path(root_dir).glob("hpc_ckpt_*.ckpt")) if _is_local(root_dir) else []
    if not preempted:
        return "last"
    newest = max(preempted, key=lambda p: p.stat().st_mtime)
    if all(newest.stat().st_mtime > p.stat().st_mtime for p in lasts):
        return str(newest)
    return "last"
