"""Calendar invites (RFC 5545) made with the ``icalendar`` library.

The invite is a ``VCALENDAR`` with ``METHOD:PUBLISH`` (an entry to add, not a
meeting request asking for RSVP), one ``VEVENT`` whose ``DTSTART``/``DTEND``
carry ``TZID=<event timezone>``, and the matching ``VTIMEZONE`` generated from
the IANA data by icalendar. The UID is stable per registration, so a later
cancellation (``METHOD:CANCEL``, higher ``SEQUENCE``) replaces the same entry.
"""

from __future__ import annotations

from datetime import date, datetime

import icalendar

from chalicelib.events import Event

PRODID = "-//event-registration//invite//EN"


def invite_uid(registration_id: str) -> str:
    """The stable UID of a registration's calendar entry (RFC 5545 section 3.8.4.7)."""
    return f"{registration_id}@event-registration"


def build_invite(
    event: Event,
    registration_id: str,
    language: str,
    *,
    stamp: datetime,
    url: str | None = None,
    cancelled: bool = False,
) -> bytes:
    """The ``invite.ics`` bytes (UTF-8, CRLF lines) for one registration.

    ``stamp`` (aware) is the DTSTAMP; ``url`` the registrant's own page.
    ``cancelled`` makes a ``METHOD:CANCEL`` with ``STATUS:CANCELLED`` and ``SEQUENCE:1``.
    """
    lang = language if language in event.languages else event.default_language
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    entry = icalendar.Event()
    entry.add("uid", invite_uid(registration_id))
    entry.add("dtstamp", stamp)
    entry.add("dtstart", event.local(event.starts_at))
    entry.add("dtend", event.local(event.ends_at))
    entry.add("summary", event.title.get(lang, event.default_language))
    entry.add("description", event.description.get(lang, event.default_language))
    entry.add("location", event.location.one_line())
    entry.add("organizer", f"mailto:{event.organiser.email}", parameters={"CN": event.organiser.name})
    entry.add("sequence", 1 if cancelled else 0)
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if url:
        entry.add("url", url)
    calendar.add_component(entry)
    # The VTIMEZONE only needs the rules around the event: a year either side keeps the file small.
    year = event.starts_at.year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()
