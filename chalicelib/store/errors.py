"""The persistence errors: what a failed condition or a missing item means."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.store.counters import EventCounters


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

    def __init__(self, event_id: str, counters: EventCounters | None = None):
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
                 counters: EventCounters | None = None):
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
