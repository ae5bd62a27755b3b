"""The service's clock: real UTC time, or a pinned start in the ``local`` stage.

In the ``local`` stage ``APP_CLOCK`` (ISO 8601 with offset, e.g.
``2023-05-22T09:00:00+02:00``) sets the clock to that instant when the process
starts; it then runs on at real speed, so registration times still order
registrations. Every other stage ignores ``APP_CLOCK`` (PRODUCT.md, "The local service").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo

from chalicelib.settings import LOCAL_STAGE, get_settings

# Monotonic reading when this process started (imported); the pinned clock counts from here.
_PROCESS_START = time.monotonic()


def pinned_start(app_clock: str) -> datetime:
    """Parse an ``APP_CLOCK`` value into an aware UTC datetime.

    Raises ``ValueError`` if it is not ISO 8601 or has no UTC offset.
    """
    start = datetime.fromisoformat(app_clock)
    if start.tzinfo is None:
        raise ValueError(f"APP_CLOCK needs a UTC offset, got {app_clock!r}")
    return start.astimezone(UTC)


def pinned_start_zone(app_clock: str) -> tzinfo:
    """The UTC offset an ``APP_CLOCK`` value was written in (to show the clock as it was given)."""
    return datetime.fromisoformat(app_clock).tzinfo or UTC


def now() -> datetime:
    """The current instant as an aware UTC datetime.

    Raises ``ValueError`` when the ``local`` stage has a malformed ``APP_CLOCK``.
    """
    settings = get_settings()
    if settings.stage == LOCAL_STAGE and settings.app_clock:
        return pinned_start(settings.app_clock) + timedelta(seconds=time.monotonic() - _PROCESS_START)
    return datetime.now(UTC)
