"""Registering for an event: validation, the registration window, seats and the waitlist.

:func:`register` is the one path every registration takes (JSON and form posts,
the tests' concurrent registrants). A seat is one DynamoDB transaction
(``chalicelib.store.put_registration``); a place on the waitlist is a ticket
(one atomic ``ADD``, ``store.take_waitlist_ticket``) and then that transaction.
Emails follow from the table's stream records (``chalicelib.delivery``), so the
registration is durable before any email is tried.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import antispam, clock, lifecycle, store
from chalicelib.errors import retried
from chalicelib.events import CORE_FIELDS, Event
from chalicelib.settings import get_settings
from chalicelib.validation import validate_registration


class RegistrationClosed(store.WindowClosed):
    """Registration of ``event`` is not open at the moment of the write; ``state`` is ``closed`` or
    ``not_yet_open`` (409 ``registration-closed``; before it opens the answer says when, README "HTTP API")."""

    def __init__(self, state: str, event: Event):
        super().__init__(state)
        self.event = event


@dataclass(frozen=True)
class Registered:
    """The outcome of :func:`register`.

    ``status`` is ``confirmed`` or ``waitlisted``; ``waitlist_position`` counts
    from 1 (``None`` when confirmed). ``stored`` is ``False`` only for a post the
    honeypot caught (``chalicelib.antispam``), which gets a person's answer and stores nothing.
    """

    registration_id: str
    event_id: str
    status: str
    waitlist_position: int | None
    stored: bool = True

    def as_json(self) -> dict[str, Any]:
        """The body of the 201 answer."""
        return {
            "registration_id": self.registration_id,
            "event_id": self.event_id,
            "status": self.status,
            "waitlist_position": self.waitlist_position,
        }


def new_registration_id() -> str:
    """A random registration id: 128 bits from ``secrets``, base64url (22 characters)."""
    return secrets.token_urlsafe(16)


def retention_expiry(event: Event, retention_days: int) -> int:
    """The TTL of an event's items: event end plus ``retention_days``, as epoch seconds (UTC)."""
    return event.retention_until(retention_days)


def _new_item(event: Event, fields: dict[str, Any], registration_id: str, now: datetime) -> dict[str, Any]:
    answers = {q.id: fields[q.id] for q in event.questions if fields.get(q.id) is not None}
    return store.new_registration_item(
        event.id, registration_id, name=fields["name"], email=fields["email"], language=fields["language"],
        answers=answers, now=now, expires_at=retention_expiry(event, get_settings().retention_days))


#: Write attempts a registration may take before :class:`~chalicelib.errors.Busy` (503 ``busy``): a count,
#: never a duration, so a slow machine retries as often as a fast one. An attempt fails only when another
#: write changed the event's counters in between (a seat freed while waitlisting) or DynamoDB reports a
#: transaction conflict; each such failure means another registration or cancellation succeeded.
WRITE_ATTEMPTS = 25


@retried(WRITE_ATTEMPTS)
def _write(event: Event, fields: dict[str, Any], registration_id: str) -> Registered:
    """Store: a seat if one may be free, else a waitlist ticket and the waitlist write; each attempt anew.

    Calls to DynamoDB: 1 for a seat; 2 for the waitlist when this instance saw the
    event full in the last seconds (``store.probably_full``), else 3 (the seat
    write that finds the event full comes first). The waitlist position answered counts those
    waiting at the ticket and the lower tickets still being written then (``store.Ticket``: in a
    rush many are), so it is exact unless one of those writes then fails or a seat comes free
    meanwhile. A write that fails after its ticket gives the ticket up (``store.give_up_ticket``,
    1 call), so later positions do not count it.
    """
    now = clock.now()
    item = _new_item(event, fields, registration_id, now)
    if not store.probably_full(event.id):
        try:
            store.put_registration(item, now=now)
            return Registered(registration_id, event.id, "confirmed", None)
        except store.EventFull as full:
            if full.counters is None or not full.counters.waitlist_open(now):
                raise  # no waitlist, or past its cutoff: full
            store.remember_full(event.id)
    try:
        ticket = store.take_waitlist_ticket(event.id, now)
    except store.SeatFree:
        store.forget_full(event.id)
        raise
    item.update(status="waitlisted", waitlist_ticket=ticket.number)
    try:
        store.put_registration(item, now=now)
    except Exception as failed:
        if isinstance(failed, store.SeatFree):
            store.forget_full(event.id)
        with contextlib.suppress(Exception):  # best effort: the write's own error is the answer
            store.give_up_ticket(event.id)  # later tickets need not wait for this one
        raise
    # Ahead: everyone waiting when the ticket was taken, and the lower tickets then still being written.
    return Registered(registration_id, event.id, "waitlisted", ticket.waiting + ticket.in_flight + 1)


def register(event_id: str, data: dict[str, Any], language: str, *, event: Event | None = None) -> Registered:
    """Validate and store one registration for ``event_id``.

    ``data`` has the JSON shape (README, "HTTP API"); ``language``
    is the language of error messages; ``event``, when the caller has it, saves
    looking it up (``store.event_definition``, cached a few seconds). A confirmed
    seat is taken when one is free; past capacity the registration is waitlisted
    (event with a waitlist) or refused. The window, the seats and the waitlist are
    judged by the conditions of the write, at its moment (README, "Seats, waitlist
    and cancellation"), so a definition a few seconds old is safe.

    Raises ``store.EventNotFound``, ``validation.RegistrationInvalid`` (also for a form sent
    faster than ``MIN_FILL_SECONDS``, ``chalicelib.antispam``),
    :class:`RegistrationClosed`, ``store.EventFull``, ``store.AlreadyRegistered``
    and ``errors.Busy``.
    """
    if event is None or event.id != event_id:
        event = store.event_definition(event_id)
    fields = validate_registration(event, data, language).model_dump()
    antispam.check_fill_time(fields, language)
    if antispam.caught_by_honeypot(fields):
        # A bot: the answer a person would get now (closed, full, a repeat: 409), nothing stored.
        now = clock.now()
        if event.window_state(now) != "open":
            raise RegistrationClosed(event.window_state(now), event)
        quiet = antispam.quiet_answer(event, fields["email"], now)
        return Registered(new_registration_id(), event.id, quiet.status, quiet.waitlist_position, stored=False)
    fields = {k: v for k, v in fields.items() if k not in CORE_FIELDS or k in ("name", "email", "language")}
    registration_id = new_registration_id()
    try:
        return _write(event, fields, registration_id)
    except store.WindowClosed as closed:
        raise RegistrationClosed(closed.state, event) from None


@dataclass(frozen=True)
class RegistrantView:
    """What a registrant may see of their own registration (``GET /registrations/{id}``).

    ``email`` (the address as typed) is for the thank-you page only: :meth:`as_json` leaves it out.
    """

    registration_id: str
    event: Event
    status: str
    waitlist_position: int | None
    language: str
    email: str = ""
    cancelled: lifecycle.CancelResult | None = None  # set by :func:`cancel_own`

    def as_json(self) -> dict[str, Any]:
        """The JSON answer: status, waitlist position and the public event."""
        return {
            "registration_id": self.registration_id,
            "event_id": self.event.id,
            "status": self.status,
            "waitlist_position": self.waitlist_position,
            "language": self.language,
            "event": self.event.public_view(),
        }


def _event_of(registration_id: str, event_id: str) -> Event:
    """The definition of a registration's event; a registration whose event is gone is not found either."""
    try:
        return store.event_definition(event_id)  # kept per instance: tells the cutoff and the end up front
    except store.EventNotFound:
        raise store.RegistrationNotFound(registration_id) from None


def registrant_view(registration_id: str) -> RegistrantView:
    """Look up a registration for its registrant: 2 calls (the index, then the item with its position).

    Raises ``store.RegistrationErased`` (410: its data was erased), ``store.RegistrationNotFound`` (also
    for one whose event is gone).
    """
    found = store.find_registration(registration_id)
    item, position = store.registration_with_position(found)
    if item.get("status") == "erased":
        raise store.RegistrationErased(registration_id)
    if item.get("status") not in ("confirmed", "waitlisted", "cancelled"):
        raise store.RegistrationNotFound(registration_id)
    event = _event_of(registration_id, item["event_id"])
    return RegistrantView(registration_id, event, item["status"], position,
                          item.get("language") or event.default_language)


def cancel_own(registration_id: str) -> RegistrantView:
    """The registrant's own cancellation from a link; the view afterwards, with ``cancelled`` set.

    3 calls to DynamoDB: the index (the registration as a first guess), the
    waitlist head or the registration's bucket, the transaction
    (``lifecycle.cancel``), and the event's definition unless this instance
    keeps it. Cancelling twice changes nothing. Raises
    ``store.RegistrationErased`` (410), ``store.RegistrationNotFound`` (also for one whose event is gone),
    ``store.EventOver`` (the event has ended; nothing changed) and, past
    the retry budget, ``errors.Busy``.
    """
    found = store.find_registration(registration_id)
    if found.get("status") == "erased":
        raise store.RegistrationErased(registration_id)
    if found.get("status") not in ("confirmed", "waitlisted", "cancelled"):
        raise store.RegistrationNotFound(registration_id)
    event = _event_of(registration_id, found["event_id"])
    result = lifecycle.cancel(found["event_id"], registration_id, by="registrant", item=found, event=event)
    if result.status not in ("cancelled",):
        raise store.RegistrationNotFound(registration_id)
    return RegistrantView(registration_id, event, "cancelled", None, result.language or event.default_language,
                          cancelled=result)


def registrant_view_in_event(event: Event, registration_id: str) -> RegistrantView:
    """A registration of ``event`` read consistently by its key (no index: fresh right after the write).

    For the thank-you page, which a browser opens milliseconds after registering.
    Raises ``store.RegistrationNotFound`` (also for a registration that is not a registrant's to see).
    """
    item = store.get_registration_in_event(event.id, registration_id)
    if item.get("status") not in ("confirmed", "waitlisted", "cancelled"):
        raise store.RegistrationNotFound(registration_id)
    position = None
    if item["status"] == "waitlisted":
        position = store.waitlist_position(event.id, int(item["waitlist_ticket"]))
    return RegistrantView(registration_id, event, item["status"], position,
                          item.get("language") or event.default_language, item.get("email", ""))


#: Seconds a registrant waits before asking for the same email again (README, "HTTP API": the latest email
#: again): one email per mailbox per this long, whoever asks.
RESEND_QUIET_SECONDS = 600


def resend_own(event: Event, email: str) -> bool:
    """A registrant's "send my email again": the latest email of the registration with ``email``
    (any spelling of that mailbox) is sent again to the address the registration has, as staff's
    ``registrations resend`` does (``store.request_resend``), at most once per
    :data:`RESEND_QUIET_SECONDS`.

    Returns ``False`` when the event has ended (nothing is looked up: that is public), else ``True``
    whatever happened (no registration with the address, an email on its way or just sent, a
    suppressed address), so the answer tells nobody whether the address is registered. One GetItem
    of the address guard, then the registration's read and conditional update. Raises
    ``errors.Busy`` and botocore errors only.
    """
    now = clock.now()
    if event.utc(event.ends_at) <= now:
        return False
    registration_id = store.registration_for_address(event.id, email)
    if registration_id is not None:
        with contextlib.suppress(store.NothingToResend, store.AddressSuppressed, store.RegistrationNotFound):
            store.request_resend(event.id, registration_id, at=now, quiet_seconds=RESEND_QUIET_SECONDS)
    return True
