"""Plain-text tables for the terminal, aligned also for wide characters (``读写汉字``)."""

from __future__ import annotations

import unicodedata
from typing import Any, Sequence


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1 for c in text)


def cell(value: Any) -> str:
    """A value as table text: ``None`` empty, booleans yes/no, control characters shown as spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` terminal columns, with ``…`` when cut."""
    if width(text) <= limit:
        return text
    out, used = [], 0
    for c in text:
        w = width(c)
        if used + w > limit - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 40) -> str:
    """A table with a header line and a rule; each column at most ``max_width`` terminal columns."""
    texts = [[clip(cell(v), max_width) for v in row] for row in rows]
    widths = [width(h) for h in headers]
    for row in texts:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], width(text))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (widths[i] - width(v)) for i, v in enumerate(values)).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in texts)
    return "\n".join(out)
