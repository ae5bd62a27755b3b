"""What the staff commands change or count in the table (no printing here).

Every change is a conditional write or a transaction (``chalicelib.store`` conventions).
Nothing here logs personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any, Iterable

from botocore.exceptions import ClientError

from chalicelib import aws, clock, store
from chalicelib.events import Event
from chalicelib.settings import get_settings

ERASED = "erased"
#: Attributes of a registration item that identify or describe the person (removed by erase).
PERSONAL_ATTRIBUTES = ("name", "email", "answers")
#: Everything erase removes: the personal attributes, and the email details (an SES error can quote the
#: address; without ``notifications`` no pending email can still be claimed and sent).
ERASE_REMOVES = PERSONAL_ATTRIBUTES + ("notifications", "email_state", "email_error", "email_message_id", "consent_at")


@dataclass(frozen=True)
class Counts:
    """Registrations of an event by status, as counted from its registration items."""

    confirmed: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    erased: int = 0
    emails_failed: int = 0

    @property
    def total(self) -> int:
        """Every registration item, erased ones included."""
        return self.confirmed + self.waitlisted + self.cancelled + self.erased


def count_registrations(items: Iterable[dict[str, Any]]) -> Counts:
    """Count registration items by ``status`` and those whose ``email_state`` is ``failed``."""
    counts = {"confirmed": 0, "waitlisted": 0, "cancelled": 0, "erased": 0}
    failed = 0
    for item in items:
        status = item.get("status")
        if status in counts:
            counts[status] += 1
        if item.get("email_state") == "failed":
            failed += 1
    return Counts(emails_failed=failed, **counts)


def seats_left(event: Event, item: dict[str, Any]) -> int | None:
    """Free seats from the event item's counter; ``None`` for an unlimited event."""
    if event.capacity is None:
        return None
    return max(0, event.capacity - int(item.get("seats_taken", 0)))


@dataclass(frozen=True)
class PutOutcome:
    """What :func:`put_event` did: ``created``, the old and new capacity (``None`` = unlimited), promotions."""

    created: bool
    old_capacity: int | None
    new_capacity: int | None
    promoted: int
    seats_taken: int

    @property
    def capacity_increased(self) -> bool:
        """More seats than before (or unlimited now) on an event that existed."""
        if self.created or self.old_capacity is None:
            return False
        return self.new_capacity is None or self.new_capacity > self.old_capacity


def put_event(event: Event) -> PutOutcome:
    """Store ``event`` (``store.put_event``: counters kept) and fill seats a capacity increase freed.

    After an increase ``chalicelib.lifecycle.fill_free_seats`` promotes waitlisted
    registrations into the new seats (their emails follow from the stream). A
    decrease moves nobody: confirmed stay confirmed and the event is full until
    seats free up. Raises ``botocore`` errors.
    """
    try:
        before = store.get_event_item(event.id, consistent=True)
        created = False
        old_capacity = before.get("seat_capacity")
    except store.EventNotFound:
        created, old_capacity = True, None
    store.put_event(event)
    outcome = PutOutcome(created, old_capacity, event.capacity, 0, 0)
    promoted = 0
    if outcome.capacity_increased:
        from chalicelib import lifecycle

        promoted = lifecycle.fill_free_seats(event.id)
    after = store.get_event_item(event.id, consistent=True)
    return PutOutcome(created, old_capacity, event.capacity, promoted, int(after.get("seats_taken", 0)))


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


def _head_for_seat(event_id: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """The first waitlisted registration, who takes over a confirmed registration's seat (as ``lifecycle.cancel``)."""
    if item["status"] != "confirmed":
        return None
    event_item = store.get_event_item(event_id, consistent=True)
    capacity = event_item.get("seat_capacity")
    over_capacity = capacity is not None and int(event_item["seats_taken"]) > int(capacity)
    if int(event_item.get("waitlisted_count", 0)) == 0 or over_capacity:
        return None
    queue = store.waitlisted_items(event_id)
    if not queue:
        raise store.Conflict("waitlist count and items disagree; read again")
    return queue[0]


def _erase_one(event_id: str, item: dict[str, Any], delete_guard: bool, now: str) -> tuple[int, bool]:
    """One transaction: anonymise the registration, pass on its seat or place, maybe delete the guard.

    The event item counts ``erased_count``. A confirmed registration's seat goes
    to the first waitlisted registration in the same transaction (so nobody new
    can take it first), with the same conditions as ``store.cancel_transition``.
    Returns ``(items changed, whether someone was promoted)``; raises ``ClientError``
    (``TransactionCanceledException`` when something changed since it was read).
    """
    table = get_settings().table_name
    status = item["status"]
    names = {"#s": "status", "#e": "email"}
    remove = ", ".join(f"#p{i}" for i, _ in enumerate(ERASE_REMOVES))
    names.update({f"#p{i}": a for i, a in enumerate(ERASE_REMOVES)})
    actions: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": store.serialize({"pk": item["pk"], "sk": item["sk"]}),
                "UpdateExpression": f"SET #s = :erased, erased_at = :now, status_changed_at = :now REMOVE {remove}",
                "ConditionExpression": "#s = :old AND #e = :email",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": store.serialize(
                    {":erased": ERASED, ":now": now, ":old": status, ":email": item["email"]}
                ),
            }
        }
    ]
    head = _head_for_seat(event_id, item)
    values: dict[str, Any] = {":one": 1, ":minus": -1, ":zero": 0}
    if head is not None:
        actions.append(store._status_change(head, "confirmed", "promoted", now, {"promoted_at": now}))
        update = "ADD erased_count :one, waitlisted_count :minus"
        condition = "waitlisted_count > :zero AND (attribute_not_exists(seat_capacity) OR seats_taken <= seat_capacity)"
    elif status == "confirmed":
        update = "ADD erased_count :one, seats_taken :minus"
        condition = "seats_taken >= :one AND (waitlisted_count = :zero OR seats_taken > seat_capacity)"
    elif status == "waitlisted":
        update = "ADD erased_count :one, waitlisted_count :minus"
        condition = "waitlisted_count > :zero"
    else:
        update, condition = "ADD erased_count :one", "attribute_exists(pk)"
        values = {":one": 1}
    actions.append(
        {
            "Update": {
                "TableName": table,
                "Key": store.serialize({"pk": item["pk"], "sk": store.EVENT_SK}),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": store.serialize(values),
            }
        }
    )
    if delete_guard:
        actions.append(
            {
                "Delete": {
                    "TableName": table,
                    "Key": store.serialize({"pk": item["pk"], "sk": store.guard_sk(item["email"])}),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
        )
    aws.client("dynamodb").transact_write_items(TransactItems=actions)
    return len(actions), head is not None


def erase_address(event_id: str, email: str, *, attempts: int = 20) -> EraseOutcome:
    """Erase the personal data of whoever registered for ``event_id`` with ``email`` (any case).

    Each matching registration item keeps its key and becomes ``status: erased``
    without ``name``, ``email``, ``answers`` and email details (so no pending email
    can still be sent); the address guard is deleted; the event item counts
    ``erased_count``; a confirmed registration's seat passes to the first on the
    waitlist (promotion email from the stream) or is given back, a waitlisted one
    leaves the queue. One transaction per registration, conditioned on the status
    and address read, retried with fresh reads on a concurrent change.

    Returns an :class:`EraseOutcome`; ``items_changed == 0`` when nothing matched.
    Raises ``store.EventNotFound`` and ``botocore`` errors.
    """
    store.get_event_item(event_id)
    registrations = guards = changed = freed = promoted = 0
    guard: dict[str, Any] | None = None
    for attempt in range(attempts):
        matches = _matching_registrations(event_id, email)
        guard = _guard(event_id, email)
        if not matches:
            break
        try:
            for index, item in enumerate(matches):
                owner = guard is not None and guard.get("for_registration") == item["registration_id"]
                guard_here = guard is not None and (owner or index == len(matches) - 1)
                items, moved_up = _erase_one(event_id, item, guard_here, clock.now().isoformat())
                changed += items
                registrations += 1
                guards += int(guard_here)
                freed += int(item["status"] == "confirmed")
                promoted += int(moved_up)
                if guard_here:
                    guard = None
        except (ClientError, store.Conflict) as error:
            if isinstance(error, ClientError) and error.response["Error"]["Code"] not in (
                "TransactionCanceledException", "TransactionConflictException"
            ):
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0))
            continue  # a registration, the waitlist or the guard changed since we read them: read again
        break
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
