"""Plain-text tables for the terminal: one layout for every probe's results and summaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def format_table(rows: Iterable[Sequence[object]], header: Sequence[str] = (), left: int = 1) -> str:
    """Rows of cells as aligned text, two spaces between columns, each as wide as its widest cell.

    The first `left` columns are left-aligned (names), the others right-aligned (numbers); a cell is `str(cell)`.
    """
    lines = ([list(header)] if header else []) + [[str(cell) for cell in row] for row in rows]
    widths = [max(map(len, column)) for column in zip(*lines)]
    aligned = [[cell.ljust(w) if i < left else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
               for line in lines]
    return "\n".join("  ".join(line).rstrip() for line in aligned)
