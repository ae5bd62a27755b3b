"""Check-in codes (README, "Check-in at the door"): make, read and verify them; the code in an email.

The layout of a code is in :mod:`chalicelib.checkin`'s docstring.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib import tokens

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

# Characters people read for letters of the base32 alphabet (it has no 0, 1 or 8).
_READ_AS = str.maketrans({"0": "O", "1": "I", "8": "B"})


class UnknownCode(LookupError):
    """Not a check-in code of this service: malformed, forged, or signed with a retired key."""


class NotForEvent(LookupError):
    """A genuine check-in code of another event: found and verified there (``writes.find_registration``)."""


def _checkin_signature(key: bytes, registration_id: str) -> bytes:
    """The ``checkin`` purpose's signature of a registration (``chalicelib.tokens.registration_mac``), 32 bytes."""
    return tokens.registration_mac(key, registration_id, PURPOSE)


def event_tag(event_id: str) -> int:
    """The byte a code of ``event_id`` starts with (not secret, not signed: it says which events to look in)."""
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
    """A code's parts (see :mod:`chalicelib.checkin`'s docstring): ``tag`` (int), ``id_prefix`` (8 base64url
    characters), ``mac`` (8 bytes)."""

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

    kind = email_kind(change, str(item.get("status", "")))
    return email_code(kind, str(item["event_id"]), str(item["registration_id"]))


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
