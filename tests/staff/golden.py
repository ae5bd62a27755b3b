"""A small export whose converted files are kept byte for byte in ``tests/staff/data/golden/``.

The items are in the order the exports list rows (status, then waitlist ticket, then registration
time), so the code before the one-pass reader (commit 133fc59, which wrote rows in export order)
and the code since write the same bytes. ``golden-registrations.csv`` (comma),
``golden-registrations-semicolon.csv``, ``golden-registrations.jsonl`` and
``golden-registrations-xlsx.json`` (the XLSX's cell values read back with openpyxl) were written
by that older code from :func:`golden_items` in this order. The last two columns were added to
those files afterwards: ``email_outcome`` (issue 17; each file without it is still the older code's
output byte for byte, checked when it was added), then ``checked_in_at`` (check-in at the door), its one
value the first registration's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).parent / "data" / "golden"
EVENT_ID = "golden-export-event"

EVENT = {
    "id": EVENT_ID,
    "languages": ["nl", "en"],
    "title": {"nl": "Gouden export", "en": "Golden export"},
    "description": {"nl": "Voor de exporttests.", "en": "For the export tests."},
    "timezone": "Europe/Amsterdam",
    "starts_at": "2023-06-05T14:00:00",
    "ends_at": "2023-06-05T17:00:00",
    "location": {"name": "Partos", "address": "Ellermanstraat 18b", "city": "Amsterdam", "country": "NL"},
    "organiser": {"name": "Partos", "email": "events@partos.example.org"},
    "capacity": 4,
    "waitlist": True,
    "privacy_url": "https://www.partos.nl/privacy/",
    "questions": [
        {"id": "phone", "type": "phone", "label": {"nl": "Telefoon", "en": "Phone"}},
        {"id": "note", "type": "textarea", "label": {"nl": "Opmerking", "en": "Note"}},
        {"id": "role", "type": "choice", "label": {"nl": "Rol", "en": "Role"},
         "options": [{"id": "campaigner", "label": {"nl": "Campagnevoerder", "en": "Campaigner"}},
                     {"id": "lobbyist", "label": {"nl": "Lobbyist", "en": "Lobbyist"}}]},
        {"id": "diet", "type": "multichoice", "label": {"nl": "Dieet", "en": "Diet"},
         "options": [{"id": "vegetarian", "label": {"nl": "Vegetarisch", "en": "Vegetarian"}},
                     {"id": "halal", "label": {"nl": "Halal", "en": "Halal"}}]},
        {"id": "member", "type": "boolean", "label": {"nl": "Lid", "en": "Member"}},
    ],
}


def _registration(n: int, registration_id: str, status: str, registered_at: str, **extra: Any) -> dict[str, Any]:
    item = {
        "pk": f"EVENT#{EVENT_ID}", "sk": f"REG#{registration_id}", "type": "registration",
        "registration_id": registration_id, "event_id": EVENT_ID, "status": status,
        "name": f"Deelnemer {n}", "email": f"p{n}@example.org", "language": "nl",
        "answers": {}, "consent_at": registered_at, "registered_at": registered_at, "status_changed_at": registered_at,
        "expires_at": 1700000000, "email_state": "sent",
        "notifications": {"registered": {"state": "sent", "at": registered_at, "message_id": f"m-{n}", "attempts": 1}},
    }
    item.update(extra)
    return item


def golden_registrations() -> list[dict[str, Any]]:
    """The event's registrations as plain items, in the order the exports list them."""
    return [
        _registration(1, "Ab3xYz0000000000000001", "confirmed", "2023-05-01T09:00:00+00:00",
                      checked_in_at="2023-06-05T12:03:00+00:00", checked_in_via="door",
                      name='=HYPERLINK("http://evil.example","klik")',
                      answers={"phone": "+31 6 12345678", "note": 'twee\nregels, "quotes" en ; puntkomma',
                               "role": "campaigner", "diet": ["vegetarian", "halal"], "member": True},
                      email_outcome="delivered"),
        # 11:00:00.25 at +02:00 is 09:00:00.25 UTC: after the first, before the next
        _registration(2, "Ab3xYz0000000000000002", "confirmed", "2023-05-01T11:00:00.250000+02:00",
                      name="读写汉字", answers={"note": "-Anna", "diet": [], "member": False, "phone": "06 12345678"},
                      email_outcome="bounced"),
        _registration(3, "-b3xYz0000000000000003", "confirmed", "2023-05-01T09:30:00+00:00",
                      name="Özdemir", email="OZ@Example.org", language="en",
                      answers={"note": "@SUM(1+1)", "role": "lobbyist"}, waitlist_ticket=1),  # promoted: ticket kept
        _registration(4, "Ab3xYz0000000000000004", "confirmed", "2023-05-02T08:00:00+00:00",
                      name="+31 20 123 4567", answers={"note": "a = b", "member": True}, email_state="failed"),
        _registration(5, "Ab3xYz0000000000000005", "waitlisted", "2023-05-03T12:00:00+00:00",
                      name="Ødegård", waitlist_ticket=3, answers={"diet": ["halal"]}),
        # registered earlier than the one above, but a later ticket: the waitlist's order wins
        _registration(6, "Ab3xYz0000000000000006", "waitlisted", "2023-05-03T11:00:00+00:00",
                      name="Eva\tTab", waitlist_ticket=7, answers={"note": "5"}, email_state="pending"),
        _registration(7, "Ab3xYz0000000000000007", "cancelled", "2023-04-30T10:00:00+00:00",
                      name="Cancelled Early", waitlist_ticket=2, answers={"member": False}),
        _registration(8, "Ab3xYz0000000000000008", "cancelled", "2023-05-04T10:00:00+00:00",
                      name="Zoë \u00e9\u0301", answers={}),
        {"pk": f"EVENT#{EVENT_ID}", "sk": "REG#Ab3xYz0000000000000009", "type": "registration",
         "registration_id": "Ab3xYz0000000000000009", "event_id": EVENT_ID, "status": "erased", "language": "nl",
         "registered_at": "2023-05-01T08:00:00+00:00", "erased_at": "2023-05-10T08:00:00+00:00",
         "expires_at": 1700000000},
    ]


def golden_items() -> list[dict[str, Any]]:
    """Every item of the golden export (plain values): event items, catalogue, registrations, guards, another event."""
    other = {**EVENT, "id": "golden-other-event", "questions": []}
    items: list[dict[str, Any]] = [
        {"pk": "EVENTS", "sk": EVENT_ID, "type": "catalogue"},
        {"pk": f"EVENT#{EVENT_ID}", "sk": "#EVENT", "type": "event", "event_id": EVENT_ID,
         "definition": json.dumps(EVENT), "seat_capacity": 4, "seats_taken": 4, "waitlisted_count": 2,
         "waitlist_seq": 7},
        {"pk": "EVENT#golden-other-event", "sk": "#EVENT", "type": "event", "event_id": "golden-other-event",
         "definition": json.dumps(other), "seat_capacity": 4, "seats_taken": 1},
    ]
    for n, item in enumerate(golden_registrations()):
        items.append(item)
        items.append({"pk": f"EVENT#{EVENT_ID}", "sk": f"EMAIL#{n:064d}", "type": "guard",
                      "for_registration": item["registration_id"], "expires_at": 1700000000})
    items.append({"pk": "EVENT#golden-other-event", "sk": "REG#Zz0000000000000000000", "type": "registration",
                  "registration_id": "Zz0000000000000000000", "event_id": "golden-other-event", "status": "confirmed",
                  "name": "Other", "email": "other@example.org", "language": "nl",
                  "registered_at": "2023-05-01T09:00:00+00:00", "email_state": "sent"})
    return items
