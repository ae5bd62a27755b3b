"""Due jobs of events, run by the scheduled function ``RunDueJobs`` every :data:`RATE_MINUTES` minutes.

A job is due for an event at an instant the event's definition gives
(``Event.scheduled_times``); ``store.put_event`` writes it on the event's catalogue
item as ``due_<job>`` (epoch seconds). Each run (:func:`run_due`):

1. reads the catalogue partition (one Query, all pages; no Scan, no definition);
2. for each event and job with ``due_<job>`` at or before now and no
   ``done_<job>`` for that due time, runs the job;
3. marks the job done on the catalogue item with a conditional write
   (``store.mark_job_done``), so the next run does nothing for it.

Jobs change registrations only with conditional writes, so a run that dies half
way, or two runs at once, repeat nothing: a rerun finishes what is left. Emails
go out the usual way: the job sets ``notifications.<kind>`` to ``pending`` and the
table's stream feeds ``DeliverEmails`` (claims, retries, dead-letter queue,
recipient check).

Jobs (:func:`jobs_of`):

- ``waitlist_closed``, at the waitlist cutoff (``waitlist_closes_at``, default
  ``starts_at``) of an event with a waitlist: everyone still waiting gets one
  email saying that no seat came free (README, "Seats, waitlist and cancellation").
- ``reminder_<offset>`` (``reminder_1d``), one per entry of the event's ``reminders``
  (README, "Event files"), at ``starts_at`` minus the offset: every registration that
  is ``confirmed`` when the job reaches it and registered before the reminder's time
  gets one reminder email (:func:`send_reminders`). A cut-short run leaves a cursor on
  the catalogue item and the next run reads on from there; the job is marked done only
  when every registration was dealt with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import store
from chalicelib.events import REMINDER_PREFIX, parse_offset

logger = Logger(service="event-registration", child=True)

#: Minutes between runs of the scheduled function (its EventBridge rule); an email of a due
#: job leaves at most this long after its time. The writes' conditions do not wait for it:
#: promotions stop at the cutoff itself.
RATE_MINUTES = 5


def close_waitlist(event_id: str, now: datetime, should_stop: Callable[[], bool], due: int = 0,
                   catalogue: dict[str, Any] | None = None) -> tuple[int, bool]:
    """Ask for the ``waitlist_closed`` email of everyone still on ``event_id``'s waitlist.

    Reads the waitlist buckets (``store.waiting_registrations``) and marks each waiting
    registration's ``notifications.waitlist_closed`` pending, on condition that it is still
    waitlisted and has no such entry (``store.add_notification``). Returns ``(marked,
    finished)``; ``finished`` is ``False`` when ``should_stop()`` said to stop first.
    """
    marked = 0
    for entry in store.waiting_registrations(event_id):
        if should_stop():
            return marked, False
        if store.add_notification(event_id, entry.registration_id, "waitlist_closed", at=now, status="waitlisted"):
            marked += 1
    return marked, True


def send_reminders(job: str) -> Callable[..., tuple[int, bool]]:
    """The run of reminder ``job`` (``reminder_<offset>``): ask each registration for its reminder.

    The run reads the event's registrations from the catalogue item's ``cursor_<job>`` for
    this due time on (``store.reminder_candidates``: confirmed, registered before the
    reminder's time, not yet asked for it) and asks each with one conditional UpdateItem
    (``store.ask_reminder``); asked twice, a registration gets one email. When
    ``should_stop()`` says so it saves the cursor (``store.save_job_cursor``) and returns
    unfinished. A reminder whose event has begun asks nobody (a deploy or publish after
    the time must not remind people of an event under way).
    """
    offset = parse_offset(job[len(REMINDER_PREFIX):])

    def run(event_id: str, now: datetime, should_stop: Callable[[], bool], due: int,
            entry: dict[str, Any]) -> tuple[int, bool]:
        reminder_time = datetime.fromtimestamp(due, UTC)
        if now >= reminder_time + offset:
            logger.info("reminder not sent: the event has begun", extra={"event_id": event_id, "job": job})
            return 0, True
        revision = int(entry.get(store.SCHEDULE_REVISION, 0))  # the event's schedule now (store.put_event)
        cursor = entry.get(f"cursor_{job}") or {}
        after = str(cursor["sk"]) if cursor.get("due") == due and cursor.get("sk") else None
        asked, last = 0, None
        for sort_key in store.reminder_candidates(event_id, job, due, registered_before=reminder_time, after=after):
            if should_stop():
                if last is not None:
                    store.save_job_cursor(event_id, job, due, last)
                return asked, False
            if store.ask_reminder(event_id, sort_key, job, due, at=now, registered_before=reminder_time,
                                  revision=revision):
                asked += 1
            last = sort_key
        return asked, True

    return run


@dataclass(frozen=True)
class Job:
    """A due job: ``name`` (the catalogue's ``due_<name>``/``done_<name>``) and what it does.

    ``run(event_id, now, should_stop, due, entry)`` returns ``(changes, finished)``; ``due`` is
    the job's due time (epoch seconds), ``entry`` the catalogue item as read.
    """

    name: str
    run: Callable[..., tuple[int, bool]]


#: The jobs every event may have, run in this order for each event (then its reminders).
JOBS: tuple[Job, ...] = (Job("waitlist_closed", close_waitlist),)


def jobs_of(entry: dict[str, Any]) -> list[Job]:
    """The jobs of one catalogue item: :data:`JOBS`, then one per reminder in its ``reminders``, earliest first.

    A ``due_reminder_<offset>`` whose offset is no longer in ``reminders`` (the event file
    changed) is not a job any more.
    """
    reminders = [str(r) for r in entry.get("reminders") or ()]
    found = list(JOBS)
    for text in reminders:
        try:
            parse_offset(text)
        except ValueError:
            continue  # not one this release can read: never a job
        found.append(Job(f"{REMINDER_PREFIX}{text}", send_reminders(f"{REMINDER_PREFIX}{text}")))
    return found


@dataclass
class RunReport:
    """What one run did: ``done`` lists ``(event_id, job, changes)``; ``unfinished`` the jobs left for the next run."""

    done: list[tuple[str, str, int]] = field(default_factory=list)
    unfinished: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The function's return value (ids and counts only)."""
        return {
            "done": [{"event_id": e, "job": j, "changes": n} for e, j, n in self.done],
            "unfinished": [{"event_id": e, "job": j} for e, j in self.unfinished],
        }


def due_jobs(entry: dict[str, Any], now: datetime) -> list[tuple[Job, int]]:
    """``(job, due time)`` of the jobs due for one catalogue item at ``now`` and not done for that time."""
    found = []
    for job in jobs_of(entry):
        due = entry.get(f"due_{job.name}")
        if due is None or int(due) > now.timestamp():
            continue
        if entry.get(f"done_{job.name}") == int(due):
            continue
        found.append((job, int(due)))
    return found


#: A run stops starting writes when the Lambda function has less than this left (milliseconds).
STOP_BEFORE_TIMEOUT_MS = 30_000


def time_is_short(context: Any) -> Callable[[], bool]:
    """A ``should_stop`` for :func:`run_due` from a Lambda context: less than 30 s left (none: never)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: False
    return lambda: remaining() < STOP_BEFORE_TIMEOUT_MS


def run_due(now: datetime, should_stop: Callable[[], bool] = lambda: False) -> RunReport:
    """Run every job that is due at ``now`` (aware) and not done yet, for every event.

    ``should_stop()`` is asked between writes (the Lambda function passes "less than
    30 s left"): a job cut short is not marked done, and the next run carries on.
    AWS calls: one Query of the catalogue (per 1 MB page), and per due job its own
    (``close_waitlist``: a Query of the waitlist buckets and one conditional UpdateItem
    per waiting registrant; a reminder: a Query of the event's registrations per 1 MB
    page read and one conditional UpdateItem per registration it is for, plus one saving
    the cursor when cut short), then one conditional UpdateItem marking it done.
    """
    report = RunReport()
    for entry in store.catalogue_entries():
        event_id = str(entry.get("event_id") or entry["sk"])
        for job, due in due_jobs(entry, now):
            changes, finished = job.run(event_id, now, should_stop, due, entry)
            if not finished:
                report.unfinished.append((event_id, job.name))
                logger.info("due job cut short, the next run carries on",
                            extra={"event_id": event_id, "job": job.name, "changes": changes})
                return report
            store.mark_job_done(event_id, job.name, due)
            report.done.append((event_id, job.name, changes))
            logger.info("due job done", extra={"event_id": event_id, "job": job.name, "changes": changes})
    return report
