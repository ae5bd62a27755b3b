"""Door links (README, "Check-in at the door"): the signed, expiring token that opens an event's door page.

The token's form is in :mod:`chalicelib.checkin`'s docstring.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import errors, tokens
from chalicelib.dates import local_timestamp
from chalicelib.events import Event

#: The longest a door link may be valid for, in seconds (the staff command refuses more).
DOOR_LINK_MAX_SECONDS = 31 * 24 * 3600


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

    def problem_params(self, language: str) -> dict[str, Any]:
        """When the link expired, in the event's zone and ``language`` (when the event is known)."""
        if self.event is None:
            return {}
        return {"expired": local_timestamp(self.event, self.expired_at, language)}

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
    # ASCII digits only: str.isdigit() also takes '²' (int() then raises: a 500) and other scripts' digits.
    if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()) or len(parts[0]) > 12:
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
