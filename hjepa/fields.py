"""Type checks of plain-data config fields (YAML, JSON) against the constructor they are passed to."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping
from typing import Any

# default type -> accepted values (numpy numbers pass; a bool is never a number)
ACCEPTED = {bool: bool, int: numbers.Integral, float: numbers.Real, str: str}


def check_field_types(fields: Mapping[str, Any], target: Callable[..., Any], prefix: str) -> None:
    """ValueError naming `<prefix><field>` (`prefix` e.g. "encoder.") when a value's type differs from that of the
    field's default in `target`'s signature (an int passes for a float); fields whose default is not a bool, int,
    float or str are left to the constructor."""
    params = inspect.signature(target).parameters
    for name, value in fields.items():
        expected = type(params[name].default) if name in params else None
        if expected not in ACCEPTED:
            continue
        if not isinstance(value, ACCEPTED[expected]) or (expected is not bool and isinstance(value, bool)):
            raise ValueError(f"{prefix}{name}: expected {expected.__name__}, got {value!r} ({type(value).__name__})")
