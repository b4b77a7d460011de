"""Turn a folder of real videos into hjepa shards (`hjepa shard`).

Every file is decoded once with PyAV to prove it is whole; files are copied as they are unless
`size`, `fps` or `segment` asks for a re-encode (shorter side scaled to `size`, centre-cropped to a
square, frames resampled to `fps`, consecutive samples of `segment` seconds: `hjepa.data.segments`).
Optional sidecars `<stem>.actions.npy` `(T-1, A)` and `<stem>.states.npy` `(T, S)` travel with their
video. With `labels` (see `hjepa.data.labels`) each
sample's metadata holds its class, `labels: {"class": index}` and `class_name`, and the manifest the
class list. Bad files are skipped with a reason in `manifest.json`; shards are written atomically, and
a re-run continues where the last one stopped: what is done is read from the shards themselves (each
sample names its source), so a run killed between a shard's rename and the manifest save, a deleted
shard or `--out` spelled another way loses or duplicates no video.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from tqdm import tqdm

from hjepa.data.labels import FOLDER, VideoLabels, csv_labels, folder_labels
from hjepa.data.segments import LONG_VIDEO_SECONDS, Segment, SegmentEncoder, segment_frames
from hjepa.data.shards import (
    Episode,
    check_output_folder,
    list_shards,
    sample_key,
    shard_index,
    shard_metadata,
    shard_path,
    write_shard,
)
from hjepa.data.video import CODECS, VIDEO_EXTENSIONS, frame_rate, rgb_frame, timed_frames

MANIFEST = "manifest.json"

log = logging.getLogger(__name__)


class SkipFile(Exception):
    """A source file that cannot become a sample; the message is the reason kept in the manifest."""


@dataclass
class Manifest:
    """What the converter wrote: `written` videos in `samples` samples (more than one per video with
    segments), `skipped` files with reasons, `shards` and, per source file, the shard holding all its
    samples (shard names are relative to the output folder); with labels, `classes` (index -> name) and
    the videos written per class."""

    written: int = 0
    samples: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)

    def save(self, out: Path) -> None:
        temporary = out / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True))
        os.replace(temporary, out / MANIFEST)

    @classmethod
    def load(cls, out: Path) -> Manifest:
        path = out / MANIFEST
        if not path.exists():
            return cls()
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"{path}: not a converter manifest ({error}); use another --out") from error


def written_sources(out: Path) -> tuple[dict[str, str], int]:
    """(source file -> name of the shard holding it, number of samples) of the complete shards in `out`,
    read from the samples' metadata (the manifest can lag a shard renamed just before a kill)."""
    sources, samples = {}, 0
    for shard in list_shards(out):
        for meta in shard_metadata(shard):
            if "source" not in meta:
                raise ValueError(
                    f"{shard}: holds samples not converted from videos (no 'source' in their "
                    "metadata); use another --out"
                )
            sources[meta["source"]] = shard.name
            samples += 1
    return sources, samples


def find_videos(src: Path) -> list[Path]:
    """Files under `src` (recursively) whose extension is a video container, sorted."""
    return sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS)


def read_source(
    path: Path, size: int | None, fps: float | None, codec: str, segment: float | None = None
) -> tuple[list[Segment], str, dict[str, Any], np.ndarray]:
    """Validate (and re-encode if asked) one video -> (the videos of its samples, extension, meta, kept
    source frame indices). `segment` (seconds) cuts it into consecutive samples, re-encoded."""
    reencode = size is not None or fps is not None or segment is not None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SkipFile("no video stream")
            stream = container.streams.video[0]
            source_fps, declared = frame_rate(stream), stream.frames
            target_fps = fps or source_fps
            if not target_fps:
                raise SkipFile("frame rate unknown; pass --fps")
            length = segment_frames(segment, target_fps, str(path)) if segment is not None else None
            writer = SegmentEncoder(target_fps, codec, length) if reencode else None
            kept: list[int] = []
            next_time, decoded, shape = 0.0, 0, None
            for index, (time, frame) in enumerate(timed_frames(stream)):
                decoded += 1
                shape = (frame.height, frame.width)
                # A source frame is shown during [time, time + 1/source_fps): it fills every output
                # tick in that interval (none when downsampling skips it, several when upsampling).
                repeats = 1
                if fps is not None:
                    shown_until = time + 1.0 / (source_fps or target_fps)
                    repeats = 0
                    while next_time < shown_until - 1e-6:
                        repeats, next_time = repeats + 1, next_time + 1.0 / target_fps
                kept += [index] * repeats
                if writer is None or not repeats:
                    continue
                image = rgb_frame(frame, size)
                for _ in range(repeats):
                    writer.write(image)
    except SkipFile:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, IndexError) as error:
        raise SkipFile(f"not a readable video ({type(error).__name__}: {error})") from error
    if decoded == 0:
        raise SkipFile("no decodable frame")
    if declared and decoded < declared:
        raise SkipFile(f"truncated: decoded {decoded} of {declared} frames")
    if len(kept) < 2:
        raise SkipFile(f"{len(kept)} frame(s) at the output frame rate: a clip needs at least 2")
    if writer is not None:
        segments, extension = writer.finish(), CODECS[codec][0]
        height, width = (size, size) if size is not None else shape
    else:
        segments, extension = [Segment(path.read_bytes(), 0, len(kept))], path.suffix.lower().lstrip(".")
        height, width = shape
    meta = {
        "fps": target_fps,
        "num_frames": len(kept),
        "height": height,
        "width": width,
        "size": height if height == width else None,
    }
    return segments, extension, meta, np.asarray(kept)


def read_sidecars(path: Path, kept: np.ndarray, source_frames_resampled: bool) -> tuple[np.ndarray, np.ndarray]:
    """Load `<stem>.actions.npy` / `<stem>.states.npy` next to `path`, aligned to the kept frames."""
    stem = path.with_suffix("")
    count = len(kept)
    states = np.zeros((count, 0), np.float32)
    actions = np.zeros((count - 1, 0), np.float32)
    states_path, actions_path = Path(f"{stem}.states.npy"), Path(f"{stem}.actions.npy")
    if states_path.exists():
        full = _load_sidecar(states_path)
        if full.shape[0] <= int(kept[-1]):
            raise SkipFile(f"{states_path.name}: {full.shape[0]} rows for a video of {int(kept[-1]) + 1} frames")
        states = full[kept]
    if actions_path.exists():
        if source_frames_resampled:
            raise SkipFile(f"{actions_path.name}: actions cannot be resampled to another fps; omit --fps")
        actions = _load_sidecar(actions_path)
        if actions.shape[0] != count - 1:
            raise SkipFile(f"{actions_path.name}: expected {count - 1} rows (frames - 1), got {actions.shape[0]}")
    return actions.astype(np.float32), states.astype(np.float32)


def _load_sidecar(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as error:
        raise SkipFile(f"{path.name}: not a valid .npy array ({error})") from error
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise SkipFile(f"{path.name}: expected a numeric (N, D) array, got {array.shape} {array.dtype}")
    return array


def read_labels(labels: str, src: Path, videos: list[Path]) -> tuple[VideoLabels, list[Path]]:
    """(classes, videos to convert) for `--labels`: `folder` labels the videos found, a CSV file chooses
    the videos it lists."""
    if labels == FOLDER:
        return folder_labels(src, videos), videos
    classes = csv_labels(src, Path(labels))
    return classes, [src / relative for relative in sorted(classes.index)]


def source_samples(
    relative: str,
    segments: list[Segment],
    extension: str,
    meta: dict[str, Any],
    actions: np.ndarray,
    states: np.ndarray,
    segmented: bool,
) -> list[Episode]:
    """The samples of one source video: the whole video, or one per segment, keyed by the source and the
    time span, with the rows of the sidecars that fall in it and `group` (its video's key)."""
    base = sample_key(relative)
    if not segmented:
        return [Episode(base, segments[0].video, extension, actions, states, meta)]
    samples = []
    for index, (video, first, stop) in enumerate(segments):
        start, end = first / meta["fps"], stop / meta["fps"]
        span = {"index": index, "last": index == len(segments) - 1, "first_frame": first, "start": start, "end": end}
        key = f"{base}-{round(start * 1000):010d}ms-{round(end * 1000):010d}ms"
        samples.append(
            Episode(
                key,
                video,
                extension,
                actions[first : stop - 1],
                states[first:stop],
                meta | {"num_frames": stop - first, "segment": span, "group": base},
            )
        )
    return samples


def convert_folder(
    src: Path,
    out: Path,
    size: int | None = None,
    fps: float | None = None,
    shard_size: int = 64,
    codec: str = "h264",
    progress: bool = True,
    labels: str | None = None,
    segment: float | None = None,
) -> Manifest:
    """Convert every video under `src` into shards in `out` (with `labels`: `folder` or a CSV file, the
    labelled ones; with `segment`, in samples of that many seconds); returns the manifest (also saved)."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FileNotFoundError(f"--src: no such folder {src}")
    if size is not None and (size < 2 or size % 2):
        raise ValueError(f"--size: expected an even number >= 2 (H.264 needs even sizes), got {size}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"--fps: expected a positive frame rate, got {fps}; omit it to keep each video's own")
    if shard_size < 1:
        raise ValueError(f"--shard_size: expected >= 1 sample per shard, got {shard_size}")
    if segment is not None:
        if not (math.isfinite(segment) and segment > 0):
            raise ValueError(f"--segment: expected a positive number of seconds, got {segment}")
        if fps is not None:
            segment_frames(segment, fps, "--fps")
    check_output_folder(out)
    videos = find_videos(src)
    classes = None
    if labels is not None:
        classes, videos = read_labels(labels, src, videos)
    settings = {"size": size, "fps": fps, "codec": codec, "shard_size": shard_size}
    settings |= {"labels": "folder" if labels == FOLDER else "csv"} if labels is not None else {}
    settings |= {"segment": segment} if segment is not None else {}
    manifest = Manifest.load(out)
    if manifest.settings and manifest.settings != settings:
        raise ValueError(f"{out}: was converted with {manifest.settings}, now asked for {settings}; use another --out")
    if classes is not None and manifest.classes and manifest.classes != classes.classes:
        raise ValueError(
            f"{out}: was converted with the classes {manifest.classes}, --labels {labels} now gives "
            f"{classes.classes}; use another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    manifest.settings = settings
    manifest.sources, manifest.samples = written_sources(out)
    manifest.shards = [shard.name for shard in list_shards(out)]
    manifest.written = len(manifest.sources)
    missing = classes.missing if classes else []
    manifest.skipped = [{"path": str(src / path), "reason": reason} for path, reason in missing]
    manifest.classes = classes.classes if classes else []
    # after the highest shard, not after the count: a missing shard in between must not be overwritten
    next_index = max(map(shard_index, manifest.shards), default=-1) + 1
    pending: list[Episode] = []
    pending_sources: list[str] = []

    def flush() -> None:
        nonlocal next_index, pending, pending_sources
        if not pending:
            return
        path = shard_path(out, next_index)
        write_shard(path, pending)
        manifest.shards.append(path.name)
        manifest.sources.update({source: path.name for source in pending_sources})
        manifest.written += len(pending_sources)
        manifest.samples += len(pending)
        manifest.save(out)
        next_index, pending, pending_sources = next_index + 1, [], []

    for path in tqdm(videos, desc="shard", unit="video", disable=not progress):
        relative = str(path.relative_to(src))
        if relative in manifest.sources:
            continue
        if classes is not None and relative not in classes.index:
            manifest.skipped.append(
                {
                    "path": str(path),
                    "reason": f"no class: with --labels {FOLDER} each video sits in a folder named after its class",
                }
            )
            continue
        try:
            segments, extension, meta, kept = read_source(path, size, fps, codec, segment)
            actions, states = read_sidecars(path, kept, not np.array_equal(kept, np.arange(len(kept))))
        except SkipFile as reason:
            manifest.skipped.append({"path": str(path), "reason": str(reason)})
            continue
        seconds = meta["num_frames"] / meta["fps"]
        if segment is None and seconds > LONG_VIDEO_SECONDS:
            log.warning(
                "%s: %.0f s long, kept as one sample that every clip decodes from its start; cut long "
                "videos into samples with --segment SECONDS",
                path,
                seconds,
            )
        meta.update({"source": relative, "world": None, "labels": {}})
        if classes is not None:
            label = classes.index[relative]
            meta.update({"labels": {"class": label}, "class_name": classes.classes[label]})
        pending += source_samples(relative, segments, extension, meta, actions, states, segment is not None)
        pending_sources.append(relative)
        if len(pending) >= shard_size:  # after a whole video: its samples never straddle two shards
            flush()
    flush()
    if classes is not None:
        counts = Counter(classes.index[source] for source in manifest.sources if source in classes.index)
        manifest.class_counts = {name: counts[i] for i, name in enumerate(classes.classes)}
    if manifest.written == 0:  # nothing to keep: no manifest of an empty conversion is left behind
        reasons = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in manifest.skipped[:3])
        more = f" (and {len(manifest.skipped) - 3} more)" if len(manifest.skipped) > 3 else ""
        raise ValueError(f"--src: no video under {src} could be converted" + (f": {reasons}{more}" if reasons else ""))
    manifest.save(out)
    return manifest
