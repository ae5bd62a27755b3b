"""What the staff commands read and count about events and their registrations.

``events list``/``show`` and ``registrations list``/``export`` read through these (README, "Staff
tools"); publishing an event (``events put``) is :mod:`staff.publish` (its ``put_event`` is
re-exported here), changes to one registration :mod:`staff.changes`, DynamoDB exports
:mod:`staff.exportjobs`. Registrations are read by Query on the event's partition, every page,
never Scan. Nothing here changes anything, prints or logs personal data.

Functions that read every registration of an event take ``progress(items, label)``: a wrapper
of the items' iterator (a progress bar on a terminal); the default passes them through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import store
from chalicelib.events import Event
from staff.columns import sort_key, waitlist_positions
from staff.publish import PutOutcome, put_event  # noqa: F401 - re-exported: publishing is staff.publish's

#: ``progress(items, label)``: the items again, perhaps counted on a terminal (see the module docstring).
Progress = Callable[[Iterable[dict[str, Any]], str], Iterable[dict[str, Any]]]
#: The email outcomes ``registrations list`` explains below its table (README, "Emails").
PROBLEM_OUTCOMES = ("bounced", "bounced_transient", "complained", "rejected")


def _as_read(items: Iterable[dict[str, Any]], label: str) -> Iterable[dict[str, Any]]:
    return items


@dataclass(frozen=True)
class Counts:
    """Registrations of an event by status, as counted from its registration items.

    The ``emails_*`` counts are of registrations whose last email is in that state
    (``email_state``: ``failed``, ``suppressed``) or has that outcome (``email_outcome``:
    ``bounced`` permanently, ``bounced_transient``, ``complained``; README "Emails").
    """

    confirmed: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    erased: int = 0
    emails_failed: int = 0
    emails_bounced: int = 0
    emails_bounced_transient: int = 0
    emails_complained: int = 0
    emails_suppressed: int = 0

    @property
    def total(self) -> int:
        """Every registration item, erased ones included."""
        return self.confirmed + self.waitlisted + self.cancelled + self.erased


def count_registrations(items: Iterable[dict[str, Any]]) -> Counts:
    """Count registration items by ``status``, and by the state and outcome of their last email."""
    counts = {"confirmed": 0, "waitlisted": 0, "cancelled": 0, "erased": 0}
    emails = {"failed": 0, "suppressed": 0, "bounced": 0, "bounced_transient": 0, "complained": 0}
    for item in items:
        status = item.get("status")
        if status in counts:
            counts[status] += 1
        for found in (item.get("email_state"), item.get("email_outcome")):
            if found in emails:
                emails[found] += 1
    return Counts(**counts, **{f"emails_{name}": number for name, number in emails.items()})


@dataclass(frozen=True)
class EventOverview:
    """An event with its counters item, and (for ``events show``) its registrations counted."""

    event: Event
    counters: store.EventCounters
    counts: Counts = field(default_factory=Counts)

    @property
    def seats_left(self) -> int | None:
        """Free seats by the counters; ``None`` for an unlimited event."""
        return self.counters.seats_left


def list_events() -> list[EventOverview]:
    """Every event in the table, by id, with its counters (``store.list_event_items``, then one read per event).

    ``counts`` are left at zero (no registration is read). Raises botocore errors.
    """
    found = []
    for item in store.list_event_items():
        event = store.event_from_item(item)
        found.append(EventOverview(event, store.get_counters(event.id)))
    return found


def show_event(event_id: str, progress: Progress = _as_read) -> EventOverview:
    """One event, its counters (read consistently) and its registrations counted (:func:`count_registrations`).

    Raises ``store.EventNotFound`` and botocore errors.
    """
    event, counters = store.get_event(event_id)
    counts = count_registrations(progress(store.iter_registrations(event_id), "Reading registrations"))
    return EventOverview(event, counters, counts)


@dataclass(frozen=True)
class EventRegistrations:
    """An event's registration items (every page of the Query, no order) and ``{waitlist_ticket: position}``."""

    event: Event
    items: list[dict[str, Any]]
    positions: dict[int, int]


def read_registrations(event_id: str, progress: Progress = _as_read) -> EventRegistrations:
    """The event, its registration items and the waitlist positions (``columns.waitlist_positions``), in one pass.

    Raises ``store.EventNotFound`` and botocore errors.
    """
    event, _ = store.get_event(event_id)
    items = list(progress(store.iter_registrations(event_id), "Reading registrations"))
    return EventRegistrations(event, items, waitlist_positions(items))


@dataclass(frozen=True)
class ListedRegistration:
    """One line of ``registrations list``: values as stored (``None`` or ``""`` when absent).

    ``waitlist_position`` counts from 1 (waitlisted only); ``registered_at`` and ``checked_in_at`` (at the
    door; README, "Check-in at the door") are aware, as stored (UTC); ``email_state``/``email_outcome`` are
    those of the registration's last email.
    """

    status: str | None
    waitlist_position: int | None
    name: str
    email: str
    registered_at: datetime | None
    checked_in_at: datetime | None
    email_state: str
    email_outcome: str
    registration_id: str | None


@dataclass(frozen=True)
class EmailProblem:
    """A registration whose last email was not sent (``kind`` ``suppressed``), or bounced, drew a complaint
    or was rejected (``kind`` one of :data:`PROBLEM_OUTCOMES`).

    ``change`` names the email (``registered``, ``promoted``, ...); ``detail`` is why it was not sent,
    or the receiving server's answer or the complaint type (``""`` when SES gave none); ``at`` is the
    outcome's ISO 8601 UTC time as recorded (``""`` for ``suppressed``).
    """

    registration_id: str
    email: str
    change: str
    kind: str
    detail: str
    at: str = ""


@dataclass(frozen=True)
class Listing:
    """What ``registrations list`` shows: its lines in listing order, and the email problems among them."""

    event: Event
    registrations: list[ListedRegistration]
    email_problems: list[EmailProblem]


def email_problem(item: dict[str, Any]) -> EmailProblem | None:
    """The :class:`EmailProblem` of a registration item's latest notification (``store.latest_notification``),
    or ``None`` when that email went out without trouble."""
    found = store.latest_notification(item)
    if found is None:
        return None
    change, entry = found
    who = (str(item.get("registration_id")), str(item.get("email", "")))
    if entry.get("state") == "suppressed":
        return EmailProblem(*who, change, "suppressed", str(entry.get("reason", "")))
    feedback = entry.get("feedback") or {}
    if feedback.get("outcome") in PROBLEM_OUTCOMES:
        detail = feedback.get("diagnostic") or feedback.get("complaint_type") or ""
        return EmailProblem(*who, change, feedback["outcome"], str(detail), str(feedback.get("at", "")))
    return None


def _listed(item: dict[str, Any], positions: dict[int, int]) -> ListedRegistration:
    ticket, registered, checked_in = item.get("waitlist_ticket"), item.get("registered_at"), item.get("checked_in_at")
    position = None
    if item.get("status") == "waitlisted" and ticket is not None:
        position = positions.get(int(ticket))
    return ListedRegistration(
        status=item.get("status"),
        waitlist_position=position,
        name=item.get("name", ""),
        email=item.get("email", ""),
        registered_at=datetime.fromisoformat(registered) if registered else None,
        checked_in_at=datetime.fromisoformat(checked_in) if checked_in else None,
        email_state=item.get("email_state", ""),
        email_outcome=item.get("email_outcome", ""),
        registration_id=item.get("registration_id"),
    )


def list_registrations(event_id: str, statuses: Iterable[str] = (), progress: Progress = _as_read) -> Listing:
    """An event's registrations with one of ``statuses`` (all when empty), in ``columns.sort_key`` order:
    confirmed by time, the waitlist in queue order, cancelled, erased.

    Raises ``store.EventNotFound``, ``ValueError`` (a stored ``registered_at`` that is not ISO 8601)
    and botocore errors.
    """
    wanted = tuple(statuses)
    read = read_registrations(event_id, progress)
    chosen = sorted((i for i in read.items if not wanted or i.get("status") in wanted), key=sort_key)
    problems = [problem for problem in map(email_problem, chosen) if problem is not None]
    return Listing(read.event, [_listed(item, read.positions) for item in chosen], problems)
