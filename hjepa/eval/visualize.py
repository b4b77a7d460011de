"""What the frozen encoder sees (`hjepa probe visualize`): PCA maps of its patch tokens and clip retrieval.

The PCA map colours each patch by the first three principal components of the patch tokens of all shown clips
(one basis for all, so colours compare across frames and clips), each scaled to [0, 1], upsampled beside its
frame. Retrieval ranks the clips read by the cosine similarity of their time-pooled states to a query clip.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from hjepa.data.datamodule import VideoDataModule, frames_to_float
from hjepa.data.inspect import contact_sheet
from hjepa.export import load_encoder

PCA_COMPONENTS = 3  # red, green, blue


def pca_rgb(tokens: Tensor) -> tuple[Tensor, Tensor]:
    """Tokens (M, D) -> (colours (M, 3) in [0, 1], components (D, 3)): the projections on the first three
    principal components (orthonormal columns) of the centred tokens, each scaled by its range over the M."""
    centred = tokens.double() - tokens.double().mean(0)
    with torch.random.fork_rng(devices=[]):  # pca_lowrank draws a random basis: the same map on every run
        torch.manual_seed(0)
        # A rank a few above the 3 wanted keeps the randomized estimate of the leading components accurate.
        _, _, components = torch.pca_lowrank(centred, q=min(PCA_COMPONENTS + 5, *centred.shape), center=False)
    components = components[:, :PCA_COMPONENTS]
    projected = centred @ components
    low, high = projected.min(0).values, projected.max(0).values
    return ((projected - low) / (high - low).clamp_min(1e-12)).float(), components.float()


def patch_maps(tokens: Tensor, size: int) -> Tensor:
    """Patch tokens (B, T, N, D) of a square grid of N patches -> PCA colour maps (B, T, 3, size, size) uint8."""
    b, t, n, _ = tokens.shape
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"patch tokens: {n} patches do not form a square grid")
    colours, _ = pca_rgb(tokens.flatten(0, 2))
    maps = colours.view(b * t, side, side, 3).permute(0, 3, 1, 2)
    maps = F.interpolate(maps, size=(size, size), mode="nearest")  # each patch a block, as the encoder cut it
    return (maps * 255).round().to(torch.uint8).view(b, t, 3, size, size)


def nearest_clips(features: Tensor, queries: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """For each query index (Q,) into features (N, D): the k clips of highest cosine similarity, most similar
    first, as (indices (Q, k), similarities (Q, k)); a clip is its own nearest (similarity 1) unless duplicated."""
    unit = F.normalize(features.double(), dim=-1)
    similarities, indices = (unit[queries] @ unit.T).topk(k, dim=-1)
    return indices, similarities


@torch.no_grad()
def run_visualize(
    model_path: str | Path,
    data: str,
    out_dir: str | Path,
    num_frames: int = 8,
    frame_stride: int = 1,
    clips: int = 4,
    queries: int = 4,
    k: int = 5,
    batch_size: int = 32,
    max_batches: int | None = None,
    num_workers: int = 2,
    device: str | None = None,
) -> dict[str, Any]:
    """PCA maps of the patch tokens of the first `clips` clips of the shards `data`, and the `k` nearest clips
    of the first `queries` among all clips read (up to `max_batches` batches), by the encoder at `model_path`.

    Writes out_dir/patch_pca.png (per clip, a row of frames over a row of maps; the first frame of each tubelet),
    retrieval.png (per query, the first frames of the query and its neighbours) and retrieval.json; returns the
    latter's content.
    """
    if min(clips, queries, k) < 1:
        raise ValueError(f"--clips, --queries and --k: expected at least 1 each, got {clips}, {queries}, {k}")
    run_on = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = load_encoder(model_path).to(run_on)
    dm = VideoDataModule(
        data,
        num_frames=num_frames,
        frame_stride=frame_stride,
        batch_size=batch_size,
        num_workers=num_workers,
        val_fraction=0.0,
        resampled=False,
    )
    pooled, first_frames, keys, shown, tokens = [], [], [], [], []
    for index, batch in enumerate(dm.loader(dm.dataset("all"))):
        if max_batches is not None and index >= max_batches:
            break
        frames = frames_to_float({"frames": batch["frames"].to(run_on)})["frames"]
        pooled.append(encoder(frames).mean(1).float().cpu())
        first_frames.append(batch["frames"][:, 0])
        keys += list(batch["key"])
        wanted = clips - sum(len(c) for c in shown)
        if wanted > 0:
            shown.append(batch["frames"][:wanted, :: encoder.tubelet])
            tokens.append(encoder.patch_tokens(frames[:wanted]).float().cpu())
    if not pooled:
        raise ValueError(f"--data: no clip of {num_frames} frames could be read from {data}")
    features, gallery = torch.cat(pooled), torch.cat(first_frames)  # (N, D), (N, 3, H, W) uint8
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = torch.cat(shown)
    maps = patch_maps(torch.cat(tokens), frames.shape[-1])
    rows = torch.stack([frames, maps], 1).flatten(0, 1)  # (2 clips, T', 3, H, W): frames, then their maps
    contact_sheet({"frames": rows}, out_dir / "patch_pca.png", max_clips=len(rows), max_frames=rows.shape[1])
    indices, similarities = nearest_clips(features, torch.arange(min(queries, len(features))), min(k, len(features)))
    contact_sheet(
        {"frames": gallery[indices]}, out_dir / "retrieval.png", max_clips=len(indices), max_frames=indices.shape[1]
    )
    report = {
        "clips": len(features),
        "features": "clip states mean-pooled over time, compared by cosine similarity",
        "queries": [
            {
                "clip": query,
                "key": keys[query],
                "neighbours": row.tolist(),
                "neighbour_keys": [keys[i] for i in row],
                "similarities": [round(s, 4) for s in sims.tolist()],
            }
            for query, (row, sims) in enumerate(zip(indices, similarities))
        ],
    }
    (out_dir / "retrieval.json").write_text(json.dumps(report, indent=2))
    return report
