"""Publishing an event: it must render into every email, invite and page before it is stored.

An event file can pass the model (``chalicelib.events``) and still break what the
service makes from it: an organiser address whose part before the ``@`` is not
ASCII makes every email unsendable, and a future template could trip on a field.
Such a failure would otherwise show only at the first registration, in the
delivery function's log, with the registrant never told. :func:`check_renders`
therefore builds, once per publication, every email kind of
``chalicelib.emails.SUBJECTS`` (the kinds table: a new kind is checked as soon as
it is there), the calendar invite (to add and to cancel) and every page, in every
language of the event, for a made-up registrant, and refuses the event with the
field ``(email <kind>, <language>)``, ``(invite, <language>)`` or
``(page <name>, <language>)`` and the reason.

Every publish path runs it: ``chalicelib.events.load_event_file`` (the staff
tools' ``events put FILE`` and ``make run``'s ``events/``, with the file name) and
``chalicelib.store.put_event`` (anything else that stores a definition). A
definition that passed is remembered by its JSON, so the second check of the same
publication costs nothing. README, "Event files".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from chalicelib.events import Event, EventFileError

#: The made-up registrant every email is built for (``example.org`` is reserved, RFC 2606).
SAMPLE_NAME = "Anna de Vries"
SAMPLE_EMAIL = "anna@example.org"
SAMPLE_SENDER_ADDRESS = "events@example.org"
SAMPLE_SENDER = f"Events <{SAMPLE_SENDER_ADDRESS}>"
SAMPLE_BASE_URL = "https://registration.example.org"
#: 22 characters, as ``registrations.new_registration_id`` makes them.
SAMPLE_REGISTRATION_ID = "Sample0Registration0Id"
SAMPLE_TOKEN = "k1.c2FtcGxlLXRva2VuLW5vdC1hLXJlYWwtb25l"
#: The registration statuses an email can be built for; :func:`change_and_status` picks one per kind.
STATUSES = ("confirmed", "waitlisted", "cancelled")
#: The status a registrant has when a kind is sent, where it is not ``confirmed``.
_NATURAL_STATUS = {"waitlisted": "waitlisted", "waitlist_closed": "waitlisted", "cancelled": "cancelled"}

#: JSON of definitions that rendered, without ``capacity`` (a publication checks twice: the file, then the store).
_passed: set[str] = set()
_PASSED_MAX = 256


def change_and_status(kind: str) -> tuple[str, str]:
    """A ``(change, status)`` that ``emails.email_kind`` turns into ``kind``.

    ``registered`` for the kinds of a first write (``confirmed``, ``waitlisted``), the kind
    itself for every other change; the registrant's usual status when the kind is sent.
    Raises ``ValueError`` for a kind no change produces (a table out of step with ``email_kind``).
    """
    from chalicelib.emails import email_kind

    preferred = _NATURAL_STATUS.get(kind, "confirmed")
    for change in ("registered", kind):
        for status in (preferred, *STATUSES):
            if email_kind(change, status) == kind:
                return change, status
    raise ValueError(f"no change makes an email of kind {kind!r} (chalicelib.emails.email_kind)")


def _renders(event: Event) -> Iterator[tuple[str, Callable[[], object]]]:
    """``(field, render)`` for each email, invite and page of ``event`` in each of its languages."""
    from chalicelib import emails, invites, pages, schedules
    from chalicelib.store import EventCounters, availability

    now = datetime.now(timezone.utc)
    counters = EventCounters(event_id=event.id, seat_capacity=event.capacity, waitlist=event.waitlist)
    available = availability(event, counters, now)
    for language in event.languages:
        for kind in emails.SUBJECTS:
            change, status = change_and_status(kind)
            registration = {"registration_id": SAMPLE_REGISTRATION_ID, "event_id": event.id, "name": SAMPLE_NAME,
                            "email": SAMPLE_EMAIL, "language": language, "status": status}

            # An ``updated`` email as an event change makes it: both changed, the schedule as the earlier one.
            update = {"changes": [schedules.TIME, schedules.PLACE], "previous": schedules.schedule_of(event)}

            def email(registration=registration, change=change, update=update) -> object:
                return emails.build_email(event=event, registration=registration, change=change, sender=SAMPLE_SENDER,
                                          base_url=SAMPLE_BASE_URL, view_token=SAMPLE_TOKEN, cancel_token=SAMPLE_TOKEN,
                                          now=now, waitlist_position=1, sequence=1,
                                          update=update if change == "updated" else None)

            yield f"(email {kind}, {language})", email
        for sequence, method in enumerate((invites.REQUEST, invites.CANCEL)):
            yield f"(invite, {language})", lambda language=language, method=method, sequence=sequence: (
                invites.build_invite(
                    event, SAMPLE_REGISTRATION_ID, language, method=method, sequence=sequence,
                    organizer=invites.Party(emails.header_display_name(event.organiser.name), SAMPLE_SENDER_ADDRESS),
                    attendee=invites.Party(SAMPLE_NAME, SAMPLE_EMAIL), stamp=now, url=SAMPLE_BASE_URL))
        for state in ("open", "closed", "not_yet_open", "full"):
            shown = replace(available, state=state)
            yield f"(page register, {language})", lambda language=language, shown=shown: pages.registration_form(
                event, shown, language, form_started_at=0, base_path="../..")
            yield f"(page event, {language})", lambda language=language, shown=shown: pages.event_page(
                event, shown, language, base_path="..")
        for status in (None, "confirmed", "waitlisted", "cancelled"):
            yield f"(page thanks, {language})", lambda language=language, status=status: pages.thanks(
                event, language, status=status, position=1, email=SAMPLE_EMAIL, base_path="../..")
        for status in STATUSES:
            # the status page with a view token (no cancel link) and with a cancel token, and the cancel page
            for ask_cancel, can_cancel in ((False, False), (False, True), (True, True)):
                yield f"(page registration, {language})", lambda language=language, status=status, ask=ask_cancel, \
                        can=can_cancel: pages.registration_status(
                            event, language, registration_id=SAMPLE_REGISTRATION_ID, status=status, position=1,
                            token=SAMPLE_TOKEN, ask_cancel=ask, base_path="..", now=now, can_cancel=can)


def check_renders(event: Event, source: Path | str | None = None) -> None:
    """Build every email kind, the invite and every page of ``event`` in each of its languages, once.

    Raises :class:`chalicelib.events.EventFileError` naming ``source`` (a file, else
    ``event <id>``) and, for each failure, ``(email <kind>, <language>)``, ``(invite,
    <language>)`` or ``(page <name>, <language>)`` with the exception's type and text.
    Nothing is sent or stored. A definition that passed once in this process passes
    again without rendering, also with another ``capacity`` (a number of seats changes
    no text: staff raising it, or the tests' events, need not build every email again).
    """
    key = event.model_dump_json(exclude={"capacity"})
    if key in _passed:
        return
    problems: list[tuple[str, str]] = []
    for field, render in _renders(event):
        try:
            render()
        except Exception as exc:  # noqa: BLE001 - any failure refuses the event; the reason is shown
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
            if (field, reason) not in problems:
                problems.append((field, reason))
    if problems:
        raise EventFileError(source or f"event {event.id}", problems)
    if len(_passed) >= _PASSED_MAX:
        _passed.clear()
    _passed.add(key)
