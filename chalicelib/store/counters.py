"""The event's counters item and the conditions every registration write checks on it (README, "Storage").

The counters item is small (about 200 bytes) and is the one item every
registration changes; the 2-3 KB definition is read rarely and cached per
function instance (``chalicelib.store.events.DEFINITION_MAX_AGE``). That is safe because
everything a registration must respect is on the counters item and checked by the
write's condition: ``seat_capacity`` (absent: unlimited), ``waitlist`` (whether
the event has one), ``opens_at``/``closes_at`` (the registration window, epoch
seconds; ``opens_at`` 0 when it opens at once), ``waitlist_closes_at`` (no
promotion from then on) and ``ends_at`` (no cancellation from then on). Its counts:
``seats_taken`` (confirmed registrations),
``waitlisted_count``, ``erased_count``, ``waitlist_seq`` (the last waitlist ticket
handed out), ``waitlist_resolved`` (how many tickets were written or given up: the tickets
below ``waitlist_seq`` not yet resolved are registrations still being written) and, per
waitlist bucket ``b`` that has someone waiting, ``w<b>``: how many wait in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.errors import Busy
from chalicelib.store.errors import EventFull, EventNotFound, SeatFree, StoreError, WindowClosed
from chalicelib.store.keys import COUNTERS_SK, _key, event_pk
from chalicelib.store.serialize import _epoch, _indexed
from chalicelib.store.table import _table

if TYPE_CHECKING:
    from chalicelib.events import Event

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
    def from_item(cls, item: dict[str, Any]) -> EventCounters:
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

    def window_state(self, instant: datetime) -> Literal["not_yet_open", "open", "closed"]:
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
        """Whether a full event takes registrants on its waitlist at ``instant``: it has one, its cutoff not passed."""
        return self.waitlist and not self.promotions_closed(instant)

    def over(self, instant: datetime) -> bool:
        """Whether the event has ended at ``instant`` (aware), as a cancellation's condition judges it."""
        return self.ends_at is not None and instant.timestamp() >= float(self.ends_at)

    def waiting_before(self, bucket: int) -> int:
        """How many wait in the buckets below ``bucket``."""
        return sum(count for b, count in self.waiting.items() if b < bucket)

#: What the public learns about seats (``Availability.seats``): ``unlimited`` (no capacity), ``full`` (none
#: left), ``few`` (``show_seats: few`` and at most ``few_threshold`` left) or ``available``.
SeatsKind = Literal["unlimited", "full", "few", "available"]
#: Whether a registration would be taken (``Availability.state``): ``open``, ``not_yet_open``, ``closed``, or
#: ``full`` (no seat, and no waitlist or one past its cutoff).
AvailabilityState = Literal["open", "not_yet_open", "closed", "full"]


@dataclass(frozen=True)
class Availability:
    """What an event offers at one instant, as the writes' conditions would judge it (:func:`availability`).

    ``seats_left`` is the exact number of free seats (``None``: unlimited; staff see it);
    ``seats`` and ``seats_figure`` are what the public may know, per the event's
    ``show_seats`` (README, "Event files"): the figure only with ``show_seats: exact``.
    """

    state: AvailabilityState
    seats_left: int | None
    seats: SeatsKind
    seats_figure: int | None
    waitlist_open: bool


def _seats_shown(show_seats: str, few_threshold: int, left: int | None) -> tuple[SeatsKind, int | None]:
    if left is None:
        return "unlimited", None
    if left == 0:
        return "full", (0 if show_seats == "exact" else None)
    if show_seats == "exact":
        return "available", left
    if show_seats == "few" and left <= few_threshold:
        return "few", None
    return "available", None


def availability(event: Event, counters: EventCounters, at: datetime) -> Availability:
    """The event's availability at ``at`` (aware) from its counters item: the one place seats and state are derived.

    ``state`` is the window's (:meth:`EventCounters.window_state`), or ``full`` when the
    window is open but no seat is free and the waitlist is absent or past its cutoff.
    Reads nothing: ``counters`` come from :func:`~chalicelib.store.events.get_counters` or
    :func:`~chalicelib.store.events.get_event`.
    """
    waitlist_open = counters.waitlist_open(at)
    state: AvailabilityState = counters.window_state(at)
    if state == "open" and counters.full and not waitlist_open:
        state = "full"
    left = counters.seats_left
    seats, figure = _seats_shown(event.show_seats, event.few_threshold, left)
    return Availability(state, left, seats, figure, waitlist_open)


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


def _waitlist_refusal(event_id: str, counters: EventCounters, now: datetime) -> StoreError | Busy:
    """Why a waitlist write's condition (window open, waitlist open, event full) failed, the window aside."""
    if not counters.full:
        return SeatFree("a seat is free", counters=counters)
    if not counters.waitlist_open(now):
        return EventFull(event_id, counters)
    return Busy("counters changed", counters=counters)

def _counters_update(event_id: str, adds: dict[str, int], removes: list[str], condition: str,
                     now: datetime | None = None) -> dict[str, Any]:
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
