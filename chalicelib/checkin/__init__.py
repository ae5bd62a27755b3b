"""Check-in at the door (README, "Check-in at the door"): codes, door links and the check-in writes.

**Check-in codes.** Every confirmation, promotion and reminder email carries
the registrant's code, as a QR code (``chalicelib.qrcodes``) and written out for reading aloud.
A code is 15 bytes, written as 24 characters of RFC 4648 base32 (``A``-``Z``, ``2``-``7``: no
``0``/``O``, ``1``/``I``/``L`` or ``8``/``B`` to confuse) in six groups of four
(``K7QD 4M2X ...``):

==========  ==================================================================================
bytes       what
==========  ==================================================================================
0           event tag: the first byte of SHA-256 over ``"event:" + event id``; not signed, so
            a code is called "not for this event" only once it is found and verified in an
            event with that tag (a typo in the tag is an unknown code, like any other typo)
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
same transaction the other way, on condition that ``checked_in_at`` exists and the registration
is still ``confirmed``. The counter is an item of its own, not the event's counters item, so
check-ins never conflict with registrations. It counts the confirmed registrations checked in:
a cancellation or an erasure of one takes it off in its own transaction
(``chalicelib.store.transitions``), conditional on the check-in as it read it; a cancelled
registration keeps ``checked_in_at`` (the person came), off the count.

The package by concern: :mod:`~chalicelib.checkin.codes` (codes, and the code in an email),
:mod:`~chalicelib.checkin.doorlinks` (door links), :mod:`~chalicelib.checkin.writes` (finding a
registration by its code, the check-in and undo transactions) and :mod:`~chalicelib.checkin.search`
(the door's figures and name search). Callers use ``checkin.<name>``: everything is re-exported here.
"""

from __future__ import annotations

from chalicelib.checkin.codes import (
    CODE_CHARS,
    EMAIL_KINDS,
    GROUP,
    ID_PREFIX_CHARS,
    MAC_BYTES,
    PURPOSE,
    NotForEvent,
    ParsedCode,
    UnknownCode,
    attach_code,
    code_for_delivery,
    code_matches,
    email_code,
    email_context,
    event_tag,
    make_code,
    parse_code,
    spoken,
)
from chalicelib.checkin.doorlinks import (
    DOOR_LINK_MAX_SECONDS,
    DoorLinkExpired,
    DoorLinkInvalid,
    DoorPass,
    bearer_token,
    door_link,
    make_door_token,
    read_door_token,
)
from chalicelib.checkin.search import SEARCH_LIMIT, SEARCH_MIN_CHARS, Summary, fold, search, summary
from chalicelib.checkin.writes import (
    CHECKINS_SK,
    OUTCOMES,
    WRITE_ATTEMPTS,
    Busy,
    Person,
    Result,
    check_in_code,
    check_in_item,
    check_in_registration,
    early,
    find_registration,
    local_time,
    undo_code,
    undo_item,
)

__all__ = [
    "CHECKINS_SK", "CODE_CHARS", "DOOR_LINK_MAX_SECONDS", "EMAIL_KINDS", "GROUP", "ID_PREFIX_CHARS", "MAC_BYTES",
    "OUTCOMES", "PURPOSE", "SEARCH_LIMIT", "SEARCH_MIN_CHARS", "WRITE_ATTEMPTS", "Busy", "DoorLinkExpired",
    "DoorLinkInvalid", "DoorPass", "NotForEvent", "ParsedCode", "Person", "Result", "Summary", "UnknownCode",
    "attach_code", "bearer_token", "check_in_code", "check_in_item", "check_in_registration", "code_for_delivery",
    "code_matches", "door_link", "early", "email_code", "email_context", "event_tag", "find_registration", "fold",
    "local_time", "make_code", "make_door_token", "parse_code", "read_door_token", "search", "spoken", "summary",
    "undo_code", "undo_item",
]
