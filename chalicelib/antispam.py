"""Telling bots from people without ever losing a person: the honeypot and the minimum fill time.

Rules (README, "The registration page", anti-spam paragraph):

- ``website`` is a honeypot field, hidden from people (and from screen readers);
  a bot that fills every field fills it. That is the one clear bot signal, and
  it is quiet: the post gets the answer a person's post would get at that moment
  (201/303, or 409 when the event is closed, full, or the address was already
  used) and nothing is stored. A caught post leaves a *quiet guard* (a hash of
  the address, until registration closes), so the same post sent again gets 409
  like a person's repeat; only honeypot posts consult it, so a bot cannot block
  a person's address.
- ``form_started_at`` is when the form was shown: epoch seconds, or epoch
  milliseconds (JavaScript's ``Date.now()``) for values above
  ``validation.MILLISECONDS_FROM`` (1e11); at most 13 digits (the model refuses
  more with 422). A post sooner than ``MIN_FILL_SECONDS`` (default 3) after it is
  refused with 422 ``too_fast`` naming the field ("please check your answers and
  send the form again"), never dropped: the form shown again starts the clock
  ``MIN_FILL_SECONDS`` earlier, so the next click passes. A time in the future
  (a clock ahead of ours) cannot be judged and is taken as a person's. Posts
  without it (the JSON API, an organiser's own HTML form), JSON or form-encoded,
  are not judged by time: refusing them would lose people.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import store
from chalicelib.events import Event
from chalicelib.i18n import field_error
from chalicelib.settings import get_settings
from chalicelib.validation import MILLISECONDS_FROM, FieldError, RegistrationInvalid


def caught_by_honeypot(fields: dict[str, Any]) -> bool:
    """Whether validated registration ``fields`` filled the honeypot ``website``: a bot."""
    return bool(fields.get("website"))


def started_seconds(form_started_at: float) -> float:
    """``form_started_at`` in epoch seconds: values above 1e11 are milliseconds (``Date.now()``)."""
    return form_started_at / 1000 if form_started_at > MILLISECONDS_FROM else float(form_started_at)


def check_fill_time(fields: dict[str, Any], language: str, now: float | None = None) -> None:
    """Refuse a form sent sooner than ``MIN_FILL_SECONDS`` after ``form_started_at``.

    ``fields`` are validated (``form_started_at`` a number within the model's bounds, or
    ``None``); ``now`` is epoch seconds (default ``time.time()``: real time, like the browser's
    ``Date.now()`` a site's form sends, never the ``local`` stage's pinned ``chalicelib.clock``);
    ``MIN_FILL_SECONDS`` is read at call time (0 turns the check off). A start in the future is not judged.
    Raises ``validation.RegistrationInvalid`` with one ``too_fast`` error on ``form_started_at``
    (message in ``language``).
    """
    started = fields.get("form_started_at")
    minimum = get_settings().min_fill_seconds
    if started is None or minimum <= 0:
        return
    elapsed = (time.time() if now is None else now) - started_seconds(started)
    if 0 <= elapsed < minimum:
        raise RegistrationInvalid([FieldError("form_started_at", "too_fast", field_error("too_fast", language))])


@dataclass(frozen=True)
class QuietAnswer:
    """What a person's post would have got: ``status`` ``confirmed`` or ``waitlisted`` and,
    when waitlisted, the ``waitlist_position`` (from 1) it would have had."""

    status: str
    waitlist_position: int | None


def quiet_answer(event: Event, email: str, now: datetime) -> QuietAnswer:
    """The answer for a honeypot post to an open ``event`` with address ``email``; stores no registration.

    Mirrors :func:`chalicelib.registrations.register` for a person, except that it never tells whether a
    person registered the address (it stores and sends nothing, so it would be a silent way to find out):
    409 ``event-full`` when no seat is left and there is no waitlist (or it is past its cutoff), 409
    ``already-registered`` when this address was caught before (a live quiet guard: a repeat), else 201,
    waitlisted past capacity.
    Writes the quiet guard (conditional, until registration closes; ``now`` aware UTC).
    Raises ``store.EventFull``, ``store.AlreadyRegistered`` and ``store.EventNotFound``.
    """
    counters = store.get_counters(event.id)
    full = counters.full
    epoch = int(now.timestamp())
    if full and not counters.waitlist_open(now):
        if store.quiet_guard_live(event.id, email, now=epoch):
            raise store.AlreadyRegistered(event.id)
        raise store.EventFull(event.id)
    closes = int(event.utc(event.closes_at_local).timestamp())
    store.put_quiet_guard(event.id, email, now=epoch, expires_at=max(closes, epoch + 1))
    if full:
        return QuietAnswer("waitlisted", counters.waitlisted_count + 1)
    return QuietAnswer("confirmed", None)
