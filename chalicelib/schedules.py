"""An event's schedule: the time and place a registrant's calendar entry holds.

When staff publish a definition whose schedule differs from the stored one, the
event item's ``schedule_revision`` goes up by one and the new schedule joins its
``schedules`` history (``chalicelib.store.put_event``); every registration that
holds or awaits a seat then gets an ``updated`` email (README, "Emails", event
changes). Only the time (the start and end instants, compared in UTC) and the
place (name, address, city, country) make a change: a new title, description,
capacity or question sends nothing.

A schedule is a small map of strings, as stored in DynamoDB::

    {"starts_at": "2023-06-05T12:00:00Z", "ends_at": "2023-06-05T15:00:00Z",
     "timezone": "Europe/Amsterdam", "place": "Partos, Ellermanstraat 18b, Amsterdam", "country": "NL"}
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.events import Event

TIME, PLACE = "time", "place"


def _utc_text(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def schedule_of(event: Event) -> dict[str, str]:
    """The schedule of ``event`` as stored (see the module docstring)."""
    return {
        "starts_at": _utc_text(event.utc(event.starts_at)),
        "ends_at": _utc_text(event.utc(event.ends_at)),
        "timezone": event.timezone,
        "place": event.location.one_line(),
        "country": event.location.country,
    }


def changes(old: dict[str, str] | None, new: dict[str, str]) -> tuple[str, ...]:
    """What differs from ``old`` to ``new``: ``("time",)``, ``("place",)``, both, or ``()``.

    ``old`` ``None`` (no schedule known) is no change.
    """
    if not old:
        return ()
    found = []
    if (old.get("starts_at"), old.get("ends_at")) != (new["starts_at"], new["ends_at"]):
        found.append(TIME)
    if (old.get("place"), old.get("country")) != (new["place"], new["country"]):
        found.append(PLACE)
    return tuple(found)


def instants(schedule: dict[str, str], zone: str | None = None) -> tuple[datetime, datetime]:
    """The start and end of a stored schedule as aware datetimes in ``zone`` (default: its own zone)."""
    tz = ZoneInfo(zone or schedule["timezone"])
    return (datetime.fromisoformat(schedule["starts_at"].replace("Z", "+00:00")).astimezone(tz),
            datetime.fromisoformat(schedule["ends_at"].replace("Z", "+00:00")).astimezone(tz))
