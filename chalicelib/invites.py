"""Calendar invites as iTIP scheduling messages (RFC 5546 over RFC 5545), made with ``icalendar``.

Each registration has one calendar entry, identified by a UID stable per
registration (:func:`invite_uid`). What the registrant's calendar receives
(README, "Emails", calendar invites):

- ``METHOD:REQUEST`` when they hold a seat (confirmation, promotion, an event
  change): the sending identity as ``ORGANIZER`` (with the organiser's name as
  ``CN``) and the registrant as the one ``ATTENDEE`` with ``PARTSTAT=ACCEPTED``
  and ``RSVP=FALSE`` (registering was the answer; nothing to reply);
- ``METHOD:CANCEL`` with ``STATUS:CANCELLED`` when that seat is given up;
- each message carries the registration's ``SEQUENCE`` (``invite_sequence`` on
  its item, README "Storage"), higher for every later message, so a client
  applies an update or a cancellation to the entry it holds (RFC 5546 section
  2.1.4: the highest SEQUENCE wins).

``DTSTART``/``DTEND`` carry ``TZID=<event timezone>`` with the matching
``VTIMEZONE`` from the IANA data, its changes as yearly rules (``chalicelib.vtimezone``:
Outlook on Windows ignores the one-off dates icalendar writes). Parameter values (the
``CN`` names) are quoted and RFC 6868-encoded by icalendar, so no name can end a
parameter or add a property. ``URL`` is the registrant's status page with a
``view`` token, which cannot cancel (calendars are shared and synced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import icalendar

from chalicelib.events import Event
from chalicelib.vtimezone import vtimezone

PRODID = "-//event-registration//invite//EN"
REQUEST, CANCEL = "REQUEST", "CANCEL"


@dataclass(frozen=True)
class Party:
    """A calendar user: ``name`` (one line, shown as ``CN``) and ``address`` (an ASCII ``addr-spec``)."""

    name: str
    address: str

    def uri(self) -> str:
        """The ``mailto:`` URI of the address (RFC 5545 section 3.3.3, ``CAL-ADDRESS``)."""
        return f"mailto:{self.address}"


def invite_uid(registration_id: str) -> str:
    """The stable UID of a registration's calendar entry (RFC 5545 section 3.8.4.7)."""
    return f"{registration_id}@event-registration"


def build_invite(
    event: Event,
    registration_id: str,
    language: str,
    *,
    method: str,
    sequence: int,
    organizer: Party,
    attendee: Party,
    stamp: datetime,
    url: str | None = None,
) -> bytes:
    """The iCalendar bytes (UTF-8, CRLF lines) of one scheduling message for one registration.

    ``method`` is ``REQUEST`` (the entry, new or changed) or ``CANCEL`` (remove it);
    ``sequence`` the entry's revision (an integer from 0, higher than any sent before for
    this registration); ``organizer`` the sending identity, ``attendee`` the registrant;
    ``stamp`` (aware) the DTSTAMP and LAST-MODIFIED; ``url`` the registrant's status page
    (a view link, never one that can cancel). Raises ``ValueError`` for another method.
    """
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"method must be {REQUEST} or {CANCEL}, not {method!r}")
    lang = language if language in event.languages else event.default_language
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    entry = icalendar.Event()
    entry.add("uid", invite_uid(registration_id))
    entry.add("dtstamp", stamp)
    entry.add("last-modified", stamp)
    entry.add("sequence", int(sequence))
    entry.add("dtstart", event.local(event.starts_at))
    entry.add("dtend", event.local(event.ends_at))
    entry.add("summary", event.title.get(lang, event.default_language))
    entry.add("description", event.description.get(lang, event.default_language))
    entry.add("location", event.location.one_line())
    entry.add("organizer", organizer.uri(), parameters={"CN": organizer.name} if organizer.name else {})
    attendee_parameters = {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT"}
    if method == REQUEST:
        attendee_parameters["PARTSTAT"] = "ACCEPTED"
    attendee_parameters["RSVP"] = "FALSE"
    if attendee.name:
        attendee_parameters["CN"] = attendee.name
    entry.add("attendee", attendee.uri(), parameters=attendee_parameters)
    entry.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    entry.add("transp", "OPAQUE")
    if url:
        entry.add("url", url)
    calendar.add_component(entry)
    # The VTIMEZONE only needs the rules around the event, written as yearly rules for Outlook.
    calendar.add_component(vtimezone(event.zone.key, event.starts_at.year))
    ical: bytes = calendar.to_ical()
    return ical
