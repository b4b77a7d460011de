import io
import tarfile
import time

import numpy as np
import pytest
import webdataset as wds

from hjepa.data.shards import (
    list_shards,
    load_npy,
    npy_bytes,
    read_episodes,
    read_shard,
    sample_key,
    write_shard,
)
from tests.data.synthetic import synthetic_episode, write_synthetic_shards


def test_shards_are_byte_identical_and_atomic(tmp_path):
    a = write_synthetic_shards(tmp_path / "a", 6, 5, 4)
    b = write_synthetic_shards(tmp_path / "b", 6, 5, 4)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not list((tmp_path / "a").glob("*.tmp"))
    assert [p.name for p in list_shards(tmp_path / "a")] == ["shard-000000.tar", "shard-000001.tar"]


def test_shards_written_at_different_times_are_byte_identical_and_ownerless(tmp_path, monkeypatch):
    episodes = [synthetic_episode(e, 5) for e in range(3)]
    write_shard(tmp_path / "now.tar", episodes)
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.5)  # a wall clock far from the first write's
    write_shard(tmp_path / "later.tar", episodes)
    assert (tmp_path / "now.tar").read_bytes() == (tmp_path / "later.tar").read_bytes()
    with tarfile.open(tmp_path / "later.tar") as tar:
        headers = {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in tar.getmembers()}
    assert headers == {(0, 0, 0, "", "", 0o444)}


def test_shards_keep_the_stdlib_ustar_layout_byte_for_byte(tmp_path):
    episodes = [synthetic_episode(e, 5) for e in range(3)]
    write_shard(tmp_path / "shard.tar", episodes)
    expected = io.BytesIO()  # the layout shards had when written with tarfile by hand
    with tarfile.open(fileobj=expected, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (member for episode in episodes for member in episode.members()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o444
            tar.addfile(info, io.BytesIO(data))
    assert (tmp_path / "shard.tar").read_bytes() == expected.getvalue()


def test_shard_members_read_back_through_read_shard_and_webdataset(tmp_path):
    long_key = synthetic_episode(3, 4)
    long_key.key = "k" * 120  # names over ustar's 100 characters: a pax record carries them
    episodes = [synthetic_episode(e, 5) for e in range(3)] + [long_key]
    path = tmp_path / "shard.tar"
    write_shard(path, episodes)
    with tarfile.open(path) as tar:
        assert tar.getnames() == [name for episode in episodes for name, _ in episode.members()]
    expected = [{name.removeprefix(f"{e.key}."): data for name, data in e.members()} for e in episodes]
    for samples in (list(read_shard(str(path))), list(wds.WebDataset(str(path), shardshuffle=False))):
        assert [s["__key__"] for s in samples] == [e.key for e in episodes]
        assert [{k: v for k, v in s.items() if not k.startswith("__")} for s in samples] == expected


def test_interrupted_write_leaves_the_final_path_as_it_was_and_no_temporary(tmp_path):
    broken = synthetic_episode(1, 5)
    broken.actions = np.array([["not a number"]], dtype=object)  # members() raises after episode 0 was written
    path = tmp_path / "shard.tar"
    with pytest.raises(ValueError, match="could not convert"):
        write_shard(path, [synthetic_episode(0, 5), broken])
    assert list(tmp_path.iterdir()) == []
    write_shard(path, [synthetic_episode(0, 5)])
    complete = path.read_bytes()
    with pytest.raises(ValueError, match="could not convert"):
        write_shard(path, [synthetic_episode(2, 5), broken])
    assert path.read_bytes() == complete and list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    "tar_format", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["ustar", "gnu", "pax"]
)
def test_shards_are_read_as_webdataset_reads_them(tmp_path, tar_format):
    folder = "f" * 120  # a long path: ustar prefix, GNU long-name member or pax record, by format
    members = [
        ("a.mp4", b"v" * 700),
        ("a.JSON", b"{}"),
        ("__meta__", b"m"),
        (f"{folder}/b.states.npy", b"s"),
        (f"{folder}/b.json", b"1"),
        ("no_extension", b"x"),
        ("c.txt", b""),
    ]
    path = tmp_path / "shard.tar"
    with tarfile.open(path, "w", format=tar_format) as tar:
        folder_info = tarfile.TarInfo("a_folder")
        folder_info.type = tarfile.DIRTYPE
        tar.addfile(folder_info)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1.5  # a fractional time: pax writes a record for it
            tar.addfile(info, io.BytesIO(data))
    expected = list(wds.tarfile_samples(iter([{"url": str(path)}])))
    assert [s["__key__"] for s in expected] == ["a", f"{folder}/b", "c"]
    assert list(read_shard(str(path))) == expected


def test_cut_or_damaged_shard_raises_after_the_samples_before_the_damaged_one(tmp_path):
    (path,) = write_synthetic_shards(tmp_path, 3, 5, 3)
    with tarfile.open(path) as tar:
        inside_member = tar.getmember("ep00001.states.npy").offset_data + 10
        header = tar.getmember("ep00002.mkv").offset
    whole = path.read_bytes()
    # ep00001 is being grouped when the damage is found (its last member or the next header): it is dropped
    for data, error in (
        (whole[:inside_member], "cut inside a member"),
        (whole[: header + 100], "cut inside a header"),
        (whole[:header] + b"X" + whole[header + 1 :], "bad checksum"),
    ):
        path.write_bytes(data)
        keys = []
        with pytest.raises(ValueError, match=error):
            for sample in read_shard(str(path)):
                keys.append(sample["__key__"])
        assert keys == ["ep00000"]


def test_sample_keys_have_no_dots_or_slashes():
    assert sample_key("a/b.c d.mp4") == "a_b_c_d_mp4"
    assert synthetic_episode(3, 4).key == "ep00003"


def saved(array: np.ndarray) -> bytes:
    """The bytes np.save writes for `array` (its layout and shape kept as they are)."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4)),
        np.zeros((5, 0), np.float32),
        np.array(3.5),
        np.arange(6, dtype=">u2"),
    ],
)
def test_npy_members_read_back_as_numpy_saved_them(array):
    loaded = load_npy(saved(array), "member")
    assert loaded.dtype == array.dtype and loaded.shape == array.shape and np.array_equal(loaded, array)


def test_npy_with_version_2_header_reads():
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones((2, 3), np.float32), version=(2, 0))
    assert np.array_equal(load_npy(buffer.getvalue(), "member"), np.ones((2, 3), np.float32))


@pytest.mark.parametrize(
    "data",
    [
        saved(np.array([{"a": 1}], dtype=object)),  # would need pickle
        npy_bytes(np.ones((4, 4), np.float32))[:-8],  # cut short
        b"not an array at all",
    ],
)
def test_npy_that_cannot_be_read_safely_names_the_member(data):
    with pytest.raises(ValueError, match="ep00001.states.npy: not a valid .npy array"):
        load_npy(data, "ep00001.states.npy")


def test_read_episodes_gives_back_the_written_episodes(tmp_path):
    (path,) = write_synthetic_shards(tmp_path, 3, 5, 3)
    episodes = read_episodes(path)
    for index, episode in enumerate(episodes):
        written = synthetic_episode(index, 5)
        assert (episode.key, episode.video, episode.video_ext, episode.meta) == (
            written.key,
            written.video,
            written.video_ext,
            written.meta,
        )
        np.testing.assert_array_equal(episode.actions, written.actions)
        np.testing.assert_array_equal(episode.states, written.states)
    with tarfile.open(path, "a") as tar:  # a sample without its arrays and metadata
        info = tarfile.TarInfo("stray.mkv")
        tar.addfile(info)
    with pytest.raises(ValueError, match=r"sample stray has members \['mkv'\]; expected a video, actions.npy"):
        read_episodes(path)
