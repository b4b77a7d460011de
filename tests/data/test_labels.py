"""Class labels of real videos: parent folders and `path,label` CSV files, bad lines named by file and line."""

from pathlib import Path

import pytest

from hjepa.data.labels import csv_labels, folder_labels


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Empty stand-ins for videos: labels are read without decoding anything."""
    for name in ("jump/a.mp4", "jump/b.mp4", "run/c.mp4", "top.mp4"):
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).touch()
    return tmp_path / "src"


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def test_folder_names_the_class_and_videos_at_the_top_have_none(src):
    labels = folder_labels(src, sorted(src.rglob("*.mp4")))
    assert labels.classes == ["jump", "run"]
    assert labels.index == {"jump/a.mp4": 0, "jump/b.mp4": 0, "run/c.mp4": 1}


def test_csv_names_are_indexed_in_sorted_order_and_missing_videos_listed(src, tmp_path):
    file = write_csv(tmp_path, "path,label\njump/a.mp4,walk\n\nrun/c.mp4, dance \nrun/gone.mp4,sit\n")
    labels = csv_labels(src, file)
    assert labels.classes == ["dance", "sit", "walk"]
    assert labels.index == {"jump/a.mp4": 2, "run/c.mp4": 0}
    assert labels.missing == [("run/gone.mp4", f"listed in {file} line 5 but not a file under --src")]


def test_csv_integer_labels_are_the_class_index(src, tmp_path):
    labels = csv_labels(src, write_csv(tmp_path, f"{src / 'jump/a.mp4'},3\nrun/c.mp4,0\n"))
    assert labels.classes == ["0", "1", "2", "3"] and labels.index == {"jump/a.mp4": 3, "run/c.mp4": 0}


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("jump/a.mp4\n", 1, "expected 'path,label'"),
        ("jump/a.mp4,walk\nrun/c.mp4,run,fast\n", 2, "expected 'path,label'"),
        ("jump/a.mp4,walk\n,walk\n", 2, "expected 'path,label'"),
        ("jump/a.mp4,walk\n../outside.mp4,walk\n", 2, "outside --src"),
        ("jump/a.mp4,walk\nrun/c.mp4,run\n./jump/a.mp4,sit\n", 3, "listed again (first on line 1)"),
    ],
)
def test_malformed_csv_lines_are_named_by_file_and_line(src, tmp_path, text, line, words):
    file = write_csv(tmp_path, text)
    with pytest.raises(ValueError, match=rf"{file}:{line}: .*{words}".replace("(", r"\(").replace(")", r"\)")):
        csv_labels(src, file)


def test_missing_or_empty_label_file_is_named(src, tmp_path):
    with pytest.raises(FileNotFoundError, match="--labels: no such file .*absent.csv"):
        csv_labels(src, tmp_path / "absent.csv")
    with pytest.raises(ValueError, match=r"labels.csv: no 'path,label' line"):
        csv_labels(src, write_csv(tmp_path, "path,label\n\n"))
