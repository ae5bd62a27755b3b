"""Registrations out of a DynamoDB export: the same rows as ``registrations export``.

:func:`scan` reads the export once for the events' definitions (their event items)
and the waitlist order (one integer per waitlisted registration); :func:`event_rows`
reads it again and yields one row per registration of one event. Only the items
of that event are decoded; memory stays flat however large the export is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from chalicelib import store
from staff import columns as cols
from staff.exportfiles import Layout, iter_raw_items


class EventNotInExport(LookupError):
    """The export holds no event item with this id."""


@dataclass
class EventInExport:
    """One event found in an export: its definition, waitlist tickets and registration count."""

    event: Any
    tickets: list[int] = field(default_factory=list)
    registrations: int = 0

    def positions(self) -> dict[int, int]:
        """``{waitlist_ticket: position}`` (see ``columns.waitlist_positions``)."""
        return {ticket: rank for rank, ticket in enumerate(sorted(self.tickets), start=1)}


def _s(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    return value.get("S") if isinstance(value, dict) else None


def scan(layout: Layout, event_id: str | None = None, progress: Callable[[int], None] | None = None) -> dict[str, EventInExport]:
    """First pass: ``{event_id: EventInExport}`` for ``event_id`` (or every event) in the export.

    Registrations whose event item is missing from the export are left out.
    """
    wanted = store.event_pk(event_id) if event_id else None
    found: dict[str, EventInExport] = {}
    tickets: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for raw in iter_raw_items(layout, progress):
        pk = _s(raw, "pk") or ""
        if wanted is not None and pk != wanted:
            continue
        sk = _s(raw, "sk") or ""
        if sk == store.EVENT_SK:
            item = store.deserialize(raw)
            found[pk] = EventInExport(store.event_from_item(item))
        elif sk.startswith(store.REGISTRATION_PREFIX):
            counts[pk] = counts.get(pk, 0) + 1
            ticket = raw.get("waitlist_ticket", {}).get("N")
            if _s(raw, "status") == "waitlisted" and ticket is not None:
                tickets.setdefault(pk, []).append(int(ticket))
    for pk, entry in found.items():
        entry.tickets = tickets.get(pk, [])
        entry.registrations = counts.get(pk, 0)
    return {entry.event.id: entry for entry in found.values()}


def event_rows(layout: Layout, found: EventInExport, progress: Callable[[int], None] | None = None) -> Iterator[list[Any]]:
    """Second pass: the typed rows (``columns.row_values``) of one event's registrations, in export order."""
    event = found.event
    pk = store.event_pk(event.id)
    columns = cols.columns_for(event)
    positions = found.positions()
    for raw in iter_raw_items(layout, progress):
        if _s(raw, "pk") != pk or not (_s(raw, "sk") or "").startswith(store.REGISTRATION_PREFIX):
            continue
        yield cols.row_values(event, columns, store.deserialize(raw), positions)


def choose_event(events: dict[str, EventInExport], event_id: str | None) -> EventInExport:
    """The event to use: ``event_id``, or the only one in the export.

    Raises :class:`EventNotInExport` (unknown id, or none in the export) and
    ``ValueError`` (no id given and several events in the export).
    """
    if event_id:
        if event_id not in events:
            raise EventNotInExport(event_id)
        return events[event_id]
    if not events:
        raise EventNotInExport("(no event items in the export)")
    if len(events) > 1:
        raise ValueError("the export holds several events; choose one with --event: " + ", ".join(sorted(events)))
    return next(iter(events.values()))
