"""WebDataset shard format: one sample = one episode or clip, written atomically and reproducibly.

A sample holds `{key}.<video ext>` (encoded video bytes), `{key}.actions.npy` `(T-1, A)` float32,
`{key}.states.npy` `(T, S)` float32 and `{key}.json` (world or source, fps, size, num_frames, labels).
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

SHARD_PATTERN = "shard-{index:06d}.tar"
_SHARD_RE = re.compile(r"^shard-(\d{6})\.tar$")
ARRAYS_AND_META = {"actions.npy", "states.npy", "json"}  # the members of a sample besides its video


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialize an array as `.npy` bytes (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def load_npy(data: bytes, name: str) -> np.ndarray:
    """Read `.npy` bytes with pickling disabled; `name` identifies the member in errors."""
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:
        raise ValueError(f"{name}: not a valid .npy array ({error})") from error


def json_bytes(meta: dict[str, Any]) -> bytes:
    """Serialize metadata deterministically (sorted keys)."""
    return json.dumps(meta, sort_keys=True).encode()


def sample_key(text: str) -> str:
    """Turn a name into a WebDataset key: no dots (they separate key and extension) and no slashes."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", text)


@dataclass
class Episode:
    """One sample before serialization. `video` is encoded bytes with extension `video_ext`."""

    key: str
    video: bytes
    video_ext: str
    actions: np.ndarray  # (T-1, A)
    states: np.ndarray  # (T, S)
    meta: dict[str, Any] = field(default_factory=dict)

    def members(self) -> list[tuple[str, bytes]]:
        """The tar members of this sample, in a fixed order."""
        return [
            (f"{self.key}.{self.video_ext}", self.video),
            (f"{self.key}.actions.npy", npy_bytes(self.actions.astype(np.float32))),
            (f"{self.key}.states.npy", npy_bytes(self.states.astype(np.float32))),
            (f"{self.key}.json", json_bytes(self.meta)),
        ]


def write_shard(path: Path, episodes: list[Episode]) -> None:
    """Write `episodes` to the tar `path` atomically: a temporary file renamed once complete.

    Tar headers carry no time or owner, so the same episodes give byte-identical shards.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for episode in episodes:
                for name, data in episode.members():
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), 0, 0o444
                    tar.addfile(info, io.BytesIO(data))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def check_output_folder(out: Path, flag: str = "--out") -> None:
    """Raise ValueError naming `flag` unless `out` is a folder this process can write in, or one it can
    create; nothing is created, so a command can check before any work and leave nothing on error."""
    out = Path(out)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the nearest folder that exists: the one a mkdir would write in
    if not existing.is_dir():
        raise ValueError(f"{flag}: {existing} is a file, not a folder; choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}: cannot write in the folder {existing} (permission denied or read-only); "
                         f"choose another {flag}")


def shard_path(out: Path, index: int) -> Path:
    """Path of shard number `index` in folder `out`."""
    return Path(out) / SHARD_PATTERN.format(index=index)


def list_shards(out: Path) -> list[Path]:
    """Complete shards in `out`, sorted by index (temporary files from interrupted runs excluded)."""
    out = Path(out)
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if _SHARD_RE.match(p.name))


def shard_index(path: Path) -> int:
    """The number N of a shard named shard-NNNNNN.tar."""
    match = _SHARD_RE.match(Path(path).name)
    if match is None:
        raise ValueError(f"{path}: not a shard name (expected shard-NNNNNN.tar)")
    return int(match.group(1))


def shard_metadata(path: Path) -> Iterator[dict[str, Any]]:
    """The `.json` metadata of each sample of the local tar shard `path`, in order (video bytes are
    skipped, not read). A shard that cannot be read raises ValueError naming it."""
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    yield json.loads(tar.extractfile(member).read())
    except (OSError, tarfile.TarError, ValueError) as error:
        raise ValueError(f"{path}: not a readable shard ({type(error).__name__}: {error})") from error


def read_shard(path: Path) -> list[Episode]:
    """The episodes of the local tar shard `path` in order, as `write_shard` wrote them. A shard that cannot be
    read, or a sample without its video, arrays or metadata, raises ValueError naming it."""
    samples: dict[str, dict[str, bytes]] = {}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                key, _, extension = member.name.partition(".")
                samples.setdefault(key, {})[extension] = tar.extractfile(member).read()
    except (OSError, tarfile.TarError) as error:
        raise ValueError(f"{path}: not a readable shard ({type(error).__name__}: {error})") from error
    episodes = []
    for key, members in samples.items():
        videos = sorted(set(members) - ARRAYS_AND_META)
        if len(videos) != 1 or not ARRAYS_AND_META <= set(members):
            raise ValueError(f"{path}: sample {key} has members {sorted(members)}; expected a video, "
                             "actions.npy, states.npy and json")
        actions, states = (load_npy(members[name], f"{path}:{key}.{name}") for name in ("actions.npy", "states.npy"))
        episodes.append(Episode(key, members[videos[0]], videos[0], actions, states, json.loads(members["json"])))
    return episodes
