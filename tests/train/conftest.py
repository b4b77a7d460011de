"""Fixtures shared by the training tests: tiny generated TwoRooms shards (32x32 frames), one torch thread."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.threads import one_torch_thread


@pytest.fixture(scope="session")
def tiny_rooms(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_rooms")
    generate_shards(
        GenerateSettings("two_rooms", episodes=48, frames=10, shard_size=8, image_size=32), out, progress=False
    )
    return out


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models on shared cores train several times faster on one torch thread: intra-op threads spin-wait."""
    with one_torch_thread():
        yield
