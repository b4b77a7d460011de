"""Tiny generated TwoRooms shards (32x32 frames) shared by the training tests."""

from pathlib import Path

import pytest

from hjepa.data.generate import GenerateSettings, generate_shards


@pytest.fixture(scope="session")
def tiny_rooms(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_rooms")
    generate_shards(GenerateSettings("two_rooms", episodes=48, frames=10, shard_size=8, image_size=32), out, progress=False)
    return out
