"""`hjepa features`: sliding windows over whole videos, their timestamps, and the encoder's own output."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from hjepa.cli import main
from hjepa.data.video import decode_video, encode_video
from hjepa.export import export_world_model, load_encoder
from hjepa.models import build_world_model

CFG = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32},
    "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 16},
}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return export_world_model(build_world_model(CFG).eval(), CFG, tmp_path / "export")


def write_video(path: Path, frames: int, size: int = 32, fps: int = 10) -> None:
    rng = np.random.default_rng(frames)
    video = np.repeat(np.repeat(rng.integers(0, 256, (frames, size // 4, size // 4, 3), dtype=np.uint8), 4, 1), 4, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_video(video, fps))


def test_windows_timestamps_and_features_of_a_video_longer_than_a_window(export, tmp_path, capsys):
    write_video(tmp_path / "videos" / "walks" / "long.mp4", 23)
    write_video(tmp_path / "videos" / "short.mp4", 6)
    out = tmp_path / "features"
    assert (
        main(
            [
                "features",
                "--ckpt",
                str(export),
                "--src",
                str(tmp_path / "videos"),
                "--out",
                str(out),
                "--window",
                "8",
                "--stride",
                "5",
                "--batch_size",
                "3",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert "skipped" in (err := capsys.readouterr().err) and "short.mp4: shorter than --window 8" in err
    with safe_open(out / "walks" / "long.mp4.safetensors", "pt") as file:
        features, timestamps = file.get_tensor("features"), file.get_tensor("timestamps")
        assert file.metadata()["source"] == "walks/long.mp4" and file.metadata()["stride"] == "5"
    starts = [0, 5, 10, 15]  # 15 + 8 = 23 frames: the last window that fits
    torch.testing.assert_close(timestamps, torch.tensor([[s / 10, (s + 8) / 10] for s in starts], dtype=torch.float64))
    frames = torch.from_numpy(decode_video((tmp_path / "videos" / "walks" / "long.mp4").read_bytes()))
    clips = torch.stack([frames[s : s + 8] for s in starts]).permute(0, 1, 4, 2, 3).float() / 255
    with torch.no_grad():
        expected = load_encoder(export)(clips)
    assert features.shape == (4, 8, 16)
    torch.testing.assert_close(features, expected)
    assert not (out / "short.mp4.safetensors").exists()


def test_window_that_splits_a_tubelet_is_refused_by_name(tmp_path, capsys):
    cfg = {**CFG, "encoder": {**CFG["encoder"], "tubelet": 2}}
    export = export_world_model(build_world_model(cfg).eval(), cfg, tmp_path / "export")
    write_video(tmp_path / "a.mp4", 8)
    assert (
        main(
            [
                "features",
                "--ckpt",
                str(export),
                "--src",
                str(tmp_path / "a.mp4"),
                "--out",
                str(tmp_path / "out"),
                "--window",
                "5",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "error: --window: expected a positive multiple of the encoder's tubelet (2 frames), got 5" in err
