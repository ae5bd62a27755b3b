"""``exports query``: registrations as the DuckDB table ``registrations``, queried in SQL.

The table has the export's columns (``staff.columns``, names unique) with SQL types:
``waitlist_position`` INTEGER, boolean questions BOOLEAN, everything else VARCHAR
(``registered_at`` is ISO 8601 text in the event's zone; cast with ``registered_at::TIMESTAMPTZ``).
Rows are staged through a temporary JSON lines file, so Python holds one row at a time; after
loading, DuckDB's access to files and the network is switched off, so the query sees only the
table. Results are shown as SQL writes them: booleans ``true``/``false`` (:func:`display`).
Every DuckDB error becomes a :class:`QueryError` with a one-line message.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from typing import Any

from staff.columns import Column

SQL_TYPES = {"int": "INTEGER", "bool": "BOOLEAN", "text": "VARCHAR", "phone": "VARCHAR"}


class QueryError(ValueError):
    """DuckDB refused the SQL (syntax, unknown column, ...) or the load; the message is DuckDB's, on one line."""


def _one_line(error: Exception) -> str:
    """DuckDB's message on one line: its lines joined, the caret line under the SQL dropped."""
    lines = [line.strip() for line in str(error).splitlines()]
    return " ".join(line for line in lines if line and set(line) != {"^"}) or type(error).__name__


def display(value: Any) -> Any:
    """A result value as ``exports query`` prints it: booleans ``true``/``false`` as in SQL, the rest unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(columns: list[Column], rows: Iterable[list[Any]]) -> Any:
    """A DuckDB connection (in memory) with table ``registrations`` holding ``rows``; returns the connection.

    Raises :class:`QueryError` if DuckDB cannot load them (e.g. two columns of one name).
    """
    import duckdb  # staff-only dependency (requirements-staff.txt)

    names = [c.name for c in columns]
    handle, path = tempfile.mkstemp(prefix="staff-registrations-", suffix=".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
                out.write("\n")
        connection = duckdb.connect(":memory:")
        spec = "{" + ", ".join(f"{_literal(c.name)}: '{SQL_TYPES[c.kind]}'" for c in columns) + "}"
        select = ", ".join(_quote(n) for n in names)
        try:
            # Column names are quoted by _quote/_literal and types come from SQL_TYPES; the path is a parameter.
            connection.execute(
                f"CREATE TABLE registrations AS SELECT {select} "  # noqa: S608
                f"FROM read_json(?, format = 'newline_delimited', columns = {spec})",
                [path],
            )
            connection.execute("SET enable_external_access = false")
        except duckdb.Error as exc:
            connection.close()
            raise QueryError(f"could not load the registrations: {_one_line(exc)}") from None
        return connection
    finally:
        os.unlink(path)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def query(connection: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql``; returns ``(column names, rows)``.

    Only queries that read (DuckDB's statement types ``SELECT``, which includes ``DESCRIBE``,
    ``SHOW`` and ``SUMMARIZE``, and ``EXPLAIN``), as DuckDB's own parser classifies each statement:
    the table is an in-memory copy, so a ``DELETE`` would print a count and change nothing anywhere.
    Raises :class:`QueryError` for no statement, another kind of statement, and SQL DuckDB refuses.
    """
    import duckdb

    try:
        statements = connection.extract_statements(sql)
        if not statements:
            raise QueryError('no SQL given: write a query, e.g. "SELECT count(*) FROM registrations"')
        kinds = sorted({s.type.name for s in statements} - {"SELECT", "EXPLAIN"})
        if kinds:
            raise QueryError(f"only queries that read are run (SELECT, DESCRIBE, SUMMARIZE, EXPLAIN), not "
                             f"{', '.join(kinds)}: the table is a copy of the export, and nothing here changes it")
        result = connection.execute(sql)
        if result is None or result.description is None:  # no statement, or one without a result
            return [], []
        return [d[0] for d in result.description], result.fetchall()
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
