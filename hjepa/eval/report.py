"""Plain-text tables for the terminal: one layout for every probe's results and summaries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Column = str | Callable[[Any], object]
"""A column of a results table: the key of each row's value, or a function of the row that makes the cell."""


def format_table(rows: Iterable[Sequence[object]], header: Sequence[str] = (), left: int = 1) -> str:
    """Rows of cells as aligned text, two spaces between columns, each as wide as its widest cell.

    The first `left` columns are left-aligned (names), the others right-aligned (numbers); a cell is `str(cell)`.
    """
    lines = ([list(header)] if header else []) + [[str(cell) for cell in row] for row in rows]
    widths = [max(map(len, column)) for column in zip(*lines)]
    aligned = [
        [cell.ljust(w) if i < left else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        for line in lines
    ]
    return "\n".join("  ".join(line).rstrip() for line in aligned)


def print_results(rows: Mapping[str, Any] | Sequence[Any], columns: Mapping[str, Column], name: str = "actor") -> None:
    """Print a probe's results as a table: a line per row, a column per entry of `columns` (header -> column).

    Rows given by name (e.g. actor -> its figures) open with a left-aligned column headed `name`; a sequence of rows
    is numbers only, all right-aligned.
    """
    named = isinstance(rows, Mapping)
    items = rows.items() if named else ((None, row) for row in rows)
    cells = [
        [*([key] if named else []), *(column(row) if callable(column) else row[column] for column in columns.values())]
        for key, row in items
    ]
    print(format_table(cells, [*([name] if named else []), *columns], left=int(named)))
