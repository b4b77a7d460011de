"""Contact sheet: every frame of a batch as a tile of the grid, with the true position marked; `hjepa inspect`
shows the frames of the shards it reads and their statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hjepa.cli import main
from hjepa.data.inspect import PADDING, contact_sheet
from tests.data.synthetic import synthetic_frames


def tile_origin(sheet: np.ndarray, tile: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) of every place where `tile` (h, w, 3) appears in `sheet` (H, W, 3): the slow, obvious search."""
    h, w, _ = tile.shape
    return [
        (r, c)
        for r in range(sheet.shape[0] - h + 1)
        for c in range(sheet.shape[1] - w + 1)
        if np.array_equal(sheet[r : r + h, c : c + w], tile)
    ]


def test_frames_are_tiled_by_clip_and_step_with_crosses_on_the_states(tmp_path):
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 200, (3, 4, 3, 8, 8), dtype=np.uint8))  # (B, T, C, H, W)
    batch = {"frames": frames, "states": torch.full((3, 4, 2), 0.5)}
    plain = np.asarray(Image.open(contact_sheet(batch, tmp_path / "plain.png", max_clips=2, max_frames=3)))
    origins = []
    for clip in range(2):
        for step in range(3):
            tile = frames[clip, step].permute(1, 2, 0).numpy().repeat(2, 0).repeat(2, 1)  # scale 2, nearest
            (origin,) = tile_origin(plain, tile)
            origins.append(origin)
    rows, cols = sorted({r for r, _ in origins}), sorted({c for _, c in origins})
    assert len(rows) == 2 and len(cols) == 3 and origins == [(r, c) for r in rows for c in cols]
    assert plain.shape[0] < 2 * 20 and plain.shape[1] < 3 * 20  # nothing of the clips or steps beyond the limits

    marked = np.asarray(Image.open(contact_sheet(batch, tmp_path / "marked.png", ["x", "y"], 2, 3)))
    yellow = np.all(marked == [255, 255, 0], axis=-1)
    for r, c in origins:  # a cross centred on the tile: the state is (0.5, 0.5)
        assert yellow[r + 8, c + 4 : c + 13].all() and yellow[r + 4 : r + 13, c + 8].all()


def test_inspect_command_shows_the_frames_of_the_shards_and_their_statistics(shard_dir, tmp_path):
    out = tmp_path / "inspect"
    assert (
        main(
            [
                "inspect",
                "--data",
                str(shard_dir),
                "--out",
                str(out),
                "--num_frames",
                "4",
                "--frame_stride",
                "2",
                "--batch_size",
                "3",
                "--max_batches",
                "2",
                "--workers",
                "0",
                "--decoder",
                "pyav",
            ]
        )
        == 0
    )
    sheet = np.asarray(Image.open(out / "contact_sheet.png"))
    size = 2 * 32  # 32x32 frames at scale 2
    assert sheet.shape == (PADDING + 3 * (size + PADDING), PADDING + 4 * (size + PADDING), 3)  # 3 clips x 4 steps
    episodes = []
    for row in range(3):
        top = PADDING + row * (size + PADDING)
        tiles = [sheet[top : top + size, PADDING + step * (size + PADDING) :][:, :size] for step in range(4)]
        episode = (np.arange(40) * 7 % 200).tolist().index(tiles[0][0, 0, 2])  # its blue level (synthetic_frames)
        video = synthetic_frames(episode, 12).repeat(2, 1).repeat(2, 2)
        starts = [t for t in range(12 - 6) if np.array_equal(tiles[0], video[t])]
        assert len(starts) == 1, f"clip {row}: its first tile is no frame of episode {episode}"
        for step, tile in enumerate(tiles):  # every second frame from there, lossless, in order
            np.testing.assert_array_equal(tile, video[starts[0] + 2 * step], f"clip {row}, step {step}")
        episodes.append(episode)
    assert len(set(episodes)) == 3, episodes

    stats = json.loads((out / "data_stats.json").read_text())
    assert stats["clips"] == 6 and stats["clip_shape"] == [4, 3, 32, 32]
    assert stats["state_max"][0] - stats["state_min"][0] >= 6  # state (t, episode): a clip spans frames t..t+6
    # a strided step joins the frame actions (t, -episode) and (t + 1, -episode)
    assert stats["action_mean"][2] == pytest.approx(stats["action_mean"][0] + 1)
    assert stats["action_mean"][3] == pytest.approx(stats["action_mean"][1])
    white = 4 / 32**2  # the 2x2 white block of every frame, alone in the red and green channels
    assert stats["pixel_mean"][:2] == [pytest.approx(white, abs=1e-4)] * 2
    assert stats["pixel_std"][:2] == [pytest.approx((white * (1 - white)) ** 0.5, abs=1e-4)] * 2
