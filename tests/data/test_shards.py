import tarfile

import numpy as np
import pytest
import webdataset as wds

from hjepa.data.shards import list_shards, load_npy, read_shard, sample_key
from tests.data.synthetic import synthetic_episode, write_synthetic_shards


def test_shards_are_byte_identical_and_atomic(tmp_path):
    a = write_synthetic_shards(tmp_path / "a", 6, 5, 4)
    b = write_synthetic_shards(tmp_path / "b", 6, 5, 4)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not list((tmp_path / "a").glob("*.tmp"))
    assert [p.name for p in list_shards(tmp_path / "a")] == ["shard-000000.tar", "shard-000001.tar"]


def test_shards_read_back_with_webdataset(tmp_path):
    (path,) = write_synthetic_shards(tmp_path, 3, 5, 3)
    samples = list(wds.WebDataset(str(path), shardshuffle=False))
    assert [s["__key__"] for s in samples] == ["ep00000", "ep00001", "ep00002"]
    assert set(samples[0]) >= {"mkv", "actions.npy", "states.npy", "json"}
    states = load_npy(samples[1]["states.npy"], "states")
    assert states.shape == (5, 2) and np.all(states[:, 1] == 1)
    with tarfile.open(path) as tar:
        assert all(m.mtime == 0 for m in tar.getmembers())


def test_sample_keys_have_no_dots_or_slashes():
    assert sample_key("a/b.c d.mp4") == "a_b_c_d_mp4"
    assert synthetic_episode(3, 4).key == "ep00003"


def test_read_shard_gives_back_the_written_episodes(tmp_path):
    (path,) = write_synthetic_shards(tmp_path, 3, 5, 3)
    episodes = read_shard(path)
    for index, episode in enumerate(episodes):
        written = synthetic_episode(index, 5)
        assert (episode.key, episode.video, episode.video_ext, episode.meta) == (
            written.key, written.video, written.video_ext, written.meta)
        np.testing.assert_array_equal(episode.actions, written.actions)
        np.testing.assert_array_equal(episode.states, written.states)
    with tarfile.open(path, "a") as tar:  # a sample without its arrays and metadata
        info = tarfile.TarInfo("stray.mkv")
        tar.addfile(info)
    with pytest.raises(ValueError, match=r"sample stray has members \['mkv'\]; expected a video, actions.npy"):
        read_shard(path)
