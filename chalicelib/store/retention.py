"""Every item's TTL follows its event when the event moves (README, "Storage": ``expires_at`` is the
event's end plus ``RETENTION_DAYS``).

An item gets its ``expires_at`` (epoch seconds, the table's TTL attribute) when it is written, from
the event as it was then. When staff move the event (``events put`` with another ``ends_at``), the
items already stored would otherwise keep the old time: moved later, DynamoDB would delete a
registration, its address guard and its message lookups before the event took place; moved earlier,
it would keep them longer than promised. :func:`restamp_expiry` sets the new time on each of them,
one conditional UpdateItem per item whose time differs (never a Scan): the event's partition by one
consistent Query (registrations, address guards, waitlist buckets, the check-in counter; quiet
guards get the time registration closes, as ``chalicelib.antispam`` gives them), and the message
lookup items the registrations name (``notifications.<change>.message_id``, ``email_message_id``).

It never sets a time earlier than :data:`EXPIRY_MARGIN_SECONDS` from now (README, "Storage"): an event
published into the past (a year typed wrong, let through with ``events put --allow-past``, or an old
file ``make run`` loads) would otherwise have DynamoDB delete its registrations within hours, before
anyone could put the right date back. An item due later is brought down to that floor; one due
sooner keeps its time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.store.keys import (
    MESSAGE_PREFIX,
    MESSAGE_SK,
    QUIET_PREFIX,
    REGISTRATION_PREFIX,
    TTL_ATTRIBUTE,
    event_pk,
)
from chalicelib.store.serialize import deserialize
from chalicelib.store.table import _conditional_update, _ddb, _table
from chalicelib.store.transitions import message_ids

#: The earliest a restamp may set ``expires_at``: this many seconds after now (one day).
EXPIRY_MARGIN_SECONDS = 86_400


def _partition_items(event_id: str) -> Iterator[dict[str, Any]]:
    """Every item of the event's partition that carries a TTL: its keys, TTL and message ids."""
    pages = _ddb().get_paginator("query").paginate(
        TableName=_table(),
        KeyConditionExpression="pk = :pk",
        FilterExpression="attribute_exists(#ttl)",
        ProjectionExpression="pk, sk, #ttl, notifications, email_message_id",
        ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
        ExpressionAttributeValues={":pk": {"S": event_pk(event_id)}},
        ConsistentRead=True,
    )
    for page in pages:
        for raw in page["Items"]:
            yield deserialize(raw)


def _set_expiry(pk: str, sk: str, expires_at: int, *, floored: bool) -> bool:
    """``SET expires_at`` on an existing item whose time differs (``floored``: only on one due later, the
    time being the floor); whether it changed anything (not when the item went meanwhile, erased or a
    bucket emptied, nor when it was already right)."""
    differs = "#ttl > :at" if floored else "#ttl <> :at"
    return _conditional_update(
        {"pk": {"S": pk}, "sk": {"S": sk}}, update="SET #ttl = :at", condition=f"attribute_exists(pk) AND {differs}",
        names={"#ttl": TTL_ATTRIBUTE}, values={":at": {"N": str(expires_at)}},
    ) is None


def _aimed(expires_at: int, floor: int) -> tuple[int, bool]:
    """``(time to set, floored)``: ``expires_at``, or ``floor`` when it is earlier."""
    return (expires_at, False) if expires_at >= floor else (floor, True)


def _needs(current: int, target: int, floored: bool) -> bool:
    """Whether an item due at ``current`` is to be written with ``target`` (see :func:`_set_expiry`)."""
    return current > target if floored else current != target


def restamp_expiry(event_id: str, expires_at: int, quiet_expires_at: int, *, now: int) -> int:
    """Give every item of ``event_id`` that carries a TTL the time ``expires_at`` (epoch seconds;
    quiet guards ``quiet_expires_at``), and the message lookup items of its registrations too.

    No item gets a time earlier than ``now`` (epoch seconds) plus :data:`EXPIRY_MARGIN_SECONDS`: a
    time before that is replaced by that floor, and only items due later than the floor are
    brought down to it (those due sooner keep theirs). Items already right are not written. Safe to
    run again and alongside registrations: each write is conditional on the item existing. Returns
    how many items changed. Raises botocore errors.
    """
    floor = now + EXPIRY_MARGIN_SECONDS
    main, quiet = _aimed(expires_at, floor), _aimed(quiet_expires_at, floor)
    changed = 0
    pk = event_pk(event_id)
    for item in _partition_items(event_id):
        sk = str(item["sk"])
        target, floored = quiet if sk.startswith(QUIET_PREFIX) else main
        if _needs(int(item[TTL_ATTRIBUTE]), target, floored):
            changed += _set_expiry(pk, sk, target, floored=floored)
        if sk.startswith(REGISTRATION_PREFIX):
            for message_id in message_ids(item):
                changed += _set_expiry(MESSAGE_PREFIX + message_id, MESSAGE_SK, main[0], floored=main[1])
    return changed
