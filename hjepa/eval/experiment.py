"""Probe experiments as YAML (`configs/probes/<name>.yaml`): the worlds, models, latents, planners and tasks a
probe trains and plans with, read as the task files are (`TaskSpec.from_yaml`): plain data, and an unknown or
missing field is refused with the file's and the field's name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hjepa.fields import check_field_types

PROBES = Path(__file__).resolve().parents[2] / "configs" / "probes"
"""The shipped experiments: `configs/probes` of the source tree, found from any working directory."""

Experiment = TypeVar("Experiment")


def read_experiment(path: str | Path, kind: type[Experiment]) -> Experiment:
    """The YAML mapping at `path` as the frozen dataclass `kind`, one field per top-level key, all required.

    Errors name the file and the field, also those raised by `kind`'s own checks of its fields (`check_options`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such probe experiment")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a probe experiment is a mapping of fields, got {type(data).__name__}")
    known = [field.name for field in fields(kind)]
    for key in data:
        if key not in known:
            raise ValueError(f"{path}: unknown field {key!r}; known: {known}")
    for key in known:
        if key not in data:
            raise ValueError(f"{path}: missing field {key!r}")
    try:
        return kind(**data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def check_options(options: Any, target: Callable[..., Any], field: str) -> None:
    """ValueError naming `<field>.<key>` for an option that `target` (a class or function taking them by keyword)
    does not take or whose type differs from its default's (`check_field_types`), or when `options` is no mapping."""
    if not isinstance(options, dict):
        raise ValueError(f"{field}: expected a mapping of options, got {type(options).__name__}")
    params = inspect.signature(target).parameters
    for key in options:
        if key not in params:
            raise ValueError(f"{field}.{key}: unknown field; {target.__name__} takes {sorted(params)}")
    check_field_types(options, target, f"{field}.")
