"""Fixtures of synthetic shards (see synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.synthetic import write_synthetic_shards


@pytest.fixture
def shard_dir(tmp_path: Path) -> Path:
    """8 shards x 5 episodes of 12 frames, lossless."""
    write_synthetic_shards(tmp_path / "shards", episodes=40, frames=12, shard_size=5)
    return tmp_path / "shards"
