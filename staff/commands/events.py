"""``python -m staff events ...``: put an event file into the table, list events, show one with its counts.

The work is :mod:`staff.operations`; this module parses and prints (README, "Staff tools").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from staff import EXIT_OK
from staff.commands.running import CONTEXT, aws_command, counted

if TYPE_CHECKING:
    from staff.operations import EventOverview
    from staff.publish import PutPlan


@click.group(context_settings=CONTEXT)
def events() -> None:
    """Put event files into the table, list events, show one with its counts."""


def _capacity(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


@events.command("put", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Print what would change and whom it would email; write nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before emailing registrants.")
@click.option("--allow-past", is_flag=True,
              help="Publish even when a time has passed by the service's clock that had not in the stored event "
                   "(or a new event has already ended).")
@aws_command
def events_put(file: Path, dry_run: bool, yes: bool, allow_past: bool) -> int:
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

    When the change would email registrants, it says how many and about what
    and asks first (--yes: do not ask; without an answer, as in a script with
    nothing on stdin, nothing is written, exit 1). --dry-run prints what would
    change (created, updated or unchanged; the fields; whom it would email and
    about what; seats promoted by a capacity increase) and writes nothing.

    A file that would move the event into the past by the service's clock (a
    start, end or waitlist cutoff that has passed where the stored one had not:
    a year typed wrong) is refused the same way, and so is a new event that has
    already ended; nothing is written. --allow-past publishes it anyway.
    """
    from chalicelib.events import load_event_file
    from staff.publish import plan_put, put_event, refuse_past

    event = load_event_file(file)
    if dry_run:
        plan = plan_put(event)
        if not allow_past:
            refuse_past(plan, file)
        click.echo("\n".join(_plan_lines(plan)))
        return EXIT_OK

    def settling(seconds: float) -> None:
        click.echo(f"The time or place changed: telling the registrations now and again in {seconds:.0f} s "
                   "(for registrations made meanwhile).", err=True)

    def confirm(plan: PutPlan) -> None:
        click.confirm(f"This will email {plan.recipients} registrant(s) of {event.id}: {'; '.join(plan.emails())}. "
                      "Continue?", abort=True, err=True)

    outcome = put_event(event, on_settle=settling, allow_past=allow_past, source=file,
                        confirm=None if yes else confirm)
    if outcome.created:
        click.echo(f"Created event {event.id} (capacity {_capacity(outcome.new_capacity)}).")
    else:
        change = (
            f"capacity {_capacity(outcome.old_capacity)} -> {_capacity(outcome.new_capacity)}"
            if outcome.old_capacity != outcome.new_capacity
            else f"capacity {_capacity(outcome.new_capacity)} (unchanged)"
        )
        click.echo(f"Updated event {event.id}: {change}.")
    if outcome.promoted:
        click.echo(f"Promoted {outcome.promoted} waitlisted registration(s) into the new seats.")
    if outcome.changed:
        click.echo(f"Changed: {' and '.join(outcome.changed)}.")
    if outcome.told:
        click.echo(f"Told {outcome.told} registration(s) of the change (their emails follow).")
    if outcome.restamped:
        click.echo(f"Moved the expiry of {outcome.restamped} stored item(s) with the event: its end plus "
                   "RETENTION_DAYS (README, \"Storage\").")
    if outcome.new_capacity is not None and outcome.seats_taken > outcome.new_capacity:
        click.echo(
            f"Note: {outcome.seats_taken} confirmed is more than the new capacity; nobody was moved, "
            "and the event stays full until enough registrations are cancelled.",
            err=True,
        )
    return EXIT_OK


def _plan_lines(plan: PutPlan) -> list[str]:
    """``events put --dry-run``: what publishing would do (``staff.publish.PutPlan``), for people."""
    event = plan.event
    lines = ["Dry run: nothing was written."]
    if plan.created:
        lines.append(f"Would create event {event.id} (capacity {_capacity(event.capacity)}).")
    elif plan.unchanged:
        lines.append(f"Event {event.id} is unchanged: putting it again would store the same definition.")
    else:
        lines.append(f"Would update event {event.id}: {len(plan.fields)} field(s) changed: {', '.join(plan.fields)}.")
    if not plan.created and plan.old_capacity != event.capacity:
        lines.append(f"Capacity {_capacity(plan.old_capacity)} -> {_capacity(event.capacity)} "
                     f"({plan.seats_taken} confirmed, {plan.waitlisted} waitlisted).")
    if plan.promoted:
        lines.append(f"Would promote {len(plan.promoted)} waitlisted registration(s) into the new seats.")
    if plan.schedule_changes:
        lines.append(f"The {' and '.join(plan.schedule_changes)} would change.")
    emails = plan.emails()
    if emails:
        lines.append(f"Would email {plan.recipients} registrant(s):")
        lines.extend(f"  {line}" for line in emails)
    else:
        lines.append("Would email nobody.")
    return lines


@events.command("list", context_settings=CONTEXT)
@aws_command
def events_list() -> int:
    """List every event in the table with its seat counters."""
    from staff.operations import list_events
    from staff.tables import render

    rows = []
    for found in list_events():
        event, counters, left = found.event, found.counters, found.seats_left
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
    from staff.operations import show_event

    shown = show_event(event_id, counted)
    data = _show_data(shown)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    click.echo("\n".join(_show_lines(shown, data)))
    if shown.counters.seats_taken != shown.counts.confirmed:
        click.echo(f"Note: the seat counter says {shown.counters.seats_taken} confirmed.", err=True)
    return EXIT_OK


def _show_data(shown: EventOverview) -> dict[str, Any]:
    """``events show --json``: an ``operations.EventOverview`` as a JSON object (times local, ISO 8601)."""
    event, counts = shown.event, shown.counts
    return {
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
        "seats_left": shown.seats_left,
        "emails_failed": counts.emails_failed,
        "emails_bounced": counts.emails_bounced,
        "emails_bounced_transient": counts.emails_bounced_transient,
        "emails_complained": counts.emails_complained,
        "emails_suppressed": counts.emails_suppressed,
    }


def _show_lines(shown: EventOverview, data: dict[str, Any]) -> list[str]:
    """``events show`` for people: the lines under the title."""
    event, counts, left = shown.event, shown.counts, shown.seats_left
    start, end = event.local(event.starts_at), event.local(event.ends_at)
    return [
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
