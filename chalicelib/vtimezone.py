"""The ``VTIMEZONE`` of an invite, with yearly rules as Outlook needs them (README, "Emails", calendar invites).

icalendar generates a time zone's observances as one-off dates (``RDATE``), each
``DTSTART`` at the local time after the change. Outlook on Windows ignores ``RDATE``
in a ``VTIMEZONE``: it takes the zone as one without daylight saving time
("(UTC+01:00) West-Central Africa") and shows a summer event an hour off (reported
against other generators, e.g. iCalcreator issues 86 and 106; Google and Outlook
themselves send ``RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU``). And RFC 5545 section
3.6.5 puts an observance's onset in the offset *before* it (``TZOFFSETFROM``):
02:00 for the change to CEST, not 03:00.

:func:`vtimezone` reads the zone's changes from the IANA data (``zoneinfo``) around the
event and writes each kind of change as a yearly rule when every occurrence is the
same weekday of the same week of the same month at the same local time (the rule
every zone with daylight saving time follows today), otherwise as dates. It uses
no parsing of its own: the changes are found by asking ``zoneinfo`` for offsets,
and icalendar writes the component.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: ``(offset before, offset after, name, daylight saving time)``: one kind of change, one observance.
_Kind = tuple[timedelta, timedelta, str, bool]


def _offset(zone: ZoneInfo, instant: datetime) -> tuple[timedelta, str, bool]:
    local = instant.astimezone(zone)
    return local.utcoffset() or timedelta(), local.tzname() or "", bool(local.dst())


def _changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, _Kind]]:
    """Every change of ``zone``'s offset, name or DST flag between two UTC instants: ``(first UTC
    instant of the new observance, kind)``, found day by day and then to the second by bisection."""
    found: list[tuple[datetime, _Kind]] = []
    day = start
    before = _offset(zone, day)
    while day < end:
        after_day = day + timedelta(days=1)
        after = _offset(zone, after_day)
        if after != before:
            low, high = int(day.timestamp()), int(after_day.timestamp())  # before at low, something else at high
            while high - low > 1:  # to the second (the IANA data changes on whole seconds)
                middle = (low + high) // 2
                if _offset(zone, datetime.fromtimestamp(middle, UTC)) == before:
                    low = middle
                else:
                    high = middle
            changed = datetime.fromtimestamp(high, UTC)
            now = _offset(zone, changed)
            found.append((changed, (before[0], now[0], now[1], now[2])))
            before = now
            day = changed
            continue
        day = after_day
    return found


def _yearly_rule(onsets: list[datetime], last_year: int) -> dict[str, object] | None:
    """``{"FREQ": "YEARLY", "BYMONTH": m, "BYDAY": "<n><weekday>"}`` when every local onset is the same
    weekday of the same (or the last) week of the same month at the same time, once a year; else ``None``.

    When the onsets stop before ``last_year`` (the zone gave the change up), the rule ends in the year
    of the last one: ``UNTIL`` 31 December 23:59:59 UTC of that year, after the onset however a parser
    reads ``UNTIL`` (some take it as local time) and a year before the next occurrence would be."""
    first = onsets[0]
    years = [o.year for o in onsets]
    if years != list(range(first.year, first.year + len(onsets))):
        return None
    if any((o.month, o.weekday(), o.time()) != (first.month, first.weekday(), first.time()) for o in onsets):
        return None
    if all((o + timedelta(days=7)).month != o.month for o in onsets):
        week = -1  # the last such weekday of the month
    elif len({(o.day - 1) // 7 + 1 for o in onsets}) == 1:
        week = (first.day - 1) // 7 + 1
    else:
        return None
    rule: dict[str, object] = {"FREQ": "YEARLY", "BYMONTH": first.month, "BYDAY": f"{week}{_WEEKDAYS[first.weekday()]}"}
    if onsets[-1].year < last_year:
        rule["UNTIL"] = datetime(onsets[-1].year, 12, 31, 23, 59, 59, tzinfo=UTC)
    return rule


@lru_cache(maxsize=64)
def vtimezone(zone_key: str, year: int) -> icalendar.Timezone:
    """The ``VTIMEZONE`` of IANA zone ``zone_key`` (``TZID`` the key) for an event in ``year``.

    Covers the changes from 1 January of ``year - 1`` to 1 January of ``year + 2``; each kind of
    change (offset before and after, name, DST) is one observance whose ``DTSTART`` is its first
    onset in local time before the change, with a yearly ``RRULE`` when :func:`_yearly_rule` finds
    one, else ``RDATE``s. What holds before the first change is an observance of its own when the
    event's year may begin before it (a zone without changes then is one ``STANDARD``). Raises
    ``ZoneInfoNotFoundError`` for an unknown key.
    """
    zone = ZoneInfo(zone_key)
    start = datetime(year - 1, 1, 1, tzinfo=UTC)
    end = datetime(year + 2, 1, 1, tzinfo=UTC)
    timezone = icalendar.Timezone()
    timezone.add("tzid", zone_key)
    onsets: dict[_Kind, list[datetime]] = defaultdict(list)
    changes = _changes(zone, start, end)
    if not changes or changes[0][0] > datetime(year, 1, 1, tzinfo=UTC):
        # What holds before the first change, when the event's year may begin before it.
        offset, name, dst = _offset(zone, start)
        onsets[(offset, offset, name, dst)].append(datetime.combine(date(year - 1, 1, 1), datetime.min.time()))
    for instant, kind in changes:
        onsets[kind].append((instant + kind[0]).replace(tzinfo=None))  # local time before the change
    for (offset_from, offset_to, name, dst), times in onsets.items():
        observance = icalendar.TimezoneDaylight() if dst else icalendar.TimezoneStandard()
        observance.add("dtstart", times[0])
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        if name:
            observance.add("tzname", name)
        rule = _yearly_rule(times, year + 1) if len(times) > 1 else None
        if rule is not None:
            observance.add("rrule", rule)
        elif len(times) > 1:
            observance.add("rdate", times[1:])
        timezone.add_component(observance)
    return timezone
