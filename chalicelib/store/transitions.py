"""Lifecycle transitions: cancel, erase and promote, each one transaction (README, "Seats, waitlist and cancellation").

Every transition is conditional on the state it was computed from; a failed
condition raises :class:`~chalicelib.errors.Busy` with what the
condition saw, so the caller reads again and retries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import Busy
from chalicelib.store.counters import _NOT_OVER, _PROMOTIONS_OPEN, EventCounters, _counters_update
from chalicelib.store.errors import EventFull
from chalicelib.store.keys import (
    CHECKINS_SK,
    INVITE_SEQUENCE,
    MESSAGE_PREFIX,
    MESSAGE_SK,
    TTL_ATTRIBUTE,
    _key,
    event_pk,
    guard_sk,
    registration_sk,
)
from chalicelib.store.registrations import _guard_delete
from chalicelib.store.serialize import _serializer, serialize
from chalicelib.store.table import _cancellation_codes, _cancellation_items, _ddb, _retryable, _table
from chalicelib.store.waitlist import WaitlistEntry, _leave_waitlist


def _status_change(item: dict[str, Any], new_status: str, change: str, at: str,
                   extra: dict[str, Any] | None = None, *, also: str | None = None) -> dict[str, Any]:
    """An Update of a registration from its current status to ``new_status``, guarded by that status
    (and by the condition ``also``, when given: names no placeholders).

    Sets the change's notification to ``pending`` (and ``email_state``), which the
    stream filter of ``DeliverEmails`` looks for (``chalicelib.streamfilter``), and
    adds one to :data:`INVITE_SEQUENCE` in the same write: the email of this change
    carries that ``SEQUENCE`` (from the stream record's image, so a retry sends the same).
    """
    values = {
        ":old": {"S": item["status"]},
        ":new": {"S": new_status},
        ":at": {"S": at},
        ":pending": _serializer.serialize({"state": "pending", "at": at}),
        ":pendingstate": {"S": "pending"},
    }
    sets = ["#s = :new", "status_changed_at = :at", "#n.#c = :pending", "email_state = :pendingstate"]
    for i, (name, value) in enumerate((extra or {}).items()):
        sets.append(f"{name} = :x{i}")
        values[f":x{i}"] = _serializer.serialize(value)
    values[":seq"] = {"N": "1"}
    return {
        "Update": {
            "TableName": _table(),
            "Key": _key(item["pk"], item["sk"]),
            "UpdateExpression": "SET " + ", ".join(sets) + " ADD #q :seq",
            "ConditionExpression": f"#s = :old AND {also}" if also else "#s = :old",
            "ExpressionAttributeNames": {"#s": "status", "#n": "notifications", "#c": change, "#q": INVITE_SEQUENCE},
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }

def _checked_in_as_read(item: dict[str, Any]) -> str:
    """The condition that the registration's check-in is as ``item`` shows it (there or not)."""
    return "attribute_exists(checked_in_at)" if item.get("checked_in_at") else "attribute_not_exists(checked_in_at)"


def _counted_at_door(item: dict[str, Any]) -> bool:
    """Whether ``item`` is on the door's count (README, "Check-in at the door"): confirmed and checked in."""
    return item["status"] == "confirmed" and bool(item.get("checked_in_at"))


def _checkin_taken_off(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The write that takes ``item``'s check-in off the event's check-in count, never below 0."""
    return ("checkins", {"Update": {
        "TableName": _table(),
        "Key": _key(item["pk"], CHECKINS_SK),
        "UpdateExpression": "ADD checked_in_count :minus",
        "ConditionExpression": "checked_in_count >= :one",
        "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":one": {"N": "1"}},
    }})


def _head_as_item(event_id: str, head: WaitlistEntry) -> dict[str, Any]:
    return {"pk": event_pk(event_id), "sk": registration_sk(head.registration_id), "status": "waitlisted"}


def _release_ops(item: dict[str, Any], at: str, *, own: WaitlistEntry | None, head: WaitlistEntry | None,
                 extra_adds: dict[str, int] | None = None,
                 before_end: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The writes that free what ``item`` held, for a transaction that ends it (cancel or erase).

    ``at`` is the moment of the write (ISO 8601 with offset). A waitlisted
    registration leaves the queue (``own``: its entry). A confirmed one hands its
    seat to ``head`` (the first in the waitlist, promoted on condition that it still
    waits, the event is not over capacity and the waitlist cutoff has not passed) or,
    with no ``head``, gives the seat back (``seats_taken - 1``, on condition that
    nobody waits, the event is over capacity after a lowered capacity, or the cutoff
    has passed: then the waitlist stays as it is). ``extra_adds`` are more counters to
    change, e.g. ``{"erased_count": 1}``. ``before_end`` adds the condition that the
    event has not ended (a cancellation; an erasure may come any time). Returns
    ``(label, operation)`` pairs; the labels name the items in a :class:`Busy`.
    """
    event_id = item["event_id"]
    now = datetime.fromisoformat(at)
    adds = dict(extra_adds or {})
    removes: list[str] = []
    ops: list[tuple[str, dict[str, Any]]] = []
    if item["status"] == "waitlisted":
        if own is None:
            raise Busy("the registration waits but its waitlist entry is gone; read again")
        ops.append(("bucket", _leave_waitlist(event_id, own, adds, removes)))
        adds["waitlisted_count"] = -1
        condition = "waitlisted_count > :zero"
    elif item["status"] == "confirmed" and head is not None:
        ops.append(("head", _status_change(_head_as_item(event_id, head), "confirmed", "promoted", at,
                                           {"promoted_at": at})))
        ops.append(("bucket", _leave_waitlist(event_id, head, adds, removes)))
        adds["waitlisted_count"] = -1
        condition = ("waitlisted_count > :zero "
                     "AND (attribute_not_exists(seat_capacity) OR seats_taken <= seat_capacity)"
                     f" AND {_PROMOTIONS_OPEN}")
    elif item["status"] == "confirmed":
        adds["seats_taken"] = -1
        condition = ("seats_taken >= :one AND (waitlisted_count = :zero OR seats_taken > seat_capacity"
                     " OR waitlist_closes_at <= :now)")
    elif adds:
        condition = "attribute_exists(pk)"
    else:
        return []
    if before_end:
        condition = f"({condition}) AND {_NOT_OVER}"
    ops.append(("counters", _counters_update(event_id, adds, removes, condition, now)))
    return ops


def _transact(labelled: list[tuple[str, dict[str, Any]]]) -> None:
    """Run a lifecycle transaction; a failed condition or a conflict raises :class:`Busy`.

    The conflict carries the registration (label ``registration``) and the
    counters as their failed conditions saw them.
    """
    try:
        _ddb().transact_write_items(TransactItems=[op for _, op in labelled])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        codes = _cancellation_codes(error)
        if code == "TransactionConflictException" or (code == "TransactionCanceledException" and _retryable(codes)):
            seen = {label: old
                    for (label, _), old, why in zip(labelled, _cancellation_items(error), codes, strict=False)
                    if why == "ConditionalCheckFailed"}
            counters_item = seen.get("counters")
            counters = EventCounters.from_item(counters_item) if counters_item else None
            raise Busy(",".join(codes) or code, registration=seen.get("registration"), counters=counters) from None
        raise

def cancel_transition(item: dict[str, Any], at: str, by: str, *, own: WaitlistEntry | None = None,
                      head: WaitlistEntry | None = None) -> None:
    """Cancel one registration in one transaction, freeing its seat or its waitlist place.

    ``item`` is the registration as read (``status`` ``confirmed`` or
    ``waitlisted``); the write is conditional on that status, so a second cancel
    or a concurrent one changes nothing, and on the event not having ended at
    ``at``; it records ``cancelled_from`` (whether a calendar CANCEL is due, README
    "Emails"). The address guard is deleted, so the person may register again. The
    seat or place is released as :func:`_release_ops` describes (``own``: the
    item's waitlist entry when it waits; ``head``: the first in the waitlist, or
    ``None``, which it must be once the waitlist cutoff has passed). A confirmed registration
    checked in at the door is taken off the event's check-in count (README, "Check-in at the
    door": the door counts the confirmed who came); it keeps ``checked_in_at``. The write is
    conditional on the check-in as read, so a check-in or undo in between fails it too.

    Raises :class:`Busy` when any condition failed (its ``counters`` tell
    whether the event is over or past its cutoff): read again and retry.
    """
    # cancelled_from: whether the registrant held a seat, so whether a calendar CANCEL is due (README, "Emails").
    ops = [("registration", _status_change(item, "cancelled", "cancelled", at,
                                           {"cancelled_by": by, "cancelled_from": item["status"]},
                                           also=_checked_in_as_read(item))),
           ("guard", _guard_delete(item))]
    if _counted_at_door(item):
        ops.append(_checkin_taken_off(item))
    _transact(ops + _release_ops(item, at, own=own, head=head, before_end=True))


#: What erasing removes from a registration item: the person's data, and the email details (an SES
#: error can quote the address; without ``notifications`` no pending email can still be claimed and sent).
ERASED_ATTRIBUTES = ("name", "email", "answers", "notifications", "email_state", "email_error",
                     "email_message_id", "consent_at", "email_outcome", "email_suppressed", "email_changed_at",
                     "checked_in_at", "checked_in_via")
#: What an erased registration keeps (README "Staff tools": its id, status, language and times; its keys,
#: item type, event and expiry). Every other attribute the item had when read goes too: its history
#: (ticket, promotion, cancellation, reminders asked, schedule told, calendar sequence).
ERASED_KEEPS = frozenset({"pk", "sk", "type", "registration_id", "event_id", "status", "language", "registered_at",
                          "status_changed_at", "erased_at", TTL_ATTRIBUTE})


def message_ids(item: dict[str, Any]) -> list[str]:
    """The SES message ids a registration item names, sorted: every one it was sent (``email_messages``,
    ``store.record_sent``), and each notification's and the latest's (items sent before that set)."""
    found = {str(entry["message_id"]) for entry in (item.get("notifications") or {}).values()
             if isinstance(entry, dict) and entry.get("message_id")}
    found.update(str(m) for m in item.get("email_messages") or ())
    if item.get("email_message_id"):
        found.add(str(item["email_message_id"]))
    return sorted(found)


def erase_transition(item: dict[str, Any], at: str, *, own: WaitlistEntry | None = None,
                     head: WaitlistEntry | None = None, delete_guard: bool) -> int:
    """Erase a registrant's data (GDPR) in one transaction; returns how many items changed.

    The registration keeps its key and becomes ``status: erased`` with only :data:`ERASED_KEEPS`
    (without :data:`ERASED_ATTRIBUTES` and anything else ``item`` had; conditional on the status and
    address read); its seat or waitlist place is released as by a cancellation; the counters count
    ``erased_count``; with ``delete_guard`` the address guard goes too; the message lookup items of
    its emails (``MSG#<id>``) keep only ``erased`` (not which registration, email or time); the check-in
    of a confirmed registration is taken off the event's check-in count (a cancelled one's was taken off
    when it was cancelled).
    Raises :class:`Busy` when anything changed since ``item`` was read.
    """
    erased = sorted(set(ERASED_ATTRIBUTES) | (set(item) - ERASED_KEEPS))
    names = {"#s": "status", "#e": "email", **{f"#p{i}": a for i, a in enumerate(erased)}}
    remove = ", ".join(f"#p{i}" for i in range(len(erased)))
    ops: list[tuple[str, dict[str, Any]]] = [("registration", {
        "Update": {
            "TableName": _table(),
            "Key": _key(item["pk"], item["sk"]),
            "UpdateExpression": f"SET #s = :erased, erased_at = :now, status_changed_at = :now REMOVE {remove}",
            # The check-in as read too: the check-in count below must not lose one an undo already took off.
            "ConditionExpression": f"#s = :old AND #e = :email AND {_checked_in_as_read(item)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(
                {":erased": "erased", ":now": at, ":old": item["status"], ":email": item["email"]}
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    })]
    if delete_guard:
        ops.append(("guard", {"Delete": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": guard_sk(item["email"])}),
            "ConditionExpression": "attribute_exists(pk)",
        }}))
    for message_id in message_ids(item):
        # Which emails the person got, and when, goes too: the lookup keeps only that its registration was
        # erased, so that a late SES event of the message is dropped, not retried as not recorded yet.
        ops.append(("message", {"Put": {"TableName": _table(), "Item": serialize(
            {"pk": MESSAGE_PREFIX + message_id, "sk": MESSAGE_SK, "erased": True,
             TTL_ATTRIBUTE: int(item[TTL_ATTRIBUTE])})}}))
    if _counted_at_door(item):  # the check-in goes with the person (a cancellation took it off already)
        ops.append(_checkin_taken_off(item))
    ops += _release_ops(item, at, own=own, head=head, extra_adds={"erased_count": 1})
    _transact(ops)
    return len(ops)


def promote_transition(event_id: str, head: WaitlistEntry, at: str) -> None:
    """Give a free seat to the first in the waitlist, ``head`` (one transaction).

    Conditional on ``head`` still waiting, a seat being free
    (``seats_taken < seat_capacity``) and the waitlist cutoff not having passed at
    ``at``. Raises :class:`EventFull` when no seat is free or the cutoff has passed
    (nobody is promoted then) and :class:`Busy` when anything else changed.
    """
    now = datetime.fromisoformat(at)
    adds: dict[str, int] = {"seats_taken": 1, "waitlisted_count": -1}
    removes: list[str] = []
    ops = [
        ("head", _status_change(_head_as_item(event_id, head), "confirmed", "promoted", at, {"promoted_at": at})),
        ("bucket", _leave_waitlist(event_id, head, adds, removes)),
    ]
    ops.append(("counters", _counters_update(
        event_id, adds, removes,
        "waitlisted_count > :zero AND (attribute_not_exists(seat_capacity) OR seats_taken < seat_capacity)"
        f" AND {_PROMOTIONS_OPEN}", now)))
    try:
        _transact(ops)
    except Busy as conflict:
        if conflict.counters is not None and (conflict.counters.full or conflict.counters.promotions_closed(now)):
            raise EventFull(event_id, conflict.counters) from None
        raise
