"""Publishing an event file, staff ``events put`` (README, "Staff tools", "Event files").

:func:`plan_put` reads what a publish would do before anything is written: whether the event is new,
changed or unchanged and which fields differ, the registrants it would email and about what (the
``updated`` email of a new time or place, the promotion into seats a capacity increase frees, the
"no seat came free" email of a waitlist cutoff that has passed, a reminder whose time has passed),
from the stored definition, its counters and one consistent Query of its registrations, with the
rules the publish itself follows (``chalicelib.lifecycle.schedule_update``, ``fill_free_seats``,
``chalicelib.jobs``). ``events put --dry-run`` prints it; :func:`put_event` checks it (a move into
the past, :func:`refuse_past`) and asks ``confirm(plan)`` before it emails anyone, then publishes.
Nothing here prints or logs personal data: a plan holds registration ids and counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib import clock, lifecycle, store
from chalicelib.events import REMINDER_PREFIX, Event, EventFileError

#: How a refusal of a move into the past (``Event.moves_into_the_past``) says how to publish anyway.
ALLOW_PAST_HINT = "if you mean it, run events put again with --allow-past"


@dataclass(frozen=True)
class PutOutcome:
    """What :func:`put_event` did: ``created``, the old and new capacity (``None`` = unlimited), promotions,
    what changed in the schedule (``changed``: ``time``, ``place``) and how many registrations were told of it."""

    created: bool
    old_capacity: int | None
    new_capacity: int | None
    promoted: int
    seats_taken: int
    changed: tuple[str, ...] = ()
    told: int = 0
    #: Items whose TTL moved with the event's end (``lifecycle.keep_retention``).
    restamped: int = 0

    @property
    def capacity_increased(self) -> bool:
        """More seats than before (or unlimited now) on an event that existed."""
        return _increased(self.created, self.old_capacity, self.new_capacity)


def _increased(created: bool, old: int | None, new: int | None) -> bool:
    if created or old is None:
        return False
    return new is None or new > old


@dataclass(frozen=True)
class PutPlan:
    """What publishing ``event`` would do, read at ``now`` (the service's clock) before anything is written.

    ``stored`` is the definition in the table (``None``: the event is new); ``fields`` the fields that
    differ from it as YAML paths (``starts_at``, ``location.name``, ``questions[2].label.en``);
    ``schedule_changes`` ``("time",)``, ``("place",)``, both or ``()``. The email fields hold the
    registration ids each email would go to: ``updated`` (the new time or place; ``updated_waiting``
    of them are waitlisted), ``promoted`` (into seats a capacity increase frees, first come first
    served, until the waitlist cutoff), ``waitlist_closed`` (still waiting when the new cutoff has
    passed: the scheduled function tells them no seat came free) and ``reminders`` (``(offset,
    ids)`` for each reminder whose time this publish moves into the past before the start: sent at
    the scheduled function's next run).
    """

    event: Event
    stored: Event | None
    now: datetime
    old_capacity: int | None = None
    seats_taken: int = 0
    waitlisted: int = 0
    fields: tuple[str, ...] = ()
    schedule_changes: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    updated_waiting: int = 0
    promoted: tuple[str, ...] = ()
    waitlist_closed: tuple[str, ...] = ()
    reminders: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def created(self) -> bool:
        """The event is not in the table yet."""
        return self.stored is None

    @property
    def unchanged(self) -> bool:
        """The stored definition is the same as the file's."""
        return not self.created and not self.fields

    @property
    def capacity_increased(self) -> bool:
        """More seats than before (or unlimited now) on an event that existed."""
        return _increased(self.created, self.old_capacity, self.event.capacity)

    @property
    def recipients(self) -> int:
        """How many registrants would get at least one email."""
        ids = {*self.updated, *self.promoted, *self.waitlist_closed}
        for _, reminded in self.reminders:
            ids.update(reminded)
        return len(ids)

    def emails(self) -> list[str]:
        """What the registrants would be emailed about, one phrase per email with how many get it
        (``"23 about the new time (21 holding a seat, 2 waiting)"``, a count of 0 left out); empty when
        nobody would be."""
        found = []
        if self.updated:
            what = " and ".join(self.schedule_changes) or "time and place"
            seats = len(self.updated) - self.updated_waiting
            who = [f"{seats} holding a seat"] * bool(seats) + [f"{self.updated_waiting} waiting"] * bool(
                self.updated_waiting)
            found.append(f"{len(self.updated)} about the new {what} ({', '.join(who)})")
        if self.promoted:
            found.append(f"{len(self.promoted)} that a seat is theirs (promoted from the waitlist into the new seats)")
        if self.waitlist_closed:
            found.append(f"{len(self.waitlist_closed)} that no seat came free (the waitlist cutoff has passed)")
        for offset, reminded in self.reminders:
            found.append(f"{len(reminded)} with the {offset} reminder now (its time has passed)")
        return found


def changed_fields(old: Any, new: Any, path: str = "") -> list[str]:
    """The YAML paths where two definitions (``Event.model_dump(mode="json")``) differ, in field order:
    ``starts_at``, ``location.name``; list items counted from 1 (``questions[2].label.en``), a list whose
    length changed as a whole (``questions``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*old, *(key for key in new if key not in old)]
        return [found for key in keys for found in changed_fields(old.get(key), new.get(key),
                                                                    f"{path}.{key}" if path else str(key))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [found for index, (before, after) in enumerate(zip(old, new, strict=True))
                for found in changed_fields(before, after, f"{path}[{index + 1}]")]
    return [] if old == new else [path]


def _registered_before(item: dict[str, Any], instant: datetime) -> bool:
    registered = item.get("registered_at")
    return bool(registered) and datetime.fromisoformat(str(registered)) < instant


def plan_put(event: Event) -> PutPlan:
    """What publishing ``event`` now would do (:class:`PutPlan`); writes nothing.

    Reads the event item and its counters (consistent) and, for an event already stored, its
    registrations (one consistent Query of its partition, every page). Raises botocore errors.
    """
    now = clock.now()
    try:
        item = store.get_event_item(event.id, consistent=True)
    except store.EventNotFound:
        return PutPlan(event, None, now)
    stored = store.event_from_item(item)
    try:
        counters = store.get_counters(event.id, consistent=True)
    except store.EventNotFound:  # an item of the first release's layout: store.put_event refuses it
        counters = store.EventCounters(event_id=event.id, seat_capacity=stored.capacity, waitlist=stored.waitlist)
    revision, history, schedule_changes = store.next_schedules(event, item)
    items = list(store.iter_registrations(event.id, consistent=True))
    waiting = sorted((i for i in items if i.get("status") == "waitlisted"), key=lambda i: int(i["waitlist_ticket"]))
    promoted: list[dict[str, Any]] = []
    if _increased(False, counters.seat_capacity, event.capacity) and not event.promotions_closed(now):
        free = len(waiting) if event.capacity is None else max(0, event.capacity - counters.seats_taken)
        promoted = waiting[:free]
    promoted_ids = {str(i["registration_id"]) for i in promoted}
    after = [{**i, "status": "confirmed"} if str(i["registration_id"]) in promoted_ids else i for i in items]
    waiting_too = not event.promotions_closed(now)
    updated = [i for i in after if lifecycle.schedule_update(i, revision, history, waiting_too=waiting_too)]
    closed: list[dict[str, Any]] = []
    if event.waitlist and event.promotions_closed(now):
        closed = [i for i in after if i.get("status") == "waitlisted" and "email" in i
                  and "waitlist_closed" not in (i.get("notifications") or {})]
    reminders = []
    before = stored.reminder_times()
    for job, when in event.reminder_times().items():
        if not when <= now < event.utc(event.starts_at) or before.get(job) == when:
            continue
        due = int(when.timestamp())
        reminded = tuple(str(i["registration_id"]) for i in after
                         if i.get("status") == "confirmed" and "email" in i and _registered_before(i, when)
                         and i.get(store.reminded_attribute(job)) != due)
        if reminded:
            reminders.append((job.removeprefix(REMINDER_PREFIX), reminded))
    return PutPlan(
        event, stored, now, counters.seat_capacity, counters.seats_taken, counters.waitlisted_count,
        tuple(changed_fields(stored.model_dump(mode="json"), event.model_dump(mode="json"))), schedule_changes,
        tuple(str(i["registration_id"]) for i in updated), sum(i.get("status") == "waitlisted" for i in updated),
        tuple(promoted_ids), tuple(str(i["registration_id"]) for i in closed), tuple(reminders),
    )


def refuse_past(plan: PutPlan, source: Path | str = "<event>") -> None:
    """Raise ``EventFileError`` (file, field, reason; exit 2) when the publish ``plan`` would move the event
    into the past by the service's clock (``chalicelib.clock``: ``APP_CLOCK`` in the local stage): a time
    that has passed where the stored one had not, or a new event that has already ended
    (``Event.moves_into_the_past``; README, "Event files", times in the past)."""
    problems = plan.event.moves_into_the_past(plan.stored, plan.now)
    if problems:
        raise EventFileError(source, [(name, f"{reason}; {ALLOW_PAST_HINT}") for name, reason in problems])


def put_event(event: Event, *, settle: float | None = None, on_settle: Callable[[float], None] | None = None,
              allow_past: bool = False, source: Path | str = "<event>",
              confirm: Callable[[PutPlan], None] | None = None) -> PutOutcome:
    """Store ``event`` (``store.put_event``: counters kept), fill seats a capacity increase freed, and
    tell the registrations of a changed time or place, and move the TTL of what is stored for the
    event with its end (``lifecycle.keep_retention``).

    First the publish is planned (:func:`plan_put`): unless ``allow_past``, an event that would move
    into the past is refused (:func:`refuse_past`, naming ``source``), and when it would email
    anyone ``confirm(plan)`` is called, which raises (``click.Abort``) to stop; nothing is written
    before either. After an increase ``chalicelib.lifecycle.fill_free_seats`` promotes waitlisted
    registrations into the new seats (their emails follow from the stream). A
    decrease moves nobody: confirmed stay confirmed and the event is full until
    seats free up. Then ``lifecycle.announce_schedule`` gives every registration told
    an older schedule its ``updated`` email (a run cut short is finished by the next
    ``events put``); when this publish changed the schedule it checks again after
    ``settle`` seconds (default ``lifecycle.SETTLE_SECONDS``), calling ``on_settle(seconds)``
    first. Raises ``chalicelib.events.EventFileError`` and ``botocore`` errors.
    """
    plan = plan_put(event)
    if not allow_past:
        refuse_past(plan, source)
    if confirm is not None and plan.recipients:
        confirm(plan)
    created, old_capacity = plan.created, plan.old_capacity
    published = store.put_event(event)
    outcome = PutOutcome(created, old_capacity, event.capacity, 0, 0)
    promoted = 0
    if outcome.capacity_increased:
        promoted = lifecycle.fill_free_seats(event.id)
    wait = 0.0
    if published.changed:
        wait = lifecycle.SETTLE_SECONDS if settle is None else settle
        if wait > 0 and on_settle is not None:
            on_settle(wait)
    told = lifecycle.announce_schedule(event.id, settle=wait)
    restamped = 0 if created else lifecycle.keep_retention(event.id)  # after the settle: late writes too
    after = store.get_counters(event.id, consistent=True)
    return PutOutcome(created, old_capacity, event.capacity, promoted, after.seats_taken, published.changed, told,
                      restamped)
