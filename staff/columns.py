"""The columns of a registrations export, and rows built from registration items.

One row per registration item, the same columns for every output (CSV, XLSX,
JSON, JSON lines and the DuckDB table of ``exports query``):

====================  =======================================================================
column                value
====================  =======================================================================
registration_id       the id in the registrant's links
status                ``confirmed``, ``waitlisted``, ``cancelled`` or ``erased``
waitlist_position     1, 2, ... for waitlisted registrations (rank of ``waitlist_ticket``); empty otherwise
name, email           as typed; empty once erased
language              the registrant's language (``nl``, ``en``)
registered_at         ISO 8601 in the event's time zone, seconds, with offset (``2023-05-22T09:00:01+02:00``)
<question id>         one column per question of the event, in the event file's order:
                      text/textarea/phone as typed, choice the option id, multichoice the option
                      ids joined with ``"; "``, boolean ``yes``/``no`` (CSV, XLSX) or ``true``/``false``
                      (JSON, SQL); empty when not answered. Event files may not use a reserved id
                      (``chalicelib.events.RESERVED_QUESTION_IDS``, or one starting ``answer_``);
                      a question of an event stored before that rule whose id is reserved is
                      called ``answer_<id>``, so every column name is unique.
email_state           state of the last email: ``pending``, ``sending``, ``sent``, ``failed`` or ``suppressed``
email_outcome         what SES reported about the last email sent: ``delivered``, ``bounced`` (permanent),
                      ``bounced_transient``, ``complained``, ``delayed`` or ``rejected``; empty until SES
                      reports (``chalicelib.feedback``)
checked_in_at         when the person was checked in at the door (README, "Check-in at the door"):
                      ISO 8601 in the event's time zone like ``registered_at``; empty until then
====================  =======================================================================

Rows are listed by status (confirmed, waitlisted, cancelled, erased), the waitlist in its order,
then by registration time (:func:`sort_key`), as ``registrations list`` shows them.

Values here are typed (``int``, ``bool``, ``str`` or ``None``); the writers
(:mod:`staff.writers`) turn them into cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator

from chalicelib.events import EXPORT_COLUMNS, RESERVED_QUESTION_IDS, RESERVED_QUESTION_PREFIX, Event, Question
from staff.exportfiles import plain

#: Columns before the questions', and after them; every name is one of ``chalicelib.events.EXPORT_COLUMNS``.
CORE_COLUMNS = EXPORT_COLUMNS[:7]
TAIL_COLUMNS = ("email_state", "email_outcome", "checked_in_at")
MULTICHOICE_SEPARATOR = "; "
#: The order of statuses in every listing and export.
STATUS_ORDER = ("confirmed", "waitlisted", "cancelled", "erased")
_STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Column:
    """One output column: ``name``, value ``kind`` (``text``, ``int``, ``bool``, ``phone``) and its question, if any."""

    name: str
    kind: str
    question: Question | None = None


def question_column_name(question_id: str) -> str:
    """The column of a question: its id, or ``answer_<id>`` for a reserved id (an event stored before the rule)."""
    if question_id in RESERVED_QUESTION_IDS or question_id.startswith(RESERVED_QUESTION_PREFIX):
        return RESERVED_QUESTION_PREFIX + question_id
    return question_id


def columns_for(event: Event) -> list[Column]:
    """The export columns of ``event``: the core ones, one per question, then ``email_state``, ``email_outcome``
    and ``checked_in_at``.

    Names are unique: an allowed question id is neither reserved nor ``answer_``-prefixed, and
    every other id gets that prefix (:func:`question_column_name`); ``_2``, ``_3`` ... would
    follow a name still taken (ids are unique, so that cannot happen, but a clash never merges
    two columns).
    """
    columns = [Column(name, "int" if name == "waitlist_position" else "text") for name in CORE_COLUMNS]
    taken = set(CORE_COLUMNS) | set(TAIL_COLUMNS)
    for question in event.questions:
        name = base = question_column_name(question.id)
        suffix = 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name)
        kind = {"boolean": "bool", "phone": "phone"}.get(question.type, "text")
        columns.append(Column(name, kind, question))
    columns.extend(Column(name, "text") for name in TAIL_COLUMNS)
    return columns


def is_registration(item: dict[str, Any], event_id: str | None = None) -> bool:
    """Whether a plain table item is a registration (of ``event_id``, when given)."""
    if not str(item.get("sk", "")).startswith("REG#"):
        return False
    return event_id is None or item.get("pk") == f"EVENT#{event_id}"


def waitlist_positions(items: Iterable[dict[str, Any]]) -> dict[int, int]:
    """``{waitlist_ticket: position}`` for the waitlisted registrations among ``items``.

    The position is the rank of the ticket among waitlisted registrations,
    counting from 1, the same number as ``store.waitlist_position`` gives.
    Holds one integer per waitlisted registration.
    """
    tickets = sorted(int(i["waitlist_ticket"]) for i in items if i.get("status") == "waitlisted" and i.get("waitlist_ticket") is not None)
    return {ticket: rank for rank, ticket in enumerate(tickets, start=1)}


#: The fields of a registration record, in this order: what a row and its place are made of
#: (:func:`record`; ``staff.exporting`` builds records straight from an export's lines).
RECORD_FIELDS = ("registration_id", "status", "name", "email", "language", "registered_at",
                 "email_state", "email_outcome", "waitlist_ticket", "checked_in_at", "answers")


def record(item: dict[str, Any]) -> list[Any]:
    """The :data:`RECORD_FIELDS` of a plain registration item, as a list (``None`` where absent)."""
    return [item.get(name) for name in RECORD_FIELDS]


def record_key(status: Any, ticket: Any, registered_at: Any) -> tuple[int, int, int]:
    """``(status rank, ticket, time)`` of a registration: see :func:`sort_key`."""
    if registered_at:
        instant = datetime.fromisoformat(registered_at)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=timezone.utc)
        micros = (instant - _EPOCH) // _MICROSECOND
    else:
        micros = -1
    return (
        _STATUS_RANK.get(status, len(STATUS_ORDER)),
        int(ticket) if ticket is not None and status == "waitlisted" else 0,
        micros,
    )


def sort_key(item: dict[str, Any]) -> tuple[int, int, int, str]:
    """Where a registration item comes in listings and exports: ``(status, ticket, time, id)``.

    Statuses in :data:`STATUS_ORDER` (others last); waitlisted registrations by
    ``waitlist_ticket`` (their queue order); then the ``registered_at`` instant in microseconds
    since the epoch (offsets compared correctly; -1 when missing), then the id. Raises
    ``ValueError`` for a ``registered_at`` that is not ISO 8601.
    """
    return (*record_key(item.get("status"), item.get("waitlist_ticket"), item.get("registered_at")),
            str(item.get("registration_id") or ""))


def local_time(value: str | None, event: Event) -> str | None:
    """An ISO UTC instant from the table as ISO 8601 in the event's zone, to the second."""
    return _in_zone(value, event.zone)


def _answer_reader(question: Question) -> Callable[[Any], Any]:
    """A function from a stored answer (``None`` when not answered) to its typed value."""
    if question.type == "boolean":
        return lambda value: value if value is None or value.__class__ is bool else bool(value)
    if question.type == "multichoice":
        order = {option: index for index, option in enumerate(question.option_ids())}

        def multichoice(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, (set, frozenset)):  # a string set has no order: the event file's
                value = sorted(value, key=lambda v: (order.get(v, len(order)), str(v)))
            if isinstance(value, (list, tuple)):
                return MULTICHOICE_SEPARATOR.join(map(str, value))
            return str(value)

        return multichoice
    return lambda value: value if value is None or value.__class__ is str else str(value)


def _typed_answer_reader(question: Question) -> Callable[[Any], Any]:
    """:func:`_answer_reader` for an answer in DynamoDB's typed JSON (``{"S": ...}``), as exports hold them."""
    read = _answer_reader(question)
    if question.type == "boolean":
        def typed(value: Any) -> Any:
            if value is None:
                return None
            flag = value.get("BOOL")
            return flag if flag is not None else read(plain(value))
    elif question.type == "multichoice":
        def typed(value: Any) -> Any:
            if value is None:
                return None
            options = value.get("L")
            if options is not None:  # a list of strings, as the service stores it
                texts = [option.get("S") for option in options]
                if None not in texts:
                    return MULTICHOICE_SEPARATOR.join(texts)
            return read(plain(value))
    else:
        def typed(value: Any) -> Any:
            if value is None:
                return None
            text = value.get("S")
            return text if text is not None else read(plain(value))
    return typed


class RowMaker:
    """Turns registration records (:func:`record`) of one event into typed rows, columns as :func:`columns_for`.

    ``maker(record)`` is :func:`row_values` with the per-event work (time zone, answer readers)
    done once; ``positions`` is ``{waitlist_ticket: position}``. With ``typed_answers`` the
    record's ``answers`` are still in DynamoDB's typed JSON (``{"note": {"S": "..."}}``, as
    ``staff.exporting`` reads them), else plain values.
    """

    def __init__(self, event: Event, positions: dict[int, int], *, typed_answers: bool = False):
        columns = columns_for(event)
        self._zone = event.zone
        self._positions = positions
        reader = _typed_answer_reader if typed_answers else _answer_reader
        self._readers = [(c.question.id, reader(c.question)) for c in columns if c.question is not None]

    def __call__(self, record: list[Any]) -> list[Any]:
        # The layout of columns_for: CORE_COLUMNS, the questions, TAIL_COLUMNS (a test checks they agree).
        (registration_id, status, name, email, language, registered_at, email_state, email_outcome, ticket,
         checked_in_at, answers) = record
        if ticket is not None and status == "waitlisted":
            position = self._positions.get(int(ticket))
        else:
            position = None
        row = [
            registration_id if registration_id.__class__ is str or registration_id is None else str(registration_id),
            status if status.__class__ is str or status is None else str(status),
            position,
            name if name.__class__ is str or name is None else str(name),
            email if email.__class__ is str or email is None else str(email),
            language if language.__class__ is str or language is None else str(language),
            _in_zone(registered_at, self._zone),
        ]
        if answers:
            get = answers.get
            row.extend([read(get(question_id)) for question_id, read in self._readers])
        else:
            row.extend([None] * len(self._readers))
        row.append(email_state if email_state.__class__ is str or email_state is None else str(email_state))
        row.append(email_outcome if email_outcome.__class__ is str or email_outcome is None else str(email_outcome))
        row.append(_in_zone(checked_in_at, self._zone))
        return row


def _in_zone(value: str | None, zone: Any) -> str | None:
    if not value:
        return None
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(zone).isoformat(timespec="seconds")


def row_values(event: Event, columns: list[Column], item: dict[str, Any], positions: dict[int, int]) -> list[Any]:
    """The typed values of one registration item, in the order of ``columns`` (see :class:`RowMaker` for many)."""
    if columns != columns_for(event):
        raise ValueError("row_values makes the columns of columns_for(event)")
    return RowMaker(event, positions)(record(item))


def rows(event: Event, items: Iterable[dict[str, Any]], positions: dict[int, int]) -> Iterator[list[Any]]:
    """Typed rows (see :func:`row_values`) for the registration items of ``event`` among ``items``,
    in the order of :func:`sort_key` (``items`` are held in memory to sort them)."""
    make = RowMaker(event, positions)
    for item in sorted((i for i in items if is_registration(i, event.id)), key=sort_key):
        yield make(record(item))
