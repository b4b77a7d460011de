"""Features of whole videos of any length (`hjepa features`): the frozen encoder over a sliding window.

Frames are decoded one at a time with PyAV (at most a window and a batch of windows are held), scaled
as `hjepa shard --size` does to the encoder's image size (shorter side, centre square crop) and encoded
in batches of windows. Each video gives one safetensors file holding `features` (N, window // t, D)
float32 (t: encoder.tubelet) and `timestamps` (N, 2) float64, the start and end in seconds of each
window, with the source and the settings in its metadata.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor
from tqdm import tqdm

from hjepa.data.convert import find_videos
from hjepa.data.datamodule import frames_to_float
from hjepa.data.video import DecodeError, frame_rate, rgb_frame, timed_frames
from hjepa.export import load_encoder
from hjepa.models.encoder import FrameEncoder

Window = tuple[tuple[float, float], np.ndarray]  # ((start, end) in seconds, frames (window, H, W, 3) uint8)


@dataclass
class FeatureReport:
    """What `extract_features` wrote: one file per video, the windows in all, and skipped videos with reasons."""

    written: list[Path] = field(default_factory=list)
    windows: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def sliding_windows(
    frames: Iterable[tuple[float, np.ndarray]], window: int, stride: int, frame_seconds: float
) -> Iterator[Window]:
    """Every window of `window` consecutive frames starting at a multiple of `stride`, from timed frames
    (time, (H, W, 3)); a window ends `frame_seconds` after its last frame starts."""
    held: deque[tuple[float, np.ndarray]] = deque(maxlen=window)
    for index, (time, image) in enumerate(frames):
        held.append((time, image))
        start = index - window + 1
        if start >= 0 and start % stride == 0:
            yield (held[0][0], time + frame_seconds), np.stack([frame for _, frame in held])


@torch.no_grad()
def encode_windows(
    encoder: FrameEncoder, windows: Iterable[Window], batch_size: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """(features (N, window // t, D) float32, timestamps (N, 2) float64) of the windows, encoded
    `batch_size` at a time."""
    features, spans, batch = [], [], []

    def encode() -> None:
        frames = torch.from_numpy(np.stack(batch)).to(device).permute(0, 1, 4, 2, 3)  # (B, T, C, H, W)
        features.append(encoder(frames_to_float({"frames": frames})["frames"]).float().cpu())
        batch.clear()

    for span, frames in windows:
        spans.append(span)
        batch.append(frames)
        if len(batch) == batch_size:
            encode()
    if batch:
        encode()
    if not features:
        return torch.empty(0), torch.empty(0, 2, dtype=torch.float64)
    return torch.cat(features), torch.tensor(spans, dtype=torch.float64)


def video_windows(path: Path, size: int, window: int, stride: int) -> Iterator[Window]:
    """The sliding windows of the video file `path`, frames scaled to `size` x `size`."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise DecodeError("no video stream")
        stream = container.streams.video[0]
        rate = frame_rate(stream)
        if not rate:
            raise DecodeError("frame rate unknown")
        frames = ((time, rgb_frame(frame, size)) for time, frame in timed_frames(stream))
        yield from sliding_windows(
            tqdm(frames, total=stream.frames or None, unit="frame", leave=False, desc=path.name),
            window,
            stride,
            1.0 / rate,
        )


def check_window(window: int, stride: int, tubelet: int) -> None:
    """ValueError naming --window or --stride unless both are positive and the window holds whole tubelets."""
    if stride < 1:
        raise ValueError(f"--stride: expected >= 1 frame, got {stride}")
    if window < 1 or window % tubelet:
        raise ValueError(
            f"--window: expected a positive multiple of the encoder's tubelet ({tubelet} frames), got {window}"
        )


def extract_features(
    ckpt: str | Path,
    src: str | Path,
    out: str | Path,
    window: int = 16,
    stride: int = 8,
    batch_size: int = 32,
    device: str | None = None,
) -> FeatureReport:
    """Write `out/<video path relative to src>.safetensors` for the video file `src` or every video under
    the folder `src`, with the encoder of the export folder or Lightning checkpoint `ckpt`."""
    src, out = Path(src), Path(out)
    if batch_size < 1:
        raise ValueError(f"--batch_size: expected >= 1 window, got {batch_size}")
    if not src.exists():
        raise FileNotFoundError(f"--src: no such video file or folder {src}")
    videos = find_videos(src) if src.is_dir() else [src]
    if not videos:
        raise FileNotFoundError(f"--src: no video under {src}")
    encoder = load_encoder(ckpt)
    check_window(window, stride, encoder.tubelet)
    run_on = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = encoder.to(run_on)
    report = FeatureReport()
    for path in tqdm(videos, desc="features", unit="video"):
        relative = path.relative_to(src) if src.is_dir() else Path(path.name)
        try:
            features, timestamps = encode_windows(
                encoder, video_windows(path, encoder.img_size, window, stride), batch_size, run_on
            )
        except (DecodeError, av.error.FFmpegError) as error:
            report.skipped.append((str(path), f"not a readable video ({error})"))
            continue
        if not len(features):
            report.skipped.append((str(path), f"shorter than --window {window} frames"))
            continue
        target = out / relative.with_name(relative.name + ".safetensors")
        target.parent.mkdir(parents=True, exist_ok=True)
        settings = {"source": str(relative), "ckpt": str(ckpt), "window": window, "stride": stride}
        temporary = target.with_name(target.name + ".tmp")  # renamed once whole
        save_file(
            {"features": features.contiguous(), "timestamps": timestamps},
            temporary,
            metadata={key: str(value) for key, value in settings.items()},
        )
        os.replace(temporary, target)
        report.written.append(target)
        report.windows += len(features)
    return report
