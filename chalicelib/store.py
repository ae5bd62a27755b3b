"""DynamoDB persistence: one table, its keys and every conditional write.

Table design (README, "Storage"):

=================  ===========================  ==============================================
item               partition key ``pk``         sort key ``sk``
=================  ===========================  ==============================================
event              ``EVENT#<event_id>``         ``#EVENT`` (the definition, JSON)
event counters     ``EVENT#<event_id>``         ``#COUNTERS`` (capacity, window, seat and waitlist counts)
waitlist bucket    ``EVENT#<event_id>``         ``WAITLIST#<bucket number, 8 digits>``
event catalogue    ``EVENTS``                   ``<event_id>``
registration       ``EVENT#<event_id>``         ``REG#<registration_id>``
address guard      ``EVENT#<event_id>``         ``EMAIL#<sha256 of the address key>``
quiet guard        ``EVENT#<event_id>``         ``QUIET#<sha256 of the address key>``
message lookup     ``MSG#<SES message id>``     ``#MESSAGE`` (which registration's email it was)
=================  ===========================  ==============================================

The global secondary index ``by-registration`` (partition key
``registration_id``, only registration items carry it) finds a registration from
the id in a link. Registrations, guards and waitlist buckets carry ``expires_at``
(epoch seconds, the table's TTL attribute).

The counters item is small (about 200 bytes) and is the one item every
registration changes; the 2-3 KB definition is read rarely and cached per
function instance for :data:`DEFINITION_MAX_AGE` seconds. That is safe because
everything a registration must respect is on the counters item and checked by the
write's condition: ``seat_capacity`` (absent: unlimited), ``waitlist`` (whether
the event has one), ``opens_at``/``closes_at`` (the registration window, epoch
seconds; ``opens_at`` 0 when it opens at once), ``waitlist_closes_at`` (no
promotion from then on) and ``ends_at`` (no cancellation from then on). Its counts: ``seats_taken`` (confirmed registrations),
``waitlisted_count``, ``erased_count``, ``waitlist_seq`` (the last waitlist ticket
handed out) and, per waitlist bucket ``b`` that has someone waiting, ``w<b>``: how
many wait in it.

Waitlist tickets come from an atomic ``ADD`` on ``waitlist_seq`` (no read, no
compare): tickets order the queue; a ticket whose write then fails leaves a gap,
which is harmless because positions count the tickets of people still waiting.
Ticket ``t`` belongs to bucket ``t // WAITLIST_BUCKET_SIZE``; the bucket's item
holds ``t<t> = <registration_id>`` for each ticket still waiting and
``waiting_count``, and is deleted when its last entry leaves, so the first
bucket item of the event is the head of the queue. A position is therefore
exact in one read of two small items: 1 + the ``w<b>`` of the buckets below
plus the entries below the ticket in its own bucket (:func:`waitlist_position`).

Every state change is a conditional write or a transaction; nothing is decided
by a read that a concurrent write could invalidate.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from email_validator import EmailNotValidError, validate_email
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from chalicelib import aws, schedules
from chalicelib.events import Event, parse_event
from chalicelib.settings import get_settings

EVENT_SK = "#EVENT"
COUNTERS_SK = "#COUNTERS"
WAITLIST_PREFIX = "WAITLIST#"
#: Partition of the event catalogue: one item per event (sort key: the event id), so events are
#: listed by Query, never by a Scan of every registration.
CATALOGUE_PK = "EVENTS"
REGISTRATION_PREFIX = "REG#"
GUARD_PREFIX = "EMAIL#"
QUIET_PREFIX = "QUIET#"
REGISTRATION_INDEX = "by-registration"
TTL_ATTRIBUTE = "expires_at"
#: Partition key prefix and sort key of a message lookup item: the SES message id of a sent email
#: finds its registration and notification with one GetItem (no Scan, no index).
MESSAGE_PREFIX = "MSG#"
MESSAGE_SK = "#MESSAGE"
#: On the event item: how many times its schedule (time, place) changed; on a registration: the
#: revision its registrant was last told (README, "Emails", event changes).
SCHEDULE_REVISION = "schedule_revision"
#: On the event item: every schedule it had, by revision (``chalicelib.schedules``).
SCHEDULES = "schedules"
#: On a registration: the ``SEQUENCE`` of its latest calendar message (RFC 5546; ``chalicelib.invites``).
INVITE_SEQUENCE = "invite_sequence"
#: Attempts of :func:`put_event` when another publish of the same event got there first.
PUT_EVENT_ATTEMPTS = 10

#: Waitlist tickets per bucket. A bucket item holds at most this many entries of about 30 bytes
#: (under 2 KB), and the counters item one ``w<b>`` per bucket that has someone waiting (about
#: 10 bytes each: 5,000 waiting keep it under 1 KB).
WAITLIST_BUCKET_SIZE = 50

#: Seconds a function instance keeps an event definition it read (:func:`event_definition`).
#: Window, capacity and waitlist are enforced by the conditions of the writes, so a definition
#: a few seconds old can only show an outdated text or question for that long.
DEFINITION_MAX_AGE = 5.0

#: Seconds a function instance remembers that an event was full (:func:`probably_full`), so the
#: next registrations go straight to the waitlist. Only a hint: the writes' conditions decide.
FULL_HINT_SECONDS = 5.0

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class StoreError(Exception):
    """Base of the persistence errors below."""


class EventNotFound(StoreError):
    """No event (definition or counters item) with this id."""


class RegistrationNotFound(StoreError):
    """No registration with this id."""


class AlreadyRegistered(StoreError):
    """The address guard for this event and address exists (409 already-registered)."""


class EventFull(StoreError):
    """No seat left (and, for a waitlist write, no waitlist); ``counters`` as the failed condition saw them."""

    def __init__(self, event_id: str, counters: "EventCounters | None" = None):
        super().__init__(event_id)
        self.counters = counters


class WindowClosed(StoreError):
    """The registration window was not open at the moment of the write; ``state`` is ``not_yet_open`` or ``closed``."""

    def __init__(self, state: str):
        super().__init__(state)
        self.state = state


class Conflict(StoreError):
    """A condition failed because something changed since it was read, or DynamoDB reported a conflict: retry.

    ``registration`` is the registration item as the failed condition saw it and
    ``counters`` the event's counters (both plain values, when DynamoDB returned
    them), so a retry need not read them again.
    """

    def __init__(self, message: str, *, registration: dict[str, Any] | None = None,
                 counters: "EventCounters | None" = None):
        super().__init__(message)
        self.registration = registration
        self.counters = counters


class SeatFree(Conflict):
    """A waitlist write found a free seat (the event is not full any more): register for the seat instead."""


class EventOver(StoreError):
    """The event has ended (``ends_at`` on the counters item): a cancellation changes nothing any more."""


class LegacyEventItem(StoreError):
    """The event item still holds the seat counters of the first release's table layout.

    The counters now live in their own item (README, "Storage"); such a table is
    not migrated automatically.
    """


def event_pk(event_id: str) -> str:
    """Partition key of an event and all its items."""
    return f"EVENT#{event_id}"


def registration_sk(registration_id: str) -> str:
    """Sort key of a registration item."""
    return f"{REGISTRATION_PREFIX}{registration_id}"


def waitlist_bucket(ticket: int) -> int:
    """The bucket of a waitlist ticket: ``ticket // WAITLIST_BUCKET_SIZE``."""
    return int(ticket) // WAITLIST_BUCKET_SIZE


def waitlist_bucket_sk(bucket: int) -> str:
    """Sort key of a waitlist bucket item: ``WAITLIST#`` and the bucket number in 8 digits (so they sort)."""
    return f"{WAITLIST_PREFIX}{bucket:08d}"


def email_key(email: str) -> str:
    """The comparison form of an address: one mailbox, one key.

    The part before the ``@`` is casefolded (PRODUCT.md compares addresses
    case-insensitively); the domain is taken in its IDNA ASCII form, lower case,
    as email-validator computes it, so ``user@éxample.org`` and
    ``user@xn--xample-9ua.org`` are the same mailbox. An ASCII domain is only
    lower-cased (what email-validator makes of it too, without the cost of a
    second validation); an address email-validator refuses is only casefolded.
    """
    email = email.strip()
    local_part, at, domain = email.rpartition("@")
    if not at:
        return email.casefold()
    if not domain.isascii():
        try:
            domain = validate_email(email, check_deliverability=False).ascii_domain
        except EmailNotValidError:
            pass
    return f"{local_part.casefold()}@{domain.lower()}"


def address_hash(email: str) -> str:
    """SHA-256 (hex) of :func:`email_key`: one mailbox, one value, however it is spelled.

    The address guard's key and the suppression marker (``email_suppressed.address``,
    README "Emails") hold it instead of the address.
    """
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def guard_sk(email: str) -> str:
    """Sort key of the "this address is registered for this event" guard.

    The address is hashed (:func:`address_hash`) so no address appears in a key.
    """
    return GUARD_PREFIX + address_hash(email)


def quiet_guard_sk(email: str) -> str:
    """Sort key of the quiet guard a honeypot post leaves (``chalicelib.antispam``): the same hash."""
    return QUIET_PREFIX + guard_sk(email)[len(GUARD_PREFIX):]


def _exists(key: dict[str, Any]) -> dict[str, Any] | None:
    answer = _ddb().get_item(TableName=_table(), Key=serialize(key), ConsistentRead=True)
    return deserialize(answer["Item"]) if "Item" in answer else None


def put_quiet_guard(event_id: str, email: str, *, now: int, expires_at: int) -> None:
    """Remember a honeypot post's address for this event until ``expires_at`` (epoch seconds).

    Raises :class:`AlreadyRegistered` (a person's post would get 409) when the address
    guard of a registration exists (a consistent read: it only chooses the answer to a
    bot) or a quiet guard is live; else Puts the quiet guard on condition that none is
    live (absent, or ``expires_at`` not after ``now``: DynamoDB's TTL deletes late).
    """
    pk = event_pk(event_id)
    if _exists({"pk": pk, "sk": guard_sk(email)}) is not None:
        raise AlreadyRegistered(event_id)
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
    quiet = _exists({"pk": pk, "sk": quiet_guard_sk(email)})
    return quiet is not None and int(quiet.get(TTL_ATTRIBUTE, 0)) > now


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item (str, int, bool, list, dict, None) in DynamoDB's typed JSON."""
    return {k: _serializer.serialize(v) for k, v in item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB typed JSON to plain values; whole numbers come back as ``int``."""
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    return _plain_numbers(plain)


def _plain_numbers(value: Any) -> Any:
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


def _epoch(instant: datetime) -> dict[str, str]:
    """An aware instant as a DynamoDB number: epoch seconds, to the microsecond."""
    return {"N": f"{instant.timestamp():.6f}"}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _indexed(item: dict[str, Any], prefix: str) -> dict[int, Any]:
    """``{n: value}`` for the attributes named ``<prefix><digits>`` (``w3``, ``t151``) of a plain item."""
    found = {}
    for name, value in item.items():
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            found[int(name[len(prefix):])] = value
    return found


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class EventCounters:
    """An event's counters item as plain values (README, "Storage").

    ``seat_capacity`` ``None`` means unlimited; ``opens_at``/``closes_at`` are epoch
    seconds (``opens_at`` 0: open from the start); ``waitlist_closes_at`` and ``ends_at``
    too (``None`` on an item written before they existed: no cutoff, no end); ``waiting``
    maps a waitlist bucket to how many wait in it (buckets with nobody waiting are absent).
    """

    event_id: str
    seat_capacity: int | None
    seats_taken: int = 0
    waitlisted_count: int = 0
    erased_count: int = 0
    waitlist_seq: int = 0
    waitlist: bool = False
    opens_at: float = 0
    closes_at: float | None = None
    waitlist_closes_at: float | None = None
    ends_at: float | None = None
    waiting: dict[int, int] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "EventCounters":
        """The counters from a plain counters item."""
        capacity = item.get("seat_capacity")
        return cls(
            event_id=str(item.get("event_id", "")),
            seat_capacity=None if capacity is None else int(capacity),
            seats_taken=int(item.get("seats_taken", 0)),
            waitlisted_count=int(item.get("waitlisted_count", 0)),
            erased_count=int(item.get("erased_count", 0)),
            waitlist_seq=int(item.get("waitlist_seq", 0)),
            waitlist=bool(item.get("waitlist", False)),
            opens_at=item.get("opens_at", 0),
            closes_at=item.get("closes_at"),
            waitlist_closes_at=item.get("waitlist_closes_at"),
            ends_at=item.get("ends_at"),
            waiting={bucket: int(count) for bucket, count in _indexed(item, "w").items()},
        )

    @property
    def seats_left(self) -> int | None:
        """Free seats (never below 0); ``None`` for an unlimited event."""
        if self.seat_capacity is None:
            return None
        return max(0, self.seat_capacity - self.seats_taken)

    @property
    def full(self) -> bool:
        """No seat free (a limited event with ``seats_taken >= seat_capacity``)."""
        return self.seat_capacity is not None and self.seats_taken >= self.seat_capacity

    @property
    def over_capacity(self) -> bool:
        """More confirmed than seats (after a capacity decrease): a freed seat is given back, not passed on."""
        return self.seat_capacity is not None and self.seats_taken > self.seat_capacity

    def window_state(self, instant: datetime) -> str:
        """``not_yet_open``, ``open`` or ``closed`` at ``instant`` (aware), as the writes' conditions judge it."""
        now = instant.timestamp()
        if now < float(self.opens_at):
            return "not_yet_open"
        if self.closes_at is not None and now >= float(self.closes_at):
            return "closed"
        return "open"

    def promotions_closed(self, instant: datetime) -> bool:
        """Whether the waitlist cutoff has passed at ``instant`` (aware), as the writes' conditions judge it."""
        return self.waitlist_closes_at is not None and instant.timestamp() >= float(self.waitlist_closes_at)

    def waitlist_open(self, instant: datetime) -> bool:
        """Whether a full event takes registrants on its waitlist at ``instant``: it has one and the cutoff has not passed."""
        return self.waitlist and not self.promotions_closed(instant)

    def over(self, instant: datetime) -> bool:
        """Whether the event has ended at ``instant`` (aware), as a cancellation's condition judges it."""
        return self.ends_at is not None and instant.timestamp() >= float(self.ends_at)

    def waiting_before(self, bucket: int) -> int:
        """How many wait in the buckets below ``bucket``."""
        return sum(count for b, count in self.waiting.items() if b < bucket)


_definitions: dict[str, tuple[float, Event]] = {}
#: The ``schedule_revision`` of each definition this process read last (README, "Emails", event changes).
_revisions: dict[str, int] = {}
_full_until: dict[str, float] = {}


def reset_caches() -> None:
    """Forget every cached definition and full-event hint of this process (tests start afresh)."""
    _definitions.clear()
    _revisions.clear()
    _full_until.clear()


def _remember(event: Event, revision: int = 0) -> Event:
    _definitions[event.id] = (time.monotonic() + DEFINITION_MAX_AGE, event)
    _revisions[event.id] = revision
    return event


def _remember_item(item: dict[str, Any]) -> Event:
    """Parse and keep an event item's definition with its schedule revision."""
    return _remember(event_from_item(item), int(item.get(SCHEDULE_REVISION, 0)))


def _cached(event_id: str, min_revision: int = 0) -> Event | None:
    found = _definitions.get(event_id)
    if found is not None and found[0] > time.monotonic() and _revisions.get(event_id, 0) >= min_revision:
        return found[1]
    return None


def known_schedule_revision(event_id: str) -> int:
    """The ``schedule_revision`` of the definition this process last read for ``event_id`` (0 if none).

    A new registration records it (``schedule_revision`` on its item): the schedule it was
    shown, at most :data:`DEFINITION_MAX_AGE` seconds old.
    """
    return _revisions.get(event_id, 0)


def remember_full(event_id: str) -> None:
    """Note that ``event_id`` was found full, for :data:`FULL_HINT_SECONDS`."""
    _full_until[event_id] = time.monotonic() + FULL_HINT_SECONDS


def forget_full(event_id: str) -> None:
    """Drop the full-event hint (a seat was found free)."""
    _full_until.pop(event_id, None)


def probably_full(event_id: str) -> bool:
    """Whether this instance saw ``event_id`` full in the last :data:`FULL_HINT_SECONDS` (a hint only)."""
    return _full_until.get(event_id, 0.0) > time.monotonic()


@dataclass(frozen=True)
class Published:
    """What :func:`put_event` stored: the event's ``schedule_revision`` now, and what changed to reach it.

    ``changed`` is ``("time",)``, ``("place",)``, both, or ``()`` (a new event, or the same schedule).
    """

    revision: int
    changed: tuple[str, ...] = ()


def put_event(event: Event) -> Published:
    """Create or update an event: its definition, its counters item and its catalogue entry (one transaction).

    The event must first render into every email, invite and page
    (``chalicelib.publishing.check_renders``, which raises
    ``chalicelib.events.EventFileError``; nothing is written then). The counts are
    kept; ``seat_capacity`` is replaced (removed for an unlimited event), and so are
    ``waitlist``, the window (``opens_at`` 0 when the event has no opening time), the
    waitlist cutoff and the end. Lowering the capacity below ``seats_taken``
    leaves the confirmed registrations confirmed and the event full until seats
    free up. The catalogue entry carries ``due_<job>`` for each of
    ``Event.scheduled_times`` (epoch seconds; removed when the event has no such job),
    ``reminders`` (the event's reminder offsets now: ``due_reminder_<offset>`` of a reminder
    no longer in it is ignored) and ``schedule_revision`` (below), and keeps the
    ``done_<job>`` marks of the scheduled function (``chalicelib.jobs``).
    When the schedule (time or place, ``chalicelib.schedules``) differs from
    the stored one, ``schedule_revision`` goes up by one and the new schedule joins
    ``schedules``; the transaction is conditional on the definition read, so two
    publishes at once never lose a revision (the later one reads again, tenacity's
    ``Retrying``). Telling the registrations is ``chalicelib.lifecycle.announce_schedule``'s work.
    Raises :class:`LegacyEventItem` for an event item of the first release's layout
    (counters inside the event item) and, past :data:`PUT_EVENT_ATTEMPTS`, :class:`Conflict`.
    """
    from chalicelib.publishing import check_renders  # lazy: the emails and pages are not needed to register

    check_renders(event)
    for attempt in Retrying(retry=retry_if_exception_type(Conflict), stop=stop_after_attempt(PUT_EVENT_ATTEMPTS),
                            wait=wait_random_exponential(multiplier=0.01, max=0.25), reraise=True):
        with attempt:
            return _put_event_once(event)
    raise AssertionError("unreachable: tenacity returns or raises")


def _put_event_once(event: Event) -> Published:
    table = _table()
    pk = event_pk(event.id)
    try:
        old = get_event_item(event.id, consistent=True)
    except EventNotFound:
        old = None
    if old is not None and "seats_taken" in old:
        raise LegacyEventItem(
            f"event {event.id}: its item holds the seat counters of the first release's layout; "
            "see README, 'Storage'")
    schedule = schedules.schedule_of(event)
    history: dict[str, Any] = dict((old or {}).get(SCHEDULES) or {})
    revision = int((old or {}).get(SCHEDULE_REVISION, 0))
    changed: tuple[str, ...] = ()
    if old is not None:
        before = history.get(str(revision)) or schedules.schedule_of(event_from_item(old))
        history.setdefault(str(revision), before)  # an event stored before revisions were kept
        changed = schedules.changes(before, schedule)
        if changed:
            revision += 1
    history[str(revision)] = schedule
    values: dict[str, Any] = {
        ":type": {"S": "counters"},
        ":e": {"S": event.id},
        ":zero": {"N": "0"},
        ":w": {"BOOL": event.waitlist},
        ":closes": _epoch(event.utc(event.closes_at_local)),
        ":wcloses": _epoch(event.utc(event.waitlist_closes_local)),
        ":ends": _epoch(event.utc(event.ends_at)),
    }
    sets = [
        "#type = :type", "event_id = :e", "waitlist = :w", "closes_at = :closes",
        "waitlist_closes_at = :wcloses", "ends_at = :ends",
        "seats_taken = if_not_exists(seats_taken, :zero)",
        "waitlisted_count = if_not_exists(waitlisted_count, :zero)",
        "erased_count = if_not_exists(erased_count, :zero)",
        "waitlist_seq = if_not_exists(waitlist_seq, :zero)",
    ]
    removes = []
    if event.capacity is None:
        removes.append("seat_capacity")
    else:
        sets.append("seat_capacity = :c")
        values[":c"] = {"N": str(event.capacity)}
    sets.append("opens_at = :opens")
    values[":opens"] = {"N": "0"} if event.registration_opens_at is None else _epoch(event.utc(event.registration_opens_at))
    counters_update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    catalogue_names = {"#type": "type"}
    catalogue_values: dict[str, Any] = {":type": {"S": "catalogue"}, ":e": {"S": event.id}}
    catalogue_sets, catalogue_removes = ["#type = :type", "event_id = :e"], []
    for i, (job, due) in enumerate(sorted(event.scheduled_times().items())):
        catalogue_names[f"#due{i}"] = f"due_{job}"
        if due is None:
            catalogue_removes.append(f"#due{i}")
        else:
            catalogue_sets.append(f"#due{i} = :due{i}")
            catalogue_values[f":due{i}"] = {"N": str(int(due.timestamp()))}
    # The reminders the event has now: a due_reminder_<offset> left by an earlier definition is ignored.
    catalogue_sets.append("reminders = :reminders")
    catalogue_values[":reminders"] = _serializer.serialize(list(event.reminders))
    # The schedule's revision: a reminder tells whether the registrant's calendar entry is behind it.
    catalogue_names["#rev"] = SCHEDULE_REVISION
    catalogue_sets.append("#rev = :rev")
    catalogue_values[":rev"] = {"N": str(revision)}
    catalogue_update = "SET " + ", ".join(catalogue_sets) + (
        " REMOVE " + ", ".join(catalogue_removes) if catalogue_removes else "")
    event_values: dict[str, Any] = {
        ":d": {"S": event.model_dump_json()}, ":type": {"S": "event"}, ":e": {"S": event.id},
        ":rev": {"N": str(revision)}, ":hist": _serializer.serialize(history),
    }
    if old is None:
        condition = "attribute_not_exists(pk)"
    else:  # the definition as read: a publish in between makes this one read again
        condition = "attribute_not_exists(seats_taken) AND #d = :old"
        event_values[":old"] = {"S": old["definition"]}
    try:
        _ddb().transact_write_items(TransactItems=[
            {"Update": {
                "TableName": table,
                "Key": _key(pk, EVENT_SK),
                "UpdateExpression": "SET #d = :d, #type = :type, event_id = :e, #rev = :rev, #hist = :hist",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#d": "definition", "#type": "type", "#rev": SCHEDULE_REVISION,
                                             "#hist": SCHEDULES},
                "ExpressionAttributeValues": event_values,
            }},
            {"Update": {
                "TableName": table,
                "Key": _key(pk, COUNTERS_SK),
                "UpdateExpression": counters_update,
                "ExpressionAttributeNames": {"#type": "type"},
                "ExpressionAttributeValues": values,
            }},
            {"Update": {  # an Update, not a Put: the scheduled function's done marks stay
                "TableName": table,
                "Key": _key(CATALOGUE_PK, event.id),
                "UpdateExpression": catalogue_update,
                "ExpressionAttributeNames": catalogue_names,
                "ExpressionAttributeValues": catalogue_values,
            }},
        ])
    except ClientError as error:
        codes = _cancellation_codes(error)
        if error.response["Error"]["Code"] == "TransactionConflictException" or (codes and _retryable(codes)):
            raise Conflict("the event changed while it was published; read again") from None
        raise
    _definitions.pop(event.id, None)
    _revisions[event.id] = revision
    forget_full(event.id)
    return Published(revision, changed)


def get_event_item(event_id: str, consistent: bool = False) -> dict[str, Any]:
    """The event item (the definition) as plain values, ``definition`` still JSON text.

    Raises :class:`EventNotFound`.
    """
    answer = _ddb().get_item(TableName=_table(), Key=_key(event_pk(event_id), EVENT_SK), ConsistentRead=consistent)
    if "Item" not in answer:
        raise EventNotFound(event_id)
    return deserialize(answer["Item"])


def event_from_item(item: dict[str, Any]) -> Event:
    """The :class:`Event` stored in an event item."""
    return parse_event(json.loads(item["definition"]), f"table item {item['pk']}", stored=True)


def event_definition(event_id: str, min_revision: int = 0) -> Event:
    """The event's definition, read at most once per :data:`DEFINITION_MAX_AGE` seconds per process.

    ``min_revision``: a kept definition older than this ``schedule_revision`` is read again,
    consistently (an email must show at least the schedule its registration was told).
    Raises :class:`EventNotFound`.
    """
    cached = _cached(event_id, min_revision)
    if cached is not None:
        return cached
    return _remember_item(get_event_item(event_id, consistent=min_revision > 0))


def get_counters(event_id: str, consistent: bool = False) -> EventCounters:
    """The event's counters item (one GetItem). Raises :class:`EventNotFound`."""
    answer = _ddb().get_item(TableName=_table(), Key=_key(event_pk(event_id), COUNTERS_SK), ConsistentRead=consistent)
    if "Item" not in answer:
        raise EventNotFound(event_id)
    return EventCounters.from_item(deserialize(answer["Item"]))


def get_event(event_id: str) -> tuple[Event, EventCounters]:
    """``(event, counters)`` in one call: the counters (and the definition, unless cached), read consistently.

    Raises :class:`EventNotFound`.
    """
    event = _cached(event_id)
    if event is not None:
        return event, get_counters(event_id, consistent=True)
    pk = event_pk(event_id)
    found = _batch_get([_key(pk, EVENT_SK), _key(pk, COUNTERS_SK)])
    definition, counters = found.get((pk, EVENT_SK)), found.get((pk, COUNTERS_SK))
    if definition is None or counters is None:
        raise EventNotFound(event_id)
    return _remember_item(definition), EventCounters.from_item(counters)


class _Unprocessed(Exception):
    """A BatchGetItem answer left keys unprocessed (throttling): ask again for those."""


def _batch_get(keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Consistent BatchGetItem of a few keys of the table: ``{(pk, sk): plain item}`` for those that exist.

    Unlike TransactGetItems, a BatchGetItem is never refused because a transaction
    is writing one of the items (the counters item is written all the time in a rush).
    Keys DynamoDB leaves unprocessed are asked for again, with backoff, a few times.
    """
    table = _table()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    pending = keys
    for attempt in Retrying(retry=retry_if_exception_type(_Unprocessed), stop=stop_after_attempt(5),
                            wait=wait_random_exponential(multiplier=0.02, max=0.5), reraise=True):
        with attempt:
            answer = _ddb().batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
            for raw in answer.get("Responses", {}).get(table, []):
                item = deserialize(raw)
                found[(item["pk"], item["sk"])] = item
            pending = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if pending:
                raise _Unprocessed(f"{len(pending)} keys unprocessed")
    return found


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


def catalogue_entries() -> Iterator[dict[str, Any]]:
    """Every catalogue item (plain values): ``event_id``, ``due_<job>`` and ``done_<job>`` (epoch seconds).

    A Query of the catalogue partition, all pages (no Scan; no event definition is read).
    """
    for page in _ddb().get_paginator("query").paginate(
        TableName=_table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": CATALOGUE_PK}},
        ConsistentRead=True,
    ):
        for raw in page["Items"]:
            yield deserialize(raw)


def mark_job_done(event_id: str, job: str, due: int) -> bool:
    """Record on the event's catalogue item that ``job`` ran for its due time ``due`` (epoch seconds).

    Conditional: the entry is still due at ``due`` (the definition was not published again
    with another time meanwhile) and not yet marked for it. Removes the job's
    ``cursor_<job>`` (:func:`save_job_cursor`) in the same write. Returns ``False`` when the
    condition failed (another run marked it, or the due time moved).
    """
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=_key(CATALOGUE_PK, event_id),
            UpdateExpression="SET #done = :due REMOVE #cursor",
            ConditionExpression="#due = :due AND (attribute_not_exists(#done) OR #done <> :due)",
            ExpressionAttributeNames={"#due": f"due_{job}", "#done": f"done_{job}", "#cursor": f"cursor_{job}"},
            ExpressionAttributeValues={":due": {"N": str(int(due))}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def save_job_cursor(event_id: str, job: str, due: int, sort_key: str) -> bool:
    """Remember where a cut-short run of ``job`` stopped: ``cursor_<job>`` ``{due, sk}`` on the catalogue item.

    ``sort_key`` is the last registration item (``REG#<id>``) the run dealt with; the next run
    for the same ``due`` (epoch seconds) reads on after it (:func:`reminder_candidates`).
    Conditional on the job still being due at ``due``; returns ``False`` when it is not.
    """
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=_key(CATALOGUE_PK, event_id),
            UpdateExpression="SET #cursor = :cursor",
            ConditionExpression="#due = :due",
            ExpressionAttributeNames={"#due": f"due_{job}", "#cursor": f"cursor_{job}"},
            ExpressionAttributeValues={":due": {"N": str(int(due))},
                                       ":cursor": _serializer.serialize({"due": int(due), "sk": sort_key})},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def reminded_attribute(job: str) -> str:
    """The registration attribute recording the due time (epoch seconds) a reminder ``job`` was asked for."""
    return f"{job}_due"


def reminder_candidates(event_id: str, job: str, due: int, *, registered_before: datetime,
                        after: str | None = None) -> Iterator[str]:
    """Sort keys (``REG#<id>``) of the registrations a reminder ``job`` due at ``due`` is still for.

    A consistent Query of the event's registration items, all pages, from after the sort key
    ``after`` (a cursor, :func:`save_job_cursor`) when given, filtered by DynamoDB to those that
    are ``confirmed``, registered before ``registered_before`` (aware) and not yet asked for this
    reminder at ``due`` (:func:`reminded_attribute`); only their sort keys travel. The filter
    is a read-time hint: :func:`ask_reminder`'s condition decides.
    """
    query: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :reg)",
        "FilterExpression": ("#s = :confirmed AND registered_at < :cut AND attribute_exists(email) "
                             "AND (attribute_not_exists(#r) OR #r <> :due)"),
        "ProjectionExpression": "sk",
        "ExpressionAttributeNames": {"#s": "status", "#r": reminded_attribute(job)},
        "ExpressionAttributeValues": {
            ":pk": {"S": event_pk(event_id)}, ":reg": {"S": REGISTRATION_PREFIX},
            ":confirmed": {"S": "confirmed"}, ":cut": {"S": registered_before.isoformat()},
            ":due": {"N": str(int(due))},
        },
        "ConsistentRead": True,
    }
    if after:
        query["ExclusiveStartKey"] = _key(event_pk(event_id), after)
    while True:
        page = _ddb().query(**query)
        for raw in page["Items"]:
            yield raw["sk"]["S"]
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def ask_reminder(event_id: str, sort_key: str, job: str, due: int, *, at: datetime,
                 registered_before: datetime, revision: int = 0) -> bool:
    """Ask for a reminder email: ``notifications.<job>`` ``pending`` on one registration, once per ``due``.

    A conditional UpdateItem: the registration is ``confirmed``, has an address, registered
    before ``registered_before`` (aware) and was not asked for this reminder at ``due`` (epoch
    seconds) yet; it sets ``notifications.<job>`` ``{state: pending, at, due, revision}``,
    ``email_state`` ``pending`` (the stream filter's mark, ``chalicelib.streamfilter``) and
    :func:`reminded_attribute` to ``due``. So a run repeated, or two at once, ask once; an
    event moved to another time asks again for its new time.

    The reminder carries the calendar entry again with the registration's :data:`INVITE_SEQUENCE`
    (the ``SEQUENCE`` of its last calendar message; 0 when a first-release item has none): the
    same entry, so calendars change nothing. Only when the event's schedule changed since that
    message (its ``schedule_revision`` is below ``revision``, the event's now) does the same write
    add one to :data:`INVITE_SEQUENCE` (conditional on the values read), so the reminder's entry
    replaces the older one (RFC 5546: the higher SEQUENCE wins); the ``updated`` email that
    ``lifecycle.announce_schedule`` sends then comes with a higher one still. Delivery takes the
    SEQUENCE from the stream record's image (``delivery.calendar_sequence``).
    Returns ``False`` when the conditions did not hold. One UpdateItem; two when the schedule changed.
    """
    names = {"#n": "notifications", "#c": job, "#s": "status", "#r": reminded_attribute(job),
             "#sr": SCHEDULE_REVISION, "#q": INVITE_SEQUENCE}
    entry = _serializer.serialize({"state": "pending", "at": at.isoformat(), "due": int(due), "revision": int(revision)})
    base = ("#s = :confirmed AND attribute_exists(#n) AND attribute_exists(email) "
            "AND registered_at < :cut AND (attribute_not_exists(#r) OR #r <> :due)")
    seen: dict[str, Any] | None = None  # the registration as a failed condition saw it
    for _ in range(REMINDER_ASK_ATTEMPTS):
        values: dict[str, Any] = {
            ":entry": entry, ":pending": {"S": "pending"}, ":confirmed": {"S": "confirmed"},
            ":due": {"N": str(int(due))}, ":cut": {"S": registered_before.isoformat()},
        }
        behind = seen is not None and int(seen.get(SCHEDULE_REVISION, 0)) < revision
        if not behind:  # told the event's schedule now (as far as we know): the same SEQUENCE
            values.update({":rev": {"N": str(int(revision))}, ":zero": {"N": "0"}})
            told = "#sr >= :rev" if revision else "(attribute_not_exists(#sr) OR #sr >= :rev)"
            update = "SET #n.#c = :entry, email_state = :pending, #r = :due, #q = if_not_exists(#q, :zero)"
            condition = f"{base} AND {told}"
        else:  # the calendar entry is behind: one more than the SEQUENCE read, on condition it is still that
            assert seen is not None
            conditions = [base]
            for name, attribute in (("#sr", SCHEDULE_REVISION), ("#q", INVITE_SEQUENCE)):
                if attribute in seen:
                    values[f":seen{name[1:]}"] = {"N": str(int(seen[attribute]))}
                    conditions.append(f"{name} = :seen{name[1:]}")
                else:
                    conditions.append(f"attribute_not_exists({name})")
            values[":seq"] = {"N": str(int(seen.get(INVITE_SEQUENCE, 0)) + 1)}
            update = "SET #n.#c = :entry, email_state = :pending, #r = :due, #q = :seq"
            condition = " AND ".join(conditions)
        try:
            _ddb().update_item(
                TableName=_table(),
                Key=_key(event_pk(event_id), sort_key),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            now_seen = deserialize(error.response.get("Item") or {})
        if not now_seen:
            return False
        calendar = (int(now_seen.get(SCHEDULE_REVISION, 0)), now_seen.get(INVITE_SEQUENCE))
        if (not behind and calendar[0] >= revision) or (
                behind and seen is not None and calendar == (int(seen.get(SCHEDULE_REVISION, 0)), seen.get(INVITE_SEQUENCE))):
            return False  # the calendar part held: the registration is not one to remind (or was reminded)
        seen = now_seen
    return False


#: Writes :func:`ask_reminder` tries when the registration's calendar entry changed under it (each
#: failure means an event change was announced to it meanwhile): a count, never a duration.
REMINDER_ASK_ATTEMPTS = 3


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


def add_notification(event_id: str, registration_id: str, change: str, *, at: datetime, status: str) -> bool:
    """Ask for an email of ``change`` to a registration: ``notifications.<change>`` ``pending``, once.

    One conditional UpdateItem: the registration still has ``status`` and has no entry for
    ``change`` yet, so the email is asked for at most once however often this runs. Sets
    ``email_state`` ``pending`` too, which lets the stream record through to ``DeliverEmails``
    (``chalicelib.streamfilter``); ``chalicelib.delivery.change_of`` reads the new entry as the
    change. Returns ``False`` when the condition did not hold.
    """
    stamp = at.isoformat()
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=_key(event_pk(event_id), registration_sk(registration_id)),
            UpdateExpression="SET #n.#c = :entry, email_state = :pending",
            ConditionExpression="#s = :status AND attribute_exists(#n) AND attribute_not_exists(#n.#c)",
            ExpressionAttributeNames={"#n": "notifications", "#c": change, "#s": "status"},
            ExpressionAttributeValues={":entry": _serializer.serialize({"state": "pending", "at": stamp}),
                                       ":pending": {"S": "pending"}, ":status": {"S": status}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ---------------------------------------------------------------- registrations


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def _cancellation_items(error: ClientError) -> list[dict[str, Any] | None]:
    """The item each operation's failed condition saw (``ReturnValuesOnConditionCheckFailure``), as plain values."""
    reasons = error.response.get("CancellationReasons") or []
    return [deserialize(r["Item"]) if r.get("Item") else None for r in reasons]


def _retryable(codes: list[str]) -> bool:
    """Whether a cancelled transaction failed only on conditions or conflicts (read again and retry).

    Any other reason (a validation error, an item too large) would fail again the same way.
    """
    return bool(codes) and all(c in ("None", "ConditionalCheckFailed", "TransactionConflict") for c in codes)


#: The registration window at ``:now``, on the counters item (false when the item does not exist).
_WINDOW = "opens_at <= :now AND closes_at > :now"
#: The event takes registrants on its waitlist at ``:now`` (``:true``): it has one, and its cutoff
#: has not passed (after it nobody would be promoted; README, "Seats, waitlist and cancellation").
_WAITLIST_OPEN = "waitlist = :true AND (attribute_not_exists(waitlist_closes_at) OR waitlist_closes_at > :now)"
#: Promotions are still possible at ``:now``: the waitlist cutoff has not passed.
_PROMOTIONS_OPEN = "(attribute_not_exists(waitlist_closes_at) OR waitlist_closes_at > :now)"
#: The event has not ended at ``:now``: a cancellation still means something.
_NOT_OVER = "(attribute_not_exists(ends_at) OR ends_at > :now)"


def _refused(event_id: str, old: dict[str, Any] | None, now: datetime) -> EventCounters:
    """The counters a failed registration condition saw; raises :class:`EventNotFound` or :class:`WindowClosed`."""
    if not old:
        raise EventNotFound(event_id)
    counters = EventCounters.from_item(old)
    state = counters.window_state(now)
    if state != "open":
        raise WindowClosed(state)
    return counters


def _waitlist_refusal(event_id: str, counters: EventCounters, now: datetime) -> StoreError:
    """Why a waitlist write's condition (window open, waitlist open, event full) failed, the window aside."""
    if not counters.full:
        return SeatFree("a seat is free", counters=counters)
    if not counters.waitlist_open(now):
        return EventFull(event_id, counters)
    return Conflict("counters changed", counters=counters)


def put_registration(item: dict[str, Any], *, now: datetime) -> None:
    """Write a new registration, its address guard and the event's counters in one transaction.

    ``item`` is the plain registration item, ``status`` ``confirmed`` or
    ``waitlisted``; ``now`` is the moment of the write (the window is judged at it,
    by the condition). For ``confirmed`` the counters' ``seats_taken`` grows by one
    on condition that a seat is free. For ``waitlisted`` the item carries the
    ``waitlist_ticket`` from :func:`take_waitlist_ticket`; the write adds the
    ticket to its bucket item and counts it (``waitlisted_count``, ``w<bucket>``)
    on condition that the event has a waitlist, its cutoff has not passed and it is still full.

    Raises :class:`AlreadyRegistered` (guard exists), :class:`WindowClosed`,
    :class:`EventFull` (no seat for a confirmed write; no waitlist, or one past its
    cutoff, for a waitlisted one; ``counters`` attached), :class:`SeatFree` (a waitlisted write while a seat
    is free), :class:`Conflict` (a DynamoDB transaction conflict: retry) and
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
            "ConditionExpression": f"{_WINDOW} AND (attribute_not_exists(seat_capacity) OR seats_taken < seat_capacity)",
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }})
    else:
        ticket = int(item["waitlist_ticket"])
        bucket = waitlist_bucket(ticket)
        ops.append({"Update": {
            "TableName": table,
            "Key": _key(pk, COUNTERS_SK),
            "UpdateExpression": "ADD waitlisted_count :one, #w :one",
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
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise AlreadyRegistered(item["event_id"]) from None
        if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
            counters = _refused(item["event_id"], _cancellation_items(error)[2], now)
            if item["status"] == "confirmed":
                raise EventFull(item["event_id"], counters) from None
            raise _waitlist_refusal(item["event_id"], counters, now) from None
        if _retryable(codes):
            raise Conflict(",".join(codes)) from None
        raise


def take_waitlist_ticket(event_id: str, now: datetime) -> tuple[int, int]:
    """Hand out the next waitlist ticket: an atomic ``ADD`` on ``waitlist_seq``; ``(ticket, waiting)``.

    One UpdateItem, no read and no compare: concurrent registrants get distinct
    tickets in the order DynamoDB applies the writes. Conditional on the window
    being open at ``now``, the event having a waitlist whose cutoff has not passed
    and being full, so no ticket is taken while a seat is free. ``waiting`` is ``waitlisted_count`` at
    that moment: everyone then waiting holds a lower ticket, so ``waiting + 1`` is
    the new registrant's position at the moment of the ticket.
    Raises :class:`SeatFree`, :class:`EventFull` (no waitlist, or past its cutoff), :class:`WindowClosed`,
    :class:`EventNotFound` and :class:`Conflict` (a transaction was writing the counters: retry).
    """
    try:
        answer = _ddb().update_item(
            TableName=_table(),
            Key=_key(event_pk(event_id), COUNTERS_SK),
            UpdateExpression="ADD waitlist_seq :one",
            ConditionExpression=f"{_WINDOW} AND {_WAITLIST_OPEN} AND seats_taken >= seat_capacity",
            ExpressionAttributeValues={":one": {"N": "1"}, ":now": _epoch(now), ":true": {"BOOL": True}},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "TransactionConflictException":
            raise Conflict(code) from None
        if code != "ConditionalCheckFailedException":
            raise
        old = error.response.get("Item")
        counters = _refused(event_id, deserialize(old) if old else None, now)
        raise _waitlist_refusal(event_id, counters, now) from None
    after = deserialize(answer["Attributes"])
    return int(after["waitlist_seq"]), int(after["waitlisted_count"])


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
    email: str | None = None,
    sequence: int | None = None,
) -> bool:
    """Move the email state of one change (``registered``, ``promoted``, ``cancelled``, ``updated``,
    ``waitlist_closed``) on a registration.

    The write happens only if the change's current state is one of ``expect``
    (or, when ``stale_before`` is given, a ``sending`` claim older than it); when
    ``email`` is given, if the registration's address is still ``email``; and, when
    ``sequence`` is given, if the entry is still the one of that ``sequence`` (an
    ``updated`` entry is replaced by the next event change: an older stream record
    then claims nothing).
    Sets ``notifications.<change>`` to ``{state, at, message_id?, reason?, sequence?}`` and
    mirrors it in ``email_state``/``email_message_id``/``email_error``.
    Returns ``False`` when the condition did not hold (another delivery got there first).
    """
    entry: dict[str, Any] = {"state": state, "at": at.isoformat()}
    if message_id:
        entry["message_id"] = message_id
    if reason:
        entry["reason"] = reason[:500]
    if sequence is not None:
        entry["sequence"] = int(sequence)
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
    if email is not None:
        values[":email"] = {"S": email}
        condition = f"({condition}) AND email = :email"
    if sequence is not None:
        names["#q"] = "sequence"
        values[":q"] = {"N": str(int(sequence))}
        condition = f"({condition}) AND #n.#c.#q = :q"
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


# ---------------------------------------------------------------- email claims, outcomes and corrections
#
# A notification entry ``notifications.<change>`` (README, "Emails") is
# ``{state, at, message_id?, reason?, feedback?}``: ``state`` follows the send
# (``pending`` -> ``sending`` -> ``sent`` | ``failed`` | ``suppressed``), and ``feedback`` is what
# SES reported afterwards (``chalicelib.feedback``). The registration mirrors its latest email in
# ``email_state``, ``email_message_id`` and ``email_outcome``, and an address that must not be
# mailed again in ``email_suppressed``.


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim_notification`: ``claimed``, else the registration as the failed condition saw it.

    ``current`` is ``None`` when the claim succeeded or the item no longer exists.
    """

    claimed: bool
    current: dict[str, Any] | None = None


def claim_notification(event_id: str, registration_id: str, change: str, *, at: datetime,
                       stale_before: datetime, email: str, sequence: int | None = None) -> Claim:
    """Claim a pending email for sending (``pending`` -> ``sending``), one conditional UpdateItem.

    Conditional on the change's state being ``pending`` (or a ``sending`` claim older than
    ``stale_before``: the sender died), on ``email`` still being the registration's address
    (the stream image the caller holds may predate a staff correction), and on the address not
    being suppressed (``email_suppressed.address`` is not :func:`address_hash` of ``email``)
    and, when ``sequence`` is given, on the entry still being the one of that ``sequence``
    (kept in the claim; an ``updated`` entry replaced by a later event change is not claimed).
    On failure the item as the condition saw it comes back in :attr:`Claim.current`, so the
    caller can tell "already handled" from "address changed" or "suppressed" without a read.
    """
    entry: dict[str, Any] = {"state": "sending", "at": at.isoformat()}
    names = {"#n": "notifications", "#c": change, "#s": "state", "#a": "at", "#addr": "address"}
    values: dict[str, Any] = {
        ":sending": {"S": "sending"}, ":pending": {"S": "pending"},
        ":stale": {"S": stale_before.isoformat()}, ":email": {"S": email}, ":address": {"S": address_hash(email)},
    }
    condition = ("(#n.#c.#s = :pending OR (#n.#c.#s = :sending AND #n.#c.#a < :stale)) "
                 "AND email = :email AND (attribute_not_exists(email_suppressed) OR email_suppressed.#addr <> :address)")
    if sequence is not None:
        entry["sequence"] = int(sequence)
        names["#q"] = "sequence"
        values[":q"] = {"N": str(int(sequence))}
        condition += " AND #n.#c.#q = :q"
    values[":entry"] = _serializer.serialize(entry)
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=_key(event_pk(event_id), registration_sk(registration_id)),
            UpdateExpression="SET #n.#c = :entry, email_state = :sending",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            old = error.response.get("Item")
            return Claim(False, deserialize(old) if old else None)
        raise
    return Claim(True)


def message_key(message_id: str) -> dict[str, Any]:
    """The key of the message lookup item of an SES message id (typed JSON)."""
    return _key(f"{MESSAGE_PREFIX}{message_id}", MESSAGE_SK)


#: Attempts of the ``sent`` transaction when another write to the registration conflicts with it
#: (a cancellation at that moment): a count, never a duration. The email is already sent, so
#: giving up would leave a stale claim and, later, the same email a second time.
SENT_ATTEMPTS = 10


def record_sent(event_id: str, registration_id: str, change: str, *, at: datetime, message_id: str,
                expires_at: int, sequence: int | None = None) -> bool:
    """Record that SES accepted the email of ``change``, and how to find it again, in one transaction.

    Updates the notification ``sending`` -> ``{state: sent, at, message_id}`` (mirrored in
    ``email_state``, ``email_message_id``; ``email_outcome`` is removed: the new email has
    none yet), and Puts the message lookup item ``MSG#<message_id>`` / ``#MESSAGE`` with
    ``event_id``, ``for_registration``, ``notification`` (the change) and the registration's
    TTL ``expires_at`` (epoch seconds), so the SES events of this message find their
    notification with one GetItem (:func:`find_message`). Returns ``False`` when the
    notification was no longer ``sending``, or, with ``sequence``, no longer the entry of that
    ``sequence`` (kept in the ``sent`` entry; nothing written). A transaction conflict is tried
    again, :data:`SENT_ATTEMPTS` times in all, then raises :class:`Conflict`.
    """
    entry: dict[str, Any] = {"state": "sent", "at": at.isoformat(), "message_id": message_id}
    names = {"#n": "notifications", "#c": change, "#s": "state"}
    values: dict[str, Any] = {":sent": {"S": "sent"}, ":mid": {"S": message_id}, ":sending": {"S": "sending"}}
    condition = "#n.#c.#s = :sending"
    if sequence is not None:
        entry["sequence"] = int(sequence)
        names["#q"] = "sequence"
        values[":q"] = {"N": str(int(sequence))}
        condition += " AND #n.#c.#q = :q"
    values[":entry"] = _serializer.serialize(entry)
    # ``for_registration``, not ``registration_id``: only registration items may carry that attribute,
    # the partition key of the ``by-registration`` index.
    lookup = {"pk": f"{MESSAGE_PREFIX}{message_id}", "sk": MESSAGE_SK, "type": "message", "event_id": event_id,
              "for_registration": registration_id, "notification": change, "sent_at": at.isoformat(),
              TTL_ATTRIBUTE: int(expires_at)}
    operations = [
        {"Update": {
            "TableName": _table(),
            "Key": _key(event_pk(event_id), registration_sk(registration_id)),
            "UpdateExpression": "SET #n.#c = :entry, email_state = :sent, email_message_id = :mid REMOVE email_outcome",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }},
        {"Put": {"TableName": _table(), "Item": serialize(lookup), "ConditionExpression": "attribute_not_exists(pk)"}},
    ]
    for attempt in Retrying(retry=retry_if_exception_type(Conflict), stop=stop_after_attempt(SENT_ATTEMPTS),
                            wait=wait_random_exponential(multiplier=0.02, max=0.5), reraise=True):
        with attempt:
            try:
                _ddb().transact_write_items(TransactItems=operations)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                codes = _cancellation_codes(error)
                if code == "TransactionCanceledException" and codes[:1] == ["ConditionalCheckFailed"]:
                    return False
                if code == "TransactionConflictException" or (code == "TransactionCanceledException"
                                                              and "TransactionConflict" in codes):
                    raise Conflict(",".join(codes) or code) from None
                raise
    return True


def find_message(message_id: str) -> dict[str, Any] | None:
    """The message lookup item of an SES message id (one consistent GetItem), or ``None``."""
    answer = _ddb().get_item(TableName=_table(), Key=message_key(message_id), ConsistentRead=True)
    return deserialize(answer["Item"]) if "Item" in answer else None


def record_feedback(event_id: str, registration_id: str, change: str, message_id: str, feedback: dict[str, Any],
                    *, suppress: dict[str, Any] | None = None) -> str:
    """Record what SES reported about one sent email on its notification, exactly once, in any order.

    ``feedback`` is ``{outcome, rank, at, ...details}`` (``chalicelib.feedback.Outcome``). The
    write (UpdateItem, conditional) sets ``notifications.<change>.feedback`` only if the
    notification still holds ``message_id`` (a resend replaced it: the event is stale) and
    its recorded feedback has a lower ``rank`` (so a duplicate, or a lower-ranked event
    arriving late, changes nothing: the precedence is enforced in the condition). When
    the message is the registration's latest email (``email_message_id``) the same write
    mirrors the outcome in ``email_outcome``; otherwise a second write records it on the
    notification alone. ``suppress`` (``{reason, at, address, notification}``, for a
    permanent bounce or a complaint) is set as ``email_suppressed``.

    Returns ``"recorded"``, ``"recorded-older"`` (not the latest email: no mirror),
    ``"stale"`` (the notification or the registration no longer holds this message) or
    ``"superseded"`` (a duplicate, or an outcome of equal or higher rank is recorded).
    """
    key = _key(event_pk(event_id), registration_sk(registration_id))
    names = {"#n": "notifications", "#c": change, "#f": "feedback", "#r": "rank", "#m": "message_id"}
    values: dict[str, Any] = {":fb": _serializer.serialize(feedback), ":mid": {"S": message_id},
                              ":rank": {"N": str(int(feedback["rank"]))}}
    condition = "#n.#c.#m = :mid AND (attribute_not_exists(#n.#c.#f) OR #n.#c.#f.#r < :rank)"
    sets = ["#n.#c.#f = :fb"]
    if suppress is not None:
        sets.append("email_suppressed = :sup")
        values[":sup"] = _serializer.serialize(suppress)
    for latest in (True, False):
        update_names, update_values = dict(names), dict(values)
        update_sets, update_condition = list(sets), condition
        if latest:
            update_sets.append("email_outcome = :outcome")
            update_values[":outcome"] = {"S": str(feedback["outcome"])}
            update_condition += " AND email_message_id = :mid"
        try:
            _ddb().update_item(
                TableName=_table(), Key=key,
                UpdateExpression="SET " + ", ".join(update_sets),
                ConditionExpression=update_condition,
                ExpressionAttributeNames=update_names,
                ExpressionAttributeValues=update_values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = deserialize(error.response["Item"]) if error.response.get("Item") else {}
            entry = (old.get("notifications") or {}).get(change)
            if not isinstance(entry, dict) or entry.get("message_id") != message_id:
                return "stale"
            if int((entry.get("feedback") or {}).get("rank", 0)) >= int(feedback["rank"]):
                return "superseded"
            continue  # only email_message_id differs: an older email of this registration
        return "recorded" if latest else "recorded-older"
    return "superseded"  # the notification changed between the two writes


class NothingToResend(StoreError):
    """The registration has no email that could be sent again (none yet, one on its way, or erased)."""


class AddressSuppressed(StoreError):
    """The registration's address bounced permanently or complained; ``reason`` says which and when."""

    def __init__(self, registration_id: str, reason: str):
        super().__init__(reason)
        self.registration_id = registration_id
        self.reason = reason


class NotActive(StoreError):
    """The registration is not confirmed or waitlisted (``status`` says what it is)."""

    def __init__(self, registration_id: str, status: str):
        super().__init__(f"registration {registration_id} is {status}")
        self.status = status


def suppression_reason(item: dict[str, Any]) -> str | None:
    """Why the registration's current address may not be mailed (``email_suppressed``), or ``None``.

    The marker applies only to the address it was set for (its ``address`` hash): after a
    staff correction (:func:`change_email`) a marker of the old address no longer counts.
    """
    marker = item.get("email_suppressed")
    email = item.get("email")
    if not isinstance(marker, dict) or not email or marker.get("address") != address_hash(str(email)):
        return None
    return str(marker.get("reason") or "the address is suppressed")


def latest_notification(item: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(change, entry)`` of the registration's most recent notification (latest ``at``), or ``None``."""
    entries = [(str(entry.get("at", "")), change, entry)
               for change, entry in (item.get("notifications") or {}).items() if isinstance(entry, dict)]
    if not entries:
        return None
    _, change, entry = max(entries, key=lambda found: (found[0], found[1]))
    return change, entry


#: Attempts of a staff correction (resend, change of address) when the registration changed
#: between its read and its write: a count, never a duration.
CORRECTION_ATTEMPTS = 10


def _correction_attempts() -> Retrying:
    return Retrying(retry=retry_if_exception_type(Conflict), stop=stop_after_attempt(CORRECTION_ATTEMPTS),
                    wait=wait_random_exponential(multiplier=0.02, max=0.5), reraise=True)


def request_resend(event_id: str, registration_id: str, *, at: datetime) -> str:
    """Ask for the registration's latest email again: its notification back to ``pending``.

    Reads the registration (consistently), takes its latest notification
    (:func:`latest_notification`) and sets it to ``{state: pending, at, resent: n,
    previous: {message_id, outcome}, sequence?}`` (the entry's calendar ``SEQUENCE``, kept) with
    ``email_state`` ``pending``, on condition that
    nothing changed since the read (state, ``at``, address). The stream then feeds it to
    ``DeliverEmails`` like any new email (README, "Emails"): the same claim, retries and
    recipient check, to the address the registration has at that moment. Returns the change
    (``registered``, ``promoted``, ``cancelled``, ...). Raises :class:`RegistrationNotFound`,
    :class:`NothingToResend`, :class:`AddressSuppressed` (correct the address first) and,
    after :data:`CORRECTION_ATTEMPTS` conflicting writes, :class:`Conflict`.
    """
    for attempt in _correction_attempts():
        with attempt:
            item = get_registration_in_event(event_id, registration_id)
            found = latest_notification(item) if item.get("email") else None
            if found is None:
                raise NothingToResend(f"registration {registration_id} has no email to send again")
            change, entry = found
            if entry.get("state") in ("pending", "sending"):
                raise NothingToResend(f"the {change} email of registration {registration_id} is on its way")
            reason = suppression_reason(item)
            if reason:
                raise AddressSuppressed(registration_id, reason)
            previous = {k: v for k, v in (("message_id", entry.get("message_id")),
                                          ("outcome", (entry.get("feedback") or {}).get("outcome")),
                                          ("state", entry.get("state"))) if v}
            request = {"state": "pending", "at": at.isoformat(), "resent": int(entry.get("resent", 0)) + 1,
                       "previous": previous}
            if "sequence" in entry:  # the same calendar message again (README, "Emails")
                request["sequence"] = int(entry["sequence"])
            try:
                _ddb().update_item(
                    TableName=_table(),
                    Key=_key(event_pk(event_id), registration_sk(registration_id)),
                    UpdateExpression="SET #n.#c = :request, email_state = :pending",
                    ConditionExpression="#n.#c.#s = :state AND #n.#c.#a = :at AND email = :email",
                    ExpressionAttributeNames={"#n": "notifications", "#c": change, "#s": "state", "#a": "at"},
                    ExpressionAttributeValues={
                        ":request": _serializer.serialize(request), ":pending": {"S": "pending"},
                        ":state": {"S": str(entry.get("state"))}, ":at": {"S": str(entry.get("at"))},
                        ":email": {"S": str(item["email"])},
                    },
                )
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise Conflict("the registration changed; read again") from None
                raise
            return change
    raise AssertionError("unreachable: tenacity returns or raises")


def change_email(event_id: str, registration_id: str, new_email: str, *, at: datetime) -> str:
    """Correct a registration's address (staff), moving its address guard in the same transaction.

    The registration (``confirmed`` or ``waitlisted``) gets ``email = new_email`` and
    ``email_changed_at``; the mirrors of mail to the old address (``email_outcome``,
    ``email_message_id``, ``email_suppressed``) are removed, so the new address starts
    clean. The old address guard is deleted and a new one Put on condition that none
    exists: the same rule as registering (one registration per address and event, any
    case). A change that keeps the address key (only its case or the domain's spelling)
    leaves the guard as it is. Returns the old address. Raises
    :class:`RegistrationNotFound`, :class:`NotActive`, :class:`AlreadyRegistered` (the new
    address is taken) and, after :data:`CORRECTION_ATTEMPTS` conflicting writes, :class:`Conflict`.
    """
    for attempt in _correction_attempts():
        with attempt:
            item = get_registration_in_event(event_id, registration_id)
            if item.get("status") not in ("confirmed", "waitlisted") or not item.get("email"):
                raise NotActive(registration_id, str(item.get("status")))
            old = str(item["email"])
            registration = {"Update": {
                "TableName": _table(),
                "Key": _key(item["pk"], item["sk"]),
                "UpdateExpression": ("SET email = :new, email_changed_at = :at "
                                     "REMOVE email_outcome, email_message_id, email_suppressed"),
                "ConditionExpression": "email = :old AND #s = :status",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": serialize({":new": new_email, ":at": at.isoformat(), ":old": old,
                                                        ":status": item["status"]}),
            }}
            operations = [registration]
            if guard_sk(new_email) != guard_sk(old):
                operations.append(_guard_delete(item))
                operations.append({"Put": {
                    "TableName": _table(),
                    "Item": serialize({"pk": item["pk"], "sk": guard_sk(new_email), "type": "guard",
                                       "for_registration": registration_id,
                                       TTL_ATTRIBUTE: int(item[TTL_ATTRIBUTE])}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }})
            try:
                _ddb().transact_write_items(TransactItems=operations)
            except ClientError as error:
                codes = _cancellation_codes(error)
                if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
                    raise AlreadyRegistered(event_id) from None
                if error.response["Error"]["Code"] in ("TransactionCanceledException", "TransactionConflictException") \
                        and (not codes or _retryable(codes)):
                    raise Conflict(",".join(codes) or "conflict") from None
                raise
            return old
    raise AssertionError("unreachable: tenacity returns or raises")


# ---------------------------------------------------------------- lifecycle transitions


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


def _status_change(item: dict[str, Any], new_status: str, change: str, at: str, extra: dict[str, Any] | None = None) -> dict:
    """An Update of a registration from its current status to ``new_status``, guarded by that status.

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
            "ConditionExpression": "#s = :old",
            "ExpressionAttributeNames": {"#s": "status", "#n": "notifications", "#c": change, "#q": INVITE_SEQUENCE},
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _counters_update(event_id: str, adds: dict[str, int], removes: list[str], condition: str,
                     now: datetime | None = None) -> dict:
    """An Update of the counters item: ``ADD`` each of ``adds``, ``REMOVE`` each of ``removes``, on ``condition``.

    ``condition`` may use ``:zero``, ``:one`` and, given ``now`` (aware), ``:now`` (epoch seconds).
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    add_parts = []
    for i, (attribute, amount) in enumerate(adds.items()):
        names[f"#a{i}"] = attribute
        values[f":a{i}"] = {"N": str(amount)}
        add_parts.append(f"#a{i} :a{i}")
    remove_parts = []
    for i, attribute in enumerate(removes):
        names[f"#r{i}"] = attribute
        remove_parts.append(f"#r{i}")
    expression = " ".join(part for part in (
        "ADD " + ", ".join(add_parts) if add_parts else "",
        "REMOVE " + ", ".join(remove_parts) if remove_parts else "",
    ) if part)
    for placeholder, number in ((":zero", "0"), (":one", "1")):
        if placeholder in condition:
            values[placeholder] = {"N": number}
    if ":now" in condition:
        if now is None:
            raise ValueError("the condition uses :now: pass now")
        values[":now"] = _epoch(now)
    op: dict[str, Any] = {
        "TableName": _table(),
        "Key": _key(event_pk(event_id), COUNTERS_SK),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        op["ExpressionAttributeValues"] = values
    return {"Update": op}


def _leave_waitlist(event_id: str, entry: WaitlistEntry, adds: dict[str, int], removes: list[str]) -> dict:
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


def _head_as_item(event_id: str, head: WaitlistEntry) -> dict[str, Any]:
    return {"pk": event_pk(event_id), "sk": registration_sk(head.registration_id), "status": "waitlisted"}


def _release_ops(item: dict[str, Any], at: str, *, own: WaitlistEntry | None, head: WaitlistEntry | None,
                 extra_adds: dict[str, int] | None = None, before_end: bool = False) -> list[tuple[str, dict]]:
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
    ``(label, operation)`` pairs; the labels name the items in a :class:`Conflict`.
    """
    event_id = item["event_id"]
    now = datetime.fromisoformat(at)
    adds = dict(extra_adds or {})
    removes: list[str] = []
    ops: list[tuple[str, dict]] = []
    if item["status"] == "waitlisted":
        if own is None:
            raise Conflict("the registration waits but its waitlist entry is gone; read again")
        ops.append(("bucket", _leave_waitlist(event_id, own, adds, removes)))
        adds["waitlisted_count"] = -1
        condition = "waitlisted_count > :zero"
    elif item["status"] == "confirmed" and head is not None:
        ops.append(("head", _status_change(_head_as_item(event_id, head), "confirmed", "promoted", at,
                                           {"promoted_at": at})))
        ops.append(("bucket", _leave_waitlist(event_id, head, adds, removes)))
        adds["waitlisted_count"] = -1
        condition = ("waitlisted_count > :zero AND (attribute_not_exists(seat_capacity) OR seats_taken <= seat_capacity)"
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


def _transact(labelled: list[tuple[str, dict]]) -> None:
    """Run a lifecycle transaction; a failed condition or a conflict raises :class:`Conflict`.

    The conflict carries the registration (label ``registration``) and the
    counters as their failed conditions saw them.
    """
    try:
        _ddb().transact_write_items(TransactItems=[op for _, op in labelled])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        codes = _cancellation_codes(error)
        if code == "TransactionConflictException" or (code == "TransactionCanceledException" and _retryable(codes)):
            seen = {label: old for (label, _), old, why in zip(labelled, _cancellation_items(error), codes)
                    if why == "ConditionalCheckFailed"}
            counters = EventCounters.from_item(seen["counters"]) if seen.get("counters") else None
            raise Conflict(",".join(codes) or code, registration=seen.get("registration"), counters=counters) from None
        raise


def _guard_delete(item: dict[str, Any]) -> dict:
    return {
        "Delete": {
            "TableName": _table(),
            "Key": serialize({"pk": item["pk"], "sk": guard_sk(item["email"])}),
            "ConditionExpression": "attribute_not_exists(pk) OR for_registration = :r",
            "ExpressionAttributeValues": {":r": {"S": item["registration_id"]}},
        }
    }


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
    ``None``, which it must be once the waitlist cutoff has passed).

    Raises :class:`Conflict` when any condition failed (its ``counters`` tell
    whether the event is over or past its cutoff): read again and retry.
    """
    # cancelled_from: whether the registrant held a seat, so whether a calendar CANCEL is due (README, "Emails").
    ops = [("registration", _status_change(item, "cancelled", "cancelled", at,
                                           {"cancelled_by": by, "cancelled_from": item["status"]})),
           ("guard", _guard_delete(item))]
    _transact(ops + _release_ops(item, at, own=own, head=head, before_end=True))


#: What erasing removes from a registration item: the person's data, and the email details (an SES
#: error can quote the address; without ``notifications`` no pending email can still be claimed and sent).
ERASED_ATTRIBUTES = ("name", "email", "answers", "notifications", "email_state", "email_error",
                     "email_message_id", "consent_at", "email_outcome", "email_suppressed", "email_changed_at")


def erase_transition(item: dict[str, Any], at: str, *, own: WaitlistEntry | None = None,
                     head: WaitlistEntry | None = None, delete_guard: bool) -> int:
    """Erase a registrant's data (GDPR) in one transaction; returns how many items changed.

    The registration keeps its key and becomes ``status: erased`` without
    :data:`ERASED_ATTRIBUTES` (conditional on the status and address read); its
    seat or waitlist place is released as by a cancellation; the counters count
    ``erased_count``; with ``delete_guard`` the address guard goes too.
    Raises :class:`Conflict` when anything changed since ``item`` was read.
    """
    names = {"#s": "status", "#e": "email", **{f"#p{i}": a for i, a in enumerate(ERASED_ATTRIBUTES)}}
    remove = ", ".join(f"#p{i}" for i in range(len(ERASED_ATTRIBUTES)))
    ops: list[tuple[str, dict]] = [("registration", {
        "Update": {
            "TableName": _table(),
            "Key": _key(item["pk"], item["sk"]),
            "UpdateExpression": f"SET #s = :erased, erased_at = :now, status_changed_at = :now REMOVE {remove}",
            "ConditionExpression": "#s = :old AND #e = :email",
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
    ops += _release_ops(item, at, own=own, head=head, extra_adds={"erased_count": 1})
    _transact(ops)
    return len(ops)


def promote_transition(event_id: str, head: WaitlistEntry, at: str) -> None:
    """Give a free seat to the first in the waitlist, ``head`` (one transaction).

    Conditional on ``head`` still waiting, a seat being free
    (``seats_taken < seat_capacity``) and the waitlist cutoff not having passed at
    ``at``. Raises :class:`EventFull` when no seat is free or the cutoff has passed
    (nobody is promoted then) and :class:`Conflict` when anything else changed.
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
    except Conflict as conflict:
        if conflict.counters is not None and (conflict.counters.full or conflict.counters.promotions_closed(now)):
            raise EventFull(event_id, conflict.counters) from None
        raise


def event_schedules(event_id: str) -> tuple[int, dict[str, dict[str, str]]]:
    """``(schedule_revision, schedules)`` of the event item, read consistently: the revision now and
    every schedule by revision (``chalicelib.schedules``). Raises :class:`EventNotFound`."""
    item = get_event_item(event_id, consistent=True)
    return int(item.get(SCHEDULE_REVISION, 0)), dict(item.get(SCHEDULES) or {})


def mark_schedule_change(item: dict[str, Any], revision: int, entry: dict[str, Any], at: str) -> dict[str, Any] | None:
    """Tell one registration of a schedule change: its ``updated`` email becomes ``pending``.

    One conditional UpdateItem: ``schedule_revision`` becomes ``revision``,
    :data:`INVITE_SEQUENCE` one more than in ``item``, ``notifications.updated``
    ``{state: pending, at, sequence, **entry}`` and ``email_state`` ``pending`` (the
    stream filter's mark, ``chalicelib.streamfilter``), on condition that the status,
    ``schedule_revision`` and :data:`INVITE_SEQUENCE` are still those of ``item`` (as read;
    absent for a registration of the first release). Returns ``None`` when written,
    else the registration as the failed condition saw it (read again and decide anew).
    """
    sequence = int(item.get(INVITE_SEQUENCE, 0)) + 1
    names = {"#s": "status", "#r": SCHEDULE_REVISION, "#q": INVITE_SEQUENCE, "#n": "notifications", "#u": "updated"}
    values: dict[str, Any] = {
        ":status": {"S": item["status"]},
        ":rev": {"N": str(int(revision))},
        ":seq": {"N": str(sequence)},
        ":entry": _serializer.serialize({**entry, "state": "pending", "at": at, "sequence": sequence}),
        ":pending": {"S": "pending"},
    }
    conditions = ["#s = :status"]
    for name, attribute in (("#r", SCHEDULE_REVISION), ("#q", INVITE_SEQUENCE)):
        if attribute in item:
            values[f":old{name[1]}"] = {"N": str(int(item[attribute]))}
            conditions.append(f"{name} = :old{name[1]}")
        else:
            conditions.append(f"attribute_not_exists({name})")
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=_key(item["pk"], item["sk"]),
            UpdateExpression="SET #r = :rev, #q = :seq, #n.#u = :entry, email_state = :pending",
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        old = error.response.get("Item")
        if not old:
            raise RegistrationNotFound(item["registration_id"]) from None
        return deserialize(old)
    return None
