"""DynamoDB persistence: one table, its keys and every conditional write.

Table design (README, "Storage"):

=================  ===========================  ==========================================
item               partition key ``pk``         sort key ``sk``
=================  ===========================  ==========================================
event              ``EVENT#<event_id>``         ``#EVENT``
event catalogue    ``EVENTS``                   ``<event_id>``
registration       ``EVENT#<event_id>``         ``REG#<registration_id>``
address guard      ``EVENT#<event_id>``         ``EMAIL#<sha256 of the address key>``
=================  ===========================  ==========================================

The global secondary index ``by-registration`` (partition key
``registration_id``, only registration items carry it) finds a registration from
the id in a link. Registrations and guards carry ``expires_at`` (epoch seconds,
the table's TTL attribute). The event item holds the seat counters:
``seats_taken`` (confirmed registrations), ``waitlisted_count`` and
``waitlist_seq`` (the last waitlist ticket handed out).

Every state change is a conditional write or a transaction; nothing is decided
by a read that a concurrent write could invalidate.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from email_validator import EmailNotValidError, validate_email

from chalicelib import aws
from chalicelib.events import Event, parse_event
from chalicelib.settings import get_settings

EVENT_SK = "#EVENT"
#: Partition of the event catalogue: one item per event (sort key: the event id), so events are
#: listed by Query, never by a Scan of every registration.
CATALOGUE_PK = "EVENTS"
REGISTRATION_PREFIX = "REG#"
GUARD_PREFIX = "EMAIL#"
REGISTRATION_INDEX = "by-registration"
TTL_ATTRIBUTE = "expires_at"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class StoreError(Exception):
    """Base of the persistence errors below."""


class EventNotFound(StoreError):
    """No event item with this id."""


class RegistrationNotFound(StoreError):
    """No registration with this id."""


class AlreadyRegistered(StoreError):
    """The address guard for this event and address exists (409 already-registered)."""


class EventFull(StoreError):
    """No seat left; raised when a seat condition fails (see :func:`put_registration`)."""


class Conflict(StoreError):
    """A condition on the event item failed or DynamoDB reported a transaction conflict; retry.

    ``event_item`` is the event item as the failed condition saw it (plain values),
    when DynamoDB returned it, so a retry need not read it again.
    """

    def __init__(self, message: str, event_item: dict[str, Any] | None = None):
        super().__init__(message)
        self.event_item = event_item


def event_pk(event_id: str) -> str:
    """Partition key of an event and all its items."""
    return f"EVENT#{event_id}"


def registration_sk(registration_id: str) -> str:
    """Sort key of a registration item."""
    return f"{REGISTRATION_PREFIX}{registration_id}"


def email_key(email: str) -> str:
    """The comparison form of an address: one mailbox, one key.

    The part before the ``@`` is casefolded (PRODUCT.md compares addresses
    case-insensitively); the domain is taken in its IDNA ASCII form, lower case,
    as email-validator computes it, so ``user@éxample.org`` and
    ``user@xn--xample-9ua.org`` are the same mailbox. An address email-validator
    refuses is only casefolded.
    """
    email = email.strip()
    local_part, at, domain = email.rpartition("@")
    if not at:
        return email.casefold()
    try:
        domain = validate_email(email, check_deliverability=False).ascii_domain
    except EmailNotValidError:
        pass
    return f"{local_part.casefold()}@{domain.lower()}"


def guard_sk(email: str) -> str:
    """Sort key of the "this address is registered for this event" guard.

    The address is hashed (SHA-256 of :func:`email_key`) so no address appears in a key.
    """
    return GUARD_PREFIX + hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item (str, int, bool, list, dict, None) in DynamoDB's typed JSON."""
    return {k: _serializer.serialize(v) for k, v in item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB typed JSON to plain values; whole numbers come back as ``int``."""
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    return _plain_numbers(plain)


def _plain_numbers(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, set):
        return {_plain_numbers(v) for v in value}
    return value


def _ddb() -> Any:
    return aws.client("dynamodb")


def _table() -> str:
    return get_settings().table_name


# ---------------------------------------------------------------- events


def put_event(event: Event) -> None:
    """Create or update an event item from its definition.

    The seat counters are kept; ``capacity`` is replaced (or removed for an
    unlimited event). Lowering the capacity below ``seats_taken`` leaves the
    confirmed registrations confirmed and the event full until seats free up.
    """
    names = {"#d": "definition", "#c": "seat_capacity", "#t": "type", "#e": "event_id"}
    values: dict[str, Any] = {
        ":d": {"S": event.model_dump_json()},
        ":t": {"S": "event"},
        ":e": {"S": event.id},
        ":zero": {"N": "0"},
    }
    set_parts = [
        "#d = :d",
        "#t = :t",
        "#e = :e",
        "seats_taken = if_not_exists(seats_taken, :zero)",
        "waitlisted_count = if_not_exists(waitlisted_count, :zero)",
        "waitlist_seq = if_not_exists(waitlist_seq, :zero)",
    ]
    if event.capacity is None:
        expression = "SET " + ", ".join(set_parts) + " REMOVE #c"
    else:
        values[":c"] = {"N": str(event.capacity)}
        expression = "SET " + ", ".join(set_parts + ["#c = :c"])
    _ddb().transact_write_items(TransactItems=[
        {"Update": {
            "TableName": _table(),
            "Key": serialize({"pk": event_pk(event.id), "sk": EVENT_SK}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }},
        {"Put": {
            "TableName": _table(),
            "Item": serialize({"pk": CATALOGUE_PK, "sk": event.id, "type": "catalogue", "event_id": event.id}),
        }},
    ])


def get_event_item(event_id: str, consistent: bool = False) -> dict[str, Any]:
    """The event item as plain values (``definition`` still JSON text).

    Raises :class:`EventNotFound`.
    """
    answer = _ddb().get_item(
        TableName=_table(),
        Key=serialize({"pk": event_pk(event_id), "sk": EVENT_SK}),
        ConsistentRead=consistent,
    )
    if "Item" not in answer:
        raise EventNotFound(event_id)
    return deserialize(answer["Item"])


def event_from_item(item: dict[str, Any]) -> Event:
    """The :class:`Event` stored in an event item."""
    return parse_event(json.loads(item["definition"]), f"table item {item['pk']}", stored=True)


def get_event(event_id: str) -> tuple[Event, dict[str, Any]]:
    """``(event, item)``; raises :class:`EventNotFound`."""
    item = get_event_item(event_id)
    return event_from_item(item), item


def list_event_items() -> list[dict[str, Any]]:
    """Every event item, sorted by id: a Query of the catalogue partition, then one read per event.

    No Scan: the table holds every registration, and ``GET /openapi.json`` lists events.
    """
    items: list[dict[str, Any]] = []
    for page in _ddb().get_paginator("query").paginate(
        TableName=_table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": CATALOGUE_PK}},
    ):
        for entry in page["Items"]:
            try:
                items.append(get_event_item(entry["sk"]["S"]))
            except EventNotFound:
                continue
    return items


# ---------------------------------------------------------------- registrations


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def put_registration(item: dict[str, Any], *, waitlist_seq: int | None = None) -> None:
    """Write a new registration, its address guard and the event's counter in one transaction.

    ``item`` is the plain registration item (``status`` ``confirmed`` or
    ``waitlisted``). For ``confirmed`` the event's ``seats_taken`` grows by one
    on condition that a seat is free. For ``waitlisted`` the caller passes the
    ``waitlist_seq`` it read; the write takes ticket ``waitlist_seq + 1`` on
    condition that the counter is unchanged and the event is still full, so
    tickets follow commit order without gaps.

    Raises :class:`AlreadyRegistered` (guard exists), :class:`EventFull` (no seat
    for a confirmed write), :class:`Conflict` (counter moved, a seat was freed,
    or a DynamoDB transaction conflict: read again and retry) and
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
    event_key = serialize({"pk": pk, "sk": EVENT_SK})
    if item["status"] == "confirmed":
        event_update = {
            "TableName": table,
            "Key": event_key,
            "UpdateExpression": "ADD seats_taken :one",
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(seat_capacity) OR seats_taken < seat_capacity)",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    else:
        assert waitlist_seq is not None
        event_update = {
            "TableName": table,
            "Key": event_key,
            "UpdateExpression": "SET waitlist_seq = :next ADD waitlisted_count :one",
            "ConditionExpression": "attribute_exists(pk) AND waitlist_seq = :seen AND seats_taken >= seat_capacity",
            "ExpressionAttributeValues": {
                ":one": {"N": "1"},
                ":seen": {"N": str(waitlist_seq)},
                ":next": {"N": str(waitlist_seq + 1)},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    try:
        _ddb().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": serialize(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": serialize(guard),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Update": event_update},
            ]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        codes = _cancellation_codes(error)
        reasons = error.response.get("CancellationReasons") or []
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise AlreadyRegistered(item["event_id"]) from None
        if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
            old = reasons[2].get("Item")
            if not old:
                raise EventNotFound(item["event_id"]) from None
            if item["status"] == "confirmed":
                raise EventFull(item["event_id"]) from None
            raise Conflict(",".join(codes), deserialize(old)) from None
        if _retryable(codes):
            raise Conflict(",".join(codes)) from None
        raise


def _retryable(codes: list[str]) -> bool:
    """Whether a cancelled transaction failed only on conditions or conflicts (read again and retry).

    Any other reason (a validation error, an item too large) would fail again the same way.
    """
    return bool(codes) and all(c in ("None", "ConditionalCheckFailed", "TransactionConflict") for c in codes)


def get_registration(registration_id: str) -> dict[str, Any]:
    """The registration item for an id from a link, read consistently.

    Finds the event through the ``by-registration`` index, then reads the item
    itself with ``ConsistentRead``. Raises :class:`RegistrationNotFound`.
    """
    answer = _ddb().query(
        TableName=_table(),
        IndexName=REGISTRATION_INDEX,
        KeyConditionExpression="registration_id = :r",
        ExpressionAttributeValues={":r": {"S": registration_id}},
        ProjectionExpression="pk, sk",
    )
    if not answer["Items"]:
        raise RegistrationNotFound(registration_id)
    key = answer["Items"][0]
    found = _ddb().get_item(TableName=_table(), Key={"pk": key["pk"], "sk": key["sk"]}, ConsistentRead=True)
    if "Item" not in found:
        raise RegistrationNotFound(registration_id)
    return deserialize(found["Item"])


def get_registration_in_event(event_id: str, registration_id: str) -> dict[str, Any]:
    """A registration by event and id, read consistently; raises :class:`RegistrationNotFound`."""
    found = _ddb().get_item(
        TableName=_table(),
        Key=serialize({"pk": event_pk(event_id), "sk": registration_sk(registration_id)}),
        ConsistentRead=True,
    )
    if "Item" not in found:
        raise RegistrationNotFound(registration_id)
    return deserialize(found["Item"])


def _registration_pages(event_id: str, *, consistent: bool, waitlisted_before: int | None = None,
                        count_only: bool = False) -> Iterator[dict[str, Any]]:
    """Query pages of an event's registration items (all pages), optionally only waitlisted ones.

    ``waitlisted_before``: only waitlisted items with ``waitlist_ticket`` below it;
    0 means every waitlisted item. ``count_only`` asks for ``Select=COUNT``.
    """
    params: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :reg)",
        "ExpressionAttributeValues": {":pk": {"S": event_pk(event_id)}, ":reg": {"S": REGISTRATION_PREFIX}},
        "ConsistentRead": consistent,
    }
    if waitlisted_before is not None:
        params["FilterExpression"] = "#s = :w" + (" AND waitlist_ticket < :t" if waitlisted_before else "")
        params["ExpressionAttributeNames"] = {"#s": "status"}
        params["ExpressionAttributeValues"][":w"] = {"S": "waitlisted"}
        if waitlisted_before:
            params["ExpressionAttributeValues"][":t"] = {"N": str(waitlisted_before)}
    if count_only:
        params["Select"] = "COUNT"
    yield from _ddb().get_paginator("query").paginate(**params)


def iter_registrations(event_id: str, consistent: bool = False) -> Iterator[dict[str, Any]]:
    """Every registration item of an event, by Query on its partition, all pages.

    Order: by sort key (the random registration id), i.e. no meaningful order.
    """
    for page in _registration_pages(event_id, consistent=consistent):
        for raw in page["Items"]:
            yield deserialize(raw)


def waitlist_position(event_id: str, ticket: int) -> int:
    """1 + the number of still-waitlisted registrations with a lower ticket (consistent Query)."""
    pages = _registration_pages(event_id, consistent=True, waitlisted_before=ticket, count_only=True)
    return 1 + sum(page["Count"] for page in pages)


def record_notification(
    event_id: str,
    registration_id: str,
    change: str,
    state: str,
    *,
    expect: tuple[str, ...],
    at: datetime,
    message_id: str | None = None,
    reason: str | None = None,
    stale_before: datetime | None = None,
) -> bool:
    """Move the email state of one change (``registered``, ``promoted``, ``cancelled``) on a registration.

    The write happens only if the change's current state is one of ``expect``
    (or, when ``stale_before`` is given, a ``sending`` claim older than it).
    Sets ``notifications.<change>`` to ``{state, at, message_id?, reason?}`` and
    mirrors it in ``email_state``/``email_message_id``/``email_error``.
    Returns ``False`` when the condition did not hold (another delivery got there first).
    """
    entry: dict[str, Any] = {"state": state, "at": at.isoformat()}
    if message_id:
        entry["message_id"] = message_id
    if reason:
        entry["reason"] = reason[:500]
    names = {"#n": "notifications", "#c": change, "#s": "state"}
    values: dict[str, Any] = {":entry": _serializer.serialize(entry), ":state": {"S": state}}
    expect_names = []
    for i, expected in enumerate(expect):
        values[f":e{i}"] = {"S": expected}
        expect_names.append(f":e{i}")
    condition = f"#n.#c.#s IN ({', '.join(expect_names)})"
    if stale_before is not None:
        values[":sending"] = {"S": "sending"}
        values[":stale"] = {"S": stale_before.isoformat()}
        names["#a"] = "at"
        condition = f"({condition}) OR (#n.#c.#s = :sending AND #n.#c.#a < :stale)"
    update = "SET #n.#c = :entry, email_state = :state"
    if message_id:
        update += ", email_message_id = :mid"
        values[":mid"] = {"S": message_id}
    if reason:
        update += ", email_error = :why"
        values[":why"] = {"S": reason[:500]}
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=serialize({"pk": event_pk(event_id), "sk": registration_sk(registration_id)}),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ---------------------------------------------------------------- lifecycle transitions


def waitlisted_items(event_id: str) -> list[dict[str, Any]]:
    """The event's waitlisted registrations in queue order (lowest ``waitlist_ticket`` first), read consistently."""
    items = [deserialize(i) for page in _registration_pages(event_id, consistent=True, waitlisted_before=0)
             for i in page["Items"]]
    return sorted(items, key=lambda i: (int(i.get("waitlist_ticket", 0)), i["registered_at"]))


def _status_change(item: dict[str, Any], new_status: str, change: str, at: str, extra: dict[str, Any] | None = None) -> dict:
    """An Update of a registration from its current status to ``new_status``, guarded by that status."""
    values = {
        ":old": {"S": item["status"]},
        ":new": {"S": new_status},
        ":at": {"S": at},
        ":pending": _serializer.serialize({"state": "pending", "at": at}),
    }
    sets = ["#s = :new", "status_changed_at = :at", "#n.#c = :pending", "email_state = :pendingstate"]
    values[":pendingstate"] = {"S": "pending"}
    for i, (name, value) in enumerate((extra or {}).items()):
        sets.append(f"{name} = :x{i}")
        values[f":x{i}"] = _serializer.serialize(value)
    return {
        "Update": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": item["sk"]}),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#s = :old",
            "ExpressionAttributeNames": {"#s": "status", "#n": "notifications", "#c": change},
            "ExpressionAttributeValues": values,
        }
    }


def _event_update(event_id: str, update: str, condition: str | None, values: dict[str, Any]) -> dict:
    op: dict[str, Any] = {
        "TableName": _table(),
        "Key": serialize({"pk": event_pk(event_id), "sk": EVENT_SK}),
        "UpdateExpression": update,
        "ExpressionAttributeValues": values,
    }
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def _guard_delete(item: dict[str, Any]) -> dict:
    return {
        "Delete": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": guard_sk(item["email"])}),
            "ConditionExpression": "attribute_not_exists(pk) OR for_registration = :r",
            "ExpressionAttributeValues": {":r": {"S": item["registration_id"]}},
        }
    }


def _transact(items: list[dict]) -> None:
    try:
        _ddb().transact_write_items(TransactItems=items)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "TransactionConflictException" or (
            code == "TransactionCanceledException" and _retryable(_cancellation_codes(error))
        ):
            raise Conflict(",".join(_cancellation_codes(error)) or code) from None
        raise


def _release_seat_ops(item: dict[str, Any], at: str, head: dict[str, Any] | None, also_add: str = "") -> list[dict]:
    """The writes that free what ``item`` held, for a transaction that ends it (cancel or erase).

    A waitlisted registration leaves the queue (``waitlisted_count - 1``). A
    confirmed one hands its seat to ``head`` (the first waitlisted registration,
    promoted on condition that it is still waitlisted and the event is not over
    capacity) or, with no ``head``, gives the seat back (``seats_taken - 1``, on
    condition that nobody waits, or the event is over capacity after a lowered
    capacity). ``also_add`` is one more ``ADD`` clause for the event item, e.g.
    ``erased_count :one``.
    """
    extra = f", {also_add}" if also_add else ""
    if item["status"] == "waitlisted":
        update, condition = "ADD waitlisted_count :minus" + extra, "waitlisted_count > :zero"
    elif item["status"] == "confirmed" and head is not None:
        update = "ADD waitlisted_count :minus" + extra
        condition = "waitlisted_count > :zero AND (attribute_not_exists(seat_capacity) OR seats_taken <= seat_capacity)"
    elif item["status"] == "confirmed":
        update = "ADD seats_taken :minus" + extra
        condition = "seats_taken >= :one AND (waitlisted_count = :zero OR seats_taken > seat_capacity)"
    elif also_add:
        update, condition = "ADD " + also_add, "attribute_exists(pk)"
    else:
        return []
    text = update + " " + condition
    values = {k: v for k, v in {":minus": {"N": "-1"}, ":zero": {"N": "0"}, ":one": {"N": "1"}}.items() if k in text}
    ops = [_event_update(item["event_id"], update, condition, values)]
    if item["status"] == "confirmed" and head is not None:
        ops.insert(0, _status_change(head, "confirmed", "promoted", at, {"promoted_at": at}))
    return ops


def cancel_transition(item: dict[str, Any], at: str, by: str, head: dict[str, Any] | None) -> None:
    """Cancel one registration in one transaction, freeing its seat or its waitlist place.

    ``item`` is the registration as read (``status`` ``confirmed`` or
    ``waitlisted``); the write is conditional on that status, so a second cancel
    or a concurrent one changes nothing. The address guard is deleted, so the
    person may register again. The seat or place is released as
    :func:`_release_seat_ops` describes (``head``: the first waitlisted registration, or ``None``).

    Raises :class:`Conflict` when any condition failed: read again and retry.
    """
    ops = [_status_change(item, "cancelled", "cancelled", at, {"cancelled_by": by}), _guard_delete(item)]
    _transact(ops + _release_seat_ops(item, at, head))


#: What erasing removes from a registration item: the person's data, and the email details (an SES
#: error can quote the address; without ``notifications`` no pending email can still be claimed and sent).
ERASED_ATTRIBUTES = ("name", "email", "answers", "notifications", "email_state", "email_error",
                     "email_message_id", "consent_at")


def erase_transition(item: dict[str, Any], at: str, head: dict[str, Any] | None, *, delete_guard: bool) -> int:
    """Erase a registrant's data (GDPR) in one transaction; returns how many items changed.

    The registration keeps its key and becomes ``status: erased`` without
    :data:`ERASED_ATTRIBUTES` (conditional on the status and address read); its
    seat or waitlist place is released as by a cancellation; the event counts
    ``erased_count``; with ``delete_guard`` the address guard goes too.
    Raises :class:`Conflict` when anything changed since ``item`` was read.
    """
    names = {"#s": "status", "#e": "email", **{f"#p{i}": a for i, a in enumerate(ERASED_ATTRIBUTES)}}
    remove = ", ".join(f"#p{i}" for i in range(len(ERASED_ATTRIBUTES)))
    ops: list[dict] = [{
        "Update": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": item["sk"]}),
            "UpdateExpression": f"SET #s = :erased, erased_at = :now, status_changed_at = :now REMOVE {remove}",
            "ConditionExpression": "#s = :old AND #e = :email",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(
                {":erased": "erased", ":now": at, ":old": item["status"], ":email": item["email"]}
            ),
        }
    }]
    if delete_guard:
        ops.append({"Delete": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": guard_sk(item["email"])}),
            "ConditionExpression": "attribute_exists(pk)",
        }})
    ops += _release_seat_ops(item, at, head, also_add="erased_count :one")
    _transact(ops)
    return len(ops)


def promote_transition(head: dict[str, Any], at: str) -> None:
    """Give a free seat to the first waitlisted registration ``head`` (one transaction).

    Conditional on ``head`` still being waitlisted and a seat being free
    (``seats_taken < seat_capacity``). Raises :class:`Conflict` otherwise.
    """
    _transact([
        _status_change(head, "confirmed", "promoted", at, {"promoted_at": at}),
        _event_update(
            head["event_id"], "ADD seats_taken :one, waitlisted_count :minus",
            "waitlisted_count > :zero AND (attribute_not_exists(seat_capacity) OR seats_taken < seat_capacity)",
            {":one": {"N": "1"}, ":minus": {"N": "-1"}, ":zero": {"N": "0"}},
        ),
    ])
