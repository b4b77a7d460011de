"""The data commands of the `hjepa` CLI (generate, shard, inspect, export): a message, never a traceback."""

import json
from pathlib import Path

import pytest

from hjepa.cli import _state_names, main


@pytest.fixture
def two_rooms(tmp_path: Path) -> Path:
    """Three shards of one tiny two_rooms episode each (state names x, y)."""
    out = tmp_path / "two_rooms"
    assert main(["generate", "--world", "two_rooms", "--episodes", "3", "--frames", "3", "--shard-size", "1",
                 "--image-size", "32", "--out", str(out)]) == 0
    return out


def inspect(data: Path, out: Path) -> int:
    return main(["inspect", "--data", str(data), "--out", str(out), "--workers", "0", "--num-frames", "2",
                 "--batch-size", "2"])


def test_inspect_passes_over_an_unreadable_first_shard(two_rooms, tmp_path):
    (two_rooms / "shard-000000.tar").write_bytes(b"\x00not a tar" * 100)
    assert inspect(two_rooms, tmp_path / "inspect") == 0
    stats = json.loads((tmp_path / "inspect" / "data_stats.json").read_text())
    assert stats["clips"] == 2 and stats["skipped_shards"] == 1
    assert (tmp_path / "inspect" / "contact_sheet.png").is_file()
    assert _state_names(str(two_rooms)) == ["x", "y"]


def test_inspect_refuses_a_pipe_url_when_turned_off(two_rooms, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HJEPA_ALLOW_PIPE", "0")
    marker = tmp_path / "ran"
    assert inspect(f"pipe:touch {marker}; cat {two_rooms}/shard-000000.tar", tmp_path / "inspect") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "HJEPA_ALLOW_PIPE" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "inspect").exists()
