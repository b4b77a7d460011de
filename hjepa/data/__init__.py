"""Video data: procedural generation, conversion of real videos, shards and the streaming data module."""

from typing import Any

__all__ = ["VideoDataModule", "frames_to_float", "resolve_shards"]


def __getattr__(name: str) -> Any:
    # The data module (and Lightning) is imported on first use, so `hjepa generate` workers stay light.
    if name in __all__:
        from hjepa.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module 'hjepa.data' has no attribute {name!r}")
