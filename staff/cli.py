"""The staff command line: ``python -m staff [--stage S | --local] [--table T] GROUP COMMAND ...``.

Groups: ``events`` (put, list, show), ``registrations`` (list, export, cancel, erase,
set-email, resend, simulate, checkin), ``exports`` (start, list, convert, query); ``checkin-link``
(``staff.checkin``). Exit codes: see :mod:`staff` (0 ok, 1 not
found / nothing done, 2 usage or validation error, 3 AWS error). Progress goes to
stderr, results to stdout (or the ``-o`` file). Nothing is logged; personal data only
appears in the output the command is asked for.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import click
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, NoCredentialsError
from botocore.exceptions import ConnectionError as CannotConnect  # cannot connect, connect timeout, proxy

from staff import EXIT_AWS, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from staff.config import Applied, ConfigError, Target, resolve

STATUSES = ("confirmed", "waitlisted", "cancelled", "erased")  # as staff.columns.STATUS_ORDER
EXPORT_FORMATS = ("csv", "xlsx", "json")
CONVERT_FORMATS = ("csv", "xlsx", "jsonl")
#: Commands that can run without a table (``exports convert``/``query`` of a local folder).
TABLELESS = ("exports_convert", "exports_query")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Failure(Exception):
    """End the command with ``message`` on stderr and exit ``code``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _aws_message(error: Exception) -> str:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return f"AWS refused the request: {err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: log in (e.g. aws sso login, AWS_PROFILE=...) or use --local for make run"
    return f"AWS could not be reached: {error}"


def aws_command(function: Callable[..., Any]) -> Callable[..., Any]:
    """Point boto3 at the chosen table, run ``function``, and map errors to the documented exit codes."""

    @functools.wraps(function)
    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        from chalicelib import store
        from chalicelib.events import EventFileError
        from staff.exportfiles import ExportFormatError, ExportNotFound
        from staff.exporting import EventNotInExport
        from staff.sql import QueryError

        options = ctx.find_root().obj or {}
        try:
            target = resolve(options.get("stage"), options.get("local", False), options.get("table"))
        except ConfigError as error:
            if function.__name__ not in TABLELESS:
                raise click.UsageError(str(error), ctx) from None
            target = Target(description="no table")  # a local export folder needs no AWS
        applied = Applied(target)
        ctx.call_on_close(applied.restore)
        try:
            code = ctx.invoke(function, *args, **kwargs)
        except Failure as failure:
            click.echo(f"Error: {failure}", err=True)
            ctx.exit(failure.code)
        except store.EventNotFound as error:
            click.echo(f"Error: no event {error} in {target.description}", err=True)
            ctx.exit(EXIT_NOT_FOUND)
        except EventNotInExport as error:
            click.echo(f"Error: no event {error} in the export", err=True)
            ctx.exit(EXIT_NOT_FOUND)
        except store.RegistrationNotFound as error:
            click.echo(f"Error: no registration {error} for this event", err=True)
            ctx.exit(EXIT_NOT_FOUND)
        except ExportNotFound as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(EXIT_NOT_FOUND)
        except (EventFileError, ExportFormatError, QueryError, ValueError) as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(EXIT_USAGE)
        except (ClientError, BotoCoreError) as error:
            unreachable = isinstance(error, (CannotConnect, ConnectionClosedError)) and target.unreachable()
            click.echo(f"Error: {unreachable or _aws_message(error)}", err=True)
            ctx.exit(EXIT_AWS)
        ctx.exit(code or EXIT_OK)

    return wrapper


class DashArguments(click.Command):
    """A command whose arguments may start with ``-``: registration ids do about 1 time in 64
    (``secrets.token_urlsafe``), and so may event ids (``[a-z0-9-]``).

    Click reads ``-Ms9cA7zDP62UysOYihc-g`` as a cluster of short options, and one that holds an ``h``
    as ``-h``: it printed the help and exited 0 without cancelling. Here every token that is not one
    of the command's own options (``--yes``, ``-h``/``--help``, with its value if it takes one) is
    moved behind ``--``, so it is always an argument; a mistyped option is then an unexpected
    argument (exit 2), never a silent success.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    takes_value[name] = not (param.is_flag or param.count)
        options: list[str] = []
        positional: list[str] = []
        tokens = iter(args)
        for token in tokens:
            if token == "--":
                positional.extend(tokens)
                break
            name = token.split("=", 1)[0] if token.startswith("--") else token
            if name in takes_value:
                options.append(token)
                if takes_value[name] and "=" not in token:
                    following = next(tokens, None)
                    if following is not None:
                        options.append(following)
            else:
                positional.append(token)
        return super().parse_args(ctx, [*options, "--", *positional])


def _progress_bytes(total: int, label: str) -> Any:
    return click.progressbar(length=max(total, 1), label=label, file=sys.stderr, width=32)


def _counted(items: Iterable[Any], label: str, length: int | None = None) -> Iterable[Any]:
    """``items``, showing how many have passed (of ``length``, if known) on stderr if it is a terminal."""
    if not sys.stderr.isatty():
        return items
    return _with_bar(items, label, length)


def _with_bar(items: Iterable[Any], label: str, length: int | None) -> Iterator[Any]:
    with click.progressbar(items, length=length, label=label, file=sys.stderr, show_pos=True, width=24) as bar:
        yield from bar


def _output_format(fmt: str | None, output: str, allowed: tuple[str, ...]) -> str:
    if fmt:
        return fmt
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix in allowed:
        return suffix
    if output == "-":
        return "csv"
    raise click.UsageError(f"say --format {'|'.join(allowed)} (cannot tell from the file name {output!r})")


def _delimiter(value: str) -> str:
    if value in ("\\t", "tab"):
        return "\t"
    if len(value) != 1:
        raise click.BadParameter("one character, e.g. ';' (or 'tab')")
    return value


@click.group(context_settings=CONTEXT)
@click.option("--stage", envvar="STAFF_STAGE", metavar="NAME",
              help="Stage in .chalice/config.json (local, dev, prod): its TABLE_NAME, EXPORT_BUCKET, ... [env: STAFF_STAGE]")
@click.option("--local", is_flag=True,
              help="Use make run's AWS stand-in: http://127.0.0.1:$AWS_PORT (default 5000), fake credentials, stage local.")
@click.option("--table", metavar="NAME", help="DynamoDB table name (overrides the stage's TABLE_NAME).")
@click.pass_context
def cli(ctx: click.Context, stage: str | None, local: bool, table: str | None) -> None:
    """Staff tools for the event registration service.

    Uses your own AWS credentials (AWS_PROFILE, SSO, environment); there are no
    admin endpoints on the public API. Say which table with --stage, --local or --table.

    \b
    Exit codes:
      0  done
      1  not found, or nothing to do
      2  usage or validation error
      3  AWS error (credentials, permissions, network, failed export)

    \b
    Examples:
      python -m staff --local events list
      python -m staff --stage prod registrations export partos-engagement-mobilisatie-2023 -o list.xlsx
    """
    ctx.obj = {"stage": stage, "local": local, "table": table}


# ------------------------------------------------------------------ events


@cli.group(context_settings=CONTEXT)
def events() -> None:
    """Put event files into the table, list events, show one with its counts."""


@events.command("put", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@aws_command
def events_put(file: Path) -> int:
    """Validate an event file (events/<id>.yaml) and store it.

    The seat counters are kept. When the capacity grows (or becomes unlimited),
    waitlisted registrations are promoted into the new seats, first come first
    served, and get their promotion email. A lower capacity moves nobody: the
    event stays full until seats free up. When the time or place changed, every
    registration holding or awaiting a seat gets an email saying what changed
    (with an updated calendar invite for those with a seat); the command checks
    again after 10 seconds for registrations made meanwhile. Running it again
    finishes an announcement that was cut short. An invalid file exits 2 with
    the file, the field and the reason.
    """
    from chalicelib.events import load_event_file
    from staff.operations import put_event

    event = load_event_file(file)

    def settling(seconds: float) -> None:
        click.echo(f"The time or place changed: telling the registrations now and again in {seconds:.0f} s "
                   "(for registrations made meanwhile).", err=True)

    outcome = put_event(event, on_settle=settling)

    def cap(value: int | None) -> str:
        return "unlimited" if value is None else str(value)

    if outcome.created:
        click.echo(f"Created event {event.id} (capacity {cap(outcome.new_capacity)}).")
    else:
        change = (
            f"capacity {cap(outcome.old_capacity)} -> {cap(outcome.new_capacity)}"
            if outcome.old_capacity != outcome.new_capacity
            else f"capacity {cap(outcome.new_capacity)} (unchanged)"
        )
        click.echo(f"Updated event {event.id}: {change}.")
    if outcome.promoted:
        click.echo(f"Promoted {outcome.promoted} waitlisted registration(s) into the new seats.")
    if outcome.changed:
        click.echo(f"Changed: {' and '.join(outcome.changed)}.")
    if outcome.told:
        click.echo(f"Told {outcome.told} registration(s) of the change (their emails follow).")
    if outcome.new_capacity is not None and outcome.seats_taken > outcome.new_capacity:
        click.echo(
            f"Note: {outcome.seats_taken} confirmed is more than the new capacity; nobody was moved, "
            "and the event stays full until enough registrations are cancelled.",
            err=True,
        )
    return EXIT_OK


@events.command("list", context_settings=CONTEXT)
@aws_command
def events_list() -> int:
    """List every event in the table with its seat counters."""
    from chalicelib import store
    from staff.tables import render

    rows = []
    for item in store.list_event_items():
        event = store.event_from_item(item)
        counters = store.get_counters(event.id)
        left = counters.seats_left
        rows.append([
            event.id,
            event.local(event.starts_at).strftime("%Y-%m-%d %H:%M"),
            "unlimited" if event.capacity is None else event.capacity,
            counters.seats_taken,
            counters.waitlisted_count,
            "-" if left is None else left,
            event.title.get(event.default_language, event.default_language),
        ])
    if not rows:
        click.echo("No events in the table.")
        return EXIT_OK
    click.echo(render(["id", "starts (local)", "capacity", "confirmed", "waitlisted", "seats left", "title"], rows))
    return EXIT_OK


@events.command("show", context_settings=CONTEXT)
@click.argument("event_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON (for scripts).")
@aws_command
def events_show(event_id: str, as_json: bool) -> int:
    """Show one event: when and where, and its registrations counted by status.

    Counts are read from the registration items (a Query on the event's
    partition): confirmed, waitlisted, cancelled, erased, and the registrations
    whose last email failed, was suppressed, bounced (permanently, or
    transiently) or drew a complaint; seats left comes from the event's seat
    counter. A counter that disagrees with the items is reported.
    """
    from chalicelib import store
    from staff.operations import count_registrations

    event, counters = store.get_event(event_id)
    counts = count_registrations(_counted(store.iter_registrations(event_id), "Reading registrations"))
    left = counters.seats_left
    data = {
        "id": event.id,
        "title": event.title.get(event.default_language, event.default_language),
        "starts_at": event.local(event.starts_at).isoformat(),
        "ends_at": event.local(event.ends_at).isoformat(),
        "timezone": event.timezone,
        "capacity": event.capacity,
        "waitlist": event.waitlist,
        "confirmed": counts.confirmed,
        "waitlisted": counts.waitlisted,
        "cancelled": counts.cancelled,
        "erased": counts.erased,
        "seats_left": left,
        "emails_failed": counts.emails_failed,
        "emails_bounced": counts.emails_bounced,
        "emails_bounced_transient": counts.emails_bounced_transient,
        "emails_complained": counts.emails_complained,
        "emails_suppressed": counts.emails_suppressed,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    start, end = event.local(event.starts_at), event.local(event.ends_at)
    lines = [
        f"{data['title']} ({event.id})",
        f"  when:          {start:%Y-%m-%d %H:%M}-{end:%H:%M} {event.timezone} ({start.tzname()})",
        f"  where:         {event.location.one_line()}",
        f"  capacity:      {'unlimited' if event.capacity is None else event.capacity}"
        f" ({'with' if event.waitlist else 'no'} waitlist)",
        f"  confirmed:     {counts.confirmed}",
        f"  waitlisted:    {counts.waitlisted}",
        f"  cancelled:     {counts.cancelled}",
        f"  erased:        {counts.erased}",
        f"  seats left:    {'unlimited' if left is None else left}",
        f"  emails failed: {counts.emails_failed}",
        f"  bounced:       {counts.emails_bounced} permanently, {counts.emails_bounced_transient} transiently",
        f"  complained:    {counts.emails_complained}",
        f"  suppressed:    {counts.emails_suppressed} (not sent: the address bounced or complained before)",
    ]
    click.echo("\n".join(lines))
    if counters.seats_taken != counts.confirmed:
        click.echo(f"Note: the seat counter says {counters.seats_taken} confirmed.", err=True)
    return EXIT_OK


# ------------------------------------------------------------------ registrations


@cli.group(context_settings=CONTEXT)
def registrations() -> None:
    """List, export, cancel and erase an event's registrations; correct an address and send again."""


def _read_registrations(event_id: str) -> tuple[Any, list[dict[str, Any]], dict[int, int]]:
    """The event, its registration items (Query, every page) and the waitlist positions, in one pass."""
    from chalicelib import store
    from staff.columns import waitlist_positions

    event, _ = store.get_event(event_id)
    items = list(_counted(store.iter_registrations(event_id), "Reading registrations"))
    return event, items, waitlist_positions(items)


@registrations.command("list", context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only these statuses (repeat the option for several).")
@aws_command
def registrations_list(event_id: str, statuses: tuple[str, ...]) -> int:
    """Show an event's registrations as a table.

    Confirmed first (by registration time), then the waitlist in order, then
    cancelled and erased. Times are in the event's time zone; "checked in" is
    when the person was checked in at the door. "email" is the
    state of the last email, "outcome" what SES reported about it (delivered,
    bounced, bounced_transient, complained, delayed, rejected); a bounce or
    complaint is explained below the table, with the receiving server's answer.
    """
    from staff.columns import sort_key
    from staff.tables import render

    event, items, positions = _read_registrations(event_id)
    chosen = sorted((i for i in items if not statuses or i.get("status") in statuses), key=sort_key)
    rows = []
    for item in chosen:
        ticket = item.get("waitlist_ticket")
        registered = item.get("registered_at")
        rows.append([
            item.get("status"),
            positions.get(int(ticket)) if item.get("status") == "waitlisted" and ticket is not None else "",
            item.get("name", ""),
            item.get("email", ""),
            datetime.fromisoformat(registered).astimezone(event.zone).strftime("%Y-%m-%d %H:%M") if registered else "",
            _checked_in(item, event),
            item.get("email_state", ""),
            item.get("email_outcome", ""),
            item.get("registration_id"),
        ])
    if not rows:
        click.echo("No registrations" + (f" with status {', '.join(statuses)}" if statuses else "") + ".")
        return EXIT_OK
    click.echo(render(["status", "pos", "name", "email", "registered", "checked in", "email", "outcome", "id"], rows))
    click.echo(f"{len(rows)} registration(s).", err=True)
    notes = [note for note in (_email_note(item) for item in chosen) if note]
    for note in notes:
        click.echo(note, err=True)
    if notes:
        click.echo(f"Correct an address with: python -m staff registrations set-email {event_id} ID ADDRESS; "
                   f"then send the email again with: python -m staff registrations resend {event_id} ID", err=True)
    return EXIT_OK


def _checked_in(item: dict[str, Any], event: Any) -> str:
    """When a registration was checked in at the door, as ``registrations list`` shows it (the event's zone)."""
    at = item.get("checked_in_at")
    return datetime.fromisoformat(at).astimezone(event.zone).strftime("%Y-%m-%d %H:%M") if at else ""


def _email_note(item: dict[str, Any]) -> str | None:
    """One line on a registration whose last email bounced, drew a complaint or was not sent; else ``None``."""
    from chalicelib import store
    from staff.tables import cell

    found = store.latest_notification(item)
    if found is None:
        return None
    change, entry = found
    outcome = (entry.get("feedback") or {})
    who = f"{item.get('registration_id')} ({cell(str(item.get('email', '')))})"
    if entry.get("state") == "suppressed":
        return f"Not sent: the {change} email of {who}: {entry.get('reason', '')}."
    if outcome.get("outcome") in ("bounced", "bounced_transient", "complained", "rejected"):
        detail = outcome.get("diagnostic") or outcome.get("complaint_type") or ""
        kind = {"bounced": "bounced permanently", "bounced_transient": "bounced for now (SES stops retrying)",
                "complained": "was marked as spam", "rejected": "was rejected by SES"}[outcome["outcome"]]
        return f"The {change} email of {who} {kind} on {str(outcome.get('at', ''))[:16].replace('T', ' ')} UTC" + (
            f": {cell(detail)}" if detail else "") + "."
    return None


@registrations.command("export", context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS),
              help="File format (default: from the file name's extension).")
@click.option("-o", "--output", required=True, metavar="FILE", help="File to write ('-' for stdout, csv/json only).")
@click.option("--delimiter", default=",", show_default=True, metavar="CHAR",
              help="CSV delimiter; ';' for Dutch Excel, 'tab' for tabs.")
@aws_command
def registrations_export(event_id: str, fmt: str | None, output: str, delimiter: str) -> int:
    """Write one row per registration to a CSV, XLSX or JSON file.

    \b
    Columns, in this order:
      registration_id, status, waitlist_position, name, email, language,
      registered_at (ISO 8601 in the event's time zone), one column per
      question (named by its id), email_state, email_outcome, checked_in_at
      (ISO 8601 in the event's time zone; empty until checked in at the door).

    Rows: confirmed, waitlisted (in queue order), cancelled, erased, each by
    registration time, as "registrations list" shows them. Choice answers are
    the option id, multichoice option ids joined with "; ", booleans yes/no
    (true/false in JSON). CSV is UTF-8 with BOM; text starting with = + - @ tab
    or CR (phone answers too) gets a leading ' so Excel never runs it. XLSX
    cells are text, never formulas. Read by Query on the event's partition,
    every page.
    """
    from staff import writers
    from staff.columns import columns_for, rows

    fmt = _output_format(fmt, output, EXPORT_FORMATS)
    event, items, positions = _read_registrations(event_id)
    count = writers.write(fmt, output, columns_for(event), rows(event, items, positions), delimiter=_delimiter(delimiter))
    click.echo(f"Wrote {count} registration(s) of {event.id} to {output} ({fmt}).", err=True)
    return EXIT_OK


@registrations.command("cancel", cls=DashArguments, context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@aws_command
def registrations_cancel(event_id: str, registration_id: str, yes: bool) -> int:
    """Cancel one registration, as the registrant's own cancel link does.

    The registrant gets the cancellation email; a freed seat goes to the first
    on the waitlist, who gets the promotion email, until the event's waitlist
    cutoff (waitlist_closes_at, default its start): after it the seat goes to
    nobody. Cancelling a registration that is already cancelled, or after the
    event has ended, changes nothing (exit 1). An ID copied from a CSV export
    with its leading ' (ids may start with -) is accepted as is.
    """
    from chalicelib import store

    registration_id = registration_id.removeprefix("'")
    item = store.get_registration_in_event(event_id, registration_id)
    if item.get("status") not in ("confirmed", "waitlisted"):
        click.echo(f"Nothing to do: registration {registration_id} is {item.get('status')}.", err=True)
        return EXIT_NOT_FOUND
    if not yes:
        click.confirm(f"Cancel registration {registration_id} ({item.get('status')}) of {event_id}?", abort=True, err=True)
    from chalicelib import lifecycle

    try:
        result = lifecycle.cancel(event_id, registration_id, by="staff")
    except store.EventOver:
        click.echo(f"Nothing to do: event {event_id} is over, so registration {registration_id} "
                   "can no longer be cancelled.", err=True)
        return EXIT_NOT_FOUND
    return _report_cancel(registration_id, result)


def _report_cancel(registration_id: str, result: Any) -> int:
    """Print a ``lifecycle.CancelResult``; exit 1 when it changed nothing."""
    if not result.changed:
        click.echo(f"Nothing to do: registration {registration_id} was already cancelled.", err=True)
        return EXIT_NOT_FOUND
    click.echo(f"Cancelled registration {registration_id}; the cancellation email follows.")
    if result.promoted_id:
        click.echo(f"Registration {result.promoted_id} was promoted from the waitlist into the seat.")
    return EXIT_OK


@registrations.command("set-email", context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID")
@click.argument("address", metavar="ADDRESS")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@aws_command
def registrations_set_email(event_id: str, registration_id: str, address: str, yes: bool) -> int:
    """Correct the address of a confirmed or waitlisted registration (a typo, a bounce).

    The address is checked as registering checks it (exit 2 if invalid) and must
    not be registered for the event already, in any case: the address guard moves
    to the new address in the same transaction as the change (exit 1 if the new
    address is taken). What was known about mail to the old address (outcome,
    suppression) is cleared, so later emails go to the new one; nothing is sent
    now: send the latest email again with "registrations resend". Giving the
    same address again (after the registrant fixed their mailbox) lifts our
    suppression of it; SES's account-level suppression list may still hold it
    (README, "Emails").
    """
    from chalicelib import clock, store
    from chalicelib.validation import checked_email

    registration_id = registration_id.removeprefix("'")
    address = checked_email(address)
    item = store.get_registration_in_event(event_id, registration_id)
    if item.get("status") not in ("confirmed", "waitlisted"):
        click.echo(f"Nothing to do: registration {registration_id} is {item.get('status')}.", err=True)
        return EXIT_NOT_FOUND
    if item.get("email") == address and not store.suppression_reason(item):
        click.echo(f"Nothing to do: registration {registration_id} already has this address.", err=True)
        return EXIT_NOT_FOUND
    if not yes:
        click.confirm(f"Change the address of registration {registration_id} of {event_id} to {address}?",
                      abort=True, err=True)
    try:
        store.change_email(event_id, registration_id, address, at=clock.now())
    except store.AlreadyRegistered:
        click.echo(f"Error: {address} is already registered for {event_id} (one registration per address); "
                   "nothing changed.", err=True)
        return EXIT_NOT_FOUND
    except store.NotActive as inactive:
        click.echo(f"Nothing to do: registration {registration_id} is {inactive.status}.", err=True)
        return EXIT_NOT_FOUND
    click.echo(f"Changed the address of registration {registration_id} to {address}. "
               f"Send the latest email again with: python -m staff registrations resend {event_id} {registration_id}")
    return EXIT_OK


@registrations.command("resend", context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID")
@aws_command
def registrations_resend(event_id: str, registration_id: str) -> int:
    """Send the registration's latest email again, to the address it has now.

    The latest email (confirmation, waitlist, promotion or cancellation) gets a
    new pending notification, which the email delivery sends as it sends every
    email (the same claim, retries and checks; a waitlist email shows the
    position of now). Exit 1 when there is nothing to send again: no email yet,
    one still on its way, an erased registration, or an address that bounced
    permanently or complained (correct it with "registrations set-email" first).
    """
    from chalicelib import clock, store

    registration_id = registration_id.removeprefix("'")
    try:
        change = store.request_resend(event_id, registration_id, at=clock.now())
    except store.AddressSuppressed as suppressed:
        click.echo(f"Not sent: {suppressed.reason}. Correct it first: python -m staff registrations set-email "
                   f"{event_id} {registration_id} ADDRESS", err=True)
        return EXIT_NOT_FOUND
    except store.NothingToResend as nothing:
        click.echo(f"Nothing to do: {nothing}.", err=True)
        return EXIT_NOT_FOUND
    click.echo(f"The {change} email of registration {registration_id} will be sent again in a moment.")
    return EXIT_OK


SIMULATED = ("bounce", "transient-bounce", "complaint", "delivery", "delay", "reject")


@registrations.command("simulate", context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID")
@click.argument("outcome", type=click.Choice(SIMULATED), default="bounce", required=False)
@aws_command
def registrations_simulate(event_id: str, registration_id: str, outcome: str) -> int:
    """Local stage only: pretend SES reported OUTCOME (default: bounce) for the latest email sent.

    Builds the event SES would publish (a permanent bounce with "550 5.1.1 user
    unknown", a transient bounce, a complaint, a delivery, a delay or a reject)
    and hands it to the RecordEmailEvents function's code, against make run's
    AWS stand-in, so you can see how it looks in "registrations list", the
    exports and the next emails. On AWS, register with SES's mailbox simulator
    addresses instead (bounce@simulator.amazonses.com, complaint@...,
    success@...).
    """
    from chalicelib import feedback, store
    from chalicelib.settings import get_settings

    settings = get_settings()
    if settings.stage != "local":
        raise click.UsageError(f"simulate works on the local stage only (this is {settings.stage}); on AWS use "
                               "SES's mailbox simulator addresses, e.g. bounce@simulator.amazonses.com")
    registration_id = registration_id.removeprefix("'")
    item = store.get_registration_in_event(event_id, registration_id)
    sent = [(str(entry.get("at", "")), change, entry) for change, entry in (item.get("notifications") or {}).items()
            if isinstance(entry, dict) and entry.get("message_id") and entry.get("state") == "sent"]
    if not sent or not item.get("email"):
        click.echo(f"Nothing to do: registration {registration_id} has no email sent yet "
                   "(is make run delivering? the email appears in outbox/ first).", err=True)
        return EXIT_NOT_FOUND
    _, change, entry = max(sent)
    event = feedback.simulated_event(str(entry["message_id"]), str(item["email"]), outcome,
                                     configuration_set=settings.ses_configuration_set, sender=settings.sender_email)
    answer = feedback.handle_event(event)  # the function's code (its log lines are for CloudWatch, not shown here)
    shown = {"recorded": "recorded", "recorded-older": "recorded", "superseded":
             "changed nothing (an outcome of equal or higher rank is recorded)", "stale": "changed nothing (stale)"}
    click.echo(f"Simulated a {outcome} of the {change} email of registration {registration_id}: "
               f"{answer['outcome']}, {shown.get(answer['result'], answer['result'])}.")
    return EXIT_OK


@registrations.command("erase", context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.option("--email", "address", required=True, metavar="ADDRESS", help="The person's address (any case).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@aws_command
def registrations_erase(event_id: str, address: str, yes: bool) -> int:
    """Erase a person's data from an event (GDPR right to erasure).

    Every registration with this address (compared case-insensitively) keeps its
    id and becomes status "erased" without name, email, answers or email
    details; the address guard is deleted (the address may register again); the
    event counts it in erased_count and gives back the seat or waitlist place
    (the waitlist moves up). No email is sent to the address. Prints how many
    items changed; exit 1 when no registration had the address.

    Copies outside the table are not touched: earlier exports and files, the
    table's point-in-time backups (35 days) and stream (24 hours).
    """
    from staff.operations import erase_address

    if not yes:
        click.confirm(f"Erase the registration data of this address for {event_id}? This cannot be undone.",
                      abort=True, err=True)
    outcome = erase_address(event_id, address)
    if outcome.items_changed == 0:
        click.echo("Nothing to do: no registration with this address for this event.", err=True)
        return EXIT_NOT_FOUND
    promoted = f", {outcome.promoted} promoted from the waitlist" if outcome.promoted else ""
    click.echo(
        f"Erased {outcome.registrations} registration(s) of {event_id}: {outcome.items_changed} item(s) changed "
        f"({outcome.registrations} anonymised, {outcome.guards} address guard(s) deleted{promoted}, event counters updated)."
    )
    return EXIT_OK


# ------------------------------------------------------------------ exports


@cli.group(context_settings=CONTEXT)
def exports() -> None:
    """DynamoDB exports to S3: start one, list them, convert one to CSV/XLSX, query one in SQL."""


def _table_arn(dynamodb: Any, table: str) -> str:
    return dynamodb.describe_table(TableName=table)["Table"]["TableArn"]


def _export_bucket(bucket: str | None) -> str:
    from chalicelib.settings import get_settings

    chosen = bucket or os.environ.get("EXPORT_BUCKET")
    if chosen:
        return chosen
    stage = get_settings().stage
    if stage == "local":
        return "registrations-local-exports"
    from_stack = _stack_output(f"event-registration-{stage}", "ExportBucketName")
    if from_stack:
        return from_stack
    raise click.UsageError("no export bucket: set EXPORT_BUCKET, give it in the stage's config, or use --bucket")


def _stack_output(stack_name: str, key: str) -> str | None:
    """An output of the deployed stack (``make deploy`` creates ``event-registration-<stage>``), or ``None``."""
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib import aws

    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError):
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for stack in stacks for o in stack.get("Outputs", [])}
    return outputs.get(key)


@exports.command("start", context_settings=CONTEXT)
@click.option("--bucket", metavar="NAME", help="S3 bucket (default: EXPORT_BUCKET of the environment or stage).")
@click.option("--prefix", metavar="PREFIX", help="Key prefix (default: exports/<table>).")
@click.option("--wait", is_flag=True, help="Wait until the export has finished, showing progress.")
@click.option("--poll", default=None, type=float, metavar="SECONDS", help="Seconds between status checks with --wait.")
@click.option("--timeout", default=3600, show_default=True, type=float, metavar="SECONDS", help="Give up waiting after this long.")
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
    from chalicelib import aws
    from chalicelib.settings import get_settings

    settings = get_settings()
    dynamodb = aws.client("dynamodb")
    bucket = _export_bucket(bucket)
    prefix = (prefix or f"exports/{settings.table_name}").strip("/")
    if settings.stage == "local":
        s3 = aws.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region})
    backups = dynamodb.describe_continuous_backups(TableName=settings.table_name)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    if pitr != "ENABLED":
        if settings.stage != "local":
            click.echo(
                f"Point-in-time recovery is off on {settings.table_name}; an export needs it. "
                "The deploy stack keeps it on: deploy the stage again (make deploy STAGE=...) "
                "or ask whoever administers the AWS account to turn it on.",
                err=True,
            )
            return EXIT_NOT_FOUND
        # The local stand-in's table is made without PITR; the stack's always has it.
        dynamodb.update_continuous_backups(
            TableName=settings.table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        click.echo(f"Turned on point-in-time recovery for {settings.table_name}.", err=True)
    answer = dynamodb.export_table_to_point_in_time(
        TableArn=_table_arn(dynamodb, settings.table_name), S3Bucket=bucket, S3Prefix=prefix, ExportFormat="DYNAMODB_JSON"
    )["ExportDescription"]
    arn = answer["ExportArn"]
    click.echo(f"Started export {arn}")
    click.echo(f"  into s3://{bucket}/{prefix}/")
    if not wait:
        click.echo(f"Check with: python -m staff exports list; convert with: python -m staff exports convert s3://{bucket}/{prefix} ...", err=True)
        return EXIT_OK
    interval = poll if poll is not None else (0.5 if settings.stage == "local" else 10.0)
    final = _wait_for_export(dynamodb, arn, interval, timeout)
    status = final.get("ExportStatus")
    if status != "COMPLETED":
        reason = final.get("FailureMessage") or final.get("FailureCode") or f"still {status} after {timeout:.0f} s"
        click.echo(f"Error: export {status}: {reason}", err=True)
        return EXIT_AWS
    click.echo(f"Completed: {final.get('ItemCount', '?')} item(s) in s3://{bucket}/{prefix}/")
    return EXIT_OK


def _wait_for_export(dynamodb: Any, arn: str, interval: float, timeout: float) -> dict[str, Any]:
    """Poll DescribeExport until the export leaves IN_PROGRESS (or ``timeout``), showing a spinner on a terminal."""
    started = time.monotonic()
    spinner = itertools.cycle("|/-\\")
    tty = sys.stderr.isatty()
    while True:
        description = dynamodb.describe_export(ExportArn=arn)["ExportDescription"]
        status = description.get("ExportStatus")
        elapsed = time.monotonic() - started
        if tty:
            click.echo(f"\rExporting {next(spinner)} {status} {int(elapsed) // 60}:{int(elapsed) % 60:02d}  ", nl=False, err=True)
        if status != "IN_PROGRESS" or elapsed > timeout:
            if tty:
                click.echo("", err=True)
            return description
        time.sleep(interval)


@exports.command("list", context_settings=CONTEXT)
@aws_command
def exports_list() -> int:
    """List the table's exports: status, start time, items and S3 location."""
    from chalicelib import aws
    from chalicelib.settings import get_settings
    from staff.tables import render

    dynamodb = aws.client("dynamodb")
    arn = _table_arn(dynamodb, get_settings().table_name)
    rows = []
    kwargs: dict[str, Any] = {"TableArn": arn}
    while True:
        page = dynamodb.list_exports(**kwargs)
        for summary in page.get("ExportSummaries", []):
            detail = dynamodb.describe_export(ExportArn=summary["ExportArn"])["ExportDescription"]
            start = detail.get("StartTime") or detail.get("ExportTime")
            rows.append([
                summary["ExportArn"].rsplit("/", 1)[-1],
                summary.get("ExportStatus"),
                start.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if start else "",
                detail.get("ItemCount", ""),
                f"s3://{detail.get('S3Bucket')}/{detail.get('S3Prefix') or ''}",
            ])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    if not rows:
        click.echo("No exports of this table.")
        return EXIT_OK
    click.echo(render(["export", "status", "started", "items", "location"], rows, max_width=80))
    return EXIT_OK


def _open_export(source: str) -> Any:
    from staff.exportfiles import locate, parse_source

    layout = locate(parse_source(source))
    for note in layout.notes:
        click.echo(f"Note: {note}", err=True)
    return layout


def _read_export(layout: Any, event_id: str | None) -> tuple[Any, Any]:
    """One pass over the export: ``(ExportRead, the chosen EventInExport)``; close the first when done."""
    from staff.exporting import choose_event, read_export

    with _progress_bytes(layout.total_bytes, "Reading export") as bar:
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
@click.option("-o", "--output", required=True, metavar="FILE", help="File to write ('-' for stdout, csv/jsonl only).")
@click.option("--delimiter", default=",", show_default=True, metavar="CHAR", help="CSV delimiter; ';' for Dutch Excel.")
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

    fmt = _output_format(fmt, output, CONVERT_FORMATS)
    delimiter = _delimiter(delimiter)
    layout = _open_export(source)
    export, found = _read_export(layout, event_id)
    with export:
        rows = _counted(export.rows(found), "Writing rows", found.registrations)
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
    """
    from staff import sql as staff_sql
    from staff.columns import Column, columns_for
    from staff.tables import render
    from staff.writers import write_csv

    layout = _open_export(source)
    export, found = _read_export(layout, event_id)
    with export:
        connection = staff_sql.load(columns_for(found.event), _counted(export.rows(found), "Loading rows", found.registrations))
    names, rows = staff_sql.query(connection, sql)
    shown = [[staff_sql.display(v) for v in row] for row in rows]
    if as_csv:
        write_csv("-", [Column(n, "text") for n in names], shown)
    else:
        click.echo(render(names, shown) if names else "(no result)")
    return EXIT_OK


# ------------------------------------------------------------------ check-in at the door (staff/checkin.py)

from staff.checkin import register as _register_checkin  # noqa: E402 - after the groups it adds to

_register_checkin(cli, registrations, aws_command, _stack_output, CONTEXT)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :mod:`staff`)."""
    try:
        code = cli.main(args=argv, prog_name="python -m staff", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_NOT_FOUND
    except click.ClickException as error:
        error.show()
        return error.exit_code
