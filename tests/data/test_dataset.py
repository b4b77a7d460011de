"""The streaming clip dataset: splitting, resampling, alignment, corruption handling, bad input."""

import io
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hjepa.data.augment import ClipAugment
from hjepa.data.clips import clip_actions, frame_indices
from hjepa.data.datamodule import VideoDataModule, resolve_shards
from hjepa.data.dataset import ClipDataset, ClipSpec, DataConfigError, episode_split
from hjepa.data.video import decode_video
from tests.data.synthetic import synthetic_frames, write_synthetic_shards


def keys_of(dataset, workers=2, batch_size=4):
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    return [k.split("@")[0] for batch in loader for k in batch["key"]]


def test_exact_mode_sees_every_sample_once_across_ranks_and_workers(shard_dir):
    urls = resolve_shards(str(shard_dir))
    seen = []
    for rank in range(2):
        dataset = ClipDataset(urls, ClipSpec(num_frames=4), rank=rank, world_size=2)
        rank_keys = keys_of(dataset, workers=2)
        assert rank_keys, "every rank gets data"
        seen += rank_keys
    counts = Counter(seen)
    assert len(counts) == 40 and set(counts.values()) == {1}


def test_resampled_mode_gives_every_rank_the_same_number_of_batches(tmp_path):
    # 3 shards of unequal size: exact splitting would give ranks different amounts of data.
    write_synthetic_shards(tmp_path, episodes=11, frames=8, shard_size=5)
    data = VideoDataModule(
        str(tmp_path),
        num_frames=4,
        batch_size=3,
        num_workers=2,
        decoder="pyav",
        resampled=True,
        train_batches_per_epoch=5,
        val_fraction=0.0,
    )
    counts = []
    for rank in range(2):
        loader = data.loader(data.dataset("train", rank=rank, world_size=2))
        counts.append(sum(1 for _ in loader))
    assert counts[0] == counts[1] == 6  # 5 rounded up to a multiple of 2 workers


def test_frames_states_and_actions_stay_aligned_with_stride(shard_dir):
    urls = resolve_shards(str(shard_dir))
    dataset = ClipDataset(
        urls, ClipSpec(num_frames=4, frame_stride=3, clips_per_episode=2, split="train", val_fraction=0.0)
    )
    clips = list(dataset)
    assert len(clips) == 80
    for clip in clips:
        t = clip["states"][:, 0].numpy().astype(int)  # state column 0 is the frame index
        episode = int(clip["states"][0, 1])
        assert np.array_equal(np.diff(t), [3, 3, 3])
        expected = synthetic_frames(episode, 12)[t]
        assert torch.equal(clip["frames"], torch.from_numpy(expected).permute(0, 3, 1, 2))
        # action i concatenates the 3 episode actions from frame t_i: (t, -e) pairs
        actions = clip["actions"].numpy().reshape(3, 3, 2)
        assert np.array_equal(actions[:, :, 0], t[:-1, None] + np.arange(3))
        assert np.all(actions[:, :, 1] == -episode)
        assert clip["labels"]["episode"].item() == episode


# The clip streams of seed 0 over 40 h264 episodes of 12 frames (5 per shard), 2 workers, batches of 4,
# 2 clips per episode of 4 frames every 2nd frame, shuffle buffer 8; recorded before the loader was made faster.
STREAM_OF_SEED_0 = {
    "exact": """
        ep00021@5 ep00022@5 ep00020@5 ep00023@2 ep00015@1 ep00018@4 ep00018@1 ep00019@4 ep00030@2 ep00021@1
        ep00024@1 ep00023@1 ep00017@3 ep00019@3 ep00016@3 ep00005@2 ep00020@2 ep00031@5 ep00032@1 ep00033@5
        ep00005@0 ep00008@1 ep00015@3 ep00017@0 ep00031@0 ep00033@1 ep00034@4 ep00022@3 ep00006@3 ep00025@1
        ep00009@0 ep00006@4 ep00034@2 ep00032@2 ep00000@4 ep00024@0 ep00009@2 ep00027@2 ep00026@2 ep00008@3
        ep00000@2 ep00001@3 ep00004@0 ep00010@1 ep00025@2 ep00016@0 ep00007@2 ep00028@4 ep00003@4 ep00004@3
        ep00011@2 ep00030@3 ep00007@2 ep00036@0 ep00029@2 ep00029@4 ep00010@2 ep00011@3 ep00002@2 ep00012@3
        ep00035@3 ep00028@0 ep00035@4 ep00039@1 ep00012@3 ep00014@2 ep00013@5 ep00001@5 ep00026@5 ep00036@1
        ep00038@1 ep00027@2 ep00003@2 ep00014@4 ep00013@4 ep00002@5 ep00037@3 ep00038@4 ep00039@1 ep00037@4""",
    "resampled": """
        ep00016@5 ep00017@5 ep00015@1 ep00018@5 ep00035@2 ep00038@3 ep00038@0 ep00039@4 ep00005@1 ep00016@2
        ep00019@2 ep00018@3 ep00037@3 ep00039@1 ep00036@3 ep00020@4 ep00015@0 ep00006@5 ep00007@0 ep00008@5
        ep00020@0 ep00023@2 ep00035@5 ep00037@0""",
}


def episodes_in(folder: Path) -> dict[str, dict[str, bytes]]:
    """Every sample of the shards in `folder`, read with the standard library's tarfile: key -> members."""
    episodes: dict[str, dict[str, bytes]] = {}
    for shard in sorted(folder.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                key, extension = member.name.split(".", 1)
                episodes.setdefault(key, {})[extension] = tar.extractfile(member).read()
    return episodes


def slow_clip(
    episode: dict[str, bytes], start: int, num_frames: int, stride: int, decoder: str
) -> dict[str, torch.Tensor]:
    """A clip the obvious way: decode the whole episode, then index its frames, states and actions."""
    indices = frame_indices(start, num_frames, stride)
    frames = decode_video(episode["mp4"], None, decoder)[indices]
    states = np.load(io.BytesIO(episode["states.npy"]))[indices]
    actions = clip_actions(np.load(io.BytesIO(episode["actions.npy"])), start, num_frames, stride)
    return {
        "frames": torch.from_numpy(frames).permute(0, 3, 1, 2),
        "states": torch.from_numpy(states),
        "actions": torch.from_numpy(actions),
    }


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
@pytest.mark.parametrize("mode", ["exact", "resampled"])
def test_loader_yields_the_clips_of_the_slow_path_in_the_recorded_order(tmp_path, decoder, mode):
    write_synthetic_shards(tmp_path, episodes=40, frames=12, shard_size=5, codec="h264")
    data = VideoDataModule(
        str(tmp_path),
        num_frames=4,
        frame_stride=2,
        clips_per_episode=2,
        batch_size=4,
        num_workers=2,
        decoder=decoder,
        resampled=mode == "resampled",
        train_batches_per_epoch=6,
        val_fraction=0.0,
        shuffle_buffer=8,
    )
    episodes, keys = episodes_in(tmp_path), []
    for batch in data.train_dataloader():
        # (B, T, 3, H, W), the whole batch buffer: channels-last in memory, as the decoders wrote it
        assert batch["frames"].shape == (4, 4, 3, 32, 32) and batch["frames"].movedim(2, -1).is_contiguous()
        for i, key in enumerate(batch["key"]):
            name, start = key.split("@")
            expected = slow_clip(episodes[name], int(start), 4, 2, decoder)
            for field in ("frames", "states", "actions"):
                assert torch.equal(batch[field][i], expected[field]), f"{key} {field}"
            assert batch["labels"]["episode"][i].item() == int(name[2:])
            keys.append(key)
    assert keys == STREAM_OF_SEED_0[mode].split()


def test_train_and_val_split_by_episode(shard_dir):
    data = VideoDataModule(
        str(shard_dir), num_frames=4, batch_size=4, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.25
    )
    train = {k.split("@")[0] for b in data.train_dataloader() for k in b["key"]}
    val = {k.split("@")[0] for b in data.val_dataloader() for k in b["key"]}
    assert not train & val and len(train | val) == 40
    assert val == {f"ep{e:05d}" for e in range(40) if episode_split(f"ep{e:05d}", 0.25) == "val"}
    assert 4 <= len(val) <= 16


def corrupt_member(shard: Path, key: str, extension: str) -> None:
    """Replace the bytes of one member of a tar shard with garbage of the same length."""
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for member, data in members:
            if member.name == f"{key}.{extension}":
                data = b"\x00garbage" * (len(data) // 8)
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
def test_corrupt_sample_is_skipped_and_counted(shard_dir, decoder):
    corrupt_member(shard_dir / "shard-000002.tar", "ep00012", "mkv")
    data = VideoDataModule(
        str(shard_dir), num_frames=4, batch_size=4, num_workers=2, decoder=decoder, resampled=False, val_fraction=0.0
    )
    keys = {k.split("@")[0] for b in data.loader(data.dataset("all")) for k in b["key"]}
    assert len(keys) == 39 and "ep00012" not in keys
    assert data.skipped_samples == 1


def remove_member(shard: Path, name: str) -> None:
    """Rewrite a tar shard without its member `name`."""
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.name != name]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data))


def all_keys(data: VideoDataModule) -> set[str]:
    return {k.split("@")[0] for b in data.loader(data.dataset("all")) for k in b["key"]}


def test_sample_without_its_video_is_skipped_and_counted(shard_dir):
    remove_member(shard_dir / "shard-000002.tar", "ep00012.mkv")
    data = VideoDataModule(
        str(shard_dir), num_frames=4, batch_size=4, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.0
    )
    assert all_keys(data) == {f"ep{e:05d}" for e in range(40)} - {"ep00012"}
    assert data.skipped_samples == 1


def test_shard_cut_between_two_members_skips_and_counts_the_incomplete_sample(shard_dir):
    shard = shard_dir / "shard-000001.tar"  # episodes 5 to 9
    with tarfile.open(shard) as tar:
        cut = tar.getmember("ep00007.actions.npy").offset  # its header: a 512-byte boundary
    shard.write_bytes(shard.read_bytes()[:cut])
    data = VideoDataModule(
        str(shard_dir), num_frames=4, batch_size=4, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.0
    )
    assert all_keys(data) == {f"ep{e:05d}" for e in range(40)} - {"ep00007", "ep00008", "ep00009"}
    assert data.skipped_samples == 1  # ep00007 kept only its video; 8 and 9 are gone with the cut


def test_truncated_shard_is_skipped_and_counted(shard_dir):
    shard = shard_dir / "shard-000005.tar"
    shard.write_bytes(shard.read_bytes()[:1000])
    (shard_dir / "shard-000006.tar").unlink()
    data = VideoDataModule(
        str(shard_dir), num_frames=4, batch_size=4, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.0
    )
    keys = {k.split("@")[0] for b in data.loader(data.dataset("all")) for k in b["key"]}
    assert len(keys) == 30 and data.skipped_shards == 1


def test_shard_vanishing_mid_run_is_skipped_and_counted(shard_dir):
    urls = resolve_shards(str(shard_dir))
    dataset = ClipDataset(urls, ClipSpec(num_frames=4))
    (shard_dir / "shard-000003.tar").unlink()
    keys = {c["key"].split("@")[0] for c in dataset}
    assert len(keys) == 35 and dataset.counter.shards == 1


def test_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        resolve_shards(str(tmp_path / "nope" / "shard-{000000..000003}.tar"))
    with pytest.raises(FileNotFoundError, match="no shard"):
        resolve_shards(str(tmp_path))


def test_shard_without_expected_members_names_the_file(tmp_path):
    path = tmp_path / "foreign.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in (("a.jpg", b"x"), ("a.cls", b"1")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataConfigError, match="foreign.tar.*expected members"):
        list(ClipDataset([str(path)], ClipSpec(num_frames=2)))


def test_clip_longer_than_episode_names_the_field(shard_dir):
    with pytest.raises(DataConfigError, match="data.num_frames"):
        list(ClipDataset(resolve_shards(str(shard_dir)), ClipSpec(num_frames=13)))


def test_bad_settings_name_the_field(shard_dir):
    with pytest.raises(ValueError, match="data.num_frames"):
        VideoDataModule(str(shard_dir), num_frames=1)
    with pytest.raises(ValueError, match="decoder"):
        VideoDataModule(str(shard_dir), decoder="opencv").setup()
    with pytest.raises(ValueError, match="crop_scale"):
        VideoDataModule(str(shard_dir), crop_scale=(0.5, 1.5))


def test_fewer_shards_than_readers_warns(tmp_path):
    write_synthetic_shards(tmp_path, episodes=4, frames=6, shard_size=4)
    data = VideoDataModule(str(tmp_path), num_frames=4, num_workers=2, resampled=False, val_fraction=0.0)
    with pytest.warns(UserWarning, match="1 shards for 2 ranks x 2 workers"):
        data.dataset("all", rank=0, world_size=2)


def test_augmentation_is_the_same_for_every_frame():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 256, (3, 32, 32), dtype=np.uint8))
    clip = image.expand(5, 3, 32, 32)  # a static scene: every frame identical
    augment = ClipAugment(crop_scale=(0.4, 0.6), brightness=0.2)
    for _ in range(5):
        out = augment(clip, rng)
        assert out.shape == clip.shape and out.dtype == torch.uint8
        assert all(torch.equal(out[0], frame) for frame in out), "one transform for all frames"
        assert not torch.equal(out[0], image)


def test_only_training_clips_are_augmented(shard_dir):
    kwargs = dict(
        num_frames=4, batch_size=2, num_workers=0, decoder="pyav", val_fraction=0.0, resampled=False, shuffle_buffer=0
    )
    plain = VideoDataModule(str(shard_dir), **kwargs)
    augmented = VideoDataModule(str(shard_dir), crop_scale=(0.5, 0.6), **kwargs)

    def first(data, split):
        return next(iter(data.dataset(split)))["frames"]

    assert torch.equal(first(plain, "all"), first(augmented, "all"))
    # same seed, so the same first clip: it differs only by the augmentation
    assert plain.dataset("train").augment is None
    assert not torch.equal(first(plain, "train"), first(augmented, "train"))
    assert first(augmented, "train").shape == (4, 3, 32, 32)


def test_batches_become_float_after_transfer(shard_dir):
    data = VideoDataModule(
        str(shard_dir),
        num_frames=4,
        batch_size=2,
        num_workers=0,
        decoder="pyav",
        train_batches_per_epoch=1,
        val_fraction=0.0,
    )
    batch = data.on_after_batch_transfer(next(iter(data.train_dataloader())), 0)
    assert batch["frames"].dtype == torch.float32 and batch["frames"].max() <= 1.0
    assert batch["frames"].shape == (2, 4, 3, 32, 32) and batch["actions"].shape == (2, 3, 2)


def test_pipe_urls_stream_shards_from_a_command(shard_dir):
    data = VideoDataModule(
        f"pipe:cat {shard_dir}/shard-{{000000..000007}}.tar",
        num_frames=4,
        batch_size=8,
        num_workers=2,
        decoder="pyav",
        resampled=False,
        val_fraction=0.0,
    )
    keys = {k.split("@")[0] for b in data.loader(data.dataset("all")) for k in b["key"]}
    assert len(keys) == 40 and data.skipped_shards == 0


def test_failing_pipe_url_is_skipped_counted_and_named(shard_dir, caplog):
    urls = [f"pipe:cat {shard_dir}/shard-000000.tar", "pipe:cat /nonexistent/bucket/shard-000001.tar"]
    dataset = ClipDataset(urls, ClipSpec(num_frames=4))
    keys = {c["key"].split("@")[0] for c in dataset}
    assert len(keys) == 5 and dataset.counter.shards == 1
    assert "/nonexistent/bucket/shard-000001.tar" in caplog.text


def test_pipe_urls_are_refused_when_turned_off(shard_dir, monkeypatch):
    url = f"pipe:cat {shard_dir}/shard-000000.tar"
    monkeypatch.setenv("HJEPA_ALLOW_PIPE", "0")
    with pytest.raises(ValueError, match="data.shards: .*pipe: URL.*HJEPA_ALLOW_PIPE=0"):
        VideoDataModule([str(shard_dir / "shard-000001.tar"), url], num_workers=0).setup()
    with pytest.raises(ValueError, match="HJEPA_ALLOW_PIPE"):
        ClipDataset([url], ClipSpec(num_frames=4))
    monkeypatch.setenv("HJEPA_ALLOW_PIPE", "1")
    assert len(list(ClipDataset([url], ClipSpec(num_frames=4)))) == 5
