"""Reminders before an event: the scheduled function's reads and writes on registrations (README, "Emails", reminders).

``chalicelib.jobs`` runs a reminder job ``reminder_<offset>`` at its due time: it lists the
registrations still to remind (:func:`reminder_candidates`, a Query filtered by DynamoDB) and asks
each for its email with one conditional write (:func:`ask_reminder`): ``notifications.<job>``
pending, which the stream feeds to ``DeliverEmails``. A registration records the reminder time it
was asked for in :func:`reminded_attribute`, so each reminder is asked once per reminder time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.store.keys import INVITE_SEQUENCE, REGISTRATION_PREFIX, SCHEDULE_REVISION, _key, event_pk
from chalicelib.store.serialize import _serializer
from chalicelib.store.table import _conditional_update, _ddb, _table


def reminded_attribute(job: str) -> str:
    """The registration attribute recording the due time (epoch seconds) a reminder ``job`` was asked for."""
    return f"{job}_due"


def reminder_candidates(event_id: str, job: str, due: int, *, registered_before: datetime,
                        after: str | None = None) -> Iterator[str]:
    """Sort keys (``REG#<id>``) of the registrations a reminder ``job`` due at ``due`` is still for.

    A consistent Query of the event's registration items, all pages, from after the sort key
    ``after`` (a cursor, :func:`save_job_cursor`) when given, filtered by DynamoDB to those that
    are ``confirmed``, registered before ``registered_before`` (aware) and not yet asked for this
    reminder at ``due`` (:func:`reminded_attribute`); only their sort keys travel. The filter
    is a read-time hint: :func:`ask_reminder`'s condition decides.
    """
    query: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :reg)",
        "FilterExpression": ("#s = :confirmed AND registered_at < :cut AND attribute_exists(email) "
                             "AND (attribute_not_exists(#r) OR #r <> :due)"),
        "ProjectionExpression": "sk",
        "ExpressionAttributeNames": {"#s": "status", "#r": reminded_attribute(job)},
        "ExpressionAttributeValues": {
            ":pk": {"S": event_pk(event_id)}, ":reg": {"S": REGISTRATION_PREFIX},
            ":confirmed": {"S": "confirmed"}, ":cut": {"S": registered_before.isoformat()},
            ":due": {"N": str(int(due))},
        },
        "ConsistentRead": True,
    }
    if after:
        query["ExclusiveStartKey"] = _key(event_pk(event_id), after)
    while True:
        page = _ddb().query(**query)
        for raw in page["Items"]:
            yield raw["sk"]["S"]
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def ask_reminder(event_id: str, sort_key: str, job: str, due: int, *, at: datetime,
                 registered_before: datetime, revision: int = 0) -> bool:
    """Ask for a reminder email: ``notifications.<job>`` ``pending`` on one registration, once per ``due``.

    A conditional UpdateItem: the registration is ``confirmed``, has an address, registered
    before ``registered_before`` (aware) and was not asked for this reminder at ``due`` (epoch
    seconds) yet; it sets ``notifications.<job>`` ``{state: pending, at, due, revision, status:
    confirmed}`` (a registrant who cancels before it is sent does not get it: ``withdraw_notification``),
    ``email_state`` ``pending`` (the stream filter's mark, ``chalicelib.streamfilter``) and
    :func:`reminded_attribute` to ``due``. So a run repeated, or two at once, ask once; an
    event moved to another time asks again for its new time.

    The reminder carries the calendar entry again with the registration's :data:`INVITE_SEQUENCE`
    (the ``SEQUENCE`` of its last calendar message; 0 when a first-release item has none): the
    same entry, so calendars change nothing. Only when the event's schedule changed since that
    message (its ``schedule_revision`` is below ``revision``, the event's now) does the same write
    add one to :data:`INVITE_SEQUENCE` (conditional on the values read), so the reminder's entry
    replaces the older one (RFC 5546: the higher SEQUENCE wins); the ``updated`` email that
    ``lifecycle.announce_schedule`` sends then comes with a higher one still. Delivery takes the
    SEQUENCE from the stream record's image (``delivery.calendar_sequence``).
    Returns ``False`` when the conditions did not hold. One UpdateItem; two when the schedule changed.
    """
    names = {"#n": "notifications", "#c": job, "#s": "status", "#r": reminded_attribute(job),
             "#sr": SCHEDULE_REVISION, "#q": INVITE_SEQUENCE}
    entry = _serializer.serialize({"state": "pending", "at": at.isoformat(), "due": int(due),
                                   "revision": int(revision), "status": "confirmed"})
    base = ("#s = :confirmed AND attribute_exists(#n) AND attribute_exists(email) "
            "AND registered_at < :cut AND (attribute_not_exists(#r) OR #r <> :due)")
    seen: dict[str, Any] | None = None  # the registration as a failed condition saw it
    for _ in range(REMINDER_ASK_ATTEMPTS):
        values: dict[str, Any] = {
            ":entry": entry, ":pending": {"S": "pending"}, ":confirmed": {"S": "confirmed"},
            ":due": {"N": str(int(due))}, ":cut": {"S": registered_before.isoformat()},
        }
        behind = seen is not None and int(seen.get(SCHEDULE_REVISION, 0)) < revision
        if seen is None or not behind:  # told the event's schedule now (as far as we know): the same SEQUENCE
            values.update({":rev": {"N": str(int(revision))}, ":zero": {"N": "0"}})
            told = "#sr >= :rev" if revision else "(attribute_not_exists(#sr) OR #sr >= :rev)"
            update = "SET #n.#c = :entry, email_state = :pending, #r = :due, #q = if_not_exists(#q, :zero)"
            condition = f"{base} AND {told}"
        else:  # the calendar entry is behind: one more than the SEQUENCE read, on condition it is still that
            conditions = [base]
            for name, attribute in (("#sr", SCHEDULE_REVISION), ("#q", INVITE_SEQUENCE)):
                if attribute in seen:
                    values[f":seen{name[1:]}"] = {"N": str(int(seen[attribute]))}
                    conditions.append(f"{name} = :seen{name[1:]}")
                else:
                    conditions.append(f"attribute_not_exists({name})")
            values[":seq"] = {"N": str(int(seen.get(INVITE_SEQUENCE, 0)) + 1)}
            update = "SET #n.#c = :entry, email_state = :pending, #r = :due, #q = :seq"
            condition = " AND ".join(conditions)
        now_seen = _conditional_update(_key(event_pk(event_id), sort_key), update=update, condition=condition,
                                       names=names, values=values)
        if now_seen is None:
            return True
        if not now_seen:
            return False
        calendar = (int(now_seen.get(SCHEDULE_REVISION, 0)), now_seen.get(INVITE_SEQUENCE))
        assumed = None if seen is None else (int(seen.get(SCHEDULE_REVISION, 0)), seen.get(INVITE_SEQUENCE))
        if (not behind and calendar[0] >= revision) or (behind and calendar == assumed):
            return False  # the calendar part held: the registration is not one to remind (or was reminded)
        seen = now_seen
    return False


#: Writes :func:`ask_reminder` tries when the registration's calendar entry changed under it (each
#: failure means an event change was announced to it meanwhile): a count, never a duration.
REMINDER_ASK_ATTEMPTS = 3
