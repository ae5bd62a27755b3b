"""Lambda entry of the ``RecordEmailEvents`` function: ``chalicelib.entry_feedback.handler``.

Like ``chalicelib.entry_deliver``, the stack (``infrastructure/stacks/registration.py``,
``FEEDBACK_HANDLER``) points the function's ``Handler`` here instead of at
``app.record_email_events``, so its cold start imports the feedback code only: not
``app.py`` and not Chalice. ``app.py`` keeps ``@app.lambda_function(name="RecordEmailEvents")``,
which makes Chalice create the function; both call :func:`chalicelib.feedback.handle_event`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import feedback
from chalicelib.lambdalog import with_lambda_context

# The service's structured JSON logger, as app.py sets it up (ids only, never personal data).
logger = Logger(service="event-registration")


@with_lambda_context(logger)
def handler(lambda_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record one SES event (an EventBridge event, README "Emails") on its registration's notification.

    Returns ``{"result": ..., "outcome": ...}`` (``feedback.handle_event``); raises to have
    Lambda retry the event (then its dead-letter queue takes it).
    """
    return feedback.handle_event(lambda_event)
