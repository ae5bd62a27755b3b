"""Check-in at the door, the staff side (README, "Check-in at the door"): door links, and one registration checked in.

- :func:`door_link`: a signed, expiring link to the door page of one event
  (``chalicelib.checkin.make_door_token``); no password to hand around.
- :func:`check_in`: check one registration in, or take it back: the same conditional
  transaction the door page writes (``chalicelib.checkin.check_in_registration``).

Nothing here prints; ``staff.commands.checkin`` does. The service's address and signing key
come from the stage (settings, environment) or else the deployed stack's outputs (:mod:`staff.stack`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from chalicelib import checkin, clock, store
from chalicelib.events import Event
from chalicelib.settings import LOCAL_STAGE, get_settings
from staff.stack import stage_output

#: ``make run``'s port of the service when ``PORT`` is not set (Makefile, ``PORT ?= 8000``).
DEFAULT_LOCAL_PORT = "8000"


class NotConfigured(Exception):
    """The service's address or signing key cannot be found: a usage error; ``str`` says what to give."""


def service_url(given: str | None) -> str:
    """Where the door page is, without a trailing ``/``: ``given`` (``--base-url``), else for the local stage
    ``http://127.0.0.1:$PORT`` (``make run``'s), else ``PUBLIC_BASE_URL`` (the stage's), else the deployed
    stack's ``ApiUrl`` output.

    Raises :class:`NotConfigured`.
    """
    settings = get_settings()
    if given:
        return given.rstrip("/")
    if settings.stage == LOCAL_STAGE:
        return f"http://127.0.0.1:{os.environ.get('PORT', DEFAULT_LOCAL_PORT)}"
    if settings.public_base_url:
        return settings.public_base_url
    found = stage_output("ApiUrl")
    if found:
        return found.rstrip("/")
    raise NotConfigured("no address of the service: give --base-url, or set PUBLIC_BASE_URL")


def checked_base_url(text: str) -> str:
    """``--base-url`` as a door link may start with it: an ``http`` or ``https`` URL with a host (and
    optionally a port and a path), without user, password, query or fragment (the token follows ``#``),
    spaces or control characters; returned without a trailing ``/``. A ``javascript:`` or ``data:`` "link"
    would run in the browser of whoever opens it.

    Raises ``ValueError`` saying why, in one line.
    """
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("a URL has no spaces or control characters")
    try:
        parts = urlsplit(text)
        _ = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError as bad:
        raise ValueError(f"not a URL: {bad}") from None
    if parts.scheme.lower() not in ("http", "https"):
        not_this = f", not {parts.scheme}:" if parts.scheme else ""
        raise ValueError(f"the URL must start with https:// or http://{not_this}")
    if not parts.hostname:
        raise ValueError("the URL has no host, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/api")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL may not hold a user or password")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError("the URL may not hold a query (?) or fragment (#): the door link adds its own")
    return text.rstrip("/")


def use_signing_key() -> None:
    """Point ``chalicelib.tokens`` at the stage's key: ``TOKEN_KEYS`` (local), ``TOKEN_SECRET_ARN``, or the
    deployed stack's ``TokenSecretArn`` output (the staff policy may read that secret), which is then set in
    ``os.environ`` for the rest of the process.

    Raises :class:`NotConfigured`.
    """
    if os.environ.get("TOKEN_KEYS") or os.environ.get("TOKEN_SECRET_ARN"):
        return
    arn = stage_output("TokenSecretArn")
    if not arn:
        raise NotConfigured("no signing key: set TOKEN_SECRET_ARN (the stack's TokenSecretArn output)")
    os.environ["TOKEN_SECRET_ARN"] = arn


@dataclass(frozen=True)
class ShortOfEvent:
    """A door link that stops working before its event ends (:meth:`DoorLink.short_of_event`).

    ``before`` is ``"starts"`` (it is dead on the day) or ``"ends"`` (it dies during the event);
    ``starts_at`` and ``ends_at`` are the event's (aware UTC). ``valid`` is a ``--valid`` from the
    moment the link was made, in whole days, that covers the event until it ends, or ``None`` when
    that is over :data:`chalicelib.checkin.DOOR_LINK_MAX_SECONDS` (31 days); then ``make_after`` is the
    first moment (aware UTC) a new link of at most 31 days can cover it.
    """

    before: str
    starts_at: datetime
    ends_at: datetime
    valid: timedelta | None
    make_after: datetime


@dataclass(frozen=True)
class DoorLink:
    """A door link made by :func:`door_link`: the ``url`` (token after ``#``), the event, when it expires
    (aware UTC, as the clock gave it), the id of the key that signed it (retiring that key revokes it)
    and when it was made (aware UTC, the clock's now)."""

    url: str
    event: Event
    expires_at: datetime
    key_id: str
    made_at: datetime

    def short_of_event(self) -> ShortOfEvent | None:
        """Whether the link stops before its event ends, and what would cover the event; ``None`` when it
        covers the event, or the event had ended when the link was made (README, "Check-in at the door")."""
        starts_at, ends_at = self.event.utc(self.event.starts_at), self.event.utc(self.event.ends_at)
        if self.expires_at >= ends_at or self.made_at >= ends_at:
            return None
        longest = timedelta(seconds=checkin.DOOR_LINK_MAX_SECONDS)
        days = timedelta(days=math.ceil((ends_at - self.made_at) / timedelta(days=1)))
        valid = min(days, longest) if ends_at - self.made_at <= longest else None
        return ShortOfEvent("starts" if self.expires_at < starts_at else "ends", starts_at, ends_at, valid,
                            ends_at - longest)


def door_link(event_id: str, valid: timedelta, language: str | None, base_url: str | None) -> DoorLink:
    """A link to the door page of ``event_id`` that works for ``valid`` from now (``chalicelib.clock``).

    ``language`` (``nl``/``en``, or ``None``: the phone's) is the page's. Raises ``store.EventNotFound``,
    :class:`NotConfigured`, ``tokens.TokenKeysMissing`` and botocore errors.
    """
    event = store.event_definition(event_id)
    url = service_url(base_url)
    use_signing_key()
    made_at = clock.now()
    expires_at = made_at + valid
    token = checkin.make_door_token(event.id, expires_at)
    return DoorLink(checkin.door_link(url, event.id, token, language), event, expires_at, token.split(".")[1],
                    made_at)


@dataclass(frozen=True)
class CheckIn:
    """What :func:`check_in` came to: the event and ``chalicelib.checkin.Result`` (``outcome``, ``person``,
    ``changed``)."""

    event: Event
    result: checkin.Result


def check_in(event_id: str, registration_id: str, undo: bool = False) -> CheckIn:
    """Check a confirmed registration in at the door now, or take its check-in back (``undo``).

    Conditional, like a scan at the door: ``result.changed`` is false when nothing changed (already
    checked in, not confirmed, or an undo of one that was not checked in). Raises
    ``store.EventNotFound``, ``store.RegistrationNotFound``, ``chalicelib.checkin.Busy`` and botocore errors.
    """
    event = store.event_definition(event_id)
    result = checkin.check_in_registration(event.id, registration_id, clock.now(), undo=undo)
    return CheckIn(event, result)
