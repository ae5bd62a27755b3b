"""``exports query``: registrations as the DuckDB table ``registrations``, queried in SQL.

The table has the export's columns (``staff.columns``) with SQL types: ``waitlist_position``
INTEGER, boolean questions BOOLEAN, everything else VARCHAR (``registered_at`` is ISO 8601 text
in the event's zone; cast with ``registered_at::TIMESTAMPTZ``). Rows are staged through a
temporary JSON lines file, so Python holds one row at a time; after loading, DuckDB's access
to files and the network is switched off, so the query sees only the table.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Iterable

from staff.columns import Column

SQL_TYPES = {"int": "INTEGER", "bool": "BOOLEAN", "text": "VARCHAR", "phone": "VARCHAR"}


class QueryError(ValueError):
    """DuckDB refused the SQL (syntax, unknown column, ...); the message is DuckDB's."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(columns: list[Column], rows: Iterable[list[Any]]) -> Any:
    """A DuckDB connection (in memory) with table ``registrations`` holding ``rows``; returns the connection."""
    import duckdb  # staff-only dependency (requirements-staff.txt)

    names = [c.name for c in columns]
    handle, path = tempfile.mkstemp(prefix="staff-registrations-", suffix=".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(dict(zip(names, row)), ensure_ascii=False))
                out.write("\n")
        connection = duckdb.connect(":memory:")
        spec = "{" + ", ".join(f"'{c.name}': '{SQL_TYPES[c.kind]}'" for c in columns) + "}"
        select = ", ".join(_quote(n) for n in names)
        connection.execute(
            f"CREATE TABLE registrations AS SELECT {select} FROM read_json(?, format = 'newline_delimited', columns = {spec})",
            [path],
        )
        connection.execute("SET enable_external_access = false")
        return connection
    finally:
        os.unlink(path)


def query(connection: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql``; returns ``(column names, rows)``. Raises :class:`QueryError` for SQL DuckDB refuses."""
    import duckdb

    try:
        result = connection.execute(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    if result.description is None:
        return [], []
    return [d[0] for d in result.description], result.fetchall()
