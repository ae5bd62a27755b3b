"""The check-in writes (README, "Check-in at the door"): find a registration by its code, check in, undo.

Each is one conditional transaction on the registration and the event's check-in counter item;
see "Writes" in :mod:`chalicelib.checkin`'s docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, errors, store
from chalicelib.checkin.codes import NotForEvent, ParsedCode, UnknownCode, code_matches, event_tag, parse_code
from chalicelib.events import Event
from chalicelib.settings import get_settings

#: Sort key of an event's check-in counter item (kept in ``chalicelib.store.keys``: erasure lowers it too).
CHECKINS_SK = store.CHECKINS_SK
#: The answers of a scan or a typed code (README, "Check-in at the door").
OUTCOMES = ("checked_in", "already_checked_in", "cancelled", "waitlisted", "erased", "not_for_event",
            "unknown_code", "undone", "not_checked_in")
#: Tries of a check-in transaction that DynamoDB cancelled for a conflicting write on the same items.
WRITE_ATTEMPTS = 8


class Busy(errors.Busy):
    """A check-in transaction was cancelled by conflicting writes :data:`WRITE_ATTEMPTS` times
    (503 ``checkin-busy``, ``Retry-After: 1``)."""

    CODE = "checkin-busy"


@dataclass(frozen=True)
class Person:
    """What the door may know of a registration: never more (README, "Check-in at the door").

    ``checked_in_at`` is aware UTC or ``None``; ``organisation`` is the answer to the event's
    ``organisation`` question, if it has one.
    """

    registration_id: str
    status: str
    name: str
    organisation: str | None
    checked_in_at: datetime | None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Person:
        """The door's view of a registration item (plain values)."""
        answers = item.get("answers") or {}
        organisation = answers.get("organisation")
        return cls(
            registration_id=str(item.get("registration_id", "")),
            status=str(item.get("status", "")),
            name=str(item.get("name") or ""),
            organisation=str(organisation) if isinstance(organisation, str) and organisation else None,
            checked_in_at=_instant(item.get("checked_in_at")),
        )


@dataclass(frozen=True)
class Result:
    """What a scan, a typed code, a staff check-in or an undo came to.

    ``outcome`` is one of :data:`OUTCOMES`; ``person`` is ``None`` when no registration was found
    (``not_for_event``, ``unknown_code``); ``changed`` says whether this call wrote anything.
    """

    outcome: str
    person: Person | None = None
    changed: bool = False


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    instant = datetime.fromisoformat(str(value))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def ddb() -> Any:
    """The DynamoDB client (``chalicelib.aws``: made on first use, never at import)."""
    return aws.client("dynamodb")


def table() -> str:
    """The registrations table's name, read at call time (``TABLE_NAME``)."""
    return get_settings().table_name


def find_registration(event_id: str, text: str | None) -> dict[str, Any]:
    """The registration item (plain values) a scanned or typed code names in ``event_id``.

    A code carrying this event's tag: one consistent Query on the event's partition,
    ``begins_with(sk, "REG#<id prefix>")``: one item (more only if two ids share the prefix; the
    signature tells them apart). The tag is not signed, so a code is only called another event's
    when it is one: a code not found here is looked for in the events whose id gives its tag
    (:func:`_events_tagged`, a Query of the catalogue) with the same Query, and verified there.
    A typo anywhere (the tag too) or a made-up code is therefore unknown, never "not for this event".

    Raises :class:`UnknownCode` (not a code, a forged or mistyped one, or a retired key) and
    :class:`NotForEvent` (a genuine code of another event).
    """
    parsed = parse_code(text)
    if parsed is None:
        raise UnknownCode("not a check-in code")
    if parsed.tag == event_tag(event_id):
        item = _registration_with_code(event_id, parsed)
        if item is not None:
            return item
    for other in _events_tagged(parsed.tag):
        if other != event_id and _registration_with_code(other, parsed) is not None:
            raise NotForEvent(event_id)
    raise UnknownCode("no registration of any event has this code")


def _registration_with_code(event_id: str, parsed: ParsedCode) -> dict[str, Any] | None:
    """The registration of ``event_id`` that ``parsed`` was signed for, or ``None`` (one consistent Query)."""
    answer = ddb().query(
        TableName=table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": store.event_pk(event_id)},
                                   ":prefix": {"S": store.registration_sk(parsed.id_prefix)}},
        ConsistentRead=True,
    )
    for raw in answer["Items"]:
        item = store.deserialize(raw)
        if code_matches(parsed, str(item.get("registration_id", ""))):
            return item
    return None


def _events_tagged(tag: int) -> list[str]:
    """The ids of the service's events whose codes start with ``tag`` (``event_tag``): the catalogue
    (``store.catalogue_entries``, one Query, README "Storage"). Most tags name no event, a few one."""
    return [event_id for entry in store.catalogue_entries()
            if event_tag(event_id := str(entry["event_id"])) == tag]


def _outcome_of(item: dict[str, Any] | None) -> Result:
    """Why a check-in's condition failed, from the item as it was (``None``: it is gone)."""
    if item is None:
        return Result("unknown_code")
    person = Person.from_item(item)
    if person.status == "confirmed":
        return Result("already_checked_in", person)
    if person.status in ("cancelled", "waitlisted", "erased"):
        return Result(person.status, person)
    return Result("unknown_code", person)


def _counter_update(event_id: str, amount: int, expires_at: Any) -> dict[str, Any]:
    values: dict[str, Any] = {":n": {"N": str(amount)}, ":type": {"S": "checkins"}, ":e": {"S": event_id}}
    update = "ADD checked_in_count :n SET #type = :type, event_id = :e"
    if expires_at is not None:  # the registration's own expiry: the counter goes with the event's items
        update += ", #x = if_not_exists(#x, :x)"
        values[":x"] = {"N": str(int(expires_at))}
    return {"Update": {
        "TableName": table(),
        "Key": {"pk": {"S": store.event_pk(event_id)}, "sk": {"S": CHECKINS_SK}},
        "UpdateExpression": update,
        "ExpressionAttributeNames": {"#type": "type",
                                     **({"#x": store.TTL_ATTRIBUTE} if expires_at is not None else {})},
        "ExpressionAttributeValues": values,
    }}


@errors.retried(WRITE_ATTEMPTS, max_wait=0.5)
def _transact(ops: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Run a check-in transaction; ``None`` when done, else the registration item as the refused
    condition saw it (``{}`` when it did not exist). Tried again on a conflict; raises :class:`Busy`
    after :data:`WRITE_ATTEMPTS` conflicts (another transaction was writing one of the items)."""
    try:
        ddb().transact_write_items(TransactItems=ops)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
        first = reasons[0] if reasons else {}
        if first.get("Code") == "ConditionalCheckFailed":
            old = first.get("Item")
            return store.deserialize(old) if old else {}
        if any(r.get("Code") in ("TransactionConflict", "ThrottlingError") for r in reasons):
            raise Busy("check-in conflicted with other writes") from None
        raise
    return None


def _registration_and_count(item: dict[str, Any], amount: int, *, update: str, condition: str,
                            names: dict[str, str] | None = None,
                            values: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """One check-in transaction: ``update`` on ``item``'s registration on condition ``condition``
    (names and values in typed JSON), and ``amount`` added to the event's check-in count.
    Answers and raises as :func:`_transact`."""
    event_id, registration_id = str(item["event_id"]), str(item["registration_id"])
    registration: dict[str, Any] = {
        "TableName": table(),
        "Key": {"pk": {"S": store.event_pk(event_id)}, "sk": {"S": store.registration_sk(registration_id)}},
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if names:
        registration["ExpressionAttributeNames"] = names
    if values:
        registration["ExpressionAttributeValues"] = values
    return _transact([{"Update": registration}, _counter_update(event_id, amount, item.get(store.TTL_ATTRIBUTE))])


def check_in_item(item: dict[str, Any], now: datetime, *, via: str = "door") -> Result:
    """Check in a registration (an item from :func:`find_registration` or the table): one transaction.

    Conditional on ``status = confirmed`` and no ``checked_in_at``; ``via`` (``door`` or
    ``staff``) is recorded as ``checked_in_via``. Returns ``checked_in`` (this call wrote it),
    or why not: ``already_checked_in`` (with the first time), ``cancelled``, ``waitlisted``,
    ``erased``. Raises :class:`Busy`.
    """
    stamp = now.astimezone(UTC).isoformat()
    refused = _registration_and_count(
        item, 1,
        update="SET checked_in_at = :at, checked_in_via = :via",
        condition="#s = :confirmed AND attribute_not_exists(checked_in_at)",
        names={"#s": "status"},
        values={":at": {"S": stamp}, ":via": {"S": via}, ":confirmed": {"S": "confirmed"}},
    )
    if refused is None:
        return Result("checked_in", Person.from_item({**item, "checked_in_at": stamp}), changed=True)
    return _outcome_of(refused or None)


def undo_item(item: dict[str, Any]) -> Result:
    """Take back a check-in (a mistake at the door): one transaction, on condition that ``checked_in_at``
    exists and the registration is ``confirmed`` (only those are on the door's count: a cancellation
    took a cancelled one's off, and its check-in stays as history).

    Returns ``undone``, or why not (``person`` as it is now): ``not_checked_in`` (nothing to take back),
    ``cancelled``, ``erased``. Raises :class:`Busy`.
    """
    refused = _registration_and_count(item, -1, update="REMOVE checked_in_at, checked_in_via",
                                      condition="attribute_exists(checked_in_at) AND #s = :confirmed",
                                      names={"#s": "status"}, values={":confirmed": {"S": "confirmed"}})
    if refused is None:
        return Result("undone", Person.from_item({**item, "checked_in_at": None}), changed=True)
    if not refused:
        return Result("not_checked_in")
    person = Person.from_item(refused)
    if person.status in ("cancelled", "erased"):
        return Result(person.status, person)
    return Result("not_checked_in", person)


def _by_code(event_id: str, text: str | None, write: Callable[[dict[str, Any]], Result]) -> Result:
    """``write`` the registration a code names; ``not_for_event`` and ``unknown_code`` as results."""
    try:
        item = find_registration(event_id, text)
    except NotForEvent:
        return Result("not_for_event")
    except UnknownCode:
        return Result("unknown_code")
    return write(item)


def check_in_code(event_id: str, text: str | None, now: datetime) -> Result:
    """Check in the registration a scanned or typed code names (the door page's scan).

    ``not_for_event`` and ``unknown_code`` come back as results, not errors. Raises :class:`Busy`.
    """
    return _by_code(event_id, text, lambda item: check_in_item(item, now))


def undo_code(event_id: str, text: str | None) -> Result:
    """Take back the check-in of the registration a code names (the door page's undo). Raises :class:`Busy`."""
    return _by_code(event_id, text, undo_item)


def check_in_registration(event_id: str, registration_id: str, now: datetime, *, undo: bool = False) -> Result:
    """Staff check-in (or ``undo``) by registration id (``python -m staff registrations checkin``).

    Raises ``store.RegistrationNotFound`` and :class:`Busy`.
    """
    item = store.get_registration_in_event(event_id, registration_id)
    return undo_item(item) if undo else check_in_item(item, now, via="staff")


# ------------------------------------------------------------------ the door's figures and search


def early(event: Event, instant: datetime) -> bool:
    """Whether a check-in at ``instant`` (aware) came before the event's day: its date in the event's zone is
    before the start's (README, "Check-in at the door": checked in early, allowed and said)."""
    return instant.astimezone(event.zone).date() < event.starts_at.date()


def local_time(event: Event, instant: datetime, language: str) -> str:
    """``"14:03"``: an instant as a time of day in the event's zone (Babel), for "already checked in at 14:03"."""
    from babel.dates import format_time

    return format_time(instant.astimezone(event.zone), "HH:mm", locale=language)
