"""``python -m staff exports ...``: DynamoDB exports to S3: start one, list them, convert one, query one in SQL.

Starting and listing are :mod:`staff.exportjobs`; reading an export's files is
:mod:`staff.exportfiles` and :mod:`staff.exporting`, writing rows :mod:`staff.writers`, SQL
:mod:`staff.sql`. This module parses, shows progress and prints (README, "Staff tools").
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING

import click

from staff import EXIT_AWS, EXIT_NOT_FOUND, EXIT_OK
from staff.commands.running import (
    CONTEXT,
    OutputFile,
    aws_command,
    bucket_option,
    counted,
    delimiter_option,
    output_format,
    prefix_option,
    progress_bytes,
    staff_command,
)

if TYPE_CHECKING:
    from staff.exportfiles import Layout
    from staff.exporting import EventInExport, ExportRead

CONVERT_FORMATS = ("csv", "xlsx", "jsonl")


@click.group(context_settings=CONTEXT)
def exports() -> None:
    """DynamoDB exports to S3: start one, list them, convert one to CSV/XLSX, query one in SQL."""


@exports.command("start", context_settings=CONTEXT)
@click.option("--bucket", metavar="NAME", callback=bucket_option,
              help="S3 bucket (default: EXPORT_BUCKET of the environment or stage).")
@click.option("--prefix", metavar="PREFIX", callback=prefix_option, help="Key prefix (default: exports/<table>).")
@click.option("--wait", is_flag=True, help="Wait until the export has finished, showing progress.")
@click.option("--poll", default=None, type=float, metavar="SECONDS", help="Seconds between status checks with --wait.")
@click.option("--timeout", default=3600, show_default=True, type=float, metavar="SECONDS",
              help="Give up waiting after this long.")
@aws_command
def exports_start(bucket: str | None, prefix: str | None, wait: bool, poll: float | None, timeout: float) -> int:
    """Start a DynamoDB export of the table (ExportTableToPointInTime) into S3.

    The export is a consistent copy of the whole table as of now, in
    DYNAMODB_JSON format, written under s3://BUCKET/PREFIX/AWSDynamoDB/<id>/;
    it does not use the table's read capacity. It needs point-in-time
    recovery (PITR), which the deploy stack keeps on: if it is off, this
    says so and exits 1 (staff may not change it). Real exports take
    minutes. With the local stand-in the bucket is created if missing and
    PITR is turned on, as the stack has it.
    """
    from staff.exportjobs import NoExportBucket, PointInTimeRecoveryOff, start_export, wait_for_export

    def recovery_turned_on(table: str) -> None:
        click.echo(f"Turned on point-in-time recovery for {table}.", err=True)

    try:
        started = start_export(bucket, prefix, recovery_turned_on)
    except NoExportBucket as error:
        raise click.UsageError(str(error)) from None
    except PointInTimeRecoveryOff as off:
        click.echo(
            f"Point-in-time recovery is off on {off.table}; an export needs it. "
            "The deploy stack keeps it on: deploy the stage again (make deploy STAGE=...) "
            "or ask whoever administers the AWS account to turn it on.",
            err=True,
        )
        return EXIT_NOT_FOUND
    location = f"s3://{started.bucket}/{started.prefix}/"
    click.echo(f"Started export {started.arn}")
    click.echo(f"  into {location}")
    if not wait:
        click.echo(f"Check with: {staff_command('exports', 'list')}; convert with: "
                   f"{staff_command('exports', 'convert', f's3://{started.bucket}/{started.prefix}')} ...", err=True)
        return EXIT_OK
    spinner = _spinner()
    final = wait_for_export(started.arn, timeout, poll, spinner)
    if spinner is not None:
        click.echo("", err=True)  # end the spinner's line
    if final.status != "COMPLETED":
        reason = final.failure or f"still {final.status} after {timeout:.0f} s"
        click.echo(f"Error: export {final.status}: {reason}", err=True)
        return EXIT_AWS
    click.echo(f"Completed: {'?' if final.item_count is None else final.item_count} item(s) in {location}")
    return EXIT_OK


def _spinner() -> Callable[[str, float], None] | None:
    """``on_poll`` for ``exportjobs.wait_for_export``: a spinner with the status and minutes:seconds on a
    terminal's stderr; ``None`` when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    turns = itertools.cycle("|/-\\")

    def show(status: str, elapsed: float) -> None:
        minutes, seconds = divmod(int(elapsed), 60)
        click.echo(f"\rExporting {next(turns)} {status} {minutes}:{seconds:02d}  ", nl=False, err=True)

    return show


@exports.command("list", context_settings=CONTEXT)
@aws_command
def exports_list() -> int:
    """List the table's exports: status, start time, items and S3 location."""
    from staff.exportjobs import list_exports
    from staff.tables import render

    rows = [
        [
            found.export_id,
            found.status,
            found.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if found.started else "",
            found.item_count,
            found.location,
        ]
        for found in list_exports()
    ]
    if not rows:
        click.echo("No exports of this table.")
        return EXIT_OK
    click.echo(render(["export", "status", "started", "items", "location"], rows, max_width=80))
    return EXIT_OK


def _open_export(source: str) -> Layout:
    """The export's files under ``source`` (``s3://bucket/prefix`` or a folder); its notes go to stderr."""
    from staff.exportfiles import locate, parse_source

    layout = locate(parse_source(source))
    for note in layout.notes:
        click.echo(f"Note: {note}", err=True)
    return layout


def _read_export(layout: Layout, event_id: str | None) -> tuple[ExportRead, EventInExport]:
    """One pass over the export, with a progress bar: ``(ExportRead, the chosen EventInExport)``.

    The caller closes the ``ExportRead`` (its temporary files); it is closed here when no event can be chosen.
    """
    from staff.exporting import choose_event, read_export

    with progress_bytes(layout.total_bytes, "Reading export") as bar:
        export = read_export(layout, event_id, bar.update)
    try:
        return export, choose_event(export.events, event_id)
    except BaseException:
        export.close()
        raise


@exports.command("convert", context_settings=CONTEXT)
@click.argument("source")
@click.option("--event", "event_id", required=True, metavar="ID", help="The event whose registrations to write.")
@click.option("--format", "fmt", type=click.Choice(CONVERT_FORMATS), help="File format (default: from the file name).")
@click.option("-o", "--output", required=True, type=OutputFile(), metavar="FILE",
              help="File to write ('-' for stdout, csv/jsonl only).")
@click.option("--delimiter", default=",", show_default=True, metavar="CHAR", callback=delimiter_option,
              help="CSV delimiter; ';' for Dutch Excel, 'tab' for tabs.")
@aws_command
def exports_convert(source: str, event_id: str, fmt: str | None, output: str, delimiter: str) -> int:
    """Convert a DynamoDB export to CSV, XLSX or JSON lines: one row per registration.

    SOURCE is an s3://bucket/prefix or a local folder holding an export as AWS
    writes it (manifest-summary.json, manifest-files.json, data/*.json.gz) or as
    moto writes it (data/*.gz only); the newest export under SOURCE is used. The
    columns and the order of rows are those of "registrations export". The
    export is read once, streaming; rows are sorted through temporary files
    (removed at the end), so memory stays flat however big the export is.
    """
    from staff import writers
    from staff.columns import columns_for

    fmt = output_format(fmt, output, CONVERT_FORMATS, delimiter)
    layout = _open_export(source)
    export, found = _read_export(layout, event_id)
    with export:
        rows = counted(export.rows(found), "Writing rows", found.registrations)
        count = writers.write(fmt, output, columns_for(found.event), rows, delimiter=delimiter)
    click.echo(f"Wrote {count} registration(s) of {found.event.id} to {output} ({fmt}).", err=True)
    return EXIT_OK


@exports.command("query", context_settings=CONTEXT)
@click.argument("source")
@click.argument("sql")
@click.option("--event", "event_id", metavar="ID", help="The event (needed when the export holds several).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (UTF-8, no BOM) instead of a table.")
@aws_command
def exports_query(source: str, sql: str, event_id: str | None, as_csv: bool) -> int:
    """Query an export's registrations in SQL (DuckDB): the table is "registrations".

    Its columns are those of "registrations export": waitlist_position is an
    INTEGER, boolean questions are BOOLEAN (printed true/false, as SQL writes
    them), the rest VARCHAR. The table is filled in the exports' order (status,
    then registration time); say ORDER BY for an order you can rely on. Bad
    SQL exits 2 with DuckDB's message on one line.

    \b
    Examples:
      python -m staff exports query ./export "SELECT role, count(*) AS n FROM registrations GROUP BY role ORDER BY n DESC" --event ID
      python -m staff exports query ./export "SELECT partos_member, count(*) FROM registrations WHERE status = 'confirmed' GROUP BY 1" --event ID
    """  # noqa: E501 - the examples are shown as written (click's \b)
    from staff import sql as staff_sql
    from staff.columns import Column, columns_for
    from staff.tables import render
    from staff.writers import write_csv

    layout = _open_export(source)
    export, found = _read_export(layout, event_id)
    with export:
        rows = counted(export.rows(found), "Loading rows", found.registrations)
        connection = staff_sql.load(columns_for(found.event), rows)
    names, rows = staff_sql.query(connection, sql)
    shown = [[staff_sql.display(v) for v in row] for row in rows]
    if as_csv:
        write_csv("-", [Column(n, "text") for n in names], shown)
    else:
        click.echo(render(names, shown) if names else "(no result)")
    return EXIT_OK
