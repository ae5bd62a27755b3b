"""Plain-text tables for the terminal, aligned also for wide characters (``读写汉字``).

Display widths come from ``wcwidth`` (pinned in ``requirements-staff.txt``): East Asian wide
and full-width characters take two columns, combining marks and zero-width characters none,
emoji sequences as terminals draw them. Registrants type the names shown here, so control
characters and the bidirectional overrides (which could reorder what the terminal shows)
are shown as spaces.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import wcwidth

#: Bidirectional formatting characters: a name holding them could make a table line read in another order.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (``wcwidth.width``); ``text`` holds no control characters
    (see :func:`cell`)."""
    return wcwidth.width(text)


def cell(value: Any) -> str:
    """A value as table text: ``None`` empty, booleans yes/no, control and bidi characters shown as spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "".join(" " if c in BIDI_CONTROLS or unicodedata.category(c) == "Cc" else c for c in text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` terminal columns, with ``…`` when cut (a wide character split at the edge
    becomes a space)."""
    if width(text) <= limit:
        return text
    return wcwidth.clip(text, 0, limit - 1) + "…"


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 40) -> str:
    """A table with a header line and a rule; each column at most ``max_width`` terminal columns."""
    texts = [[clip(cell(v), max_width) for v in row] for row in rows]
    heads = [cell(h) for h in headers]
    widths = [width(h) for h in heads]
    for row in texts:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], width(text))

    def line(values: Sequence[str]) -> str:
        return "  ".join(wcwidth.ljust(v, widths[i]) for i, v in enumerate(values)).rstrip()

    out = [line(heads), line(["-" * w for w in widths])]
    out.extend(line(row) for row in texts)
    return "\n".join(out)
