"""What the staff commands change or count in the table (no printing here).

Every change is a conditional write or a transaction (``chalicelib.store`` conventions).
Nothing here logs personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


from chalicelib import aws, lifecycle, store
from chalicelib.events import Event
from chalicelib.settings import get_settings

ERASED = "erased"
#: Attributes of a registration item that identify or describe the person (removed by erase).
PERSONAL_ATTRIBUTES = ("name", "email", "answers")


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
class PutOutcome:
    """What :func:`put_event` did: ``created``, the old and new capacity (``None`` = unlimited), promotions,
    what changed in the schedule (``changed``: ``time``, ``place``) and how many registrations were told of it."""

    created: bool
    old_capacity: int | None
    new_capacity: int | None
    promoted: int
    seats_taken: int
    changed: tuple[str, ...] = ()
    told: int = 0

    @property
    def capacity_increased(self) -> bool:
        """More seats than before (or unlimited now) on an event that existed."""
        if self.created or self.old_capacity is None:
            return False
        return self.new_capacity is None or self.new_capacity > self.old_capacity


def put_event(event: Event, *, settle: float | None = None, on_settle=None) -> PutOutcome:
    """Store ``event`` (``store.put_event``: counters kept), fill seats a capacity increase freed, and
    tell the registrations of a changed time or place.

    After an increase ``chalicelib.lifecycle.fill_free_seats`` promotes waitlisted
    registrations into the new seats (their emails follow from the stream). A
    decrease moves nobody: confirmed stay confirmed and the event is full until
    seats free up. Then ``lifecycle.announce_schedule`` gives every registration told
    an older schedule its ``updated`` email (a run cut short is finished by the next
    ``events put``); when this publish changed the schedule it checks again after
    ``settle`` seconds (default ``lifecycle.SETTLE_SECONDS``), calling ``on_settle(seconds)``
    first. Raises ``botocore`` errors.
    """
    try:
        created = False
        old_capacity = store.get_counters(event.id, consistent=True).seat_capacity
    except store.EventNotFound:
        created, old_capacity = True, None
    published = store.put_event(event)
    outcome = PutOutcome(created, old_capacity, event.capacity, 0, 0)
    promoted = 0
    if outcome.capacity_increased:
        promoted = lifecycle.fill_free_seats(event.id)
    wait = 0.0
    if published.changed:
        wait = lifecycle.SETTLE_SECONDS if settle is None else settle
        if wait > 0 and on_settle is not None:
            on_settle(wait)
    told = lifecycle.announce_schedule(event.id, settle=wait)
    after = store.get_counters(event.id, consistent=True)
    return PutOutcome(created, old_capacity, event.capacity, promoted, after.seats_taken, published.changed, told)


@dataclass(frozen=True)
class EraseOutcome:
    """What :func:`erase_address` changed: registrations anonymised, guards deleted, items changed in all."""

    registrations: int
    guards: int
    items_changed: int
    freed_seats: int
    promoted: int


def _matching_registrations(event_id: str, email: str) -> list[dict[str, Any]]:
    wanted = store.email_key(email)
    return [
        item
        for item in store.iter_registrations(event_id, consistent=True)
        if item.get("email") is not None and store.email_key(str(item["email"])) == wanted
    ]


def _guard(event_id: str, email: str) -> dict[str, Any] | None:
    found = aws.client("dynamodb").get_item(
        TableName=get_settings().table_name,
        Key=store.serialize({"pk": store.event_pk(event_id), "sk": store.guard_sk(email)}),
        ConsistentRead=True,
    )
    return store.deserialize(found["Item"]) if "Item" in found else None


def erase_address(event_id: str, email: str) -> EraseOutcome:
    """Erase the personal data of whoever registered for ``event_id`` with ``email`` (any case).

    Each matching registration item keeps its key and becomes ``status: erased``
    without ``name``, ``email``, ``answers`` and email details (so no pending email
    can still be sent); the address guard is deleted; the event item counts
    ``erased_count``; a confirmed registration's seat passes to the first on the
    waitlist (promotion email from the stream) or is given back, a waitlisted one
    leaves the queue. One transaction per registration, conditioned on the status
    and address read (``lifecycle.erase``), retried with fresh reads on a concurrent change.

    Returns an :class:`EraseOutcome`; ``items_changed == 0`` when nothing matched.
    Raises ``store.EventNotFound`` and ``botocore`` errors.
    """
    store.get_event_item(event_id)
    registrations = guards = changed = freed = promoted = 0
    matches = _matching_registrations(event_id, email)
    guard = _guard(event_id, email)
    for index, item in enumerate(matches):
        owner = guard is not None and guard.get("for_registration") == item["registration_id"]
        guard_here = guard is not None and (owner or index == len(matches) - 1)
        result = lifecycle.erase(event_id, item["registration_id"], delete_guard=guard_here)
        if not result.items_changed:
            continue
        changed += result.items_changed
        registrations += 1
        guards += int(guard_here)
        freed += int(result.freed_seat)
        promoted += int(result.promoted_id is not None)
        if guard_here:
            guard = None
    if guard is not None and not registrations:
        # A guard without a registration (left over): delete it too.
        aws.client("dynamodb").delete_item(
            TableName=get_settings().table_name,
            Key=store.serialize({"pk": store.event_pk(event_id), "sk": store.guard_sk(email)}),
            ConditionExpression="attribute_exists(pk)",
        )
        guards += 1
        changed += 1
    return EraseOutcome(registrations, guards, changed, freed, promoted)
