"""Writing rows to CSV, XLSX, JSON and JSON lines, streaming (one row in memory at a time).

CSV (for Excel, also Dutch Excel):

- UTF-8 with a byte order mark, so Excel opens ``Özdemir``, ``读写汉字``, ``Ødegård`` intact;
  ``delimiter`` ``,`` (default) or ``;`` (Dutch Excel expects ``;``), or another character
  :func:`check_delimiter` allows; CRLF line ends.
- Formula neutralising: a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a leading ``'`` so that no spreadsheet runs it as a formula; nothing
  else is changed. Numeric cells (``waitlist_position``) are written as numbers.
- Phone answers get the same rule: ``+31 6 12345678`` is written ``'+31 6 12345678``. The
  ``+`` and every digit stay; the quote only stops Excel from reading the cell as a formula
  (it would otherwise compute ``+31 6 12345678`` into an error, and ``+31612345678`` into the
  number 31612345678, losing the ``+``). XLSX needs no quote: every cell there is text.
- Booleans ``yes``/``no``; empty answers empty cells.

XLSX: every text cell is written with ``write_string`` (a string cell, never a formula, so
no quote is needed and values are exact); numbers with ``write_number``; booleans
``yes``/``no``. XlsxWriter's ``constant_memory`` mode keeps one row in memory.

JSON (an array of objects) and JSON lines (one object a line): UTF-8, no BOM, values as
typed: booleans ``true``/``false``, ``waitlist_position`` a number, missing values ``null``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from staff.columns import Column

FORMATS = ("csv", "xlsx", "json", "jsonl")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_START)


#: The quote :func:`neutralise` puts before a formula-like cell.
FORMULA_QUOTE = "'"


def check_delimiter(delimiter: str) -> str:
    """``delimiter`` if a CSV file can separate its cells with it unambiguously; else ``ValueError`` with the reason.

    The ``csv`` module is asked first: ``csv.writer`` refuses what its dialect cannot take (anything but
    one character; newer Pythons refuse more). It accepts characters that make a broken file, refused here:

    - its own quote character ``"`` (asked from the writer's dialect): the cells it quotes can no
      longer be told from the cells it separates (``a"b`` reads back as other cells);
    - ``'``, the quote that neutralises formulas (README, "Staff tools"): every neutralised cell would
      start with the delimiter, and a reader that is not strictly RFC 4180 splits it there;
    - a line break: CR and LF (the row end is CRLF, so the rows run together) and every other
      character ``str.splitlines`` ends a line at (VT, FF, the information separators, NEL,
      U+2028, U+2029), which many readers also take for a row end;
    - a character UTF-8 cannot write (a lone surrogate: undecodable bytes of a command line);
    - any other character ``str.isprintable`` calls unprintable, except tab (the one the README offers):
      control characters (NUL stops programs that read C strings), format characters (the byte order
      mark this file starts with, bidirectional overrides, zero-width spaces), spaces other than the
      ASCII space (no one tells U+2003 from a space), private-use and unassigned code points: a
      person cannot see or type what separates the cells;
    - a combining mark (U+0301 joins the letter before it: the separator cannot be seen). The ASCII
      space is accepted (cells holding spaces are quoted).
    """
    try:
        quote = csv.writer(io.StringIO(), delimiter=delimiter).dialect.quotechar
    except (TypeError, ValueError, csv.Error) as exc:
        raise ValueError(f"{delimiter!r} cannot separate CSV cells ({exc}): give one character, e.g. ';' "
                         "(or 'tab')") from None
    if delimiter == quote:
        reason = "it is the CSV quote character"
    elif delimiter == FORMULA_QUOTE:
        reason = "it is the quote that keeps spreadsheet formulas from running"
    elif len(f"a{delimiter}b".splitlines()) > 1:
        reason = "it is a line break"
    elif unicodedata.category(delimiter) == "Cs":
        reason = "UTF-8 cannot write it"
    elif not delimiter.isprintable() and delimiter != "\t":
        reason = "it is invisible or unprintable"
    elif unicodedata.category(delimiter) in ("Mn", "Mc", "Me"):
        reason = "it is a combining mark, which joins the letter before it"
    else:
        return delimiter
    raise ValueError(f"{delimiter!r} cannot separate CSV cells: {reason}; give e.g. ',' or ';' (or 'tab')")


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` if it begins with ``= + - @``, tab or CR; otherwise unchanged."""
    return FORMULA_QUOTE + text if text.startswith(FORMULA_START) else text


def spreadsheet_text(value: Any, kind: str = "text") -> str:
    """A typed value as the text of a CSV cell (see the module docstring for the rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    return neutralise(str(value))


def _replace(temporary: Path, target: Path) -> None:
    """Put the written ``temporary`` in ``target``'s place, keeping the permissions of a file that was
    there (a ``chmod 600`` list of names and addresses stays private; a new file gets the umask's)."""
    with contextlib.suppress(FileNotFoundError):
        shutil.copymode(target, temporary)
    os.replace(temporary, target)


@contextmanager
def _atomic_text(path: str, *, encoding: str, newline: str | None) -> Iterator[TextIO]:
    """A text file written under a temporary name and renamed at the end; ``-`` is stdout."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(os.path.realpath(path))  # a symbolic link's file is written, the link stays
    temporary = target.with_name(f".{target.name}.partial")
    try:
        with open(temporary, "w", encoding=encoding, newline=newline) as handle:
            yield handle
        _replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_csv(
    path: str, columns: list[Column], rows: Iterable[list[Any]], *, delimiter: str = ",", bom: bool = True
) -> int:
    """Write a CSV file (``-`` for stdout, then without BOM); returns the number of rows."""
    count = 0
    with _atomic_text(path, encoding="utf-8", newline="") as handle:
        if bom and path != "-":
            handle.write("\ufeff")  # as utf-8-sig would, without its Python-level encoder on every write
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([neutralise(c.name) for c in columns])
        writerow, formula, text = writer.writerow, _FORMULA_FIRST, spreadsheet_text
        for row in rows:
            # spreadsheet_text for every value, its common cases (None, str) inline
            writerow(["" if v is None else ("'" + v if v[:1] in formula else v) if v.__class__ is str else text(v)
                      for v in row])
            count += 1
    return count


def write_json(path: str, columns: list[Column], rows: Iterable[list[Any]]) -> int:
    """Write a JSON array of objects keyed by column name; returns the number of rows."""
    names = [c.name for c in columns]
    count = 0
    with _atomic_text(path, encoding="utf-8", newline="\n") as handle:
        handle.write("[")
        for row in rows:
            handle.write(",\n " if count else "\n ")
            handle.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
            count += 1
        handle.write("\n]\n" if count else "]\n")
    return count


def write_jsonl(path: str, columns: list[Column], rows: Iterable[list[Any]]) -> int:
    """Write JSON lines, one object per row; returns the number of rows."""
    names = [c.name for c in columns]
    count = 0
    with _atomic_text(path, encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


def write_xlsx(path: str, columns: list[Column], rows: Iterable[list[Any]], *, sheet: str = "registrations") -> int:
    """Write an Excel workbook with one sheet; text cells are strings, never formulas. Returns the row count.

    Raises ``ValueError`` for ``path`` ``-`` (a workbook is not written to stdout), ``OSError`` when the
    file cannot be written.
    """
    import xlsxwriter  # staff-only dependency (requirements-staff.txt)
    import xlsxwriter.exceptions

    if path == "-":
        raise ValueError("XLSX cannot be written to stdout; give a file name with -o")
    target = Path(os.path.realpath(path))  # a symbolic link's file is written, the link stays
    temporary = target.with_name(f".{target.name}.partial")
    count = 0
    try:
        workbook = xlsxwriter.Workbook(str(temporary), {"constant_memory": True, "strings_to_formulas": False})
        sheet_ = workbook.add_worksheet(sheet)
        header = workbook.add_format({"bold": True})
        for index, column in enumerate(columns):
            width = {"registration_id": 24, "status": 11, "waitlist_position": 8, "language": 8}.get(column.name, 22)
            sheet_.set_column(index, index, width)
        for index, column in enumerate(columns):
            sheet_.write_string(0, index, column.name, header)
        sheet_.freeze_panes(1, 0)
        write_string, write_number = sheet_.write_string, sheet_.write_number
        for row in rows:
            count += 1
            for index, value in enumerate(row):
                if value is None:
                    continue
                if value.__class__ is str:  # most cells
                    write_string(count, index, value)
                elif isinstance(value, bool):
                    write_string(count, index, "yes" if value else "no")
                elif isinstance(value, (int, float)):
                    write_number(count, index, value)
                else:
                    write_string(count, index, str(value))
        sheet_.autofilter(0, 0, max(count, 1), len(columns) - 1)
        try:
            workbook.close()
        except xlsxwriter.exceptions.FileCreateError as cannot:  # it wraps the OSError: give that back
            raise (cannot.args[0] if cannot.args and isinstance(cannot.args[0], OSError) else cannot) from None
        _replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def write(fmt: str, path: str, columns: list[Column], rows: Iterable[list[Any]], *, delimiter: str = ",") -> int:
    """Write ``rows`` in format ``fmt`` (one of :data:`FORMATS`) to ``path``; returns the row count.

    Raises ``ValueError`` for an unknown format or XLSX to stdout.
    """
    if fmt == "csv":
        return write_csv(path, columns, rows, delimiter=delimiter)
    if fmt == "xlsx":
        return write_xlsx(path, columns, rows)
    if fmt == "json":
        return write_json(path, columns, rows)
    if fmt == "jsonl":
        return write_jsonl(path, columns, rows)
    raise ValueError(f"unknown format {fmt!r}")
