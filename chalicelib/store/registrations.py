"""Registrations and their address guards: create, read, list (README, "Storage").

A registration is written with its address guard and the counters' change in one
transaction (:func:`put_registration`); reads by id go through the
``by-registration`` index, then a consistent GetItem.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import Busy
from chalicelib.store.counters import _WAITLIST_OPEN, _WINDOW, _refused, _waitlist_refusal
from chalicelib.store.errors import AlreadyRegistered, EventFull, RegistrationNotFound
from chalicelib.store.events import known_schedule_revision
from chalicelib.store.keys import (
    COUNTERS_SK,
    INVITE_SEQUENCE,
    REGISTRATION_INDEX,
    REGISTRATION_PREFIX,
    SCHEDULE_REVISION,
    TTL_ATTRIBUTE,
    _key,
    event_pk,
    guard_sk,
    quiet_guard_sk,
    registration_sk,
    waitlist_bucket,
    waitlist_bucket_sk,
)
from chalicelib.store.serialize import _epoch, deserialize, serialize
from chalicelib.store.table import (
    _batch_get,
    _cancellation_codes,
    _cancellation_items,
    _ddb,
    _exists,
    _retryable,
    _table,
)
from chalicelib.store.waitlist import _position


def put_quiet_guard(event_id: str, email: str, *, now: int, expires_at: int) -> None:
    """Remember a honeypot post's address for this event until ``expires_at`` (epoch seconds).

    Raises :class:`AlreadyRegistered` (a repeat, as a person's would get 409) when a quiet
    guard of this address is live; else Puts the quiet guard on condition that none is
    live (absent, or ``expires_at`` not after ``now``: DynamoDB's TTL deletes late). Whether a
    person registered the address is never consulted: a honeypot post, which stores and sends
    nothing, must not tell anyone who registered.
    """
    pk = event_pk(event_id)
    try:
        _ddb().put_item(
            TableName=_table(),
            Item=serialize({"pk": pk, "sk": quiet_guard_sk(email), "type": "quiet-guard", TTL_ATTRIBUTE: expires_at}),
            ConditionExpression="attribute_not_exists(pk) OR #x <= :now",
            ExpressionAttributeNames={"#x": TTL_ATTRIBUTE},
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise AlreadyRegistered(event_id) from None
        raise


def address_taken(event_id: str, email: str, *, now: int) -> bool:
    """Whether the address guard, or a quiet guard live at ``now`` (epoch seconds), exists for this address."""
    pk = event_pk(event_id)
    if _exists({"pk": pk, "sk": guard_sk(email)}) is not None:
        return True
    return quiet_guard_live(event_id, email, now=now)


def quiet_guard_live(event_id: str, email: str, *, now: int) -> bool:
    """Whether a honeypot post's quiet guard of this address is live at ``now`` (epoch seconds)."""
    quiet = _exists({"pk": event_pk(event_id), "sk": quiet_guard_sk(email)})
    return quiet is not None and int(quiet.get(TTL_ATTRIBUTE, 0)) > now

def registration_for_address(event_id: str, email: str) -> str | None:
    """The id of the registration whose address guard holds ``email`` (any spelling one mailbox has:
    :func:`~chalicelib.store.keys.guard_sk`), or ``None``: one consistent GetItem of the guard."""
    found = _exists({"pk": event_pk(event_id), "sk": guard_sk(email)})
    return None if found is None else str(found.get("for_registration") or "") or None

def new_registration_item(event_id: str, registration_id: str, *, name: str, email: str, language: str,
                          answers: dict[str, Any], now: datetime, expires_at: int) -> dict[str, Any]:
    """A new registration item (plain values) for :func:`put_registration`: ``confirmed``, its first email pending.

    ``now`` (aware) stamps ``registered_at``, ``consent_at`` and ``status_changed_at`` (ISO 8601);
    ``expires_at`` is the TTL (epoch seconds). It records the schedule the registrant was shown
    (``schedule_revision``, README "Emails", event changes: :func:`~chalicelib.store.events.known_schedule_revision`)
    and the ``SEQUENCE`` 0 of the calendar entry the first email carries (a waitlisted one carries none yet).
    """
    stamp = now.isoformat()
    return {
        "pk": event_pk(event_id),
        "sk": registration_sk(registration_id),
        "type": "registration",
        "registration_id": registration_id,
        "event_id": event_id,
        "status": "confirmed",
        "name": name,
        "email": email,
        "language": language,
        "answers": answers,
        "consent_at": stamp,
        "registered_at": stamp,
        "status_changed_at": stamp,
        TTL_ATTRIBUTE: expires_at,
        SCHEDULE_REVISION: known_schedule_revision(event_id),
        INVITE_SEQUENCE: 0,
        "email_state": "pending",
        "notifications": {"registered": {"state": "pending", "at": stamp, "sequence": 0}},
    }


def put_registration(item: dict[str, Any], *, now: datetime) -> None:
    """Write a new registration, its address guard and the event's counters in one transaction.

    ``item`` is the plain registration item, ``status`` ``confirmed`` or
    ``waitlisted``; ``now`` is the moment of the write (the window is judged at it,
    by the condition). For ``confirmed`` the counters' ``seats_taken`` grows by one
    on condition that a seat is free. For ``waitlisted`` the item carries the
    ``waitlist_ticket`` from :func:`take_waitlist_ticket`; the write adds the
    ticket to its bucket item and counts it (``waitlisted_count``, ``w<bucket>``, ``waitlist_resolved``)
    on condition that the event has a waitlist, its cutoff has not passed and it is still full.

    Raises :class:`WindowClosed` (checked first: after registration closes a repeat gets the same
    answer as anyone), :class:`AlreadyRegistered` (guard exists),
    :class:`EventFull` (no seat for a confirmed write; no waitlist, or one past its
    cutoff, for a waitlisted one; ``counters`` attached), :class:`SeatFree` (a waitlisted write while a seat
    is free), :class:`Busy` (a DynamoDB transaction conflict: retry) and
    :class:`EventNotFound`.
    """
    table = _table()
    pk = item["pk"]
    guard = {
        "pk": pk,
        "sk": guard_sk(item["email"]),
        "type": "guard",
        "for_registration": item["registration_id"],
        TTL_ATTRIBUTE: item[TTL_ATTRIBUTE],
    }
    values: dict[str, Any] = {":one": {"N": "1"}, ":now": _epoch(now)}
    ops: list[dict[str, Any]] = [
        {"Put": {"TableName": table, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": table, "Item": serialize(guard), "ConditionExpression": "attribute_not_exists(pk)"}},
    ]
    if item["status"] == "confirmed":
        ops.append({"Update": {
            "TableName": table,
            "Key": _key(pk, COUNTERS_SK),
            "UpdateExpression": "ADD seats_taken :one",
            "ConditionExpression": (f"{_WINDOW} AND "
                                    "(attribute_not_exists(seat_capacity) OR seats_taken < seat_capacity)"),
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }})
    else:
        ticket = int(item["waitlist_ticket"])
        bucket = waitlist_bucket(ticket)
        ops.append({"Update": {
            "TableName": table,
            "Key": _key(pk, COUNTERS_SK),
            "UpdateExpression": "ADD waitlisted_count :one, #w :one, waitlist_resolved :one",
            "ConditionExpression": f"{_WINDOW} AND {_WAITLIST_OPEN} AND seats_taken >= seat_capacity",
            "ExpressionAttributeNames": {"#w": f"w{bucket}"},
            "ExpressionAttributeValues": {**values, ":true": {"BOOL": True}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }})
        ops.append({"Update": {
            "TableName": table,
            "Key": _key(pk, waitlist_bucket_sk(bucket)),
            "UpdateExpression": "SET #t = :r, #type = :type, event_id = :e, #x = :x ADD waiting_count :one",
            "ExpressionAttributeNames": {"#t": f"t{ticket}", "#type": "type", "#x": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":r": {"S": item["registration_id"]}, ":type": {"S": "waitlist"},
                                          ":e": {"S": item["event_id"]}, ":x": {"N": str(item[TTL_ATTRIBUTE])},
                                          ":one": {"N": "1"}},
        }})
    try:
        _ddb().transact_write_items(TransactItems=ops)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        codes = _cancellation_codes(error)
        counters_refused = len(codes) > 2 and codes[2] == "ConditionalCheckFailed"
        # A closed window (or a missing event) is told before a repeat: after registration closes,
        # every address gets the same answer, so a post cannot tell who registered (README, "HTTP API").
        counters = _refused(item["event_id"], _cancellation_items(error)[2], now) if counters_refused else None
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise AlreadyRegistered(item["event_id"]) from None
        if counters is not None:
            if item["status"] == "confirmed":
                raise EventFull(item["event_id"], counters) from None
            raise _waitlist_refusal(item["event_id"], counters, now) from None
        if _retryable(codes):
            raise Busy(",".join(codes)) from None
        raise

def find_registration(registration_id: str) -> dict[str, Any]:
    """The registration item for an id from a link, from the ``by-registration`` index (one Query).

    The index is eventually consistent: the item may be a moment old. Use it
    to find the event and as a first guess; :func:`registration_with_position`
    reads it consistently, and writes are conditional on what they expect.
    Raises :class:`RegistrationNotFound`.
    """
    answer = _ddb().query(
        TableName=_table(),
        IndexName=REGISTRATION_INDEX,
        KeyConditionExpression="registration_id = :r",
        ExpressionAttributeValues={":r": {"S": registration_id}},
    )
    if not answer["Items"]:
        raise RegistrationNotFound(registration_id)
    return deserialize(answer["Items"][0])


def get_registration(registration_id: str) -> dict[str, Any]:
    """The registration item for an id from a link, read consistently (the index, then a GetItem).

    Raises :class:`RegistrationNotFound`.
    """
    found = find_registration(registration_id)
    return get_registration_in_event(found["event_id"], registration_id)


def get_registration_in_event(event_id: str, registration_id: str) -> dict[str, Any]:
    """A registration by event and id, read consistently; raises :class:`RegistrationNotFound`."""
    found = _ddb().get_item(
        TableName=_table(),
        Key=_key(event_pk(event_id), registration_sk(registration_id)),
        ConsistentRead=True,
    )
    if "Item" not in found:
        raise RegistrationNotFound(registration_id)
    return deserialize(found["Item"])

def registration_with_position(item: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """Read a registration again, consistently, with its waitlist position when it waits (one call).

    ``item`` needs ``pk``, ``sk`` and, if it ever waited, ``waitlist_ticket`` (the
    index's copy from :func:`find_registration` will do). Returns ``(item,
    position)``, ``position`` ``None`` unless the item read is ``waitlisted``.
    Raises :class:`RegistrationNotFound`.
    """
    pk, sk = item["pk"], item["sk"]
    ticket = item.get("waitlist_ticket")
    if ticket is None:
        return get_registration_in_event(item["event_id"], item["registration_id"]), None
    bucket_sk = waitlist_bucket_sk(waitlist_bucket(int(ticket)))
    found = _batch_get([_key(pk, sk), _key(pk, COUNTERS_SK), _key(pk, bucket_sk)])
    current = found.get((pk, sk))
    if current is None:
        raise RegistrationNotFound(item["registration_id"])
    if current.get("status") != "waitlisted":
        return current, None
    return current, _position(found.get((pk, COUNTERS_SK)), found.get((pk, bucket_sk)), int(ticket))


def _registration_pages(event_id: str, *, consistent: bool) -> Iterator[dict[str, Any]]:
    """Query pages of an event's registration items (all pages)."""
    yield from _ddb().get_paginator("query").paginate(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :reg)",
        ExpressionAttributeValues={":pk": {"S": event_pk(event_id)}, ":reg": {"S": REGISTRATION_PREFIX}},
        ConsistentRead=consistent,
    )


def iter_registrations(event_id: str, consistent: bool = False) -> Iterator[dict[str, Any]]:
    """Every registration item of an event, by Query on its partition, all pages.

    Order: by sort key (the random registration id), i.e. no meaningful order.
    """
    for page in _registration_pages(event_id, consistent=consistent):
        for raw in page["Items"]:
            yield deserialize(raw)

def _guard_delete(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Delete": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": guard_sk(item["email"])}),
            "ConditionExpression": "attribute_not_exists(pk) OR for_registration = :r",
            "ExpressionAttributeValues": {":r": {"S": item["registration_id"]}},
        }
    }
