"""Personal link tokens: opaque HMAC-SHA256 signatures of a registration id.

A token is ``<key id>.<signature>``: the key id names the signing key, so keys can
be rotated (sign with the newest, verify with any listed); the signature is
HMAC-SHA256 (RFC 2104) over ``"registration:" + registration_id``, base64url
without padding. The token holds no email address and no readable id, and
cannot be made without the key.

Keys come from ``TOKEN_KEYS`` (``kid:secret,...``, newest first; local and
tests) or, in deployed stages, from the Secrets Manager secret named by
``TOKEN_SECRET_ARN`` (same format, or one bare secret used as key id ``k1``),
cached for five minutes.
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


def _signature(key: bytes, registration_id: str) -> str:
    mac = hmac.new(key, f"registration:{registration_id}".encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def make_token(registration_id: str) -> str:
    """The link token for a registration, signed with the newest key (URL-safe, 46 characters or so)."""
    kid, key = signing_keys()[0]
    return f"{kid}.{_signature(key, registration_id)}"


def verify_token(registration_id: str, token: str | None) -> bool:
    """Whether ``token`` was made for ``registration_id`` with any configured key (constant-time compare)."""
    if not token or "." not in token or len(token) > 200:
        return False
    kid, _, signature = token.partition(".")
    for known_kid, key in signing_keys():
        if known_kid == kid:
            return hmac.compare_digest(_signature(key, registration_id).encode("utf-8"), signature.encode("utf-8", "replace"))
    return False


#: How long a thank-you page reference stays readable, in seconds.
RECEIPT_SECONDS = 3600


def _receipt_signature(key: bytes, event_id: str, registration_id: str, expires: int) -> str:
    message = f"thanks:{event_id}:{registration_id}:{expires}".encode("utf-8")
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode("ascii")


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
