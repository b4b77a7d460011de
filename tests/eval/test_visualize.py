"""`hjepa probe visualize`: PCA of patch tokens against the covariance's eigenvectors, maps laid out as the
frame is, retrieval against a brute-force cosine ranking, and the command's figures and JSON."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hjepa.cli import main
from hjepa.data.convert import convert_folder
from hjepa.data.video import encode_video
from hjepa.eval.visualize import nearest_clips, patch_maps, pca_rgb
from hjepa.export import export_world_model
from hjepa.models import build_world_model


def test_pca_components_are_orthonormal_and_the_covariances_leading_eigenvectors():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(300, 10, generator=g) * torch.tensor([9.0, 7, 5, 1, 1, 1, 1, 1, 1, 1]) + 3
    tokens = tokens @ torch.linalg.qr(torch.randn(10, 10, generator=g))[0]  # rotate: components are not the axes
    colours, components = pca_rgb(tokens)
    torch.testing.assert_close(components.T @ components, torch.eye(3), atol=1e-5, rtol=0)
    covariance = np.cov(tokens.numpy(), rowvar=False)
    _, eigenvectors = np.linalg.eigh(covariance)  # ascending eigenvalues
    leading = torch.from_numpy(eigenvectors[:, ::-1][:, :3].copy()).float()
    torch.testing.assert_close((leading * components).sum(0).abs(), torch.ones(3), atol=1e-4, rtol=0)  # up to sign
    assert colours.shape == (300, 3)
    torch.testing.assert_close(colours.min(0).values, torch.zeros(3))
    torch.testing.assert_close(colours.max(0).values, torch.ones(3))


def test_the_map_of_a_clip_whose_left_and_right_halves_differ_splits_left_from_right():
    g = torch.Generator().manual_seed(0)
    left, right = torch.randn(2, 8, generator=g)
    grid = torch.cat([left.expand(4, 2, 8), right.expand(4, 2, 8)], 1)  # (rows, cols, D): 4x4 patches
    tokens = grid.flatten(0, 1) + 0.05 * torch.randn(2, 16, 8, generator=g)  # two frames, row-major patches
    maps = patch_maps(tokens[None], 16)  # (1, 2, 3, 16, 16)
    assert maps.shape == (1, 2, 3, 16, 16) and maps.dtype == torch.uint8
    first = maps[0, :, 0].float() / 255  # the first component's channel, (T, H, W)
    low_left = first[..., :8].max() < 0.3 and first[..., 8:].min() > 0.7
    assert low_left or (first[..., :8].min() > 0.7 and first[..., 8:].max() < 0.3), first


def test_retrieval_ranks_by_cosine_similarity_the_query_first():
    features = torch.randn(12, 6, generator=torch.Generator().manual_seed(0))
    indices, similarities = nearest_clips(features, torch.tensor([0, 5]), k=4)
    for query, row, sims in zip([0, 5], indices, similarities):
        by_hand = sorted(
            ((float(features[query] @ f / (features[query].norm() * f.norm())), i) for i, f in enumerate(features)),
            reverse=True,
        )[:4]
        assert row.tolist() == [i for _, i in by_hand] and row[0] == query
        np.testing.assert_allclose(sims.numpy(), [s for s, _ in by_hand], atol=1e-6)
        assert sims[0] == pytest.approx(1.0) and (sims[:-1] >= sims[1:]).all()


def test_the_command_writes_maps_retrieval_and_json(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        video = np.zeros((4, 32, 32, 3), np.uint8)
        x, y = rng.integers(0, 24, size=2)
        video[:, y : y + 8, x : x + 8] = 220
        (tmp_path / "videos").mkdir(exist_ok=True)
        (tmp_path / "videos" / f"{i}.mp4").write_bytes(encode_video(video, 10))
    convert_folder(tmp_path / "videos", tmp_path / "shards", shard_size=8, progress=False)
    cfg = {"encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32}, "predictor": {"kind": "gru"}}
    torch.manual_seed(0)
    export_world_model(build_world_model(cfg).eval(), cfg, tmp_path / "export")
    out = tmp_path / "out"
    args = ["probe", "visualize", "--ckpt", str(tmp_path / "export"), "--data", str(tmp_path / "shards")]
    args += ["--out", str(out), "--num_frames", "4", "--clips", "2", "--queries", "3", "--k", "4", "--workers", "0"]
    assert main(args) == 0

    report = json.loads((out / "retrieval.json").read_text())
    assert report["clips"] == 6 and [q["clip"] for q in report["queries"]] == [0, 1, 2]
    for query in report["queries"]:
        assert query["neighbours"][0] == query["clip"] and query["similarities"][0] == 1.0
        assert query["similarities"] == sorted(query["similarities"], reverse=True) and len(query["neighbours"]) == 4
        assert query["neighbour_keys"][0] == query["key"]
    tile = 2 * 32 + 2  # contact sheets: frames scaled 2x, 2 pixels between tiles
    assert Image.open(out / "patch_pca.png").size == (4 * tile + 2, 2 * 2 * tile + 2)  # 2 clips: frames over maps
    assert Image.open(out / "retrieval.png").size == (4 * tile + 2, 3 * tile + 2)  # 3 queries, 4 clips each


def test_a_square_patch_grid_is_required():
    with pytest.raises(ValueError, match="do not form a square grid"):
        patch_maps(torch.randn(1, 1, 6, 4), 8)
