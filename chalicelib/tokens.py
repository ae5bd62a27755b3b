"""Personal link tokens: opaque HMAC-SHA256 signatures of a registration id and a purpose.

A token is ``<key id>.<signature>``: the key id names the signing key, so keys can
be rotated (sign with the newest, verify with any listed); the signature is
HMAC-SHA256 (RFC 2104) over ``"<purpose>:registration:" + registration_id``,
base64url without padding. The token holds no email address, no readable id and
no readable purpose, and cannot be made without the key.

One scheme serves every purpose: HMAC-SHA256 with the keys below over
``"<purpose>:<subject>"`` (:func:`mac`), so what is signed for one purpose is never
valid for another. A registration's purposes (README, "Emails"): ``view`` (the status
page, the link in the calendar entry), ``cancel`` (the cancel page and the
cancellation) and ``checkin`` (the check-in code of the emails: its first 64 bits,
``chalicelib.checkin``, README "Check-in at the door"), each over
``"registration:" + registration id``; so a view token never cancels, neither ever
checks anyone in, and a check-in code never views or cancels: :func:`verify_token`
checks the route's own purpose only. Door links (:data:`DOOR`, ``chalicelib.checkin``)
sign ``"door:<event id>:<expiry>"`` and thank-you page references ``"thanks:..."``:
no registration token is either, nor the other way round.

Tokens of the first release were signed without a purpose (``"registration:" +
id``). They were only ever sent to registrations of that release, and only the
signing key can make one, so they stay valid for ``view`` and ``cancel`` (never
``checkin``) until the registration expires or their key is retired
(:data:`LEGACY_PURPOSES`).

Keys come from ``TOKEN_KEYS`` (``kid:secret,...``, newest first; local and
tests) or, in deployed stages, from the Secrets Manager secret named by
``TOKEN_SECRET_ARN`` (same format, or one bare secret used as key id ``k1``),
cached for five minutes.

Thank-you page references (:func:`make_receipt`) sign yet another message and are no link token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from chalicelib import aws
from chalicelib.settings import get_settings

_SECRET_CACHE_SECONDS = 300
_secret_cache: dict[str, tuple[float, str]] = {}


class TokenKeysMissing(RuntimeError):
    """Neither ``TOKEN_KEYS`` nor ``TOKEN_SECRET_ARN`` is configured."""


def _parse_keys(text: str) -> list[tuple[str, bytes]]:
    keys: list[tuple[str, bytes]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, secret = part.partition(":")
        if not sep:
            kid, secret = "k1", part
        keys.append((kid.strip(), secret.strip().encode("utf-8")))
    return keys


def _secret_text(arn: str) -> str:
    cached = _secret_cache.get(arn)
    if cached and time.monotonic() - cached[0] < _SECRET_CACHE_SECONDS:
        return cached[1]
    value: Any = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    _secret_cache[arn] = (time.monotonic(), value)
    return value


def signing_keys() -> list[tuple[str, bytes]]:
    """``[(key id, key bytes), ...]``, newest first. Raises :class:`TokenKeysMissing`."""
    settings = get_settings()
    text = settings.token_keys or (_secret_text(settings.token_secret_arn) if settings.token_secret_arn else "")
    keys = _parse_keys(text)
    if not keys:
        raise TokenKeysMissing("set TOKEN_KEYS or TOKEN_SECRET_ARN")
    return keys


#: What a personal link token may be for (the purposes signed into it).
VIEW, CANCEL, CHECKIN = "view", "cancel", "checkin"
PURPOSES = (VIEW, CANCEL, CHECKIN)
#: The purpose of a door link (an event's, not a registration's): :func:`mac` with subject ``"<event id>:<expiry>"``.
DOOR = "door"
#: The purpose of a thank-you page reference (:func:`make_receipt`).
THANKS = "thanks"
#: What a token of the first release (signed without a purpose) is still accepted for.
LEGACY_PURPOSES = frozenset({VIEW, CANCEL})


class UnknownPurpose(ValueError):
    """A purpose that is not one of :data:`PURPOSES` (a programming error, never a client's)."""


def mac(key: bytes, purpose: str, subject: str) -> bytes:
    """The one signature of this service: HMAC-SHA256 (RFC 2104) of ``key`` over ``"<purpose>:<subject>"``, 32 bytes.

    ``purpose`` is one of :data:`PURPOSES`, :data:`DOOR` or :data:`THANKS` (none contains ``:``, so
    no message of one purpose is a message of another). Raises :class:`UnknownPurpose`.
    """
    if purpose not in (*PURPOSES, DOOR, THANKS):
        raise UnknownPurpose(f"unknown token purpose {purpose!r}")
    return hmac.new(key, f"{purpose}:{subject}".encode("utf-8"), hashlib.sha256).digest()


def registration_mac(key: bytes, registration_id: str, purpose: str) -> bytes:
    """:func:`mac` of a registration for ``purpose`` (one of :data:`PURPOSES`), 32 bytes: a link token's
    signature, and the check-in code's first 8 bytes. Raises :class:`UnknownPurpose`."""
    _check_purpose(purpose)
    return mac(key, purpose, f"registration:{registration_id}")


def encode(digest: bytes) -> str:
    """A signature as a token writes it: base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _signature(key: bytes, registration_id: str, purpose: str | None) -> str:
    """The signature for ``purpose``; ``None`` gives the first release's purpose-less one."""
    if purpose is None:
        return encode(hmac.new(key, f"registration:{registration_id}".encode("utf-8"), hashlib.sha256).digest())
    return encode(registration_mac(key, registration_id, purpose))


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise UnknownPurpose(f"unknown token purpose {purpose!r}; one of {', '.join(PURPOSES)}")


def make_token(registration_id: str, purpose: str) -> str:
    """The link token of a registration for ``purpose`` (``view``, ``cancel`` or ``checkin``), signed
    with the newest key: URL-safe, about 46 characters. Raises :class:`UnknownPurpose` and
    :class:`TokenKeysMissing`."""
    _check_purpose(purpose)
    kid, key = signing_keys()[0]
    return f"{kid}.{_signature(key, registration_id, purpose)}"


def verify_token(registration_id: str, token: str | None, purpose: str) -> bool:
    """Whether ``token`` was made for ``registration_id`` and ``purpose`` with any configured key.

    A token of the first release (no purpose) passes for :data:`LEGACY_PURPOSES`. Constant-time
    compares; anything malformed is simply ``False``. Raises :class:`UnknownPurpose`.
    """
    _check_purpose(purpose)
    if not token or "." not in token or len(token) > 200:
        return False
    kid, _, signature = token.partition(".")
    given = signature.encode("utf-8", "replace")
    for known_kid, key in signing_keys():
        if known_kid != kid:
            continue
        if hmac.compare_digest(_signature(key, registration_id, purpose).encode("ascii"), given):
            return True
        return purpose in LEGACY_PURPOSES and hmac.compare_digest(
            _signature(key, registration_id, None).encode("ascii"), given)
    return False


def purposes_of(registration_id: str, token: str | None) -> frozenset[str]:
    """Every purpose ``token`` is valid for on ``registration_id`` (empty when it is not valid)."""
    return frozenset(p for p in PURPOSES if verify_token(registration_id, token, p))


#: How long a thank-you page reference stays readable, in seconds.
RECEIPT_SECONDS = 3600


def _receipt_signature(key: bytes, event_id: str, registration_id: str, expires: int) -> str:
    return encode(mac(key, THANKS, f"{event_id}:{registration_id}:{expires}"))


def make_receipt(event_id: str, registration_id: str, now: int) -> str:
    """A short-lived reference to a new registration for its thank-you page.

    ``"<registration id>.<expiry, epoch seconds>.<key id>.<signature>"``: HMAC-SHA256
    over ``"thanks:<event id>:<registration id>:<expiry>"``, valid for :data:`RECEIPT_SECONDS`
    after ``now`` (epoch seconds). It holds no address and cannot serve as a personal
    link token (another message is signed), so the redirect after a form post carries no
    personal data (README, "The registration page").
    """
    expires = int(now) + RECEIPT_SECONDS
    kid, key = signing_keys()[0]
    return f"{registration_id}.{expires}.{kid}.{_receipt_signature(key, event_id, registration_id, expires)}"


def read_receipt(event_id: str, receipt: str | None, now: int) -> str | None:
    """The registration id of a valid, unexpired receipt for ``event_id``; ``None`` for anything else."""
    if not receipt or len(receipt) > 200:
        return None
    parts = receipt.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    registration_id, expires_text, kid, signature = parts
    expires = int(expires_text)
    if expires < int(now) or expires > int(now) + RECEIPT_SECONDS:
        return None
    for known_kid, key in signing_keys():
        if known_kid == kid:
            expected = _receipt_signature(key, event_id, registration_id, expires)
            if hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8", "replace")):
                return registration_id
    return None
