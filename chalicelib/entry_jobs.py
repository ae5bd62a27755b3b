"""Lambda entry of the scheduled ``RunDueJobs`` function: ``chalicelib.entry_jobs.handler``.

The stack (``infrastructure/stacks/registration.py``, ``JOBS_HANDLER``) points the
function's ``Handler`` here instead of at ``app.run_due_jobs``, so that a cold
start imports the due jobs' code only (the table, no pages, emails nor Chalice).
``app.py`` keeps ``@app.schedule(..., name="RunDueJobs")``, which makes Chalice
create the function and its EventBridge rule and lets ``make run`` call it; both
call :func:`chalicelib.jobs.run_due`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import clock, jobs
from chalicelib.lambdalog import with_lambda_context

# The service's structured JSON logger, as app.py sets it up (ids only, never personal data).
logger = Logger(service="event-registration")


@with_lambda_context(logger)
def handler(lambda_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run the due jobs (an EventBridge scheduled event; its content is not used).

    Returns ``{"done": [{event_id, job, changes}], "unfinished": [{event_id, job}]}``.
    """
    return jobs.run_due(clock.now(), jobs.time_is_short(context)).as_json()
