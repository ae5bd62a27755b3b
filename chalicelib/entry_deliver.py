"""Lambda entry of the ``DeliverEmails`` function: ``chalicelib.entry_deliver.handler``.

The stack (``infrastructure/stacks/registration.py``, ``DELIVER_HANDLER``)
points the function's ``Handler`` here instead of at ``app.deliver_emails``,
so that a cold start of the stream consumer imports the delivery code only:
not ``app.py`` (routes, pages, OpenAPI) and not Chalice. ``app.py`` keeps
``@app.lambda_function(name="DeliverEmails")``, which makes Chalice create the
function and lets ``make run`` feed it; both call the same
:func:`chalicelib.delivery.handle_batch`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import delivery
from chalicelib.lambdalog import with_lambda_context

# The service's structured JSON logger, as app.py sets it up: chalicelib's
# modules log through child loggers of this one (ids only, never personal data).
logger = Logger(service="event-registration")


@with_lambda_context(logger)
def handler(lambda_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Send the emails of a batch of DynamoDB stream records (Lambda's event shape).

    Returns the partial batch response ``{"batchItemFailures": [{"itemIdentifier":
    <sequence number>}, ...]}`` (README, "Emails"); the event source mapping
    retries the records listed there.
    """
    return delivery.handle_batch(lambda_event, context)
