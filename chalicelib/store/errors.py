"""The persistence errors: what a failed condition or a missing item means."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.errors import Busy, ServiceError

if TYPE_CHECKING:
    from chalicelib.store.counters import EventCounters


class StoreError(ServiceError):
    """Base of the persistence errors below (:class:`Busy`, the "try again", is ``chalicelib.errors``')."""


class EventNotFound(StoreError):
    """No event (definition or counters item) with this id (404 ``not-found``)."""

    STATUS = 404
    CODE = "not-found"

    def problem_params(self, language: str) -> dict[str, Any]:
        """The detail names what was not found: an event."""
        return {"what": "event"}


class RegistrationNotFound(StoreError):
    """No registration with this id (404 ``not-found``)."""

    STATUS = 404
    CODE = "not-found"

    def problem_params(self, language: str) -> dict[str, Any]:
        """The detail names what was not found: a registration."""
        return {"what": "registration"}


class RegistrationErased(RegistrationNotFound):
    """The registration's data was erased (staff ``registrations erase``, a GDPR request): 410
    ``registration-erased``, to the holder of its personal link only (the token is checked first)."""

    STATUS = 410
    CODE = "registration-erased"

    def problem_params(self, language: str) -> dict[str, Any]:
        """No values: the detail says it all."""
        return {}


class AlreadyRegistered(StoreError):
    """The address guard for this event and address exists (409 ``already-registered``)."""

    STATUS = 409
    CODE = "already-registered"


class EventFull(StoreError):
    """No seat left (and, for a waitlist write, no waitlist); ``counters`` as the failed condition saw them
    (409 ``event-full``)."""

    STATUS = 409
    CODE = "event-full"

    def __init__(self, event_id: str, counters: EventCounters | None = None):
        super().__init__(event_id)
        self.counters = counters


class WindowClosed(StoreError):
    """The registration window was not open at the moment of the write; ``state`` is ``not_yet_open`` or ``closed``."""

    STATUS = 409
    CODE = "registration-closed"

    def __init__(self, state: str):
        super().__init__(state)
        self.state = state

    def problem_params(self, language: str) -> dict[str, Any]:
        """The detail says which: ``state``."""
        return {"state": self.state}


class SeatFree(Busy):
    """A waitlist write found a free seat (the event is not full any more): register for the seat instead."""


class EventOver(StoreError):
    """The event has ended (``ends_at`` on the counters item): a cancellation changes nothing any more
    (409 ``event-over``)."""

    STATUS = 409
    CODE = "event-over"


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
