"""Clips decoded into their batch: the same batches as stacking decoded clips, without the stack's copy."""

import pytest
import torch

from hjepa.data.batch_buffer import BatchBuffer, collate_clips, whole_buffer
from hjepa.data.datamodule import VideoDataModule, frames_to_float
from hjepa.data.dataset import ClipDataset, ClipSpec
from hjepa.data.pixels import channels_first
from hjepa.data.shards import list_shards
from tests.data.synthetic import write_synthetic_shards
from tests.data.test_dataset import corrupt_member, episodes_in, slow_clip


def test_a_batchs_clips_are_its_buffer_taken_whole(tmp_path):
    write_synthetic_shards(tmp_path, episodes=10, frames=8, shard_size=5)
    urls = [str(p) for p in list_shards(tmp_path)]
    clips = list(ClipDataset(urls, ClipSpec(num_frames=4, split="all"), batch_size=4))
    assert len(clips) == 10
    batch = collate_clips(clips[:4])
    assert batch["frames"].untyped_storage().data_ptr() == clips[0]["frames"].untyped_storage().data_ptr()  # no copy
    assert torch.equal(batch["frames"], torch.stack([c["frames"] for c in clips[:4]]))
    assert batch["key"] == [c["key"] for c in clips[:4]]
    # the next batch has a buffer of its own: the first one is never written again
    assert clips[4]["frames"].untyped_storage().data_ptr() != clips[0]["frames"].untyped_storage().data_ptr()
    last = collate_clips(clips[8:])  # a short last batch: the first slots of its buffer
    assert last["frames"].shape[0] == 2 and torch.equal(last["frames"], torch.stack([c["frames"] for c in clips[8:]]))


def test_clips_that_are_not_their_buffer_in_order_are_stacked():
    buffer = BatchBuffer(3)
    first = buffer.start(torch.full((2, 4, 4, 3), 1, dtype=torch.uint8))
    assert first.shape == (2, 3, 4, 4)
    for value in (2, 3):
        slot = buffer.slot()
        slot.fill_(value)
        buffer.commit()
    clips = [{"frames": channels_first(f), "key": str(i)} for i, f in enumerate(buffer.frames)]
    assert whole_buffer([c["frames"] for c in clips]) is not None
    for order in ([1, 0, 2], [1, 2]):  # out of order; not starting at the first slot
        chosen = [clips[i] for i in order]
        assert whole_buffer([c["frames"] for c in chosen]) is None
        batch = collate_clips(chosen)
        assert batch["frames"].untyped_storage().data_ptr() != first.untyped_storage().data_ptr()
        assert torch.equal(batch["frames"], torch.stack([c["frames"] for c in chosen]))
    apart = {"frames": torch.full((2, 3, 4, 4), 9, dtype=torch.uint8), "key": "x"}  # decoded elsewhere
    assert torch.equal(collate_clips([clips[0], apart])["frames"], torch.stack([first, apart["frames"]]))
    with pytest.raises(ValueError, match="batch_size"):
        BatchBuffer(0)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_damaged_clip_leaves_its_slot_to_the_next_one(tmp_path, workers):
    write_synthetic_shards(tmp_path, episodes=12, frames=8, shard_size=6, codec="h264")
    corrupt_member(tmp_path / "shard-000000.tar", "ep00002", "mp4")  # the third clip of the first batch
    episodes = episodes_in(tmp_path)
    data = VideoDataModule(
        str(tmp_path), num_frames=4, batch_size=4, num_workers=workers, decoder="pyav", resampled=False, val_fraction=0
    )
    keys = []
    for batch in data.loader(data.dataset("all")):
        for i, key in enumerate(batch["key"]):
            name, start = key.split("@")
            assert torch.equal(batch["frames"][i], slow_clip(episodes[name], int(start), 4, 1, "pyav")["frames"]), key
            keys.append(name)
    assert len(keys) == 11 and "ep00002" not in keys and data.skipped_samples == 1


def test_channels_last_frames_become_contiguous_floats_of_the_same_pixels():
    pixels = torch.randint(0, 256, (2, 3, 5, 4, 3), dtype=torch.uint8)  # (B, T, H, W, 3) as decoders write them
    frames = frames_to_float({"frames": channels_first(pixels)})["frames"]
    assert frames.shape == (2, 3, 3, 5, 4) and frames.is_contiguous() and frames.dtype == torch.float32
    for b, t, c, y, x in [(0, 0, 0, 0, 0), (1, 2, 2, 4, 3), (1, 0, 1, 2, 1)]:
        assert frames[b, t, c, y, x] == torch.tensor(pixels[b, t, y, x, c].item() / 255.0, dtype=torch.float32)
