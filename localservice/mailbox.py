"""SES's mailbox simulator addresses in ``make run``: their events reach ``RecordEmailEvents``.

On AWS, mail to ``bounce@simulator.amazonses.com`` bounces, to ``complaint@...`` draws a
complaint, to ``success@...`` is delivered (SES Developer Guide, "Using the mailbox
simulator"), and the configuration set publishes those events. moto publishes no events,
so the local service plays that part: after each email it writes to ``outbox/``, an email
to one of these addresses (a ``+label`` is allowed, e.g. ``bounce+anna@simulator.amazonses.com``,
since one address registers once per event) gets the events SES would publish, handed to
the same ``RecordEmailEvents`` function (README, "Emails"). Mail to other addresses gets none:
``python -m staff --local registrations simulate`` makes one for any registration.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from email.utils import parseaddr
from typing import Any

SIMULATOR_DOMAIN = "simulator.amazonses.com"
#: The events SES publishes for each simulator mailbox, in order.
SIMULATED = {
    "success": ("delivery",),
    "ooto": ("delivery",),
    "bounce": ("bounce",),
    "suppressionlist": ("bounce",),
    "complaint": ("delivery", "complaint"),
}


def simulated_outcomes(address: str) -> tuple[str, ...]:
    """The events SES would publish for mail to ``address`` (``()`` for any other address)."""
    local_part, _, domain = parseaddr(address)[1].lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return ()
    return SIMULATED.get(local_part.split("+", 1)[0], ())


class MailboxSimulator:
    """Feeds the events of newly sent mail to simulator addresses to ``handler`` (an EventBridge event each)."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any]):
        self.handler = handler
        self._seen = 0

    def _messages(self) -> list[Any]:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][os.environ.get("AWS_REGION", "eu-west-1")].sent_messages)

    def feed_new(self) -> int:
        """Hand over the events of the messages sent since the last call; returns how many events."""
        from chalicelib import feedback
        from chalicelib.settings import get_settings

        settings = get_settings()
        messages = self._messages()
        fed = 0
        for message in messages[self._seen:]:
            recipient = parseaddr((getattr(message, "destinations", None) or [""])[0])[1]
            for outcome in simulated_outcomes(recipient):
                event = feedback.simulated_event(message.id, recipient, outcome,
                                                 configuration_set=settings.ses_configuration_set,
                                                 sender=settings.sender_email)
                try:
                    self.handler(event, None)
                    fed += 1
                except Exception as error:  # keep the local service up; show what went wrong
                    print(f"[local] mailbox simulator: {type(error).__name__}: {error}", file=sys.stderr)
        self._seen = len(messages)
        return fed
