"""Dates and times as people read them, in the event's zone, localised by Babel.

The zone abbreviation comes from the IANA data through ``zoneinfo`` (``CEST``
on 5 June 2023 in Europe/Amsterdam), because Babel's English locale writes
``+0200`` instead.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_time, format_timedelta

from chalicelib.events import Event


def event_when(event: Event, language: str) -> str:
    """``"maandag 5 juni 2023, 14:00-17:00 CEST"``: the event's date and times, local.

    An event over several days reads ``"<start date>, <time> - <end date>, <time> <zone>"``.
    """
    return span_when(event.local(event.starts_at), event.local(event.ends_at), language)


def span_when(start: datetime, end: datetime, language: str) -> str:
    """Two aware instants as :func:`event_when` writes an event's times, in the zone they carry.

    Used for an event's earlier times too (the ``updated`` email's "was ..."), given in its zone.
    """
    start_zone, end_zone = start.tzname(), end.tzname()
    if start.date() == end.date():
        times = f"{format_time(start, 'HH:mm', locale=language)}-{format_time(end, 'HH:mm', locale=language)}"
        zone = start_zone if start_zone == end_zone else f"{start_zone}/{end_zone}"
        return f"{format_date(start, 'full', locale=language)}, {times} {zone}"
    return (
        f"{format_date(start, 'full', locale=language)}, {format_time(start, 'HH:mm', locale=language)} {start_zone}"
        f" - {format_date(end, 'full', locale=language)}, {format_time(end, 'HH:mm', locale=language)} {end_zone}"
    )


def local_timestamp(event: Event, instant: datetime, language: str) -> str:
    """An aware instant in the event's zone, e.g. ``"22 mei 2023 09:00 CEST"``."""
    local = instant.astimezone(event.zone)
    return (
        f"{format_date(local, 'long', locale=language)} {format_time(local, 'HH:mm', locale=language)} {local.tzname()}"
    )


def day_timestamp(event: Event, instant: datetime, language: str) -> str:
    """An aware instant in the event's zone with its weekday: ``"maandag 5 juni 2023 14:00 CEST"``,
    ``"Monday, June 5, 2023 14:00 CEST"`` (Babel's full date)."""
    local = instant.astimezone(event.zone)
    return (
        f"{format_date(local, 'full', locale=language)} {format_time(local, 'HH:mm', locale=language)} {local.tzname()}"
    )


def short_start(event: Event, language: str) -> str:
    """``"ma 5 jun, 14:00 CEST"``: the event's start, short, for a subject line (Babel, the zone's abbreviation)."""
    start = event.local(event.starts_at)
    day, time = format_date(start, "EEE d MMM", locale=language), format_time(start, "HH:mm", locale=language)
    return f"{day}, {time} {start.tzname()}"


def starts_in(event: Event, now: datetime, language: str) -> str:
    """``"over 24 uur"`` / ``"in 24 hours"``: how long from ``now`` (aware) until the event starts (Babel).

    Rounded by Babel to the largest unit that reads well (``threshold=1.5``: 23 h 55 min is
    "24 hours", 2 days are "2 days"); never negative (reminders of an event that has begun are
    not asked for, ``chalicelib.jobs``).
    """
    left = event.utc(event.starts_at) - now
    if left.total_seconds() < 0:
        left = left * 0
    return format_timedelta(left, add_direction=True, threshold=1.5, locale=language)
