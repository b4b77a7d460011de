"""`hjepa shard`: a folder of real videos -> shards + manifest, bad files skipped with reasons."""

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import webdataset as wds

from hjepa.cli import main
from hjepa.data.convert import convert_folder
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.shards import list_shards, load_npy, shard_metadata

# (relative path, muxer, encoder, pixel format)
GOOD = [
    ("a.mp4", "mp4", "libx264", "yuv420p"),
    ("nested/b.webm", "webm", "libvpx-vp9", "yuv420p"),
    ("nested/deeper/c.avi", "avi", "mpeg4", "yuv420p"),
    ("d.mov", "mov", "mjpeg", "yuvj420p"),
    ("e.mkv", "matroska", "ffv1", "yuv444p"),
]


def write_video(
    path: Path, muxer: str, encoder: str, pix_fmt: str, frames: int = 20, width: int = 96, height: int = 72
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(encoder, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for t in range(frames):
            image = np.full((height, width, 3), 30, np.uint8)
            image[20:40, 3 * t : 3 * t + 20] = 230
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture
def video_folder(tmp_path: Path) -> Path:
    src = tmp_path / "videos"
    for relative, muxer, encoder, pix_fmt in GOOD:
        write_video(src / relative, muxer, encoder, pix_fmt)
    np.save(src / "a.states.npy", np.arange(40, dtype=np.float32).reshape(20, 2))
    np.save(src / "a.actions.npy", np.ones((19, 3), np.float32))
    whole = (src / "a.mp4").read_bytes()
    (src / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    (src / "notes.mp4").write_text("this is text, not a video")
    (src / "readme.txt").write_text("not a video extension: ignored")
    return src


def test_good_videos_written_bad_ones_skipped_with_reasons(video_folder, tmp_path, capsys):
    out = tmp_path / "shards"
    assert main(["shard", "--src", str(video_folder), "--out", str(out), "--shard_size", "2"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["written"] == 5
    assert sorted(Path(s["path"]).name for s in manifest["skipped"]) == ["notes.mp4", "truncated.mp4"]
    assert all(s["reason"] for s in manifest["skipped"])
    assert manifest["shards"] == [p.name for p in list_shards(out)] and len(manifest["shards"]) == 3
    samples = [s for shard in manifest["shards"] for s in wds.WebDataset(str(out / shard), shardshuffle=False)]
    extensions = sorted(next(k for k in s if k in ("mp4", "webm", "avi", "mov", "mkv")) for s in samples)
    assert extensions == ["avi", "mkv", "mov", "mp4", "webm"]
    assert "skipped" in capsys.readouterr().err


def test_converted_videos_read_back_through_the_data_module(video_folder, tmp_path):
    out = tmp_path / "shards"
    convert_folder(video_folder, out, size=64, fps=10, progress=False)
    data = VideoDataModule(
        str(out), num_frames=4, batch_size=8, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.0
    )
    batches = list(data.loader(data.dataset("all")))
    frames = batches[0]["frames"]
    assert frames.shape[1:] == (4, 3, 64, 64)
    # resampled from 25 to 10 fps: 20 frames at 25 fps last 0.8 s -> 8 frames
    meta = [json.loads(s["json"]) for s in wds.WebDataset(str(out / "shard-000000.tar"), shardshuffle=False)]
    assert {m["num_frames"] for m in meta} == {8} and {m["fps"] for m in meta} == {10.0}
    assert data.skipped_samples == 0


def test_sidecars_travel_with_their_video(video_folder, tmp_path):
    out = tmp_path / "shards"
    convert_folder(video_folder, out, progress=False)
    sample = next(s for s in wds.WebDataset(str(out / "shard-000000.tar"), shardshuffle=False) if "mp4" in s)
    assert np.load(__import__("io").BytesIO(sample["states.npy"])).shape == (20, 2)
    assert np.load(__import__("io").BytesIO(sample["actions.npy"])).shape == (19, 3)


def test_rerun_continues_where_it_stopped(video_folder, tmp_path):
    out = tmp_path / "shards"
    first = convert_folder(video_folder, out, shard_size=2, progress=False)
    before = {p.name: p.read_bytes() for p in list_shards(out)}
    (out / "shard-000009.tar.tmp").write_bytes(b"half a shard from an interrupted run")
    write_video(video_folder / "new.mp4", "mp4", "libx264", "yuv420p")
    second = convert_folder(video_folder, out, shard_size=2, progress=False)
    assert second.written == first.written + 1
    after = {p.name: p.read_bytes() for p in list_shards(out)}
    assert all(after[name] == data for name, data in before.items()), "finished shards are untouched"
    assert len(after) == len(before) + 1
    assert second.sources["new.mp4"] == "shard-000003.tar"


def test_folder_of_only_bad_files_fails_clearly(tmp_path, capsys):
    src = tmp_path / "bad"
    src.mkdir()
    (src / "x.mp4").write_text("text")
    (src / "y.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 50)
    assert main(["shard", "--src", str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --src: no video") and "x.mp4" in err[-1]  # one line after the progress bar
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_missing_source_folder_names_it(tmp_path, capsys):
    assert main(["shard", "--src", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    assert "absent" in capsys.readouterr().err


@pytest.fixture
def three_videos(tmp_path: Path) -> Path:
    """Three tiny videos: with --shard_size 2 they make two shards."""
    src = tmp_path / "few"
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        write_video(src / name, "mp4", "libx264", "yuv420p", frames=4, width=32, height=32)
    return src


def assert_each_video_once(out: Path, names: list[str]) -> None:
    """Every source is in exactly one shard, and manifest.json says which, naming the shards on disk."""
    held = [meta["source"] for shard in list_shards(out) for meta in shard_metadata(shard)]
    assert sorted(held) == sorted(names), "no video lost, none duplicated"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards"] == [p.name for p in list_shards(out)]
    assert manifest["sources"] == {
        meta["source"]: shard.name for shard in list_shards(out) for meta in shard_metadata(shard)
    }
    assert manifest["written"] == len(names)


def test_rerun_after_a_shard_was_deleted_rewrites_only_its_videos(three_videos, tmp_path):
    out = tmp_path / "shards"
    convert_folder(three_videos, out, shard_size=2, progress=False)
    last = (out / "shard-000001.tar").read_bytes()
    (out / "shard-000000.tar").unlink()
    convert_folder(three_videos, out, shard_size=2, progress=False)
    assert (out / "shard-000001.tar").read_bytes() == last, "the gap is not filled by overwriting a finished shard"
    assert_each_video_once(out, ["a.mp4", "b.mp4", "c.mp4"])


def test_rerun_with_out_spelled_another_way_writes_nothing_again(three_videos, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["shard", "--src", str(three_videos), "--out", "shards", "--shard_size", "2"]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in list_shards(tmp_path / "shards")}
    assert main(["shard", "--src", str(three_videos), "--out", str(tmp_path / "shards"), "--shard_size", "2"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in list_shards(tmp_path / "shards")} == before
    assert_each_video_once(tmp_path / "shards", ["a.mp4", "b.mp4", "c.mp4"])


class Killed(Exception):
    """Stands for a kill -9 at one point of a run."""


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("rename", range(5))  # 2 shards and 3 manifest saves: 5 renames in a run
def test_kill_at_any_rename_then_rerun_loses_and_duplicates_nothing(three_videos, tmp_path, monkeypatch, rename, when):
    out, replace, calls = tmp_path / "shards", os.replace, []

    def replace_then_die(source, target):
        calls.append(target)
        if len(calls) - 1 == rename and when == "before":
            raise Killed  # the temporary file is written, not yet renamed
        replace(source, target)
        if len(calls) - 1 == rename:
            raise Killed  # renamed; what follows (the manifest save after a shard) never happens

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(Killed):
        convert_folder(three_videos, out, shard_size=2, progress=False)
    monkeypatch.setattr(os, "replace", replace)
    convert_folder(three_videos, out, shard_size=2, progress=False)
    assert_each_video_once(out, ["a.mp4", "b.mp4", "c.mp4"])


@pytest.mark.parametrize(
    "flag, value", [("--fps", "-1"), ("--fps", "0"), ("--fps", "nan"), ("--shard_size", "0"), ("--shard_size", "-2")]
)
def test_impossible_frame_rate_or_shard_size_is_refused_by_name(three_videos, tmp_path, capsys, flag, value):
    out = tmp_path / "shards"
    assert main(["shard", "--src", str(three_videos), "--out", str(out), flag, value]) == 2
    assert f"error: {flag}: expected" in capsys.readouterr().err
    assert not out.exists(), "nothing written"


@pytest.fixture
def class_folders(tmp_path: Path) -> Path:
    """Kinetics/UCF layout: two class folders, and one video outside any."""
    src = tmp_path / "classes"
    for name in ("jump/a.mp4", "jump/b.mp4", "run/c.mp4", "top.mp4"):
        write_video(src / name, "mp4", "libx264", "yuv420p", frames=4, width=32, height=32)
    return src


def test_folder_labels_reach_the_metadata_the_manifest_and_the_batches(class_folders, tmp_path, capsys):
    out = tmp_path / "shards"
    assert main(["shard", "--src", str(class_folders), "--out", str(out), "--labels", "folder"]) == 0
    meta = {m["source"]: m for m in shard_metadata(out / "shard-000000.tar")}
    assert {s: (m["labels"], m["class_name"]) for s, m in meta.items()} == {
        "jump/a.mp4": ({"class": 0}, "jump"),
        "jump/b.mp4": ({"class": 0}, "jump"),
        "run/c.mp4": ({"class": 1}, "run"),
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == ["jump", "run"] and manifest["class_counts"] == {"jump": 2, "run": 1}
    assert [Path(s["path"]).name for s in manifest["skipped"]] == ["top.mp4"]
    assert "top.mp4: no class" in capsys.readouterr().err
    data = VideoDataModule(
        str(out), num_frames=2, batch_size=3, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.0
    )
    batch = next(iter(data.loader(data.dataset("all"))))
    assert sorted(batch["labels"]["class"].tolist()) == [0, 0, 1]


def test_label_file_skips_and_counts_missing_videos_and_names_empty_classes(class_folders, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\njump/a.mp4,jump\nrun/gone.mp4,sit\nrun/c.mp4,run\n")
    out = tmp_path / "shards"
    assert main(["shard", "--src", str(class_folders), "--out", str(out), "--labels", str(labels)]) == 0
    assert sorted(m["source"] for m in shard_metadata(out / "shard-000000.tar")) == ["jump/a.mp4", "run/c.mp4"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == ["jump", "run", "sit"] and manifest["class_counts"] == {"jump": 1, "run": 1, "sit": 0}
    err = capsys.readouterr()
    assert f"gone.mp4: listed in {labels} line 3 but not a file under --src" in err.err
    assert f"--labels {labels}: class 'sit' has no converted video" in err.err
    assert "2 videos of 3 classes (2 samples) in 1 shards, 1 skipped" in err.out


def test_rerun_with_other_classes_is_refused(class_folders, tmp_path, capsys):
    labels, out = tmp_path / "labels.csv", tmp_path / "shards"
    labels.write_text("jump/a.mp4,jump\n")
    assert main(["shard", "--src", str(class_folders), "--out", str(out), "--labels", str(labels)]) == 0
    labels.write_text("jump/a.mp4,jump\nrun/c.mp4,run\n")
    assert main(["shard", "--src", str(class_folders), "--out", str(out), "--labels", str(labels)]) == 2
    assert "error: " in (err := capsys.readouterr().err) and "classes ['jump']" in err and "use another --out" in err


def write_counting_video(path: Path, frames: int, fps: int = 10) -> np.ndarray:
    """A lossless video whose frame t is filled with grey level 5 t, with states (t) and actions (t)
    sidecars; returns its frames (T, H, W, 3)."""
    from hjepa.data.video import encode_video

    video = np.broadcast_to((5 * np.arange(frames, dtype=np.uint8))[:, None, None, None], (frames, 16, 16, 3)).copy()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_video(video, fps, "ffv1"))
    np.save(path.with_suffix(".states.npy"), np.arange(frames, dtype=np.float32))
    np.save(path.with_suffix(".actions.npy"), np.arange(frames - 1, dtype=np.float32))
    return video


def samples_of(out: Path) -> list[dict]:
    return [s for shard in list_shards(out) for s in wds.WebDataset(str(shard), shardshuffle=False)]


@pytest.mark.parametrize("frames, lengths", [(47, [10, 10, 10, 10, 7]), (41, [10, 10, 10, 11])])
def test_segments_hold_every_frame_once_in_order_with_their_sidecars(tmp_path, frames, lengths):
    from hjepa.data.video import decode_video

    video = write_counting_video(tmp_path / "videos" / "long.mkv", frames)
    out = tmp_path / "shards"
    manifest = convert_folder(tmp_path / "videos", out, codec="ffv1", segment=1.0, shard_size=2, progress=False)
    samples = samples_of(out)
    assert manifest.written == 1 and manifest.samples == len(lengths) and len(manifest.shards) == 1
    metas = [json.loads(s["json"]) for s in samples]
    assert [m["num_frames"] for m in metas] == lengths  # a lone last frame joins the segment before
    decoded = np.concatenate([decode_video(s["mkv"]) for s in samples])
    np.testing.assert_array_equal(decoded, video)  # every frame in exactly one segment, in order
    firsts = np.cumsum([0] + lengths[:-1])
    assert [m["segment"]["first_frame"] for m in metas] == firsts.tolist()
    assert [(m["segment"]["start"], m["segment"]["end"]) for m in metas] == [
        (first / 10, (first + n) / 10) for first, n in zip(firsts, lengths)
    ]
    assert [s["__key__"] for s in samples][:2] == [
        "long_mkv-0000000000ms-0000001000ms",
        "long_mkv-0000001000ms-0000002000ms",
    ]
    assert {m["source"] for m in metas} == {"long.mkv"} and {m["group"] for m in metas} == {"long_mkv"}
    for sample, first, n in zip(samples, firsts, lengths):
        states, actions = (load_npy(sample[member], member) for member in ("states.npy", "actions.npy"))
        np.testing.assert_array_equal(states[:, 0], first + np.arange(n))
        np.testing.assert_array_equal(actions[:, 0], first + np.arange(n - 1))


def test_segments_of_a_video_stay_on_one_side_of_the_split_and_short_ends_are_passed_over(tmp_path):
    for name in "abcdef":
        write_counting_video(tmp_path / "videos" / f"{name}.mkv", 25)
    out = tmp_path / "shards"
    convert_folder(tmp_path / "videos", out, codec="ffv1", segment=1.0, progress=False)  # 10, 10, 5 frames
    keys = {}
    for split in ("train", "val"):
        data = VideoDataModule(
            str(out), num_frames=8, batch_size=4, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.5
        )
        keys[split] = [key for batch in data.loader(data.dataset(split)) for key in batch["key"]]
    sources = {split: {key[0] for key in keys[split]} for split in keys}
    assert sources["train"] and sources["val"] and not sources["train"] & sources["val"]
    assert len(keys["train"]) + len(keys["val"]) == 12, "two 10-frame segments per video; the 5-frame ends are short"


def test_a_segment_shorter_than_a_clip_is_named_when_read(tmp_path):
    from hjepa.data.dataset import DataConfigError

    write_counting_video(tmp_path / "videos" / "a.mkv", 25)
    convert_folder(tmp_path / "videos", tmp_path / "shards", codec="ffv1", segment=0.5, progress=False)
    data = VideoDataModule(
        str(tmp_path / "shards"),
        num_frames=8,
        batch_size=4,
        num_workers=0,
        decoder="pyav",
        resampled=False,
        val_fraction=0.0,
    )
    with pytest.raises(DataConfigError, match=r"data.num_frames: .*longer segments \(hjepa shard --segment\)"):
        next(iter(data.loader(data.dataset("all"))))


@pytest.mark.parametrize(
    "args, words",
    [
        (["--segment", "0.05"], ("--segment: 0.05 s is 1 frame(s) at 25 fps", "a.mp4", "at least 0.08 s")),
        (["--segment", "0.1", "--fps", "10"], ("--segment: 0.1 s is 1 frame(s) at 10 fps (--fps)",)),
        (["--segment", "0"], ("--segment: expected a positive number of seconds",)),
        (["--segment", "nan"], ("--segment: expected a positive number of seconds",)),
    ],
)
def test_segment_under_two_frames_is_refused_by_name(three_videos, tmp_path, capsys, args, words):
    out = tmp_path / "shards"
    assert main(["shard", "--src", str(three_videos), "--out", str(out)] + args) == 2
    err = capsys.readouterr().err
    assert all(word in err for word in words), err
    assert not list_shards(out)


def test_long_video_without_segments_gets_a_warning_naming_the_flag(three_videos, tmp_path, monkeypatch, caplog):
    import hjepa.data.convert

    monkeypatch.setattr(hjepa.data.convert, "LONG_VIDEO_SECONDS", 0.1)  # the test videos last 0.16 s
    convert_folder(three_videos, tmp_path / "shards", progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3 and all("--segment SECONDS" in w and "0 s long" in w for w in warnings)
