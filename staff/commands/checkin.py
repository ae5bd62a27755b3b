"""``python -m staff checkin-link ...`` and ``registrations checkin ...``: check-in at the door.

The work is :mod:`staff.checkin`; this module parses (``--valid`` durations), prints and
returns the exit code (README, "Check-in at the door"). ``checkin-link`` is a command of the root
group (``staff.cli`` adds it); ``registrations checkin`` joins the ``registrations`` group.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from staff import EXIT_NOT_FOUND, EXIT_OK
from staff.commands.registrations import registrations
from staff.commands.running import CONTEXT, DashArguments, aws_command, id_from_export

if TYPE_CHECKING:
    from chalicelib.events import Event


def parse_duration(text: str) -> timedelta:
    """``--valid``: ``2d``, ``12h``, ``1d12h``, ``90m`` as a ``timedelta``, read as event files' reminders are
    (``chalicelib.events.parse_duration``: days, hours, minutes, each at most once, in that order; README
    "Check-in at the door"). Raises ``click.BadParameter`` for anything else (``1d1d``, ``2D``, ``1.5h``), for
    zero, and for more than ``checkin.DOOR_LINK_MAX_SECONDS`` (31 days)."""
    from chalicelib.checkin import DOOR_LINK_MAX_SECONDS
    from chalicelib.events import parse_duration as read_duration

    try:
        duration = read_duration(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: say how long, e.g. 2d, 12h, 1d12h or 90m (days, hours, minutes, "
                                 "each at most once, in that order)") from None
    if not timedelta(minutes=1) <= duration <= timedelta(seconds=DOOR_LINK_MAX_SECONDS):
        raise click.BadParameter(f"{text!r}: a door link is valid for 1 minute to 31 days")
    return duration


def base_url_option(value: str | None) -> str | None:
    """``--base-url``, checked when the command line is parsed (``staff.checkin.checked_base_url``): an http(s)
    URL with a host. Raises ``click.BadParameter`` (exit 2) with the reason in one line."""
    from staff.checkin import checked_base_url

    if value is None:
        return None
    try:
        return checked_base_url(value)
    except ValueError as refused:
        raise click.BadParameter(str(refused)) from None


@click.command("checkin-link", context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.option("--valid", "valid", default="2d", show_default=True, metavar="DURATION",
              callback=lambda _ctx, _param, value: parse_duration(value),
              help="How long the link works: 2d, 12h, 1d12h, 90m (at most 31d).")
@click.option("--lang", type=click.Choice(["nl", "en"]), help="Language of the page (default: the phone's).")
@click.option("--base-url", metavar="URL", callback=lambda _ctx, _param, value: base_url_option(value),
              help="Address of the service, http(s)://host[:port][/path] (default: the stage's, or make run's).")
@aws_command
def checkin_link(event_id: str, valid: timedelta, lang: str | None, base_url: str | None) -> int:
    """Print a link to the check-in page of one event, for staff at the door.

    Open it on a phone: it scans the QR codes of the registrants' emails with the
    camera, takes a code typed in, and finds people by name or email address. It
    shows name, organisation and status only. The link is signed (HMAC with the
    service's token keys) and expires; anyone who has it can check people in until
    then, so send it only to door staff. To revoke it sooner, retire the signing key
    it names (README, "Check-in at the door"); that also retires the personal links
    and check-in codes that key signed. Made well before the event, give a --valid
    that reaches its end: the command warns when the link would expire before.
    """
    from chalicelib.eventparts import offset_text
    from staff.checkin import NotConfigured, door_link

    try:
        link = door_link(event_id, valid, lang, base_url)
    except NotConfigured as missing:
        raise click.UsageError(str(missing)) from None
    event = link.event
    click.echo(link.url)
    until = event_time(event, link.expires_at)
    click.echo(f"Door link for {event.id}, valid until {until} (signed with key {link.key_id}). Anyone with it can "
               f"check people in and see their names: send it only to door staff.", err=True)
    short = link.short_of_event()
    if short is not None:  # made weeks ahead with a short --valid: dead on the day, so say so (exit 0 still)
        when = (f"before the event starts on {event_time(event, short.starts_at)}: door staff cannot use it then"
                if short.before == "starts" else f"before the event ends on {event_time(event, short.ends_at)}")
        cover = f"to cover the event until it ends ({event_time(event, short.ends_at)})"
        fix = (f"Make one with --valid {offset_text(short.valid)} {cover}" if short.valid is not None else
               f"A door link works for at most 31 days: make another on or after "
               f"{event_time(event, short.make_after)} {cover}")
        click.echo(f"Warning: this link expires on {until}, {when}. {fix}.", err=True)
    return EXIT_OK


def event_time(event: Event, instant: datetime) -> str:
    """An instant as the staff tools print times: ``2023-06-05 14:00 CEST``, in the event's zone, to the minute
    (as ``registrations list``, ``events list`` and ``registrations checkin`` do; the same in every language)."""
    return instant.astimezone(event.zone).strftime("%Y-%m-%d %H:%M %Z")


@registrations.command("checkin", cls=DashArguments, context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID", callback=id_from_export)
@click.option("--undo", is_flag=True, help="Take a check-in back (a mistake at the door).")
@aws_command
def registrations_checkin(event_id: str, registration_id: str, undo: bool) -> int:
    """Check a registration in at the door, or take it back with --undo.

    Only a confirmed registration can be checked in, once: the write is conditional,
    like a scan at the door. Exit 1 when nothing changed (already checked in, not
    confirmed, or --undo of one that was not checked in or is no longer confirmed:
    a cancellation already took its check-in off the door's count). An ID copied
    from a CSV export with its leading ' is accepted as is.
    """
    from chalicelib.checkin import early
    from staff.checkin import check_in

    done = check_in(event_id, registration_id, undo)
    result, person = done.result, done.result.person
    when = event_time(done.event, person.checked_in_at) if person and person.checked_in_at else ""
    messages = {
        "checked_in": f"Checked in registration {registration_id} at {when}.",
        "undone": f"Took back the check-in of registration {registration_id}.",
        "already_checked_in": f"Nothing to do: registration {registration_id} was checked in at {when}.",
        "not_checked_in": f"Nothing to do: registration {registration_id} is not checked in.",
    }
    status = person.status if person else "unknown"
    if undo and result.outcome in ("cancelled", "erased"):  # its check-in left the door's count with the seat
        messages[result.outcome] = (f"Nothing to do: registration {registration_id} is {status}; only a confirmed "
                                    "registration's check-in can be taken back.")
    message = messages.get(result.outcome) or f"Not checked in: registration {registration_id} is {status}."
    click.echo(message, err=not result.changed)
    if result.outcome == "checked_in" and person and person.checked_in_at and early(done.event, person.checked_in_at):
        click.echo(f"Note: checked in before the event's day; it starts on "
                   f"{event_time(done.event, done.event.utc(done.event.starts_at))}.", err=True)
    return EXIT_OK if result.changed else EXIT_NOT_FOUND
