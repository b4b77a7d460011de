"""Video data: procedural generation, conversion of real videos, shards and the streaming data module."""

from hjepa.data.datamodule import VideoDataModule, frames_to_float, resolve_shards

__all__ = ["VideoDataModule", "frames_to_float", "resolve_shards"]
