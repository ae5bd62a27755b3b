"""Registrations out of a DynamoDB export: the same rows as ``registrations export``, in the same order.

:func:`read_export` reads the export once. It keeps the events' definitions (their event
items), the waitlist tickets (one integer per waitlisted registration) and, of each
registration, only the attributes a row needs (``staff.columns.RECORD_FIELDS``), in a
:class:`SortedSpool` in the order of ``staff.columns.sort_key``: at most :data:`RUN_SIZE` of them in
memory, the rest in sorted runs in a temporary folder (removed when done; the runs hold
personal data for as long as the command runs, as the output file does afterwards). The rows
then come out merged in order: confirmed, waitlisted (queue order), cancelled, erased, each
by registration time. Memory stays flat however large the export is.

Each line is decoded by msgspec into :class:`Wanted`, which names the few attributes the rows
need: the others (``notifications``, ...) are skipped, never built. Attribute values are
unwrapped by ``exportfiles.plain``.
"""

from __future__ import annotations

import gc
import heapq
import marshal
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import msgspec

from chalicelib import store
from staff import columns as cols
from staff.exportfiles import Layout, iter_raw_items, plain

#: Entries a :class:`SortedSpool` holds in memory (about 0.5 KB each here) before it writes a sorted run.
RUN_SIZE = 5_000
#: Entries per block of a run on disk: a merge holds one block of each run in memory.
BLOCK_SIZE = 200
_LENGTH = struct.Struct("<I")  # the length of a block, in bytes

Attribute = Optional[dict[str, Any]]


class Wanted(msgspec.Struct):
    """The attributes of an export item that the rows need, each in DynamoDB's typed JSON (``None`` if absent).

    The keys, the event item's ``definition`` and ``staff.columns.RECORD_FIELDS`` (same order);
    msgspec skips every other attribute of a line (``notifications``, ``consent_at``, ...)
    without building it.
    """

    pk: Attribute = None
    sk: Attribute = None
    definition: Attribute = None
    registration_id: Attribute = None
    status: Attribute = None
    name: Attribute = None
    email: Attribute = None
    language: Attribute = None
    registered_at: Attribute = None
    email_state: Attribute = None
    email_outcome: Attribute = None
    waitlist_ticket: Attribute = None
    checked_in_at: Attribute = None
    answers: Attribute = None


#: Wanted's fields from registration_id on are ``staff.columns.RECORD_FIELDS`` (a test checks it).
_FIRST_FIELD = 3


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting goes on) for the block.

    Reading and writing make many small containers and no reference cycles; with the collector
    on, each generation-2 pass walks every entry the spool holds, which cost a third of a
    conversion's time. It is switched back on (if it was on) when the block ends.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


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


class SortedSpool:
    """Tuples added in any order and read back sorted, in bounded memory.

    Entries are compared as tuples, so their leading items must tell any two apart (a key
    followed by the value). Up to ``run_size`` entries are kept in memory; when that many are
    there they are sorted and written as one run of blocks of :data:`BLOCK_SIZE` entries
    (``marshal``: ``str``, ``int``, ``float``, ``bool``, ``None``, ``bytes``, tuples, lists,
    dicts and sets) to a temporary folder. Iterating merges the runs with the entries in
    memory (``heapq.merge``). Use as a context manager, or call :meth:`close`, to remove the
    folder.
    """

    def __init__(self, run_size: int = RUN_SIZE):
        self.run_size = run_size
        self._entries: list[tuple[Any, ...]] = []
        self._runs: list[Path] = []
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __enter__(self) -> "SortedSpool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, entry: tuple[Any, ...]) -> None:
        """Add one entry; may write a run to disk (raises ``OSError`` when that fails)."""
        self._entries.append(entry)
        self._count += 1
        if len(self._entries) >= self.run_size:
            self._spill()

    def _spill(self) -> None:
        self._entries.sort()
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="staff-export-")
        path = Path(self._folder.name) / f"run-{len(self._runs):05d}"
        entries = self._entries
        with open(path, "wb") as out:
            for start in range(0, len(entries), BLOCK_SIZE):
                block = marshal.dumps(entries[start:start + BLOCK_SIZE])
                out.write(_LENGTH.pack(len(block)))
                out.write(block)
        self._runs.append(path)
        self._entries = []

    @staticmethod
    def _read(path: Path) -> Iterator[tuple[Any, ...]]:
        with open(path, "rb") as run:
            while header := run.read(_LENGTH.size):
                yield from marshal.loads(run.read(_LENGTH.unpack(header)[0]))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        self._entries.sort()
        if not self._runs:
            return iter(self._entries)
        streams: list[Iterable[tuple[Any, ...]]] = [self._read(path) for path in self._runs]
        streams.append(self._entries)
        return heapq.merge(*streams)

    def close(self) -> None:
        """Remove the runs written so far and forget every entry."""
        self._entries, self._runs, self._count = [], [], 0
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


@dataclass
class ExportRead:
    """What one pass over an export found: ``events`` by id, and the registrations of those events, sorted.

    Close it (or use it as a context manager) to remove the spool's temporary files.
    """

    events: dict[str, EventInExport]
    spool: SortedSpool
    #: Whether the spool holds the registrations of several events (its entries start with the partition key).
    by_event: bool = False

    def __enter__(self) -> "ExportRead":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary files."""
        self.spool.close()

    def rows(self, found: EventInExport) -> Iterator[list[Any]]:
        """The typed rows (``columns.row_values``) of one event's registrations, in ``columns.sort_key`` order."""
        make = cols.RowMaker(found.event, found.positions(), typed_answers=True)
        loads = marshal.loads
        with without_cyclic_gc():
            if self.by_event:
                pk = store.event_pk(found.event.id)
                for entry in self.spool:
                    if entry[0] == pk:
                        yield make(loads(entry[-1]))
            else:
                for entry in self.spool:
                    yield make(loads(entry[-1]))


def read_export(layout: Layout, event_id: str | None = None,
                progress: Callable[[int], None] | None = None, run_size: int = RUN_SIZE) -> ExportRead:
    """Read the export once: the events (``event_id``, or every event) and their registrations.

    Registrations whose event item is missing from the export are left out. Raises
    ``exportfiles.ExportFormatError`` (a line that is not an item), ``chalicelib.events.EventFileError``
    (an event item whose definition is not valid) and ``ValueError`` (a ``registered_at`` that
    is not ISO 8601).
    """
    wanted = store.event_pk(event_id) if event_id else None
    found: dict[str, EventInExport] = {}
    tickets: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    spool = SortedSpool(run_size)
    astuple, key, add, dumps = msgspec.structs.astuple, cols.record_key, spool.add, marshal.dumps
    status_at, ticket_at, time_at = (cols.RECORD_FIELDS.index(f) for f in ("status", "waitlist_ticket", "registered_at"))
    try:
        with without_cyclic_gc():
            for raw in iter_raw_items(layout, progress, Wanted):
                pk = raw.pk.get("S") if raw.pk else None
                if pk is None or (wanted is not None and pk != wanted):
                    continue
                sk = (raw.sk.get("S") if raw.sk else None) or ""
                if sk == store.EVENT_SK and raw.definition is not None:
                    found[pk] = EventInExport(store.event_from_item({"pk": pk, "definition": plain(raw.definition)}))
                elif sk.startswith(store.REGISTRATION_PREFIX):
                    # plain() of each attribute but the answers, with its commonest case (a string) inline
                    record = [None if value is None else text if (text := value.get("S")) is not None else plain(value)
                              for value in astuple(raw)[_FIRST_FIELD:-1]]
                    record.append(raw.answers.get("M") if raw.answers else None)  # typed: RowMaker(typed_answers=True)
                    status, ticket = record[status_at], record[ticket_at]
                    counts[pk] = counts.get(pk, 0) + 1
                    if ticket is not None and status == "waitlisted":
                        tickets.setdefault(pk, []).append(int(ticket))
                    # The record as bytes at once: the decoded objects are freed while still in the
                    # processor's cache, instead of thousands of them later (a third faster).
                    if wanted is None:
                        add((pk, *key(status, ticket, record[time_at]), sk, dumps(record)))
                    else:
                        add((*key(status, ticket, record[time_at]), sk, dumps(record)))
    except BaseException:
        spool.close()
        raise
    for pk, entry in found.items():
        entry.tickets = tickets.get(pk, [])
        entry.registrations = counts.get(pk, 0)
    return ExportRead({entry.event.id: entry for entry in found.values()}, spool, by_event=wanted is None)


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
