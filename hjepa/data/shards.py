"""WebDataset shard format: one sample = one episode or clip, written atomically and reproducibly.

A sample holds `{key}.<video ext>` (encoded video bytes), `{key}.actions.npy` `(T-1, A)` float32,
`{key}.states.npy` `(T, S)` float32 and `{key}.json` (world or source, fps, size, num_frames, labels).
Shards are read as streams (`read_shard`), with WebDataset's grouping of members into samples.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import webdataset as wds

SHARD_PATTERN = "shard-{index:06d}.tar"
_SHARD_RE = re.compile(r"^shard-(\d{6})\.tar$")
ARRAYS_AND_META = {"actions.npy", "states.npy", "json"}  # the members of a sample besides its video


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialize an array as `.npy` bytes (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def load_npy(data: bytes, name: str) -> np.ndarray:
    """Read `.npy` bytes as a read-only view of them (no copy, no pickle); `name` identifies the member
    in errors."""
    try:
        if data[:6] != b"\x93NUMPY":
            raise ValueError("no .npy magic string")
        header_end = (
            10 + int.from_bytes(data[8:10], "little") if data[6] == 1 else 12 + int.from_bytes(data[8:12], "little")
        )
        dtype, shape, fortran = _npy_layout(bytes(data[:header_end]))
        array = np.frombuffer(data, dtype, count=math.prod(shape), offset=header_end)
        return array.reshape(shape, order="F" if fortran else "C")
    except Exception as error:
        raise ValueError(f"{name}: not a valid .npy array ({error})") from error


@functools.lru_cache(maxsize=256)
def _npy_layout(header: bytes) -> tuple[np.dtype, tuple[int, ...], bool]:
    """(dtype, shape, Fortran order) of an `.npy` header. Cached: parsing it costs more than reading the
    array, and the samples of a dataset share a few headers."""
    stream = io.BytesIO(header)
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValueError("the array holds Python objects, which would need pickle")
    return dtype, shape, fortran


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
    """Write `episodes` to the tar `path` atomically: a temporary file, fsynced, renamed once complete.

    Headers carry no time or owner (mtime 0, empty user and group), so the same episodes give
    byte-identical shards. A write that fails removes its temporary file and leaves `path` as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as handle:
            with wds.TarWriter(handle, user="", group="", mode=0o444, encoder=False, mtime=0) as writer:
                for episode in episodes:
                    for name, data in episode.members():
                        # one member per write: TarWriter sorts a sample's extensions, members() fixes the order
                        writer.write({"__key__": episode.key, name.removeprefix(f"{episode.key}."): data})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


_BLOCK = 512
# WebDataset's conventions: the key is the name up to the first dot of its last part; `__name__` files are metadata
_KEY_AND_EXTENSION = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")
_METADATA = re.compile(r"__[^/]*__($|/)")
_REGULAR_FILE_TYPES = (b"0", b"\0", b"7")


def read_shard(url: str) -> Iterator[dict[str, Any]]:
    """The samples of the tar shard at `url` (a path, or any URL WebDataset opens, `pipe:` included),
    read as a stream: `{"__key__", "__url__", extension: bytes, ...}`, the members of one key grouped as
    WebDataset groups them. One read per header and one per member, so a sample costs a few calls.
    A damaged or truncated tar raises ValueError; the samples before the one being read were yielded."""
    stream = wds.gopen(url, "rb")
    try:
        sample: dict[str, Any] = {}
        for name, data in _tar_files(stream):
            match = _KEY_AND_EXTENSION.match(name)
            if match is None or _METADATA.match(name):
                continue
            key, extension = match.group(1), match.group(2).lower()
            if key != sample.get("__key__"):
                if sample:
                    yield sample
                sample = {"__key__": key, "__url__": url}
            if extension in sample:
                raise ValueError(f"{name}: a second member with this name in the shard")
            sample[extension] = data
        if sample:
            yield sample
    finally:
        # stopping early ends a pipe: command with SIGPIPE; a command that failed shows as a short tar instead
        with contextlib.suppress(Exception):
            stream.close()


def _tar_files(stream: Any) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each regular file of a tar stream: ustar, GNU long names and pax paths."""
    offset, long_name = 0, None
    while True:
        header = stream.read(_BLOCK)
        if not header and offset:
            return  # ends on a block boundary without its end marker: accepted, as tarfile does
        if len(header) < _BLOCK:
            raise ValueError(f"tar cut inside a header at byte {offset}" if header else "empty file, not a tar")
        if header.count(0) == _BLOCK:
            return
        if _octal(header[148:156]) != sum(header) - sum(header[148:156]) + 8 * 32:
            raise ValueError(f"tar header at byte {offset}: bad checksum (damaged shard)")
        size, kind = _octal(header[124:136]), header[156:157]
        data = stream.read(size)
        if len(data) < size:
            raise ValueError(f"tar cut inside a member at byte {offset + _BLOCK + len(data)}")
        stream.read(-size % _BLOCK)
        offset += _BLOCK + size + (-size % _BLOCK)
        if kind == b"L":  # GNU: the next member's long name
            long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            continue
        if kind == b"x":  # pax: records about the next member, its path among them
            long_name = _pax_path(data) or long_name
            continue
        name, long_name = long_name or _ustar_name(header), None
        if kind in _REGULAR_FILE_TYPES:
            yield name, data


def _octal(field: bytes) -> int:
    """A tar number field: octal text, or base-256 when its first bit is set (GNU, for large values)."""
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    return int(field.strip(b"\0 ") or b"0", 8)


def _ustar_name(header: bytes) -> str:
    """The member name of a tar header: its name field, after the ustar prefix field when there is one."""
    name = header[:100].split(b"\0", 1)[0]
    if header[257:265] == b"ustar\x0000":
        prefix = header[345:500].split(b"\0", 1)[0]
        name = prefix + b"/" + name if prefix else name
    return name.decode("utf-8", "surrogateescape")


def _pax_path(records: bytes) -> str | None:
    """The `path` of pax extended-header records, if they set one."""
    path, position = None, 0
    while position < len(records):
        space = records.index(b" ", position)
        end = position + int(records[position:space])
        key, _, value = records[space + 1 : end - 1].partition(b"=")
        path = value.decode("utf-8", "surrogateescape") if key == b"path" else path
        position = end
    return path


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
        raise ValueError(
            f"{flag}: cannot write in the folder {existing} (permission denied or read-only); choose another {flag}"
        )


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


def read_episodes(path: Path) -> list[Episode]:
    """The episodes of the local tar shard `path` in order, as `write_shard` wrote them. A shard that cannot be
    read, or a sample without its video, arrays or metadata, raises ValueError naming it."""
    try:
        samples = list(read_shard(str(path)))
    except OSError as error:
        raise ValueError(f"{path}: not a readable shard ({type(error).__name__}: {error})") from error
    episodes = []
    for sample in samples:
        key = sample["__key__"]
        members = {k: v for k, v in sample.items() if not k.startswith("__")}
        videos = sorted(set(members) - ARRAYS_AND_META)
        if len(videos) != 1 or not ARRAYS_AND_META <= set(members):
            raise ValueError(
                f"{path}: sample {key} has members {sorted(members)}; expected a video, "
                "actions.npy, states.npy and json"
            )
        actions, states = (load_npy(members[name], f"{path}:{key}.{name}") for name in ("actions.npy", "states.npy"))
        episodes.append(Episode(key, members[videos[0]], videos[0], actions, states, json.loads(members["json"])))
    return episodes
