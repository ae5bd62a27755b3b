"""The door page and the answers of its API (README, "Check-in at the door").

The page (``GET /events/{id}/door``) is static HTML plus ``door.js``: it holds no personal data
and no token; the script reads the door link token from the URL's fragment and calls the JSON
routes under ``/events/{id}/door/`` with it. Each answer carries only what the door needs
(:func:`result_json`, :func:`person_json`): name, organisation, status, check-in time, and the
check-in code as the handle to check someone in or undo it. Words are in the page's language
(``nl``, ``en``); times of day are the event's zone's (Babel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib import checkin, templates
from chalicelib.branding import look
from chalicelib.dates import day_timestamp, event_when, local_timestamp
from chalicelib.events import Event

#: The QR decoder the build copies from npm (``make vendored``): the page links it when it is there.
VENDORED_SCANNER = Path(__file__).parent / "templates" / "static" / "vendor" / "jsQR.js"

#: How each answer looks: ``ok`` (green, a tick), ``warn`` (amber, "!"), ``stop`` (red, a cross), ``info`` (neutral).
TONES = {
    "checked_in": "ok", "already_checked_in": "warn", "cancelled": "stop", "waitlisted": "stop",
    "erased": "stop", "not_for_event": "stop", "unknown_code": "stop", "undone": "info", "not_checked_in": "info",
}

#: The headline of each answer; ``{time}`` is the check-in time of day in the event's zone.
HEADLINES: dict[str, dict[str, str]] = {
    "checked_in": {"nl": "Ingecheckt", "en": "Checked in"},
    "already_checked_in": {"nl": "Al ingecheckt om {time}", "en": "Already checked in at {time}"},
    "cancelled": {"nl": "Inschrijving geannuleerd", "en": "Registration cancelled"},
    "waitlisted": {"nl": "Op de wachtlijst: geen plek", "en": "On the waitlist: no seat"},
    "erased": {"nl": "Inschrijving verwijderd", "en": "Registration removed"},
    "not_for_event": {"nl": "Niet voor dit evenement", "en": "Not for this event"},
    "unknown_code": {"nl": "Onbekende code", "en": "Unknown code"},
    "undone": {"nl": "Check-in ongedaan gemaakt", "en": "Check-in undone"},
    "not_checked_in": {"nl": "Was niet ingecheckt", "en": "Was not checked in"},
}

#: A line under some answers (``note``): ``early`` a check-in before the event's day (``{starts}``: the event's
#: start), ``early_before`` an earlier check-in made before the event's day (``{when}``: when), and what to
#: do about an unknown code.
NOTES: dict[str, dict[str, str]] = {
    "early": {"nl": "Dit evenement begint op {starts} — vroeg ingecheckt.",
              "en": "This event starts on {starts} — checked in early."},
    "early_before": {"nl": "Die check-in was op {when}, vóór de dag van het evenement: maak hem ongedaan als het "
                           "een test was.",
                     "en": "That check-in was on {when}, before the event's day: undo it if it was a test."},
    "unknown_code": {"nl": "Controleer de code, of zoek op naam.", "en": "Check the code, or search by name."},
}

#: The words of the page itself and of its script (``data-text-*`` attributes).
PAGE_TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "heading": "Inchecken bij de ingang",
        "count": "{checked_in} van {confirmed} ingecheckt",
        "valid_until": "Deze link werkt tot {until}.",
        "scan": "Scannen",
        "camera_start": "Camera aan",
        "camera_stop": "Camera uit",
        "camera_help": "Richt de camera op de QR-code in de e-mail.",
        "camera_none": "Scannen met de camera kan niet in deze browser; typ de code of zoek op naam.",
        "camera_denied": "De camera is niet beschikbaar of geweigerd; typ de code of zoek op naam.",
        "code": "Code typen",
        "code_label": "Code uit de e-mail (6 groepen van 4 tekens)",
        "code_button": "Inchecken",
        "search": "Zoeken op naam of e-mailadres",
        "search_label": "Naam of e-mailadres",
        "search_button": "Zoeken",
        "search_none": "Niemand gevonden onder de bevestigde inschrijvingen.",
        "search_more": "Meer gevonden dan getoond; typ meer van de naam.",
        "checkin_button": "Inchecken",
        "checked_in_at": "ingecheckt om {time}",
        "undo": "Ongedaan maken",
        "error": "Geen verbinding met de server; probeer het opnieuw.",
        "noscript": "Deze pagina werkt alleen met JavaScript.",
    },
    "en": {
        "heading": "Check-in at the door",
        "count": "{checked_in} of {confirmed} checked in",
        "valid_until": "This link works until {until}.",
        "scan": "Scan",
        "camera_start": "Start camera",
        "camera_stop": "Stop camera",
        "camera_help": "Point the camera at the QR code in the email.",
        "camera_none": "This browser cannot scan with the camera; type the code or search by name.",
        "camera_denied": "The camera is not available or was refused; type the code or search by name.",
        "code": "Type a code",
        "code_label": "Code from the email (6 groups of 4 characters)",
        "code_button": "Check in",
        "search": "Search by name or email address",
        "search_label": "Name or email address",
        "search_button": "Search",
        "search_none": "No one found among the confirmed registrations.",
        "search_more": "More found than shown; type more of the name.",
        "checkin_button": "Check in",
        "checked_in_at": "checked in at {time}",
        "undo": "Undo",
        "error": "No connection to the server; try again.",
        "noscript": "This page needs JavaScript.",
    },
}


def page(event: Event, lang: str, *, base_path: str) -> str:
    """The door page of ``event`` in ``lang``: no data in it, the script fetches everything."""
    return templates.render("door.html", {
        "event": event,
        "lang": lang,
        "base_path": base_path,
        "look": look(event, base_path),
        "title": event.title.get(lang, event.default_language),
        "when": event_when(event, lang),
        "text": PAGE_TEXT[lang],
        "scanner_script": VENDORED_SCANNER.is_file(),
    })


def _time(event: Event, person: checkin.Person, lang: str) -> str | None:
    return checkin.local_time(event, person.checked_in_at, lang) if person.checked_in_at else None


def person_json(event: Event, person: checkin.Person, lang: str) -> dict[str, Any]:
    """What the door sees of a registration: name, organisation, status, check-in time (ISO in the
    event's zone, and ``time``, ``"14:03"``), and ``code``, its check-in code, to act on it."""
    return {
        "name": person.name,
        "organisation": person.organisation,
        "status": person.status,
        "checked_in_at": person.checked_in_at.astimezone(event.zone).isoformat(timespec="seconds")
        if person.checked_in_at else None,
        "time": _time(event, person, lang),
        "code": checkin.make_code(event.id, person.registration_id),
    }


def result_json(event: Event, result: checkin.Result, lang: str) -> dict[str, Any]:
    """The answer to a scan or an undo: ``outcome``, ``tone``, ``title`` (the headline in ``lang``),
    ``changed``, ``person`` (:func:`person_json`, ``null`` when no registration was found), ``early``
    and ``note``.

    ``early`` says that the check-in this answer shows (``checked_in``, ``already_checked_in``) was made
    before the event's day (``checkin.early``): allowed, as pretix allows it, but said, so that a
    volunteer trying the link sees they checked a real person in, and the door on the day sees a check-in
    that may have been a try-out. ``note`` is the line the page shows under the answer (:data:`NOTES`,
    in ``lang``), or ``null``.
    """
    person = result.person
    time = _time(event, person, lang) if person else None
    checked_in_at = person.checked_in_at if person and result.outcome in ("checked_in", "already_checked_in") \
        else None
    is_early = checked_in_at is not None and checkin.early(event, checked_in_at)
    note = None
    if is_early and result.outcome == "checked_in":
        note = NOTES["early"][lang].format(starts=day_timestamp(event, event.utc(event.starts_at), lang))
    elif is_early and checked_in_at is not None:
        note = NOTES["early_before"][lang].format(when=day_timestamp(event, checked_in_at, lang))
    elif result.outcome in NOTES:
        note = NOTES[result.outcome][lang]
    return {
        "outcome": result.outcome,
        "tone": TONES[result.outcome],
        "title": HEADLINES[result.outcome][lang].format(time=time or "?"),
        "changed": result.changed,
        "person": person_json(event, person, lang) if person else None,
        "early": is_early,
        "note": note,
    }


def summary_json(event: Event, summary: checkin.Summary, door: checkin.DoorPass, lang: str) -> dict[str, Any]:
    """The door page's live figures, the event, and when the link stops working."""
    return {
        "event_id": event.id,
        "title": event.title.get(lang, event.default_language),
        "checked_in": summary.checked_in,
        "confirmed": summary.confirmed,
        "count_text": PAGE_TEXT[lang]["count"].format(checked_in=summary.checked_in, confirmed=summary.confirmed),
        "link_expires_at": door.expires_at.isoformat(),
        "link_valid_text": PAGE_TEXT[lang]["valid_until"].format(until=local_timestamp(event, door.expires_at, lang)),
    }


def expired_text(event: Event, error: checkin.DoorLinkExpired, lang: str) -> str:
    """When a door link expired, as people read it (``5 juni 2023 18:00 CEST``)."""
    return local_timestamp(event, error.expired_at, lang)
