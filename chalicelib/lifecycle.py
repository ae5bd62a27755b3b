"""State changes after registering: cancellation, erasure, promotion from the waitlist, and
telling registrations of a change to the event's time or place (:func:`announce_schedule`).

States: ``confirmed`` (holds a seat), ``waitlisted`` (queued by
``waitlist_ticket``, i.e. by time of registering), ``cancelled`` (final),
``erased`` (final, staff). Every transition is one DynamoDB transaction guarded
by the current state (``chalicelib.store``), retried on a conflict, so two
simultaneous cancellations never promote the same person twice nor leave a
seat empty while someone waits. Emails follow from the stream records.

Time rules (README, "Seats, waitlist and cancellation"), enforced by the
transactions' conditions on the counters item: from the event's waitlist cutoff
(``waitlist_closes_at``, default ``starts_at``) a freed seat goes to nobody (the
seat count drops, the waitlist stays as it is); from ``ends_at`` a cancellation
is refused (``store.EventOver``). An erasure may come any time.

DynamoDB calls of a cancellation: the registration (1, or none when the caller
has it from the index), the waitlist head for a confirmed one or the
registration's own waitlist bucket for a waiting one (1), the transaction (1).
A retry starts from what the failed conditions saw, so it reads only the head
or bucket again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import clock, schedules, store
from chalicelib.errors import Busy, retried
from chalicelib.events import Event
from chalicelib.settings import get_settings

#: Attempts of one transition before :class:`~chalicelib.errors.Busy` is raised: a count, never a duration.
#: An attempt fails only when another write changed the same items in between, i.e. when another
#: cancellation, promotion or registration succeeded, so the count bounds the work, not the time.
TRANSITION_ATTEMPTS = 50


@dataclass(frozen=True)
class CancelResult:
    """The outcome of :func:`cancel`.

    ``changed`` is ``False`` when the registration was already cancelled (or
    erased: ``status`` says which); ``promoted_id`` names the waitlisted
    registration that got the seat, if any; ``language`` is the registrant's.
    """

    registration_id: str
    event_id: str
    changed: bool
    promoted_id: str | None = None
    language: str | None = None
    status: str = "cancelled"


@dataclass(frozen=True)
class EraseResult:
    """The outcome of :func:`erase`: items changed (0 if already erased), and who got the seat."""

    items_changed: int
    freed_seat: bool
    promoted_id: str | None = None


def _places(item: dict[str, Any], over_capacity: bool, promotions_closed: bool = False,
            ) -> tuple[store.WaitlistEntry | None, store.WaitlistEntry | None]:
    """``(own, head)`` for ending ``item``: its waitlist entry if it waits; the seat's successor if it holds one.

    The successor is the first in the waitlist, or ``None`` when nobody waits, the
    event is over capacity (a lowered capacity: the seat is given back instead) or
    the waitlist cutoff has passed (``promotions_closed``: nobody is promoted).
    Raises ``Busy`` when a waiting item has no entry (a write in flight: read again).
    """
    if item["status"] == "waitlisted":
        own = store.waitlist_entry(item["event_id"], int(item["waitlist_ticket"]))
        if own is None:
            raise Busy("the registration waits but its waitlist entry is gone; read again")
        return own, None
    if item["status"] == "confirmed" and not over_capacity and not promotions_closed:
        return None, store.waitlist_head(item["event_id"])
    return None, None


def _end(event_id: str, registration_id: str, item: dict[str, Any] | None, done: Callable[[dict[str, Any]], bool],
         transition: Callable[..., Any], *, now: datetime, event: Event | None = None,
         refuse_after_end: bool = False) -> tuple[dict[str, Any], Any, store.WaitlistEntry | None]:
    """Run ``transition(item, own=..., head=...)`` with retries; ``(item, its result, head)``.

    ``item`` is a first guess of the registration (e.g. from the index), read
    consistently when ``None``. ``done(item)`` says there is nothing to do; then
    the result is ``None``. ``now`` is the moment of the transition; ``event`` (the
    definition, when the caller has it) tells from the start whether the waitlist
    cutoff or, with ``refuse_after_end``, the end has passed; without it the first
    attempt assumes neither and the write's condition decides. After a failed attempt
    the next one starts from the registration as the failed condition saw it (or as
    read, if its condition held) and from what the counters say (over capacity, past
    the cutoff, over). Raises ``store.EventOver`` (``refuse_after_end``) for a
    registration that is not done when the event has ended.
    """
    state: dict[str, Any] = {
        "item": item, "over_capacity": False,
        "promotions_closed": event is not None and event.promotions_closed(now),
        "over": event is not None and event.over(now),
    }
    @retried(TRANSITION_ATTEMPTS)
    def attempt() -> tuple[dict[str, Any], Any, store.WaitlistEntry | None]:
        current = state["item"] or store.get_registration_in_event(event_id, registration_id)
        if done(current):
            return current, None, None
        if refuse_after_end and state["over"]:
            raise store.EventOver(event_id)
        try:
            own, head = _places(current, state["over_capacity"], state["promotions_closed"])
        except Busy:
            state["item"] = None  # the copy may be stale: read the registration itself next time
            raise
        try:
            result = transition(current, own=own, head=head)
        except Busy as conflict:
            state["item"] = conflict.registration or current
            if conflict.counters is not None:
                state["over_capacity"] = conflict.counters.over_capacity
                state["promotions_closed"] = conflict.counters.promotions_closed(now)
                state["over"] = conflict.counters.over(now)
            raise
        return current, result, head

    return attempt()


def cancel(event_id: str, registration_id: str, *, by: str = "registrant", item: dict[str, Any] | None = None,
           event: Event | None = None) -> CancelResult:
    """Cancel a registration (``by`` is ``registrant`` or ``staff``, recorded on the item).

    A confirmed registration's seat goes to the first waitlisted registration,
    if any, until the waitlist cutoff; from then on the seat count drops and the
    waitlist stays as it is. A waitlisted one leaves the queue. Cancelling twice
    changes nothing. A cancel never meets a capacity check. ``item``, when the
    caller has read the registration (``store.find_registration``), saves reading
    it; a stale copy only costs a retry. ``event``, when the caller has the
    definition, saves a try at a promotion past the cutoff. Raises
    ``store.RegistrationNotFound``, ``store.EventOver`` (the event has ended: nothing
    changed) and, past :data:`TRANSITION_ATTEMPTS`, ``Busy``.
    """
    now = clock.now()
    at = now.isoformat()

    def cancelled(i: dict[str, Any], own: store.WaitlistEntry | None, head: store.WaitlistEntry | None) -> bool:
        store.cancel_transition(i, at, by, own=own, head=head)
        return True

    current, result, head = _end(
        event_id, registration_id, item,
        lambda i: i["status"] not in ("confirmed", "waitlisted"),
        cancelled,
        now=now, event=event, refuse_after_end=True,
    )
    language = current.get("language")
    if result is None:
        return CancelResult(registration_id, event_id, False, language=language, status=current["status"])
    return CancelResult(registration_id, event_id, True, head.registration_id if head else None, language)


def erase(event_id: str, registration_id: str, *, delete_guard: bool) -> EraseResult:
    """Erase one registration's personal data (GDPR), passing its seat on like a cancellation.

    Unlike a cancellation it may come after the event; past the waitlist cutoff the seat goes to nobody.

    Reads the item afresh. Raises ``store.RegistrationNotFound`` and, past
    :data:`TRANSITION_ATTEMPTS`, ``Busy``.
    """
    now = clock.now()
    at = now.isoformat()
    current, changed, head = _end(
        event_id, registration_id, None,
        lambda i: i["status"] == "erased" or "email" not in i,
        lambda i, own, head: store.erase_transition(i, at, own=own, head=head, delete_guard=delete_guard),
        now=now,
    )
    if changed is None:
        return EraseResult(0, False)
    return EraseResult(changed, current["status"] == "confirmed", head.registration_id if head else None)


@retried(TRANSITION_ATTEMPTS)
def _promote_one(event_id: str) -> bool:
    """Promote the head of the waitlist if a seat is free; whether someone was promoted."""
    head = store.waitlist_head(event_id)
    if head is None:
        return False
    try:
        store.promote_transition(event_id, head, clock.now().isoformat())
    except store.EventFull:
        return False
    return True


def fill_free_seats(event_id: str) -> int:
    """Promote waitlisted registrations, first come first served, while seats are free.

    Used after a capacity increase (staff ``events put``). Nobody is promoted once the
    waitlist cutoff has passed (the transaction's condition). Returns how many were promoted.
    """
    promoted = 0
    while _promote_one(event_id):
        promoted += 1
    return promoted


#: Seconds :func:`announce_schedule` waits before its second pass when asked to settle: a
#: registration made meanwhile by a function instance that still kept the old definition
#: (``store.DEFINITION_MAX_AGE``), even after its write's retries, has landed by then.
SETTLE_SECONDS = store.DEFINITION_MAX_AGE + 5.0


def keep_retention(event_id: str) -> int:
    """Move the TTL of everything stored for the event to its end now plus ``RETENTION_DAYS``
    (README, "Storage"; ``store.restamp_expiry``), quiet guards to when registration closes; never
    earlier than a day from now by the service's clock (``store.EXPIRY_MARGIN_SECONDS``).

    For after a publish that moved the event (staff ``events put`` runs it after telling the
    registrations, past the settle time, so registrations made with a definition kept from before
    are moved too). Returns how many items changed. Raises ``store.EventNotFound`` and botocore errors.
    """
    event = store.event_from_item(store.get_event_item(event_id, consistent=True))
    closes = int(event.utc(event.closes_at_local).timestamp())
    return store.restamp_expiry(event.id, event.retention_until(get_settings().retention_days), closes,
                                now=int(clock.now().timestamp()))


def schedule_update(item: dict[str, Any], revision: int, history: dict[str, dict[str, str]],
                    *, waiting_too: bool = True) -> dict[str, Any] | None:
    """The ``updated`` email entry a registration item is owed for schedule ``revision`` of ``history``
    (``store.schedules_of``), or ``None`` when it is owed none: not holding or awaiting a seat (or
    waiting when ``waiting_too`` is false), erased, told this revision already, or the schedule it
    last read is the current one again. ``{"revision", "since", "changes", "previous"}``: a
    registration whose ``updated`` email is still unclaimed keeps the schedule that email was to
    compare with (``since``), so the next email names every change since what the registrant last read.
    """
    current = history.get(str(revision))
    if item.get("status") not in ("confirmed", "waitlisted") or "email" not in item:
        return None
    if item.get("status") == "waitlisted" and not waiting_too:
        return None
    seen = int(item.get(store.SCHEDULE_REVISION, 0))
    if seen >= revision or current is None:
        return None
    waiting = (item.get("notifications") or {}).get("updated") or {}
    since = int(waiting["since"]) if waiting.get("state") == "pending" and "since" in waiting else seen
    before = history.get(str(since))
    changed = schedules.changes(before, current)
    if before is not None and not changed:
        return None  # changed and changed back: what the registrant knows is right again
    return {"revision": revision, "since": since, "changes": list(changed), "previous": before or {}}


def _tell(item: dict[str, Any], revision: int, history: dict[str, dict[str, str]], at: str,
          *, waiting_too: bool = True) -> bool:
    """Give one registration its ``updated`` email if it was told an older schedule (:func:`schedule_update`);
    whether it got one. Retried from what a failed condition saw (``store.mark_schedule_change``).
    """
    for _ in range(TRANSITION_ATTEMPTS):
        entry = schedule_update(item, revision, history, waiting_too=waiting_too)
        if entry is None:
            return False
        seen_now = store.mark_schedule_change(item, revision, entry, at)
        if seen_now is None:
            return True
        item = seen_now
    raise Busy(f"registration {item.get('registration_id')} kept changing; run the announcement again")


def _announce_pass(event_id: str) -> int:
    event_item = store.get_event_item(event_id, consistent=True)  # one read: the schedules and the cutoff
    revision, history = store.schedules_of(event_item)
    if revision == 0:
        return 0
    now = clock.now()
    # Past the waitlist cutoff those still waiting were told no seat came free: no "still on the waitlist" now.
    waiting_too = not store.event_from_item(event_item).promotions_closed(now)
    return sum(_tell(item, revision, history, now.isoformat(), waiting_too=waiting_too)
               for item in store.iter_registrations(event_id, consistent=True))


def announce_schedule(event_id: str, *, settle: float = 0.0) -> int:
    """Tell every registration holding a seat, or awaiting one before the waitlist cutoff, that the
    event's time or place changed (after the cutoff those waiting were told that no seat came free;
    an "updated" email would promise them one again).

    Each registration whose ``schedule_revision`` is below the event's gets its
    ``updated`` email (in its language, with what changed; a calendar REQUEST with a
    higher SEQUENCE when it holds a seat) through the stream-fed delivery, by one
    conditional write (``store.mark_schedule_change``); the registrations are a
    consistent Query of the event's partition, never a Scan. Safe to run again: a
    registration already told is skipped, so a run that stopped halfway is finished by
    the next (staff ``events put`` runs it after every publish). ``settle`` (seconds)
    runs a second pass after waiting that long, for registrations made meanwhile with
    a definition kept from before the change (use :data:`SETTLE_SECONDS`).
    Returns how many registrations were told. Raises ``store.EventNotFound`` and
    ``Busy`` (a registration kept changing).
    """
    told = _announce_pass(event_id)
    if settle > 0:
        time.sleep(settle)
        told += _announce_pass(event_id)
    return told
