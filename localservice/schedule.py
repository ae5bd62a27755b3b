"""A stand-in for the EventBridge rule of the scheduled ``RunDueJobs`` function.

``chalice local`` runs no scheduled functions, so ``make run`` calls the app's
``RunDueJobs`` handler (the one Chalice registers for ``@app.schedule``) itself,
every :data:`EVERY_SECONDS` seconds of real time (``SCHEDULE_SECONDS`` overrides
it), with an EventBridge scheduled event. The jobs read the service's clock
(``APP_CLOCK``), so a clock pinned just before an event's waitlist cutoff shows
the ``waitlist_closed`` emails arrive in ``outbox/`` soon after it (README,
"Seats, waitlist and cancellation").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib import clock

#: Seconds between two calls of the scheduled handler by the local service (deployed: every 5 minutes).
EVERY_SECONDS = 10.0


def scheduled_event(region: str) -> dict[str, Any]:
    """An EventBridge "Scheduled Event" as Lambda receives it, stamped with the service's clock."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/RunDueJobs"],
        "detail": {},
    }


class ScheduleRunner:
    """Calls ``handler(event, context)`` when :data:`EVERY_SECONDS` have passed since the last call.

    ``monotonic`` is the time source (seconds); the first :meth:`run_if_due` calls at once.
    """

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any], region: str,
                 every_seconds: float = EVERY_SECONDS, monotonic: Callable[[], float] = time.monotonic):
        self.handler = handler
        self.region = region
        self.every_seconds = every_seconds
        self.monotonic = monotonic
        self._last: float | None = None

    def run_if_due(self) -> Any:
        """Call the handler if it is time; its result, else ``None``."""
        now = self.monotonic()
        if self._last is not None and now - self._last < self.every_seconds:
            return None
        self._last = now
        return self.handler(scheduled_event(self.region), None)
