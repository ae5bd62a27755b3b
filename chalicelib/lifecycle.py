"""State changes after registering: cancellation and promotion from the waitlist.

States: ``confirmed`` (holds a seat), ``waitlisted`` (queued by
``waitlist_ticket``, i.e. by time of registering), ``cancelled`` (final).
Every transition is one DynamoDB transaction guarded by the current state
(``chalicelib.store``), retried on a conflict with fresh reads, so two
simultaneous cancellations never promote the same person twice nor leave a
seat empty while someone waits. Emails follow from the stream records.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import retry, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_random_exponential

from chalicelib import clock, store

_RETRY = dict(
    retry=retry_if_exception_type(store.Conflict),
    wait=wait_random_exponential(multiplier=0.01, max=0.25),
    stop=stop_after_attempt(400) | stop_after_delay(25),
    reraise=True,
)


@dataclass(frozen=True)
class CancelResult:
    """The outcome of :func:`cancel`.

    ``changed`` is ``False`` when the registration was already cancelled;
    ``promoted_id`` names the waitlisted registration that got the seat, if any.
    """

    registration_id: str
    event_id: str
    changed: bool
    promoted_id: str | None = None


@retry(**_RETRY)
def cancel(event_id: str, registration_id: str, *, by: str = "registrant") -> CancelResult:
    """Cancel a registration (``by`` is ``registrant`` or ``staff``, recorded on the item).

    A confirmed registration's seat goes to the first waitlisted registration,
    if any; a waitlisted one leaves the queue. Cancelling twice changes nothing.
    A cancel never meets a capacity check. Raises ``store.RegistrationNotFound``
    and, past the retry budget, ``store.Conflict``.
    """
    item = store.get_registration_in_event(event_id, registration_id)
    if item["status"] == "cancelled":
        return CancelResult(registration_id, event_id, False)
    head = None
    if item["status"] == "confirmed":
        event_item = store.get_event_item(event_id, consistent=True)
        capacity = event_item.get("seat_capacity")
        over_capacity = capacity is not None and int(event_item["seats_taken"]) > int(capacity)
        if int(event_item.get("waitlisted_count", 0)) > 0 and not over_capacity:
            queue = store.waitlisted_items(event_id)
            head = queue[0] if queue else None
            if head is None:
                raise store.Conflict("waitlist count and items disagree; read again")
    store.cancel_transition(item, clock.now().isoformat(), by, head)
    return CancelResult(registration_id, event_id, True, head["registration_id"] if head else None)


@retry(**_RETRY)
def _promote_one(event_id: str) -> bool:
    event_item = store.get_event_item(event_id, consistent=True)
    capacity = event_item.get("seat_capacity")
    if int(event_item.get("waitlisted_count", 0)) == 0:
        return False
    if capacity is not None and int(event_item["seats_taken"]) >= int(capacity):
        return False
    queue = store.waitlisted_items(event_id)
    if not queue:
        return False
    store.promote_transition(queue[0], clock.now().isoformat())
    return True


def fill_free_seats(event_id: str) -> int:
    """Promote waitlisted registrations, first come first served, while seats are free.

    Used after a capacity increase (staff ``events put``). Returns how many were promoted.
    """
    promoted = 0
    while _promote_one(event_id):
        promoted += 1
    return promoted
