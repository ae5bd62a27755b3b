"""Registering for an event: validation, the registration window, seats and the waitlist.

:func:`register` is the one path every registration takes (JSON and form posts,
the tests' concurrent registrants). It writes once, in a DynamoDB transaction
(``chalicelib.store.put_registration``); emails follow from the table's stream
records (``chalicelib.delivery``), so the registration is durable before any
email is tried.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tenacity import retry, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_random_exponential

from chalicelib import antispam, clock, store
from chalicelib.events import CORE_FIELDS, Event
from chalicelib.settings import get_settings
from chalicelib.validation import validate_registration


class RegistrationClosed(Exception):
    """Registration is not open at the moment of the write; ``state`` is ``closed`` or ``not_yet_open``."""

    def __init__(self, state: str):
        super().__init__(state)
        self.state = state


class Busy(Exception):
    """The event's counters stayed contended past the retry budget (answer 503, try again)."""


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
    return int((event.utc(event.ends_at) + timedelta(days=retention_days)).timestamp())


def _new_item(event: Event, fields: dict[str, Any], registration_id: str, now: datetime) -> dict[str, Any]:
    answers = {q.id: fields[q.id] for q in event.questions if fields.get(q.id) is not None}
    stamp = now.isoformat()
    return {
        "pk": store.event_pk(event.id),
        "sk": store.registration_sk(registration_id),
        "type": "registration",
        "registration_id": registration_id,
        "event_id": event.id,
        "status": "confirmed",
        "name": fields["name"],
        "email": fields["email"],
        "language": fields["language"],
        "answers": answers,
        "consent_at": stamp,
        "registered_at": stamp,
        "status_changed_at": stamp,
        store.TTL_ATTRIBUTE: retention_expiry(event, get_settings().retention_days),
        "email_state": "pending",
        "notifications": {"registered": {"state": "pending", "at": stamp}},
    }


@retry(
    retry=retry_if_exception_type(store.Conflict),
    wait=wait_random_exponential(multiplier=0.01, max=0.25),
    stop=stop_after_attempt(400) | stop_after_delay(25),
    reraise=True,
)
def _write(event: Event, fields: dict[str, Any], registration_id: str, seen: dict[str, Any]) -> Registered:
    """One attempt at storing; ``seen`` carries the event item a failed attempt saw to the next one."""
    now = clock.now()
    state = event.window_state(now)
    if state != "open":
        raise RegistrationClosed(state)
    item = _new_item(event, fields, registration_id, now)
    event_item = seen.pop("event_item", None)
    full = event_item is not None and "seat_capacity" in event_item and \
        int(event_item["seats_taken"]) >= int(event_item["seat_capacity"])
    if not full:
        try:
            store.put_registration(item)
            return Registered(registration_id, event.id, "confirmed", None)
        except store.EventFull:
            if not event.waitlist:
                raise
            event_item = None
    if event_item is None:
        event_item = store.get_event_item(event.id, consistent=True)
    seq = int(event_item["waitlist_seq"])
    item.update(status="waitlisted", waitlist_ticket=seq + 1)
    try:
        store.put_registration(item, waitlist_seq=seq)
    except store.Conflict as conflict:
        if conflict.event_item is not None:
            seen["event_item"] = conflict.event_item  # retry from what the condition saw, without a read
        raise
    return Registered(registration_id, event.id, "waitlisted", store.waitlist_position(event.id, seq + 1))


def register(event_id: str, data: dict[str, Any], language: str, *, event: Event | None = None) -> Registered:
    """Validate and store one registration for ``event_id``.

    ``data`` has the JSON shape (PRODUCT.md, "Registration fields"); ``language``
    is the language of error messages; ``event``, when the caller has just read
    it, saves reading it again. A confirmed seat is taken when one is
    free; past capacity the registration is waitlisted (event with a waitlist)
    or refused. The window is judged at the moment of the write.

    Raises ``store.EventNotFound``, ``validation.RegistrationInvalid`` (also for a form sent
    faster than ``MIN_FILL_SECONDS``, ``chalicelib.antispam``),
    :class:`RegistrationClosed`, ``store.EventFull``, ``store.AlreadyRegistered``
    and :class:`Busy`.
    """
    if event is None or event.id != event_id:
        event, _ = store.get_event(event_id)
    fields = validate_registration(event, data, language).model_dump()
    antispam.check_fill_time(fields, language)
    if antispam.caught_by_honeypot(fields):
        # A bot: the answer a person would get now (closed, full, a repeat: 409), nothing stored.
        now = clock.now()
        if event.window_state(now) != "open":
            raise RegistrationClosed(event.window_state(now))
        quiet = antispam.quiet_answer(event, fields["email"], now)
        return Registered(new_registration_id(), event.id, quiet.status, quiet.waitlist_position, stored=False)
    fields = {k: v for k, v in fields.items() if k not in CORE_FIELDS or k in ("name", "email", "language")}
    try:
        return _write(event, fields, new_registration_id(), {})
    except store.Conflict as exc:
        raise Busy(str(exc)) from None


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


def registrant_view(registration_id: str) -> RegistrantView:
    """Look up a registration for its registrant. Raises ``store.RegistrationNotFound``."""
    item = store.get_registration(registration_id)
    if item.get("status") not in ("confirmed", "waitlisted", "cancelled"):
        raise store.RegistrationNotFound(registration_id)
    event, _ = store.get_event(item["event_id"])
    position = None
    if item["status"] == "waitlisted":
        position = store.waitlist_position(event.id, int(item["waitlist_ticket"]))
    return RegistrantView(registration_id, event, item["status"], position, item.get("language") or event.default_language)


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
