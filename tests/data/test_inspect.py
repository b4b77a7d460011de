"""Contact sheet: every frame of a batch as a tile of the grid, with the true position marked."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from hjepa.data.inspect import contact_sheet


def tile_origin(sheet: np.ndarray, tile: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) of every place where `tile` (h, w, 3) appears in `sheet` (H, W, 3): the slow, obvious search."""
    h, w, _ = tile.shape
    return [(r, c) for r in range(sheet.shape[0] - h + 1) for c in range(sheet.shape[1] - w + 1)
            if np.array_equal(sheet[r:r + h, c:c + w], tile)]


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
        assert yellow[r + 8, c + 4:c + 13].all() and yellow[r + 4:r + 13, c + 8].all()
