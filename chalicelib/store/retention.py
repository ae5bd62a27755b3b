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


def _set_expiry(pk: str, sk: str, expires_at: int) -> bool:
    """``SET expires_at`` on an existing item whose time differs; whether it changed anything (not when
    the item went meanwhile, erased or a bucket emptied, nor when it was already right)."""
    return _conditional_update(
        {"pk": {"S": pk}, "sk": {"S": sk}}, update="SET #ttl = :at", condition="attribute_exists(pk) AND #ttl <> :at",
        names={"#ttl": TTL_ATTRIBUTE}, values={":at": {"N": str(expires_at)}},
    ) is None


def restamp_expiry(event_id: str, expires_at: int, quiet_expires_at: int) -> int:
    """Give every item of ``event_id`` that carries a TTL the time ``expires_at`` (epoch seconds;
    quiet guards ``quiet_expires_at``), and the message lookup items of its registrations too.

    Items already right are not written. Safe to run again and alongside registrations: each write is
    conditional on the item existing. Returns how many items changed. Raises botocore errors.
    """
    changed = 0
    pk = event_pk(event_id)
    for item in _partition_items(event_id):
        sk = str(item["sk"])
        target = quiet_expires_at if sk.startswith(QUIET_PREFIX) else expires_at
        if int(item[TTL_ATTRIBUTE]) != target:
            changed += _set_expiry(pk, sk, target)
        if sk.startswith(REGISTRATION_PREFIX):
            for message_id in message_ids(item):
                changed += _set_expiry(MESSAGE_PREFIX + message_id, MESSAGE_SK, expires_at)
    return changed
