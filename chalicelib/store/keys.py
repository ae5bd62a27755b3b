"""Keys of the one table and the one address normalisation (README, "Storage").

=================  ===========================  ==============================================
item               partition key ``pk``         sort key ``sk``
=================  ===========================  ==============================================
event              ``EVENT#<event_id>``         ``#EVENT`` (the definition, JSON)
event counters     ``EVENT#<event_id>``         ``#COUNTERS`` (capacity, window, seat and waitlist counts)
waitlist bucket    ``EVENT#<event_id>``         ``WAITLIST#<bucket number, 8 digits>``
event catalogue    ``EVENTS``                   ``<event_id>``
registration       ``EVENT#<event_id>``         ``REG#<registration_id>``
address guard      ``EVENT#<event_id>``         ``EMAIL#<sha256 of the address key>``
quiet guard        ``EVENT#<event_id>``         ``QUIET#<sha256 of the address key>``
message lookup     ``MSG#<SES message id>``     ``#MESSAGE`` (which registration's email it was)
=================  ===========================  ==============================================

The global secondary index ``by-registration`` (partition key
``registration_id``, only registration items carry it) finds a registration from
the id in a link. Registrations, guards and waitlist buckets carry ``expires_at``
(epoch seconds, the table's TTL attribute).

:func:`email_key` is the one comparison form of an address: the address guard, the
suppression marker, validation and the emails' recipient check all use it.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from email_validator import EmailNotValidError, validate_email

EVENT_SK = "#EVENT"
COUNTERS_SK = "#COUNTERS"
WAITLIST_PREFIX = "WAITLIST#"
#: Partition of the event catalogue: one item per event (sort key: the event id), so events are
#: listed by Query, never by a Scan of every registration.
CATALOGUE_PK = "EVENTS"
REGISTRATION_PREFIX = "REG#"
GUARD_PREFIX = "EMAIL#"
QUIET_PREFIX = "QUIET#"
REGISTRATION_INDEX = "by-registration"
TTL_ATTRIBUTE = "expires_at"
#: Partition key prefix and sort key of a message lookup item: the SES message id of a sent email
#: finds its registration and notification with one GetItem (no Scan, no index).
MESSAGE_PREFIX = "MSG#"
MESSAGE_SK = "#MESSAGE"
#: Sort key of an event's check-in counter item (``checked_in_count``; ``chalicelib.checkin``).
CHECKINS_SK = "#CHECKINS"
#: On the event item: how many times its schedule (time, place) changed; on a registration: the
#: revision its registrant was last told (README, "Emails", event changes).
SCHEDULE_REVISION = "schedule_revision"
#: On the event item: every schedule it had, by revision (``chalicelib.schedules``).
SCHEDULES = "schedules"
#: On a registration: the ``SEQUENCE`` of its latest calendar message (RFC 5546; ``chalicelib.invites``).
INVITE_SEQUENCE = "invite_sequence"

#: Waitlist tickets per bucket. A bucket item holds at most this many entries of about 30 bytes
#: (under 2 KB), and the counters item one ``w<b>`` per bucket that has someone waiting (about
#: 10 bytes each: 5,000 waiting keep it under 1 KB).
WAITLIST_BUCKET_SIZE = 50

def event_pk(event_id: str) -> str:
    """Partition key of an event and all its items."""
    return f"EVENT#{event_id}"


def registration_sk(registration_id: str) -> str:
    """Sort key of a registration item."""
    return f"{REGISTRATION_PREFIX}{registration_id}"


def waitlist_bucket(ticket: int) -> int:
    """The bucket of a waitlist ticket: ``ticket // WAITLIST_BUCKET_SIZE``."""
    return int(ticket) // WAITLIST_BUCKET_SIZE


def waitlist_bucket_sk(bucket: int) -> str:
    """Sort key of a waitlist bucket item: ``WAITLIST#`` and the bucket number in 8 digits (so they sort)."""
    return f"{WAITLIST_PREFIX}{bucket:08d}"


def email_key(email: str) -> str:
    """The comparison form of an address: one mailbox, one key.

    The part before the ``@`` is casefolded (addresses compare case-insensitively:
    README, "Storage"); the domain is taken in its IDNA ASCII form, lower case,
    as email-validator computes it, so ``user@éxample.org`` and
    ``user@xn--xample-9ua.org`` are the same mailbox. An ASCII domain is only
    lower-cased (what email-validator makes of it too, without the cost of a
    second validation); an address email-validator refuses is only casefolded.
    """
    email = email.strip()
    local_part, at, domain = email.rpartition("@")
    if not at:
        return email.casefold()
    if not domain.isascii():
        with contextlib.suppress(EmailNotValidError):
            domain = validate_email(email, check_deliverability=False).ascii_domain
    return f"{local_part.casefold()}@{domain.lower()}"


def address_hash(email: str) -> str:
    """SHA-256 (hex) of :func:`email_key`: one mailbox, one value, however it is spelled.

    The address guard's key and the suppression marker (``email_suppressed.address``,
    README "Emails") hold it instead of the address.
    """
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def guard_sk(email: str) -> str:
    """Sort key of the "this address is registered for this event" guard.

    The address is hashed (:func:`address_hash`) so no address appears in a key.
    """
    return GUARD_PREFIX + address_hash(email)


def quiet_guard_sk(email: str) -> str:
    """Sort key of the quiet guard a honeypot post leaves (``chalicelib.antispam``): the same hash."""
    return QUIET_PREFIX + guard_sk(email)[len(GUARD_PREFIX):]

def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}

def message_key(message_id: str) -> dict[str, Any]:
    """The key of the message lookup item of an SES message id (typed JSON)."""
    return _key(f"{MESSAGE_PREFIX}{message_id}", MESSAGE_SK)
