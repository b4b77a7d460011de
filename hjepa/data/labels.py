"""Class labels of real videos for `hjepa shard --labels`: each video's parent folder, or a CSV file.

`folder` reads the Kinetics/UCF layout (`<src>/<class>/<video>`). A CSV file holds `path,label` lines,
paths relative to the source folder (V-JEPA's layout, comma-separated; a first line `path,label` is a
header). Integer labels are kept as the class index; other labels are indexed in sorted order.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import NamedTuple

FOLDER = "folder"


class VideoLabels(NamedTuple):
    """Classes of the videos to convert: `classes[i]` names class i; `index` maps each video (path
    relative to the source folder) to its class; `missing` lists (path, reason) of listed videos not found."""

    classes: list[str]
    index: dict[str, int]
    missing: list[tuple[str, str]]


def folder_labels(src: Path, videos: list[Path]) -> VideoLabels:
    """The class of each video is the name of its parent folder; videos directly in `src` have none."""
    names = {str(v.relative_to(src)): v.parent.name for v in videos if v.parent != src}
    classes = sorted(set(names.values()))
    position = {name: i for i, name in enumerate(classes)}
    return VideoLabels(classes, {video: position[name] for video, name in names.items()}, [])


def _relative(src: Path, text: str, where: str) -> str:
    """A listed path as a path relative to `src` (ValueError naming `where` when it leads outside)."""
    base = Path(os.path.abspath(src))
    try:
        return str(Path(os.path.normpath(base / text)).relative_to(base))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is outside --src {src}; paths are relative to it") from None


def _read_rows(src: Path, file: Path) -> dict[str, tuple[str, int]]:
    """Listed video (relative to `src`) -> (label, line number) of the `path,label` lines of `file`."""
    rows: dict[str, tuple[str, int]] = {}
    with open(file, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        for row in reader:
            line = reader.line_num
            fields = [field.strip() for field in row]
            if not any(fields):
                continue
            if line == 1 and [f.lower() for f in fields] == ["path", "label"]:
                continue
            if len(fields) != 2 or not all(fields):
                raise ValueError(f"{file}:{line}: expected 'path,label', got {','.join(row)!r}")
            relative = _relative(src, fields[0], f"{file}:{line}")
            if relative in rows:
                raise ValueError(f"{file}:{line}: {fields[0]!r} is listed again (first on line {rows[relative][1]})")
            rows[relative] = (fields[1], line)
    return rows


def csv_labels(src: Path, file: Path) -> VideoLabels:
    """Read `path,label` lines of `file`; listed videos that are not files under `src` go to `missing`."""
    if not file.is_file():
        raise FileNotFoundError(f"--labels: no such file {file} (give '{FOLDER}' or a CSV file of path,label lines)")
    try:
        rows = _read_rows(src, file)
    except UnicodeDecodeError as error:
        raise ValueError(f"{file}: not UTF-8 text ({error})") from error
    if not rows:
        raise ValueError(f"{file}: no 'path,label' line")
    numbered = all(label.isascii() and label.isdigit() for label, _ in rows.values())
    name = {label: str(int(label)) if numbered else label for label, _ in rows.values()}
    classes = [str(i) for i in range(max(map(int, name.values())) + 1)] if numbered else sorted(set(name.values()))
    position = {text: i for i, text in enumerate(classes)}
    index = {path: position[name[label]] for path, (label, _) in rows.items()}
    missing = [
        (path, f"listed in {file} line {line} but not a file under --src")
        for path, (_, line) in rows.items()
        if not (src / path).is_file()
    ]
    for path, _ in missing:
        del index[path]
    return VideoLabels(classes, index, missing)
