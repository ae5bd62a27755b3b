"""The door's live figures and its search by name or address (README, "Check-in at the door")."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib import store
from chalicelib.checkin.writes import CHECKINS_SK, Person, ddb, table

#: Search: at least this many characters, at most this many people shown.
SEARCH_MIN_CHARS = 2
SEARCH_LIMIT = 10
# Letters that Unicode does not decompose into a base letter and a mark, for the name search.
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})


@dataclass(frozen=True)
class Summary:
    """The door page's live figures: ``checked_in`` of ``confirmed`` (the confirmed registrations)."""

    checked_in: int
    confirmed: int


def summary(event_id: str) -> Summary:
    """Checked in and confirmed, read consistently: two GetItems of small items (the check-in counter and
    the event's counters, whose ``seats_taken`` counts the confirmed). Raises ``store.EventNotFound``."""
    counters = store.get_counters(event_id, consistent=True)
    found = ddb().get_item(
        TableName=table(),
        Key={"pk": {"S": store.event_pk(event_id)}, "sk": {"S": CHECKINS_SK}},
        ConsistentRead=True,
        ProjectionExpression="checked_in_count",
    )
    count = int(store.deserialize(found["Item"]).get("checked_in_count", 0)) if "Item" in found else 0
    return Summary(checked_in=max(0, count), confirmed=counters.seats_taken)


def fold(text: str) -> str:
    """``text`` for matching a search: case folded, accents and marks dropped (``Zoë Ødegård`` -> ``zoe odegard``),
    and without the invisible characters that names are stored without (``validation.without_invisible``,
    README "Emails"), so a query typed or pasted with a zero-width space (``Ø\u200bd``) still finds ``Ødegård``."""
    # on first use: the registration validation costs the email delivery's cold start ~35 ms (it imports
    # this package for the check-in codes, never searches); tests/unit/test_import_on_first_use.py
    from chalicelib.validation import without_invisible

    decomposed = unicodedata.normalize("NFKD", without_invisible(text).casefold().translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _confirmed_items(event_id: str) -> Iterator[dict[str, Any]]:
    """The event's confirmed registrations, only the attributes the door needs (Query, all pages)."""
    pages = ddb().get_paginator("query").paginate(
        TableName=table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :reg)",
        FilterExpression="#s = :confirmed",
        ProjectionExpression="registration_id, event_id, #s, #n, email, answers.organisation, checked_in_at",
        ExpressionAttributeNames={"#s": "status", "#n": "name"},
        ExpressionAttributeValues={":pk": {"S": store.event_pk(event_id)}, ":reg": {"S": store.REGISTRATION_PREFIX},
                                   ":confirmed": {"S": "confirmed"}},
    )
    for page in pages:
        for raw in page["Items"]:
            yield store.deserialize(raw)


def search(event_id: str, query: str, limit: int = SEARCH_LIMIT) -> tuple[list[Person], bool]:
    """Confirmed registrations whose name or address holds every word of ``query`` (:func:`fold`ed).

    Returns ``(people sorted by name, at most limit; whether more matched)``. Addresses are
    matched, never returned. One Query over the event's partition, all pages: it reads every
    registration item of the event (about 1.5 KB each: 40 registrations are about 8 read
    units, 1,000 about 190), which suits workshop sizes (README, "Check-in at the door").
    Raises ``ValueError`` for a query under :data:`SEARCH_MIN_CHARS` characters.
    """
    words = fold(" ".join(query.split())).split()
    if len("".join(words)) < SEARCH_MIN_CHARS:
        raise ValueError(f"search for at least {SEARCH_MIN_CHARS} characters")
    found = []
    for item in _confirmed_items(event_id):
        haystack = fold(f"{item.get('name') or ''} {item.get('email') or ''}")
        if all(word in haystack for word in words):
            found.append(Person.from_item(item))
    found.sort(key=lambda p: (fold(p.name), p.registration_id))
    return found[:limit], len(found) > limit
