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
email_state           state of the last email: ``pending``, ``sending``, ``sent`` or ``failed``
====================  =======================================================================

Values here are typed (``int``, ``bool``, ``str`` or ``None``); the writers
(:mod:`staff.writers`) turn them into cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from chalicelib.events import EXPORT_COLUMNS, RESERVED_QUESTION_IDS, RESERVED_QUESTION_PREFIX, Event, Question

#: Columns before the questions', and after them; every name is one of ``chalicelib.events.EXPORT_COLUMNS``.
CORE_COLUMNS = EXPORT_COLUMNS[:7]
TAIL_COLUMNS = ("email_state",)
MULTICHOICE_SEPARATOR = "; "


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
    """The export columns of ``event``: the core ones, one per question, then ``email_state``.

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


def local_time(value: str | None, event: Event) -> str | None:
    """An ISO UTC instant from the table as ISO 8601 in the event's zone, to the second."""
    if not value:
        return None
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(event.zone).isoformat(timespec="seconds")


def _answer(question: Question, value: Any) -> Any:
    if value is None:
        return None
    if question.type == "boolean":
        return bool(value)
    if question.type == "multichoice":
        if isinstance(value, (list, tuple, set)):
            return MULTICHOICE_SEPARATOR.join(str(v) for v in value)
        return str(value)
    return str(value)


def row_values(event: Event, columns: list[Column], item: dict[str, Any], positions: dict[int, int]) -> list[Any]:
    """The typed values of one registration item, in the order of ``columns``."""
    answers = item.get("answers") or {}
    values: list[Any] = []
    for column in columns:
        if column.question is not None:
            values.append(_answer(column.question, answers.get(column.question.id)))
        elif column.name == "waitlist_position":
            ticket = item.get("waitlist_ticket")
            values.append(positions.get(int(ticket)) if item.get("status") == "waitlisted" and ticket is not None else None)
        elif column.name == "registered_at":
            values.append(local_time(item.get("registered_at"), event))
        else:
            value = item.get(column.name)
            values.append(None if value is None else str(value))
    return values


def rows(event: Event, items: Iterable[dict[str, Any]], positions: dict[int, int]) -> Iterator[list[Any]]:
    """Typed rows (see :func:`row_values`) for the registration items of ``event`` among ``items``; lazy."""
    columns = columns_for(event)
    for item in items:
        if is_registration(item, event.id):
            yield row_values(event, columns, item, positions)
