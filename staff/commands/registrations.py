"""``python -m staff registrations ...``: list and export an event's registrations; cancel, correct,
send again, simulate SES feedback, erase (``registrations checkin`` is :mod:`staff.commands.checkin`'s).

Reading is :mod:`staff.operations`, changes are :mod:`staff.changes`; this module parses, asks
before a change (unless ``--yes``) and prints (README, "Staff tools"). An ID copied from a CSV
export with its leading ``'`` (ids may start with ``-``) is accepted as is.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

import click

from staff import EXIT_NOT_FOUND, EXIT_OK
from staff.changes import SIMULATED
from staff.commands.running import (
    CONTEXT,
    DashArguments,
    OutputFile,
    address_from_export,
    aws_command,
    counted,
    delimiter_option,
    id_from_export,
    output_format,
    staff_command,
)

if TYPE_CHECKING:
    from staff.operations import EmailProblem, ListedRegistration

STATUSES = ("confirmed", "waitlisted", "cancelled", "erased")  # as staff.columns.STATUS_ORDER
EXPORT_FORMATS = ("csv", "xlsx", "json")
#: How ``registrations list`` says what became of an email (``operations.EmailProblem.kind``).
PROBLEMS = {"bounced": "bounced permanently", "bounced_transient": "bounced for now (SES stops retrying)",
            "complained": "was marked as spam", "rejected": "was rejected by SES"}
#: ``registrations simulate``: ``chalicelib.feedback.handle_event``'s results, for people.
SIMULATION_RESULTS = {"recorded": "recorded", "recorded-older": "recorded",
                      "superseded": "changed nothing (an outcome of equal or higher rank is recorded)",
                      "stale": "changed nothing (stale)"}


@click.group(context_settings=CONTEXT)
def registrations() -> None:
    """List, export, cancel and erase an event's registrations; correct an address and send again."""


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
    from staff.operations import list_registrations
    from staff.tables import render

    listing = list_registrations(event_id, statuses, counted)
    zone = listing.event.zone
    rows = [_row(listed, zone) for listed in listing.registrations]
    if not rows:
        click.echo("No registrations" + (f" with status {', '.join(statuses)}" if statuses else "") + ".")
        return EXIT_OK
    click.echo(render(["status", "pos", "name", "email", "registered", "checked in", "email", "outcome", "id"], rows))
    click.echo(f"{len(rows)} registration(s).", err=True)
    for problem in listing.email_problems:
        click.echo(_problem_line(problem), err=True)
    if listing.email_problems:
        click.echo(f"Correct an address with: {staff_command('registrations', 'set-email', event_id)} ID ADDRESS; "
                   f"then send the email again with: {staff_command('registrations', 'resend', event_id)} ID",
                   err=True)
    return EXIT_OK


def _row(listed: ListedRegistration, zone: tzinfo) -> list[object]:
    """A ``registrations list`` line; registration and check-in times in the event's ``zone`` (a ``tzinfo``)."""
    registered, checked_in = listed.registered_at, listed.checked_in_at
    return [
        listed.status,
        listed.waitlist_position,
        listed.name,
        listed.email,
        registered.astimezone(zone).strftime("%Y-%m-%d %H:%M") if registered else "",
        checked_in.astimezone(zone).strftime("%Y-%m-%d %H:%M") if checked_in else "",
        listed.email_state,
        listed.email_outcome,
        listed.registration_id,
    ]


def _problem_line(problem: EmailProblem) -> str:
    """One line below ``registrations list`` on an email that bounced, drew a complaint or was not sent."""
    from staff.tables import cell

    who = f"{problem.registration_id} ({cell(problem.email)})"
    if problem.kind == "suppressed":
        return f"Not sent: the {problem.change} email of {who}: {problem.detail}."
    at = problem.at[:16].replace("T", " ")
    return f"The {problem.change} email of {who} {PROBLEMS[problem.kind]} on {at} UTC" + (
        f": {cell(problem.detail)}" if problem.detail else "") + "."


@registrations.command("export", context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS),
              help="File format (default: from the file name's extension).")
@click.option("-o", "--output", required=True, type=OutputFile(), metavar="FILE",
              help="File to write ('-' for stdout, csv/json only).")
@click.option("--delimiter", default=",", show_default=True, metavar="CHAR", callback=delimiter_option,
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
    from staff.operations import read_registrations

    fmt = output_format(fmt, output, EXPORT_FORMATS, delimiter)
    read = read_registrations(event_id, counted)
    event = read.event
    count = writers.write(fmt, output, columns_for(event), rows(event, read.items, read.positions),
                          delimiter=delimiter)
    click.echo(f"Wrote {count} registration(s) of {event.id} to {output} ({fmt}).", err=True)
    return EXIT_OK


@registrations.command("cancel", cls=DashArguments, context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID", callback=id_from_export)
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
    from staff.changes import cancel

    def confirm(status: str, name: str, email: str) -> None:
        from staff.tables import cell, clip

        click.confirm(f"Cancel registration {registration_id} of {clip(cell(name), 60)} <{cell(email)}> "
                      f"({status}) of {event_id}?", abort=True, err=True)

    result = cancel(event_id, registration_id, None if yes else confirm)
    click.echo(f"Cancelled registration {registration_id}; the cancellation email follows.")
    if result.promoted_id:
        click.echo(f"Registration {result.promoted_id} was promoted from the waitlist into the seat.")
    return EXIT_OK


@registrations.command("set-email", cls=DashArguments, context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID", callback=id_from_export)
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
    from chalicelib import store
    from chalicelib.validation import checked_email
    from staff.changes import set_email

    address = checked_email(address)

    def confirm() -> None:
        click.confirm(f"Change the address of registration {registration_id} of {event_id} to {address}?",
                      abort=True, err=True)

    try:
        set_email(event_id, registration_id, address, None if yes else confirm)
    except store.AlreadyRegistered:
        click.echo(f"Error: {address} is already registered for {event_id} (one registration per address); "
                   "nothing changed.", err=True)
        return EXIT_NOT_FOUND
    again = staff_command("registrations", "resend", event_id, registration_id)
    click.echo(f"Changed the address of registration {registration_id} to {address}. "
               f"Send the latest email again with: {again}")
    return EXIT_OK


@registrations.command("resend", cls=DashArguments, context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID", callback=id_from_export)
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
    from chalicelib import store
    from staff.changes import resend

    try:
        change = resend(event_id, registration_id)
    except store.AddressSuppressed as suppressed:
        click.echo(f"Not sent: {suppressed.reason}. Correct it first: "
                   f"{staff_command('registrations', 'set-email', event_id, registration_id)} ADDRESS", err=True)
        return EXIT_NOT_FOUND
    click.echo(f"The {change} email of registration {registration_id} will be sent again in a moment.")
    return EXIT_OK


@registrations.command("simulate", cls=DashArguments, context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.argument("registration_id", metavar="ID", callback=id_from_export)
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
    from staff.changes import LocalOnly, simulate_feedback

    try:
        done = simulate_feedback(event_id, registration_id, outcome)
    except LocalOnly as other:
        raise click.UsageError(f"simulate works on the local stage only (this is {other.stage}); on AWS use "
                               "SES's mailbox simulator addresses, e.g. bounce@simulator.amazonses.com") from None
    click.echo(f"Simulated a {outcome} of the {done.change} email of registration {registration_id}: "
               f"{done.outcome}, {SIMULATION_RESULTS.get(done.result, done.result)}.")
    return EXIT_OK


@registrations.command("erase", context_settings=CONTEXT)
@click.argument("event_id", metavar="EVENT")
@click.option("--email", "address", required=True, metavar="ADDRESS", callback=address_from_export,
              help="The person's address (any case; as an export shows it, a leading ' too).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@aws_command
def registrations_erase(event_id: str, address: str, yes: bool) -> int:
    """Erase a person's data from an event (GDPR right to erasure).

    Every registration with this address (compared case-insensitively) keeps its
    id and becomes status "erased" without name, email, answers or email
    details; the address guard is deleted (the address may register again); the
    event counts it in erased_count and gives back the seat or waitlist place
    (the waitlist moves up). No email is sent to the address. Prints how many
    items changed; exit 1 when no registration (nor a guard, nor a honeypot post's quiet guard) had the address.

    Copies outside the table are not touched: earlier exports and files, the
    table's point-in-time backups (35 days) and stream (24 hours).
    """
    from staff.changes import erase_address

    def confirm(count: int) -> None:
        click.confirm(f"Erase the registration data of this address for {event_id} ({count} registration(s) "
                      "have it)? This cannot be undone.", abort=True, err=True)

    outcome = erase_address(event_id, address, None if yes else confirm)
    promoted = f", {outcome.promoted} promoted from the waitlist" if outcome.promoted else ""
    click.echo(
        f"Erased {outcome.registrations} registration(s) of {event_id}: {outcome.items_changed} item(s) changed, "
        f"among them {outcome.registrations} anonymised, {outcome.guards} address guard(s) deleted{promoted}"
        + (", event counters updated." if outcome.registrations else ".")
    )
    return EXIT_OK
