"""Waitlist tickets, buckets and positions (README, "Storage").

Waitlist tickets come from an atomic ``ADD`` on ``waitlist_seq`` (no read, no
compare): tickets order the queue; a ticket whose write then fails leaves a gap,
which is harmless because positions count the tickets of people still waiting.
Ticket ``t`` belongs to bucket ``t // WAITLIST_BUCKET_SIZE``; the bucket's item
holds ``t<t> = <registration_id>`` for each ticket still waiting and
``waiting_count``, and is deleted when its last entry leaves, so the first
bucket item of the event is the head of the queue. A position is therefore
exact in one read of two small items: 1 + the ``w<b>`` of the buckets below
plus the entries below the ticket in its own bucket (:func:`waitlist_position`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import Busy
from chalicelib.store.counters import _WAITLIST_OPEN, _WINDOW, EventCounters, _refused, _waitlist_refusal
from chalicelib.store.keys import COUNTERS_SK, WAITLIST_PREFIX, _key, event_pk, waitlist_bucket, waitlist_bucket_sk
from chalicelib.store.serialize import _epoch, _indexed, deserialize
from chalicelib.store.table import _batch_get, _conditional_update, _ddb, _table


@dataclass(frozen=True)
class WaitlistEntry:
    """One waiting registration as its waitlist bucket holds it.

    ``bucket_count`` is how many waited in the bucket when it was read: the write
    that takes the last entry out deletes the bucket item (conditional on that count).
    """

    ticket: int
    registration_id: str
    bucket_count: int


def _entries(bucket_item: dict[str, Any]) -> list[WaitlistEntry]:
    count = int(bucket_item.get("waiting_count", 0))
    return sorted((WaitlistEntry(t, str(r), count) for t, r in _indexed(bucket_item, "t").items()),
                  key=lambda e: e.ticket)


def waitlist_head(event_id: str) -> WaitlistEntry | None:
    """The first in the event's waitlist (lowest ticket still waiting), or ``None``: one consistent Query, 1 item.

    Bucket items exist only while someone waits in them, so the first one holds the head.
    """
    answer = _ddb().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :w)",
        ExpressionAttributeValues={":pk": {"S": event_pk(event_id)}, ":w": {"S": WAITLIST_PREFIX}},
        ConsistentRead=True,
        Limit=1,
    )
    if not answer["Items"]:
        return None
    entries = _entries(deserialize(answer["Items"][0]))
    return entries[0] if entries else None


def waitlist_entry(event_id: str, ticket: int) -> WaitlistEntry | None:
    """The waitlist entry of ``ticket`` (consistent GetItem of its bucket), or ``None`` if it no longer waits."""
    answer = _ddb().get_item(
        TableName=_table(),
        Key=_key(event_pk(event_id), waitlist_bucket_sk(waitlist_bucket(ticket))),
        ConsistentRead=True,
    )
    for entry in _entries(deserialize(answer["Item"])) if "Item" in answer else []:
        if entry.ticket == int(ticket):
            return entry
    return None

def waiting_registrations(event_id: str) -> list[WaitlistEntry]:
    """Everyone still on the event's waitlist, by ticket: a consistent Query of its waitlist buckets, all pages.

    Reads only the bucket items (about 30 bytes per waiting registrant), never the registrations.
    """
    entries: list[WaitlistEntry] = []
    for page in _ddb().get_paginator("query").paginate(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :w)",
        ExpressionAttributeValues={":pk": {"S": event_pk(event_id)}, ":w": {"S": WAITLIST_PREFIX}},
        ConsistentRead=True,
    ):
        for raw in page["Items"]:
            entries.extend(_entries(deserialize(raw)))
    return entries

@dataclass(frozen=True)
class Ticket:
    """A waitlist ticket as :func:`take_waitlist_ticket` handed it out.

    ``waiting`` is ``waitlisted_count`` at that moment (written and still waiting, all with lower
    tickets); ``in_flight`` how many lower tickets were neither written nor given up yet
    (registrations being written at the same moment: a rush). The position at the ticket is
    ``waiting + in_flight + 1``: those in flight are ahead once written (exact unless one of their
    writes fails after this ticket; a failure before it was given up, :func:`give_up_ticket`).
    """

    number: int
    waiting: int
    in_flight: int


def take_waitlist_ticket(event_id: str, now: datetime) -> Ticket:
    """Hand out the next waitlist ticket: an atomic ``ADD`` on ``waitlist_seq``; a :class:`Ticket`.

    One UpdateItem, no read and no compare: concurrent registrants get distinct
    tickets in the order DynamoDB applies the writes. Conditional on the window
    being open at ``now``, the event having a waitlist whose cutoff has not passed
    and being full, so no ticket is taken while a seat is free. ``waiting`` is ``waitlisted_count`` at
    that moment: everyone then waiting holds a lower ticket, so ``waiting + 1`` is
    the new registrant's position at the moment of the ticket when no lower ticket is still
    being written (``Ticket.in_flight``; those are ahead too). Whoever takes a ticket resolves it: the waitlist write
    counts it (``waitlist_resolved``), or :func:`give_up_ticket` does when the write fails.
    Raises :class:`SeatFree`, :class:`EventFull` (no waitlist, or past its cutoff), :class:`WindowClosed`,
    :class:`EventNotFound` and :class:`Busy` (a transaction was writing the counters: retry).
    """
    try:
        answer = _ddb().update_item(
            TableName=_table(),
            Key=_key(event_pk(event_id), COUNTERS_SK),
            # An item from before waitlist_resolved existed: the tickets handed out until now count as resolved.
            UpdateExpression=("ADD waitlist_seq :one "
                              "SET waitlist_resolved = if_not_exists(waitlist_resolved, waitlist_seq)"),
            ConditionExpression=f"{_WINDOW} AND {_WAITLIST_OPEN} AND seats_taken >= seat_capacity",
            ExpressionAttributeValues={":one": {"N": "1"}, ":now": _epoch(now), ":true": {"BOOL": True}},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "TransactionConflictException":
            raise Busy(code) from None
        if code != "ConditionalCheckFailedException":
            raise
        old: Any = error.response.get("Item")
        counters = _refused(event_id, deserialize(old) if old else None, now)
        raise _waitlist_refusal(event_id, counters, now) from None
    after = deserialize(answer["Attributes"])
    number = int(after["waitlist_seq"])
    return Ticket(number, int(after["waitlisted_count"]),
                  max(0, number - 1 - int(after.get("waitlist_resolved", 0))))


def give_up_ticket(event_id: str) -> None:
    """Count a ticket whose waitlist write failed as resolved (``ADD waitlist_resolved 1``), so later
    positions do not count it as ahead. One UpdateItem, conditional on the counters item existing;
    a ticket never resolved (its function died between the ticket and the write) leaves later
    answered positions one too high, never too low; the registrant's page reads the exact one.
    """
    _conditional_update(_key(event_pk(event_id), COUNTERS_SK), update="ADD waitlist_resolved :one",
                        condition="attribute_exists(pk)", values={":one": {"N": "1"}})

def _position(counters: dict[str, Any] | None, bucket_item: dict[str, Any] | None, ticket: int) -> int:
    """1 + those waiting in lower buckets + those in the ticket's bucket with a lower ticket."""
    below = EventCounters.from_item(counters).waiting_before(waitlist_bucket(ticket)) if counters else 0
    ahead = sum(1 for t in _indexed(bucket_item or {}, "t") if t < ticket)
    return 1 + below + ahead


def waitlist_position(event_id: str, ticket: int) -> int:
    """1 + the number of still-waiting registrations with a lower ticket.

    One consistent read of two small items (the counters and the ticket's
    bucket), however long the waitlist: the count of each lower bucket is on
    the counters item, and the bucket holds its own entries.
    """
    pk = event_pk(event_id)
    bucket_sk = waitlist_bucket_sk(waitlist_bucket(ticket))
    found = _batch_get([_key(pk, COUNTERS_SK), _key(pk, bucket_sk)])
    return _position(found.get((pk, COUNTERS_SK)), found.get((pk, bucket_sk)), int(ticket))

def _leave_waitlist(event_id: str, entry: WaitlistEntry, adds: dict[str, int], removes: list[str]) -> dict[str, Any]:
    """The bucket write that takes ``entry`` out of the waitlist; adds its counter change to ``adds``/``removes``.

    The last entry of a bucket deletes the bucket item (and its ``w<b>``), on
    condition that it is still the last; otherwise the entry is removed on
    condition that others remain. Either way, on condition that it still waits.
    """
    bucket = waitlist_bucket(entry.ticket)
    key = _key(event_pk(event_id), waitlist_bucket_sk(bucket))
    names = {"#t": f"t{entry.ticket}"}
    counter = f"w{bucket}"
    if entry.bucket_count <= 1:
        removes.append(counter)
        return {"Delete": {
            "TableName": _table(), "Key": key,
            "ConditionExpression": "attribute_exists(#t) AND waiting_count = :one",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": {":one": {"N": "1"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }}
    adds[counter] = adds.get(counter, 0) - 1
    return {"Update": {
        "TableName": _table(), "Key": key,
        "UpdateExpression": "REMOVE #t ADD waiting_count :minus",
        "ConditionExpression": "attribute_exists(#t) AND waiting_count > :one",
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": {":one": {"N": "1"}, ":minus": {"N": "-1"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}
