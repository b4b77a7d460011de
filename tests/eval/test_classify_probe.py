"""`hjepa probe classify`: classes readable from the frames score near 1, classes unrelated to them near chance."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hjepa.cli import main
from hjepa.data.convert import convert_folder
from hjepa.data.video import encode_video
from hjepa.eval.classify_probe import run_classify_probe
from hjepa.export import export_world_model
from hjepa.models import build_world_model

CFG = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32},
    "predictor": {"kind": "gru", "action_dim": 0},
}
CLASSES = ["c0", "c1", "c2", "c3", "c4"]
VIDEOS_PER_CLASS = 8


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Folder per class: a square moving under a bright band whose height is the class's (the encoder's
    GroupNorm removes a frame's overall colour, not its layout)."""
    src = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        for i in range(VIDEOS_PER_CLASS):
            video = np.zeros((6, 32, 32, 3), np.uint8)
            video[:, : 5 * (c + 1)] = 200
            x, y = rng.integers(0, 20, size=2)
            for t in range(6):
                video[t, y : y + 6, x + t : x + t + 6, 1] = 100
            (src / name).mkdir(exist_ok=True)
            (src / name / f"{i}.mp4").write_bytes(encode_video(video, 10))
    return src


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return export_world_model(build_world_model(CFG).eval(), CFG, tmp_path_factory.mktemp("export"))


def probe(export: Path, shards: Path, out: Path) -> dict:
    return run_classify_probe(
        export, str(shards), out, num_frames=4, batch_size=16, num_workers=0, device="cpu", val_fraction=0.3
    )


def test_readable_classes_score_near_one_and_shuffled_ones_near_chance(videos, export, tmp_path):
    convert_folder(videos, tmp_path / "shards", labels="folder", shard_size=8, progress=False)
    readable = probe(export, tmp_path / "shards", tmp_path / "readable")
    shuffled_csv = tmp_path / "shuffled.csv"
    names = np.random.default_rng(1).permutation(np.repeat(CLASSES, VIDEOS_PER_CLASS))
    paths = [f"{name}/{i}.mp4" for name in CLASSES for i in range(VIDEOS_PER_CLASS)]
    shuffled_csv.write_text("".join(f"{path},{label}\n" for path, label in zip(paths, names)))
    convert_folder(videos, tmp_path / "shuffled_shards", labels=str(shuffled_csv), shard_size=8, progress=False)
    shuffled = probe(export, tmp_path / "shuffled_shards", tmp_path / "shuffled")

    assert readable["classify_top1_trained"] >= 0.9 and readable["classify_top1_random"] >= 0.9, readable
    assert shuffled["classify_top1_trained"] <= 0.5 and shuffled["classify_top1_random"] <= 0.5, shuffled
    assert readable["classify_chance"] == 0.2 and readable["classify_classes"] == 5
    assert readable["classify_train_clips"] + readable["classify_val_clips"] == len(paths)
    assert readable["classify_top5_trained"] == 1.0  # 5 classes: any 5 guesses hold the label
    report = json.loads((tmp_path / "readable" / "classify.json").read_text())
    assert report["classes"] == CLASSES
    assert np.array(report["confusion"]["trained"]).sum() == readable["classify_val_clips"]
    assert (tmp_path / "readable" / "classify_confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_shards_without_classes_are_named(videos, export, tmp_path, capsys):
    convert_folder(videos, tmp_path / "shards", shard_size=8, progress=False)
    assert (
        main(
            [
                "probe",
                "classify",
                "--ckpt",
                str(export),
                "--data",
                str(tmp_path / "shards"),
                "--out",
                str(tmp_path / "out"),
                "--num-frames",
                "4",
                "--workers",
                "0",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "error: --data: the samples of" in err and "carry no labels['class']" in err
    assert "hjepa shard --labels" in err
