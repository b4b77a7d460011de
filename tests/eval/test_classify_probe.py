"""`hjepa probe classify`: classes readable from the frames score near 1, classes unrelated to them near chance;
a class carried only by the order of the frames is read by the attentive probe, not by the time-pooled linear one;
under flickering background noise, a briefly JEPA-trained encoder reads the class where a random-init one does not."""

import json
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from hjepa.cli import main
from hjepa.data.convert import convert_folder
from hjepa.data.datamodule import VideoDataModule
from hjepa.data.dataset import episode_split
from hjepa.data.shards import sample_key
from hjepa.data.video import encode_video
from hjepa.eval.classify_probe import run_classify_probe
from hjepa.export import export_world_model
from hjepa.models import build_world_model
from hjepa.threads import one_torch_thread
from hjepa.train.module import JEPAModule

CFG = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32},
    "predictor": {"kind": "gru", "action_dim": 0},
}
CLASSES = ["c0", "c1", "c2", "c3", "c4"]
VIDEOS_PER_CLASS = 8


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The probes train on a few clips at a time: on shared cores, intra-op threads spin-wait on each other.
    with one_torch_thread():
        yield


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
        export,
        str(shards),
        out,
        num_frames=4,
        batch_size=16,
        num_workers=0,
        device="cpu",
        val_fraction=0.3,
        attentive_epochs=300,  # one batch of the few training clips an epoch
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
    assert set(report["confusion"]) == {"trained", "random", "attentive_trained", "attentive_random"}
    assert readable["classify_top1_attentive_trained"] >= 0.9 and readable["classify_top5_attentive_random"] == 1.0
    assert shuffled["classify_top1_attentive_trained"] <= 0.5, shuffled


@pytest.fixture(scope="module")
def ordered_shards(tmp_path_factory) -> Path:
    """Two classes told apart only by the order of their frames: a band at the top for two frames then at the
    bottom for two (class "down"), or the reverse ("up"). Each "up" video is a "down" video played backwards (a
    square at the same random place in all four frames), so the two hold the same frames and their time-pooled
    features are equal (lossless codec)."""
    src = tmp_path_factory.mktemp("ordered")
    rng = np.random.default_rng(0)
    for i in range(ORDERED_PAIRS):
        video = np.zeros((4, 32, 32, 3), np.uint8)
        video[:2, :10] = 200
        video[2:, 22:] = 200
        x, y = rng.integers(0, 26, size=2)
        video[:, y : y + 6, x : x + 6, 1] = 120
        for name, frames in (("down", video), ("up", video[::-1])):
            (src / name).mkdir(exist_ok=True)
            (src / name / f"{i}.mkv").write_bytes(encode_video(np.ascontiguousarray(frames), 10, codec="ffv1"))
    out = tmp_path_factory.mktemp("ordered_shards")
    convert_folder(src, out, labels="folder", shard_size=8, progress=False)
    return out


ORDERED_PAIRS = 24


@pytest.mark.parametrize("tokens", ["frames", "patches"])
def test_the_attentive_probe_reads_the_order_of_frames_that_time_pooling_loses(
    ordered_shards, export, tmp_path, tokens
):
    args = ["probe", "classify", "--ckpt", str(export), "--data", str(ordered_shards), "--out", str(tmp_path)]
    args += ["--num_frames", "4", "--batch_size", "16", "--workers", "0", "--val_fraction", "0.3"]
    # one batch of the few training clips an epoch
    assert main([*args, "--tokens", tokens, "--attentive_epochs", "300"]) == 0
    report = json.loads((tmp_path / "classify.json").read_text())
    results = {key: value for key, value in report.items() if key.startswith("classify_")}
    for name in ("trained", "random"):  # any encoder tells the two frames apart; only their order is the class
        assert results[f"classify_top1_attentive_{name}"] >= 0.9, results
        assert results[f"classify_top1_{name}"] <= 0.6, results  # the linear probe on the time-pooled states
    assert "classify_top5_trained" not in results  # two classes: no top-5
    patches = 4 if tokens == "patches" else 1  # convnet_tiny at 32 pixels: a 2x2 feature map
    attentive = {"tokens": tokens, "tokens_per_clip": 4 * patches, "queries": 1, "heads": 1, "epochs": 300}
    assert report["attentive"] == attentive
    assert report["sampling"] == {
        "frames_per_clip": 4,
        "frame_stride": 1,
        "train_clips_per_video": 1,
        "train_clip_starts": "random",
        "val_clips_per_video": 1,
        "val_clip_starts": "first frame",
        "views_per_clip": 1,
        "averaging": "none: every clip is one sample, fitted or scored on its own",
        "video": "one shard sample (a segment of a video cut by `hjepa shard --segment`)",
    }


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
                "--num_frames",
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


def test_a_class_held_out_only_is_named(videos, export, tmp_path):
    """A class whose only video the hash split holds out cannot be learned: the probe names it instead of scoring it."""
    src = tmp_path / "classes"
    shutil.copytree(videos, src)
    name = next(f"{i}.mp4" for i in range(100) if episode_split(sample_key(f"rare/{i}.mp4"), 0.3) == "val")
    (src / "rare").mkdir()
    shutil.copy(next((videos / CLASSES[0]).glob("*.mp4")), src / "rare" / name)
    convert_folder(src, tmp_path / "shards", shard_size=8, progress=False, labels="folder")
    with pytest.raises(ValueError, match=r"class\(es\) \['rare'\] have held-out videos but none in the training"):
        probe(export, tmp_path / "shards", tmp_path / "out")


STRIPS = 8  # classes: where across the frame a square stays
VIDEOS_PER_STRIP = 16
FRAMES = 8
SIZE, SQUARE = 32, 6  # frame and square sides, in pixels
NOISE = 150  # the background's per-pixel colour is drawn afresh in every frame, up to this value
PRETRAIN_STEPS = 150  # about 7 s on one thread
VAL_FRACTION = 0.3  # videos held out of pretraining and of fitting the probes, by a hash of their key
# Seeds 0-4 were measured (see the test); 0, 1 and 4 hold the worst margins.
PRETRAIN_SEEDS = [0, 1, 4]


def strip_videos(root: Path, seed: int) -> None:
    """Folder per class c: a square of random colour whose left edge stays within 2 pixels of x = 4c - 1 (drifting
    1 pixel sideways every two frames) while it glides up or down 1-2 pixels a frame, over background noise drawn
    afresh every frame. The noise cannot be predicted from the past, the square's path can: a JEPA learns to keep
    the square and drop the noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(FRAMES)
    last = SIZE - SQUARE  # the largest top-left coordinate that keeps the square whole
    for c in range(STRIPS):
        (root / f"strip{c}").mkdir(parents=True)
        for i in range(VIDEOS_PER_STRIP):
            vx, vy = rng.choice([-1, 1]), rng.choice([-2, -1, 1, 2])
            xs = np.clip(4 * c - 1 - 2 * vx + vx * t // 2, 0, last)
            travel = abs(vy) * (FRAMES - 1)
            ys = rng.integers(0, last + 1 - travel) + travel * (vy < 0) + vy * t
            video = rng.integers(0, NOISE, size=(FRAMES, SIZE, SIZE, 3), dtype=np.uint8)
            colour = rng.integers(80, 256, size=3)
            for frame, x, y in zip(video, xs, ys):
                frame[y : y + SQUARE, x : x + SQUARE] = colour
            (root / f"strip{c}" / f"{i}.mp4").write_bytes(encode_video(video, 10))


def pretrain(shards: Path, seed: int) -> JEPAModule:
    """A small action-free JEPA trained PRETRAIN_STEPS steps on the clips of `shards` without their labels, held-out
    videos (the probe's split of VAL_FRACTION) left out."""
    torch.manual_seed(seed)
    data = VideoDataModule(
        str(shards),
        num_frames=FRAMES,
        batch_size=16,
        num_workers=0,
        train_batches_per_epoch=PRETRAIN_STEPS,
        val_fraction=VAL_FRACTION,
        decoder="pyav",
        seed=seed,
    )
    model = JEPAModule(
        encoder={"name": "convnet_tiny", "embed_dim": 32, "img_size": 32, "width": 8},
        predictor={"kind": "gru", "hidden_dim": 32},
        action_dim=0,
        expander=[64],
        warmup_steps=5,
        lr=3e-3,
    )
    trainer = L.Trainer(
        max_steps=PRETRAIN_STEPS,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, data)
    return model


@pytest.mark.parametrize("seed", PRETRAIN_SEEDS)
def test_a_briefly_trained_encoder_reads_classes_a_random_init_one_loses_in_noise(tmp_path, seed):
    strip_videos(tmp_path / "src", seed)
    convert_folder(tmp_path / "src", tmp_path / "shards", labels="folder", shard_size=16, progress=False)
    model = pretrain(tmp_path / "shards", seed)
    export = export_world_model(model.world_model, model.world_model_config, tmp_path / "export")
    out = tmp_path / "probe"
    args = ["probe", "classify", "--ckpt", str(export), "--data", str(tmp_path / "shards"), "--out", str(out)]
    args += ["--num_frames", str(FRAMES), "--batch_size", "16", "--workers", "0", "--val_fraction", str(VAL_FRACTION)]
    assert main([*args, "--seed", str(seed), "--attentive_epochs", "300"]) == 0
    report = json.loads((out / "classify.json").read_text())
    results = {key: value for key, value in report.items() if key.startswith("classify_")}
    assert results["classify_chance"] == 1 / STRIPS and results["classify_val_clips"] >= 30, results
    # seeds 0-4: trained at least 0.75 (both probes), random at most 0.45 (linear) and 0.375 (attentive), trained
    # above random by at least 0.55 (linear) and 0.525 (attentive); without the noise, random reads 0.625-0.875
    for probe_name in ("", "attentive_"):
        trained, random = results[f"classify_top1_{probe_name}trained"], results[f"classify_top1_{probe_name}random"]
        assert trained >= 0.6 and trained >= random + 0.3, results  # chance: 0.125

    # A CSV file naming each video's strip labels the same shards: the same scores.
    labels_csv = tmp_path / "labels.csv"
    labels_csv.write_text(
        "".join(
            f"{path.relative_to(tmp_path / 'src')},{path.parent.name}\n"
            for path in sorted((tmp_path / "src").rglob("*.mp4"))
        )
    )
    convert_folder(tmp_path / "src", tmp_path / "csv_shards", labels=str(labels_csv), shard_size=16, progress=False)
    from_csv = run_classify_probe(
        export,
        str(tmp_path / "csv_shards"),
        tmp_path / "csv_probe",
        num_frames=FRAMES,
        batch_size=16,
        num_workers=0,
        val_fraction=VAL_FRACTION,
        seed=seed,
        attentive_epochs=300,
    )
    assert {**from_csv, "classify_seconds": 0} == {**results, "classify_seconds": 0}
