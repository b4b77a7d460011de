"""The data commands of the `hjepa` CLI (generate, shard, inspect, export): a message, never a traceback."""

import json
import os
from pathlib import Path

import pytest

from hjepa.cli import main
from hjepa.data.inspect import state_names


@pytest.fixture
def two_rooms(tmp_path: Path) -> Path:
    """Three shards of one tiny two_rooms episode each (state names x, y)."""
    out = tmp_path / "two_rooms"
    assert (
        main(
            [
                "generate",
                "--world",
                "two_rooms",
                "--episodes",
                "3",
                "--frames",
                "3",
                "--shard_size",
                "1",
                "--image_size",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def inspect(data: Path, out: Path) -> int:
    return main(
        ["inspect", "--data", str(data), "--out", str(out), "--workers", "0", "--num_frames", "2", "--batch_size", "2"]
    )


def test_inspect_passes_over_an_unreadable_first_shard(two_rooms, tmp_path):
    (two_rooms / "shard-000000.tar").write_bytes(b"\x00not a tar" * 100)
    assert inspect(two_rooms, tmp_path / "inspect") == 0
    stats = json.loads((tmp_path / "inspect" / "data_stats.json").read_text())
    assert stats["clips"] == 2 and stats["skipped_shards"] == 1
    assert (tmp_path / "inspect" / "contact_sheet.png").is_file()
    assert state_names(str(two_rooms)) == ["x", "y"]


def test_inspect_refuses_a_pipe_url_when_turned_off(two_rooms, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HJEPA_ALLOW_PIPE", "0")
    marker = tmp_path / "ran"
    assert inspect(f"pipe:touch {marker}; cat {two_rooms}/shard-000000.tar", tmp_path / "inspect") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "HJEPA_ALLOW_PIPE" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "inspect").exists()


def fails_with(args: list[str], capsys: pytest.CaptureFixture, *words: str) -> None:
    """The command exits with status 2 and one line `error: ...` holding `words`."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert all(word in err for word in words), err


def out_commands(tmp_path: Path, out: Path) -> dict[str, list[str]]:
    """generate, shard, inspect and export with valid inputs (tiny) writing to `out`."""
    from tests.data.synthetic import write_synthetic_shards

    write_synthetic_shards(tmp_path / "shards", episodes=2, frames=4, shard_size=2)
    (tmp_path / "videos").mkdir()
    (tmp_path / "model.ckpt").write_bytes(b"not read before --out is checked")
    return {
        "generate": ["generate", "--world", "two_rooms", "--episodes", "1", "--frames", "2", "--image_size", "32"],
        "shard": ["shard", "--src", str(tmp_path / "videos")],
        "inspect": ["inspect", "--data", str(tmp_path / "shards"), "--workers", "0", "--num_frames", "2"],
        "export": ["export", "--ckpt", str(tmp_path / "model.ckpt")],
    }


@pytest.mark.parametrize("command", ["generate", "shard", "inspect", "export"])
def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, command):
    out = tmp_path / "taken"
    out.write_text("a file the user keeps")
    fails_with(out_commands(tmp_path, out)[command] + ["--out", str(out)], capsys, "--out", "is a file")
    assert out.read_text() == "a file the user keeps"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders: there is nothing to refuse")
@pytest.mark.parametrize("command", ["generate", "shard", "inspect", "export"])
def test_out_in_a_read_only_folder_is_refused_before_any_work(tmp_path, capsys, command):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        fails_with(
            out_commands(tmp_path, folder)[command] + ["--out", str(folder / "out")], capsys, "--out", "cannot write"
        )
        assert not list(folder.iterdir())
    finally:
        folder.chmod(0o700)


def test_shard_checks_out_before_decoding_any_video(tmp_path, capsys, monkeypatch):
    import hjepa.data.convert
    from tests.data.test_convert import write_video

    write_video(tmp_path / "videos" / "a.mp4", "mp4", "libx264", "yuv420p", frames=4, width=32, height=32)
    monkeypatch.setattr(hjepa.data.convert, "read_source", lambda *args: pytest.fail("decoded before the check"))
    (tmp_path / "taken").write_text("")
    fails_with(
        ["shard", "--src", str(tmp_path / "videos"), "--out", str(tmp_path / "taken" / "sub")],
        capsys,
        "--out",
        "is a file",
    )


GENERATE = ["generate", "--episodes", "1", "--frames", "2", "--image_size", "32"]


@pytest.mark.parametrize(
    "world, options, words",
    [
        ("maze", '{"image_size": 32}', ("world_kwargs", "image_size", "--image_size")),
        ("maze", '{"rows": 0}', ("rows",)),
        ("maze", '{"rows": null}', ("rows", "expected an integer")),
        ("maze", '{"door_width": "wide"}', ("door_width", "expected a finite number")),
        ("moving_shapes", '{"speed_range": 5}', ("speed_range", "a list of 2 numbers")),
        ("hjepa/Maze-v0", '{"door_width": "wide"}', ("door_width",)),
        ("hjepa/PushT-v0", '{"rows": 2}', ("hjepa/PushT-v0", "rows")),
    ],
)
def test_bad_world_options_are_named_before_any_output(tmp_path, capsys, world, options, words):
    out = tmp_path / "out"
    fails_with(GENERATE + ["--world", world, "--world_kwargs", options, "--out", str(out)], capsys, *words)
    assert not out.exists()


def test_world_options_that_are_not_an_object_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--world_kwargs: expected a JSON object"):
        main(GENERATE + ["--world", "maze", "--world_kwargs", "[1, 2]", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--episodes", "0", ("episodes", ">= 1")),
        ("--episodes", "-2", ("episodes", ">= 1")),
        ("--image_size", "33", ("image_size", "even")),
    ],
)
def test_impossible_generate_numbers_are_named_before_any_output(tmp_path, capsys, flag, value, words):
    out = tmp_path / "out"
    fails_with(GENERATE + ["--world", "two_rooms", "--out", str(out), flag, value], capsys, *words)
    assert not out.exists()


def test_settings_left_by_a_failed_run_do_not_block_the_next(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "generate.json").write_text(json.dumps({"world": "two_rooms", "image_size": 33}))  # no shard was made
    assert main(GENERATE + ["--world", "two_rooms", "--out", str(out)]) == 0
    assert json.loads((out / "generate.json").read_text())["image_size"] == 32
    assert (out / "shard-000000.tar").is_file()
