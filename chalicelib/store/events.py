"""Event definitions, the catalogue, due jobs and schedule revisions (README, "Storage").

An event's definition (about 2-3 KB of JSON on the ``#EVENT`` item) is read rarely
and cached per function instance for :data:`DEFINITION_MAX_AGE` seconds; everything
a registration must respect is on the counters item (``chalicelib.store.counters``)
and checked by the writes' conditions. The catalogue partition lists the events by
Query (never a Scan) and carries the scheduled function's ``due_<job>``/``done_<job>`` marks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import schedules
from chalicelib.errors import Busy, retried
from chalicelib.events import Event, parse_event
from chalicelib.store.counters import EventCounters
from chalicelib.store.errors import EventNotFound, LegacyEventItem
from chalicelib.store.keys import CATALOGUE_PK, COUNTERS_SK, EVENT_SK, SCHEDULE_REVISION, SCHEDULES, _key, event_pk
from chalicelib.store.serialize import _epoch, _serializer, deserialize
from chalicelib.store.table import _batch_get, _cancellation_codes, _conditional_update, _ddb, _retryable, _table

#: Attempts of :func:`put_event` when another publish of the same event got there first.
PUT_EVENT_ATTEMPTS = 10
#: Seconds a function instance keeps an event definition it read (:func:`event_definition`).
#: Window, capacity and waitlist are enforced by the conditions of the writes, so a definition
#: a few seconds old can only show an outdated text or question for that long.
DEFINITION_MAX_AGE = 5.0

#: Seconds a function instance remembers that an event was full (:func:`probably_full`), so the
#: next registrations go straight to the waitlist. Only a hint: the writes' conditions decide.
FULL_HINT_SECONDS = 5.0

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
    ``reminders`` and ``schedule_revision`` (:func:`_catalogue_expression`), and keeps the
    ``done_<job>`` marks of the scheduled function (``chalicelib.jobs``).
    When the schedule (time or place, ``chalicelib.schedules``) differs from
    the stored one, ``schedule_revision`` goes up by one and the new schedule joins
    ``schedules``; the transaction is conditional on the definition read, so two
    publishes at once never lose a revision (the later one reads again,
    ``chalicelib.errors.retried``). Telling the registrations is ``chalicelib.lifecycle.announce_schedule``'s work.
    Raises :class:`LegacyEventItem` for an event item of the first release's layout
    (counters inside the event item) and, past :data:`PUT_EVENT_ATTEMPTS`, :class:`Busy`.
    """
    from chalicelib.publishing import check_renders  # lazy: the emails and pages are not needed to register

    check_renders(event)
    return retried(PUT_EVENT_ATTEMPTS)(_put_event_once)(event)


def _stored_before(event: Event) -> dict[str, Any] | None:
    """The event item as stored (consistent), or ``None``; raises :class:`LegacyEventItem` for the first layout."""
    try:
        old = get_event_item(event.id, consistent=True)
    except EventNotFound:
        return None
    if "seats_taken" in old:
        raise LegacyEventItem(
            f"event {event.id}: its item holds the seat counters of the first release's layout; "
            "see README, 'Storage'")
    return old


def next_schedules(event: Event, old: dict[str, Any] | None) -> tuple[int, dict[str, Any], tuple[str, ...]]:
    """``(schedule_revision, schedules, changed)`` after publishing ``event`` over the stored event item ``old``
    (``None``: a new event): what :func:`put_event` writes, and what staff ``events put --dry-run`` previews."""
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
    return revision, history, changed


def _counters_expression(event: Event) -> tuple[str, dict[str, Any]]:
    """The counters item's UpdateExpression and values for a publish: the counts kept, the rest replaced."""
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
    opens = event.registration_opens_at
    values[":opens"] = {"N": "0"} if opens is None else _epoch(event.utc(opens))
    return "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""), values


def _catalogue_expression(event: Event, revision: int = 0) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The catalogue item's UpdateExpression, names and values: ``due_<job>`` set or removed, ``done_<job>``
    kept; ``reminders`` (the event's reminder offsets now: a ``due_reminder_<offset>`` no longer among them
    is ignored) and ``schedule_revision`` (``revision``, the event's: a reminder tells from it whether a
    registrant's calendar entry is behind, ``store.ask_reminder``)."""
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
    catalogue_sets.append("reminders = :reminders")
    catalogue_values[":reminders"] = _serializer.serialize(list(event.reminders))
    catalogue_names["#rev"] = SCHEDULE_REVISION
    catalogue_sets.append("#rev = :rev")
    catalogue_values[":rev"] = {"N": str(revision)}
    catalogue_update = "SET " + ", ".join(catalogue_sets) + (
        " REMOVE " + ", ".join(catalogue_removes) if catalogue_removes else "")
    return catalogue_update, catalogue_names, catalogue_values


def _put_event_once(event: Event) -> Published:
    table = _table()
    pk = event_pk(event.id)
    old = _stored_before(event)
    revision, history, changed = next_schedules(event, old)
    counters_update, values = _counters_expression(event)
    catalogue_update, catalogue_names, catalogue_values = _catalogue_expression(event, revision)
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
            raise Busy("the event changed while it was published; read again") from None
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
    return _conditional_update(
        _key(CATALOGUE_PK, event_id), update="SET #done = :due REMOVE #cursor",
        condition="#due = :due AND (attribute_not_exists(#done) OR #done <> :due)",
        names={"#due": f"due_{job}", "#done": f"done_{job}", "#cursor": f"cursor_{job}"},
        values={":due": {"N": str(int(due))}},
    ) is None

def event_schedules(event_id: str) -> tuple[int, dict[str, dict[str, str]]]:
    """``(schedule_revision, schedules)`` of the event item, read consistently: the revision now and
    every schedule by revision (``chalicelib.schedules``). Raises :class:`EventNotFound`."""
    return schedules_of(get_event_item(event_id, consistent=True))


def schedules_of(item: dict[str, Any]) -> tuple[int, dict[str, dict[str, str]]]:
    """``(schedule_revision, schedules)`` of an event item already read (:func:`get_event_item`)."""
    return int(item.get(SCHEDULE_REVISION, 0)), dict(item.get(SCHEDULES) or {})


def save_job_cursor(event_id: str, job: str, due: int, sort_key: str) -> bool:
    """Remember where a cut-short run of ``job`` stopped: ``cursor_<job>`` ``{due, sk}`` on the catalogue item.

    ``sort_key`` is the last registration item (``REG#<id>``) the run dealt with; the next run
    for the same ``due`` (epoch seconds) reads on after it (:func:`reminder_candidates`).
    Conditional on the job still being due at ``due``; returns ``False`` when it is not.
    """
    return _conditional_update(
        _key(CATALOGUE_PK, event_id), update="SET #cursor = :cursor", condition="#due = :due",
        names={"#due": f"due_{job}", "#cursor": f"cursor_{job}"},
        values={":due": {"N": str(int(due))}, ":cursor": _serializer.serialize({"due": int(due), "sk": sort_key})},
    ) is None
