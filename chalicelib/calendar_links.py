""""Add to Google Calendar" and "Add to Outlook" links for an event, beside the attached ``invite.ics``.

Both services take the event in the link's query: Google Calendar's ``render?action=TEMPLATE``
with ``dates=<start>/<end>`` as ``YYYYMMDDTHHMMSSZ``, Outlook on the web's compose deep link
(Microsoft 365 accounts, ``outlook.office.com``) with ``startdt``/``enddt`` as ISO 8601 in UTC.
Times are always UTC (``Z``), so neither service has to know the event's zone. The query is
built by ``urllib.parse.urlencode``; the personal link (with its token) is left out, so no
token ends up in a third party's logs.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from chalicelib.events import Event

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK = "https://outlook.office.com/calendar/0/deeplink/compose"


def _query(params: dict[str, str]) -> str:
    # %20 for spaces (not +, which Outlook shows as is); / and : stay readable, as RFC 3986 allows in a query.
    return urlencode(params, quote_via=quote, safe="/:")


def _compact(instant: datetime) -> str:
    return instant.strftime("%Y%m%dT%H%M%SZ")


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def google_calendar_url(event: Event, language: str) -> str:
    """The Google Calendar "new event" link: title, UTC times, place and description in ``language``."""
    start, end = event.utc(event.starts_at), event.utc(event.ends_at)
    return GOOGLE + "?" + _query({
        "action": "TEMPLATE",
        "text": event.title.get(language, event.default_language),
        "dates": f"{_compact(start)}/{_compact(end)}",
        "details": event.description.get(language, event.default_language),
        "location": event.location.one_line(),
    })


def outlook_calendar_url(event: Event, language: str) -> str:
    """The Outlook on the web "new event" link: subject, UTC times, place and description in ``language``."""
    start, end = event.utc(event.starts_at), event.utc(event.ends_at)
    return OUTLOOK + "?" + _query({
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.title.get(language, event.default_language),
        "startdt": _iso(start),
        "enddt": _iso(end),
        "body": event.description.get(language, event.default_language),
        "location": event.location.one_line(),
    })


def calendar_links(event: Event, language: str) -> dict[str, str]:
    """``{"google_url": ..., "outlook_url": ...}`` for the email templates."""
    return {"google_url": google_calendar_url(event, language), "outlook_url": outlook_calendar_url(event, language)}
