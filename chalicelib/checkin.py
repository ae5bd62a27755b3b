"""Check-in at the door (README, "Check-in at the door"): codes, door links and the check-in writes.

**Check-in codes.** Every confirmation, promotion and reminder email carries
the registrant's code, as a QR code (``chalicelib.qrcodes``) and written out for reading aloud.
A code is 15 bytes, written as 24 characters of RFC 4648 base32 (``A``-``Z``, ``2``-``7``: no
``0``/``O``, ``1``/``I``/``L`` or ``8``/``B`` to confuse) in six groups of four
(``K7QD 4M2X ...``):

==========  ==================================================================================
bytes       what
==========  ==================================================================================
0           event tag: the first byte of SHA-256 over ``"event:" + event id`` (so a code of
            another event answers "not for this event")
1-6         the first 6 bytes of the registration id (its first 8 base64url characters): the
            door finds the registration with one Query on the event's partition,
            ``begins_with(sk, "REG#<those 8 characters>")``, which reads one item
7-14        the first 8 bytes (64 bits) of HMAC-SHA256 (RFC 2104) over
            ``"checkin:registration:" + registration id``: the signature
            ``chalicelib.tokens`` makes for a token of purpose ``checkin``
==========  ==================================================================================

The code is opaque (no name, address or readable id) and bound to its purpose: the signed
message names ``checkin``, so it is no view or cancel token (those sign ``view:...`` and
``cancel:...``, and are checked in their full 256 bits), and no view or cancel token is a code.
It is checked with every configured key (``TOKEN_KEYS`` or the secret, newest first), so a
code stays valid until the key that signed it is retired; 64 bits cannot be guessed through a
door link (each guess is one request). Only the first 8 characters of a registration id are
needed: ids are 128 random bits, and the signature covers the whole id, so two registrations
of one event that share those 8 characters (about 1 in 10^7 for 5,000) are told apart.

**Door links** (``python -m staff checkin-link EVENT --valid 2d``): ``<expiry>.<key id>.<signature>``,
HMAC-SHA256 over ``"door:<event id>:<expiry>"`` (a message of its own: no registration token is
a door link, nor the other way round), ``expiry`` in epoch seconds (UTC). The page's link
carries it after ``#``, so it never reaches a server log; the page sends it as
``Authorization: Bearer <token>`` (RFC 6750). Retiring the signing key revokes every door
link it signed (and every personal link and code it signed).

**Writes.** Checking in is one transaction: the registration gets ``checked_in_at`` (UTC,
ISO 8601) on condition that it is ``confirmed`` and has no ``checked_in_at`` yet, and the
event's check-in counter item (``EVENT#<id>`` / ``#CHECKINS``, ``checked_in_count``) adds one.
Two phones scanning one code at once give one check-in and one "already checked in" (the
refused condition returns the item as it was, with the first check-in's time). Undo is the
same transaction the other way, on condition that ``checked_in_at`` exists. The counter is
an item of its own, not the event's counters item, so check-ins never conflict with
registrations or cancellations. A checked-in registration that is later cancelled stays
counted: the person came.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, errors, store, tokens
from chalicelib.events import Event
from chalicelib.settings import get_settings

#: The purpose a check-in code's signature is bound to (``chalicelib.tokens``, one scheme for every purpose).
PURPOSE = tokens.CHECKIN
#: Bytes of the signature kept in a code (64 bits).
MAC_BYTES = 8
#: Characters of the registration id a code carries (base64url: 6 bits each, 48 bits).
ID_PREFIX_CHARS = 8
#: Length of a code in base32 characters (15 bytes) and the size of the groups it is shown in.
CODE_CHARS = 24
GROUP = 4
#: Email kinds that carry the check-in code (``chalicelib.emails.email_kind``: ``reminder`` for every reminder).
EMAIL_KINDS = frozenset({"confirmed", "promoted", "reminder"})
#: Sort key of an event's check-in counter item.
CHECKINS_SK = "#CHECKINS"
#: The longest a door link may be valid for, in seconds (the staff command refuses more).
DOOR_LINK_MAX_SECONDS = 31 * 24 * 3600
#: The answers of a scan or a typed code (README, "Check-in at the door").
OUTCOMES = ("checked_in", "already_checked_in", "cancelled", "waitlisted", "erased", "not_for_event",
            "unknown_code", "undone", "not_checked_in")
#: Search: at least this many characters, at most this many people shown.
SEARCH_MIN_CHARS = 2
SEARCH_LIMIT = 10
#: Tries of a check-in transaction that DynamoDB cancelled for a conflicting write on the same items.
WRITE_ATTEMPTS = 8

# Characters people read for letters of the base32 alphabet (it has no 0, 1 or 8).
_READ_AS = str.maketrans({"0": "O", "1": "I", "8": "B"})
# Letters that Unicode does not decompose into a base letter and a mark, for the name search.
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})


class UnknownCode(LookupError):
    """Not a check-in code of this service: malformed, forged, or signed with a retired key."""


class NotForEvent(LookupError):
    """A check-in code of another event (or of a registration not in this event)."""


class DoorLinkInvalid(errors.ServiceError, ValueError):
    """A door link token that is malformed, tampered, for another event, or signed with a retired key
    (401 ``door-link-invalid``)."""

    STATUS = 401
    CODE = "door-link-invalid"


class DoorLinkExpired(errors.ServiceError, ValueError):
    """A genuine door link whose time is up; ``expired_at`` is its expiry (aware UTC) (401 ``door-link-expired``).

    ``event``, set by the caller that read it, lets the answer say the expiry in the event's zone.
    """

    STATUS = 401
    CODE = "door-link-expired"

    def __init__(self, expired_at: datetime):
        super().__init__(f"the door link expired at {expired_at.isoformat()}")
        self.expired_at = expired_at
        self.event: Event | None = None


class Busy(errors.Busy):
    """A check-in transaction was cancelled by conflicting writes :data:`WRITE_ATTEMPTS` times
    (503 ``checkin-busy``, ``Retry-After: 1``)."""

    CODE = "checkin-busy"


# ------------------------------------------------------------------ codes


def _checkin_signature(key: bytes, registration_id: str) -> bytes:
    """The ``checkin`` purpose's signature of a registration (``chalicelib.tokens.registration_mac``), 32 bytes."""
    return tokens.registration_mac(key, registration_id, PURPOSE)


def event_tag(event_id: str) -> int:
    """The byte a code of ``event_id`` starts with (not secret: it only tells events apart)."""
    return hashlib.sha256(f"event:{event_id}".encode()).digest()[0]


def _id_prefix_bytes(registration_id: str) -> bytes:
    prefix = registration_id[:ID_PREFIX_CHARS]
    if len(prefix) != ID_PREFIX_CHARS:
        raise ValueError("a registration id has at least 8 base64url characters")
    try:
        return base64.urlsafe_b64decode(prefix.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("a registration id is base64url") from None


def make_code(event_id: str, registration_id: str) -> str:
    """The check-in code of a registration: 24 base32 characters, signed with the newest key.

    Raises ``ValueError`` for a registration id that is not base64url of at least 8
    characters (every id the service makes is 22) and ``tokens.TokenKeysMissing``.
    """
    _, key = tokens.signing_keys()[0]
    raw = bytes([event_tag(event_id)]) + _id_prefix_bytes(registration_id) + \
        _checkin_signature(key, registration_id)[:MAC_BYTES]
    return base64.b32encode(raw).decode("ascii")


def spoken(code: str) -> str:
    """``code`` in groups of four for reading aloud: ``"K7QD 4M2X 9HRT ..."``."""
    return " ".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


@dataclass(frozen=True)
class ParsedCode:
    """A code's parts (see the module docstring): ``tag`` (int), ``id_prefix`` (8 base64url characters),
    ``mac`` (8 bytes)."""

    code: str
    tag: int
    id_prefix: str
    mac: bytes


def parse_code(text: str | None) -> ParsedCode | None:
    """The parts of a code as scanned or typed, or ``None`` when it cannot be one.

    Spaces, hyphens and case are ignored, and ``0``, ``1``, ``8`` are read as ``O``, ``I``, ``B``
    (the alphabet has none of them). Nothing is verified here (:func:`find_registration` does).
    """
    if not text or len(text) > 200:
        return None
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != CODE_CHARS or not cleaned.isascii():
        return None
    try:
        raw = base64.b32decode(cleaned)
    except (binascii.Error, ValueError):
        return None
    prefix = base64.urlsafe_b64encode(raw[1:7]).decode("ascii")
    return ParsedCode(cleaned, raw[0], prefix, raw[7:])


def code_matches(parsed: ParsedCode, registration_id: str) -> bool:
    """Whether ``parsed`` was signed for ``registration_id`` with any configured key (constant-time compares)."""
    if not registration_id.startswith(parsed.id_prefix):
        return False
    found = False
    for _, key in tokens.signing_keys():
        found |= hmac.compare_digest(_checkin_signature(key, registration_id)[:MAC_BYTES], parsed.mac)
    return found


# ------------------------------------------------------------------ door links


def _door_signature(key: bytes, event_id: str, expires: int) -> str:
    return tokens.encode(tokens.mac(key, tokens.DOOR, f"{event_id}:{expires}"))


def make_door_token(event_id: str, expires_at: datetime) -> str:
    """A door link token for ``event_id`` valid until ``expires_at`` (aware; kept to the second, UTC).

    ``"<expiry epoch seconds>.<key id>.<signature>"``, signed with the newest key. Raises
    ``ValueError`` for a naive time and ``tokens.TokenKeysMissing``.
    """
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be aware")
    expires = int(expires_at.timestamp())
    kid, key = tokens.signing_keys()[0]
    return f"{expires}.{kid}.{_door_signature(key, event_id, expires)}"


def door_link(base_url: str, event_id: str, token: str, language: str | None = None) -> str:
    """The link to the door page: the token after ``#`` (browsers never send it to a server)."""
    query = f"?lang={language}" if language else ""
    return f"{base_url}/events/{event_id}/door{query}#{token}"


@dataclass(frozen=True)
class DoorPass:
    """A verified door link: its event, expiry (aware UTC) and signing key id."""

    event_id: str
    expires_at: datetime
    key_id: str


def read_door_token(event_id: str, token: str | None, now: datetime) -> DoorPass:
    """Verify a door link token for ``event_id`` at ``now`` (aware).

    The signature is checked first, so only a genuine link is ever called expired.
    Raises :class:`DoorLinkInvalid` and :class:`DoorLinkExpired`.
    """
    if not token or len(token) > 300:
        raise DoorLinkInvalid("no door link")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
        raise DoorLinkInvalid("not a door link")
    expires_text, kid, signature = parts
    expires = int(expires_text)
    for known_kid, key in tokens.signing_keys():
        if known_kid == kid:
            expected = _door_signature(key, event_id, expires)
            if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
                raise DoorLinkInvalid("signature does not match")
            expires_at = datetime.fromtimestamp(expires, UTC)
            if now >= expires_at:
                raise DoorLinkExpired(expires_at)
            return DoorPass(event_id, expires_at, kid)
    raise DoorLinkInvalid("unknown or retired key")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 section 2.1), else ``None``."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# ------------------------------------------------------------------ people at the door


@dataclass(frozen=True)
class Person:
    """What the door may know of a registration: never more (README, "Check-in at the door").

    ``checked_in_at`` is aware UTC or ``None``; ``organisation`` is the answer to the event's
    ``organisation`` question, if it has one.
    """

    registration_id: str
    status: str
    name: str
    organisation: str | None
    checked_in_at: datetime | None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Person:
        """The door's view of a registration item (plain values)."""
        answers = item.get("answers") or {}
        organisation = answers.get("organisation")
        return cls(
            registration_id=str(item.get("registration_id", "")),
            status=str(item.get("status", "")),
            name=str(item.get("name") or ""),
            organisation=str(organisation) if isinstance(organisation, str) and organisation else None,
            checked_in_at=_instant(item.get("checked_in_at")),
        )


@dataclass(frozen=True)
class Result:
    """What a scan, a typed code, a staff check-in or an undo came to.

    ``outcome`` is one of :data:`OUTCOMES`; ``person`` is ``None`` when no registration was found
    (``not_for_event``, ``unknown_code``); ``changed`` says whether this call wrote anything.
    """

    outcome: str
    person: Person | None = None
    changed: bool = False


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    instant = datetime.fromisoformat(str(value))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _ddb() -> Any:
    return aws.client("dynamodb")


def _table() -> str:
    return get_settings().table_name


def find_registration(event_id: str, text: str | None) -> dict[str, Any]:
    """The registration item (plain values) a scanned or typed code names in ``event_id``.

    One consistent Query on the event's partition, ``begins_with(sk, "REG#<id prefix>")``: one
    item (more only if two ids share the prefix; the signature tells them apart). Raises
    :class:`UnknownCode` (not a code, a forged one, or a retired key) and :class:`NotForEvent`
    (a code of another event).
    """
    parsed = parse_code(text)
    if parsed is None:
        raise UnknownCode("not a check-in code")
    if parsed.tag != event_tag(event_id):
        raise NotForEvent(event_id)
    answer = _ddb().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": store.event_pk(event_id)},
                                   ":prefix": {"S": store.registration_sk(parsed.id_prefix)}},
        ConsistentRead=True,
    )
    for raw in answer["Items"]:
        item = store.deserialize(raw)
        if code_matches(parsed, str(item.get("registration_id", ""))):
            return item
    raise UnknownCode("no registration of this event has this code")


def _outcome_of(item: dict[str, Any] | None) -> Result:
    """Why a check-in's condition failed, from the item as it was (``None``: it is gone)."""
    if item is None:
        return Result("unknown_code")
    person = Person.from_item(item)
    if person.status == "confirmed":
        return Result("already_checked_in", person)
    if person.status in ("cancelled", "waitlisted", "erased"):
        return Result(person.status, person)
    return Result("unknown_code", person)


def _counter_update(event_id: str, amount: int, expires_at: Any) -> dict[str, Any]:
    values: dict[str, Any] = {":n": {"N": str(amount)}, ":type": {"S": "checkins"}, ":e": {"S": event_id}}
    update = "ADD checked_in_count :n SET #type = :type, event_id = :e"
    if expires_at is not None:  # the registration's own expiry: the counter goes with the event's items
        update += ", #x = if_not_exists(#x, :x)"
        values[":x"] = {"N": str(int(expires_at))}
    return {
        "Update": {
            "TableName": _table(),
            "Key": {"pk": {"S": store.event_pk(event_id)}, "sk": {"S": CHECKINS_SK}},
            "UpdateExpression": update,
            "ExpressionAttributeNames": {
                "#type": "type",
                **({"#x": store.TTL_ATTRIBUTE} if expires_at is not None else {}),
            },
            "ExpressionAttributeValues": values,
        }
    }


@errors.retried(WRITE_ATTEMPTS, max_wait=0.5)
def _transact(ops: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Run a check-in transaction; ``None`` when done, else the registration item as the refused
    condition saw it (``{}`` when it did not exist). Tried again on a conflict; raises :class:`Busy`
    after :data:`WRITE_ATTEMPTS` conflicts (another transaction was writing one of the items)."""
    try:
        _ddb().transact_write_items(TransactItems=ops)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
        first = reasons[0] if reasons else {}
        if first.get("Code") == "ConditionalCheckFailed":
            old = first.get("Item")
            return store.deserialize(old) if old else {}
        if any(r.get("Code") in ("TransactionConflict", "ThrottlingError") for r in reasons):
            raise Busy("check-in conflicted with other writes") from None
        raise
    return None


def check_in_item(item: dict[str, Any], now: datetime, *, via: str = "door") -> Result:
    """Check in a registration (an item from :func:`find_registration` or the table): one transaction.

    Conditional on ``status = confirmed`` and no ``checked_in_at``; ``via`` (``door`` or
    ``staff``) is recorded as ``checked_in_via``. Returns ``checked_in`` (this call wrote it),
    or why not: ``already_checked_in`` (with the first time), ``cancelled``, ``waitlisted``,
    ``erased``. Raises :class:`Busy`.
    """
    event_id, registration_id = str(item["event_id"]), str(item["registration_id"])
    stamp = now.astimezone(UTC).isoformat()
    refused = _transact([
        {"Update": {
            "TableName": _table(),
            "Key": {"pk": {"S": store.event_pk(event_id)}, "sk": {"S": store.registration_sk(registration_id)}},
            "UpdateExpression": "SET checked_in_at = :at, checked_in_via = :via",
            "ConditionExpression": "#s = :confirmed AND attribute_not_exists(checked_in_at)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":at": {"S": stamp}, ":via": {"S": via}, ":confirmed": {"S": "confirmed"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }},
        _counter_update(event_id, 1, item.get(store.TTL_ATTRIBUTE)),
    ])
    if refused is None:
        return Result("checked_in", Person.from_item({**item, "checked_in_at": stamp}), changed=True)
    return _outcome_of(refused or None)


def undo_item(item: dict[str, Any]) -> Result:
    """Take back a check-in (a mistake at the door): one transaction, on condition that ``checked_in_at`` exists.

    Returns ``undone``, or ``not_checked_in`` (nothing to take back; ``person`` as it is now).
    Raises :class:`Busy`.
    """
    event_id, registration_id = str(item["event_id"]), str(item["registration_id"])
    refused = _transact([
        {"Update": {
            "TableName": _table(),
            "Key": {"pk": {"S": store.event_pk(event_id)}, "sk": {"S": store.registration_sk(registration_id)}},
            "UpdateExpression": "REMOVE checked_in_at, checked_in_via",
            "ConditionExpression": "attribute_exists(checked_in_at)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }},
        _counter_update(event_id, -1, item.get(store.TTL_ATTRIBUTE)),
    ])
    if refused is None:
        return Result("undone", Person.from_item({**item, "checked_in_at": None}), changed=True)
    return Result("not_checked_in", Person.from_item(refused) if refused else None)


def check_in_code(event_id: str, text: str | None, now: datetime) -> Result:
    """Check in the registration a scanned or typed code names (the door page's scan).

    ``not_for_event`` and ``unknown_code`` come back as results, not errors. Raises :class:`Busy`.
    """
    try:
        item = find_registration(event_id, text)
    except NotForEvent:
        return Result("not_for_event")
    except UnknownCode:
        return Result("unknown_code")
    return check_in_item(item, now)


def undo_code(event_id: str, text: str | None) -> Result:
    """Take back the check-in of the registration a code names (the door page's undo). Raises :class:`Busy`."""
    try:
        item = find_registration(event_id, text)
    except NotForEvent:
        return Result("not_for_event")
    except UnknownCode:
        return Result("unknown_code")
    return undo_item(item)


def check_in_registration(event_id: str, registration_id: str, now: datetime, *, undo: bool = False) -> Result:
    """Staff check-in (or ``undo``) by registration id (``python -m staff registrations checkin``).

    Raises ``store.RegistrationNotFound`` and :class:`Busy`.
    """
    item = store.get_registration_in_event(event_id, registration_id)
    return undo_item(item) if undo else check_in_item(item, now, via="staff")


# ------------------------------------------------------------------ the door's figures and search


@dataclass(frozen=True)
class Summary:
    """The door page's live figures: ``checked_in`` of ``confirmed`` (the confirmed registrations)."""

    checked_in: int
    confirmed: int


def summary(event_id: str) -> Summary:
    """Checked in and confirmed, read consistently: two GetItems of small items (the check-in counter and
    the event's counters, whose ``seats_taken`` counts the confirmed). Raises ``store.EventNotFound``."""
    counters = store.get_counters(event_id, consistent=True)
    found = _ddb().get_item(
        TableName=_table(),
        Key={"pk": {"S": store.event_pk(event_id)}, "sk": {"S": CHECKINS_SK}},
        ConsistentRead=True,
        ProjectionExpression="checked_in_count",
    )
    count = int(store.deserialize(found["Item"]).get("checked_in_count", 0)) if "Item" in found else 0
    return Summary(checked_in=max(0, count), confirmed=counters.seats_taken)


def fold(text: str) -> str:
    """``text`` for matching a search: case folded, accents and marks dropped (``Zoë Ødegård`` -> ``zoe odegard``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _confirmed_items(event_id: str) -> Iterator[dict[str, Any]]:
    """The event's confirmed registrations, only the attributes the door needs (Query, all pages)."""
    pages = _ddb().get_paginator("query").paginate(
        TableName=_table(),
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


# ------------------------------------------------------------------ emails


def email_code(kind: str, event_id: str, registration_id: str) -> str | None:
    """The check-in code an email of ``kind`` carries (:data:`EMAIL_KINDS`), else ``None``."""
    return make_code(event_id, registration_id) if kind in EMAIL_KINDS else None


def code_for_delivery(change: str, item: dict[str, Any]) -> str | None:
    """The check-in code for the email of a registration's ``change`` (``chalicelib.delivery``), or ``None``.

    Confirmation (``registered`` while confirmed) and promotion carry one; the kinds in
    :data:`EMAIL_KINDS` decide, so a reminder (kind ``reminder``) gets one too.
    """
    from chalicelib.emails import email_kind

    return email_code(
        email_kind(change, str(item.get("status", ""))), str(item["event_id"]), str(item["registration_id"])
    )


def local_time(event: Event, instant: datetime, language: str) -> str:
    """``"14:03"``: an instant as a time of day in the event's zone (Babel), for "already checked in at 14:03"."""
    from babel.dates import format_time

    return format_time(instant.astimezone(event.zone), "HH:mm", locale=language)


def email_context(code: str | None, domain: str) -> dict[str, Any]:
    """The template context of an email's check-in block (``_email_checkin.html``/``.txt``), the one
    helper every email kind that carries a code uses (:data:`EMAIL_KINDS`).

    ``{"checkin": None}`` without a code, else ``{"checkin": {"code", "spoken", "cid", "image"}}``:
    ``spoken`` the code in groups of four, ``cid`` the image's Content-ID without brackets (the HTML
    shows ``cid:<cid>``, RFC 2392; ``domain`` is its right-hand side, the sender's domain), ``image``
    the ``qrcodes.QrImage``. :func:`attach_code` puts the image into the message.
    """
    if not code:
        return {"checkin": None}
    from chalicelib.qrcodes import qr_png

    cid = f"checkin.{secrets.token_hex(8)}@{domain}"  # unique (RFC 2392), short enough to stay on one header line
    return {"checkin": {"code": code, "spoken": spoken(code), "cid": cid, "image": qr_png(code)}}


def attach_code(message: Any, context: dict[str, Any]) -> None:
    """Add the QR code of ``context`` (:func:`email_context`) to the HTML body of ``message`` (an
    ``email.message.EmailMessage`` holding ``multipart/alternative``) as an inline PNG: the HTML part
    becomes ``multipart/related`` (RFC 2387) of the HTML and ``image/png`` with ``Content-ID`` and
    ``Content-Disposition: inline``. Nothing happens without a code."""
    checkin = context.get("checkin")
    if not checkin:
        return
    html = message.get_body(preferencelist=("html",))
    if html is None:
        raise ValueError("the message has no HTML body for the check-in code")
    html.add_related(checkin["image"].png, maintype="image", subtype="png", cid=f"<{checkin['cid']}>",
                     disposition="inline", filename="checkin-code.png")
    html.set_param("type", "text/html")  # RFC 2387: the root part's type (add_related made this part multipart/related)
