"""DynamoDB persistence: one table, its keys and every conditional write (README, "Storage").

A package by concern; ``from chalicelib import store`` and ``store.<name>`` reach every
public name below, wherever it lives:

=====================  ==========================================================================
module                 what it owns
=====================  ==========================================================================
``errors``             :class:`StoreError` and the errors a failed condition or a missing item means
``keys``               key prefixes and builders, the table design, :func:`email_key` (the one address form)
``serialize``          plain values to DynamoDB typed JSON and back
``table``              the lazily created client, the table name, batch reads, cancellation reasons
``counters``           :class:`EventCounters` (the ``#COUNTERS`` item) and the conditions writes check on it
``events``             definitions (and their per-instance cache), the catalogue, due jobs, schedule revisions
``waitlist``           tickets, buckets, the head of the queue and positions
``registrations``      create (with the address guard), get, find, list; quiet guards
``notifications``      email requests, claims, ``sent`` with the ``MSG#`` lookup item, SES feedback
``reminders``          the reminder jobs' reads and writes: who is still to remind, one ask each
``corrections``        staff corrections: resend the latest email, change the address
``transitions``        cancel, erase and promote, each one transaction
``retention``          every item's TTL moved with its event's end
=====================  ==========================================================================

Every state change is a conditional write or a transaction; nothing is decided
by a read that a concurrent write could invalidate.
"""

from __future__ import annotations

from chalicelib.errors import Busy
from chalicelib.store.corrections import (
    CORRECTION_ATTEMPTS,
    change_email,
    latest_notification,
    request_resend,
    suppression_reason,
)
from chalicelib.store.counters import (
    Availability,
    AvailabilityState,
    EventCounters,
    SeatsKind,
    availability,
)
from chalicelib.store.errors import (
    AddressSuppressed,
    AlreadyRegistered,
    EventFull,
    EventNotFound,
    EventOver,
    LegacyEventItem,
    NotActive,
    NothingToResend,
    RegistrationErased,
    RegistrationNotFound,
    SeatFree,
    StoreError,
    WindowClosed,
)
from chalicelib.store.events import (
    DEFINITION_MAX_AGE,
    FULL_HINT_SECONDS,
    PUT_EVENT_ATTEMPTS,
    Published,
    catalogue_entries,
    event_definition,
    event_from_item,
    event_schedules,
    forget_full,
    get_counters,
    get_event,
    get_event_item,
    known_schedule_revision,
    list_event_items,
    mark_job_done,
    next_schedules,
    probably_full,
    put_event,
    remember_full,
    reset_caches,
    save_job_cursor,
    schedules_of,
)
from chalicelib.store.keys import (
    CATALOGUE_PK,
    CHECKINS_SK,
    COUNTERS_SK,
    EVENT_SK,
    GUARD_PREFIX,
    INVITE_SEQUENCE,
    MESSAGE_PREFIX,
    MESSAGE_SK,
    QUIET_PREFIX,
    REGISTRATION_INDEX,
    REGISTRATION_PREFIX,
    SCHEDULE_REVISION,
    SCHEDULES,
    TTL_ATTRIBUTE,
    WAITLIST_BUCKET_SIZE,
    WAITLIST_PREFIX,
    address_hash,
    email_key,
    event_pk,
    guard_sk,
    message_key,
    quiet_guard_sk,
    registration_sk,
    waitlist_bucket,
    waitlist_bucket_sk,
)
from chalicelib.store.notifications import (
    SENT_ATTEMPTS,
    Claim,
    add_notification,
    claim_notification,
    find_message,
    mark_schedule_change,
    record_feedback,
    record_notification,
    record_sent,
    withdraw_notification,
)
from chalicelib.store.registrations import (
    address_taken,
    find_registration,
    get_registration,
    get_registration_in_event,
    iter_registrations,
    new_registration_item,
    put_quiet_guard,
    put_registration,
    quiet_guard_live,
    registration_for_address,
    registration_with_position,
)
from chalicelib.store.reminders import (
    REMINDER_ASK_ATTEMPTS,
    ask_reminder,
    reminded_attribute,
    reminder_candidates,
)
from chalicelib.store.retention import EXPIRY_MARGIN_SECONDS, restamp_expiry
from chalicelib.store.serialize import (
    deserialize,
    plain,
    serialize,
)
from chalicelib.store.transitions import (
    ERASED_ATTRIBUTES,
    ERASED_KEEPS,
    cancel_transition,
    erase_transition,
    message_ids,
    promote_transition,
)
from chalicelib.store.waitlist import (
    Ticket,
    WaitlistEntry,
    give_up_ticket,
    take_waitlist_ticket,
    waiting_registrations,
    waitlist_entry,
    waitlist_head,
    waitlist_position,
)

__all__ = [
    "CATALOGUE_PK",
    "CHECKINS_SK",
    "CORRECTION_ATTEMPTS",
    "COUNTERS_SK",
    "DEFINITION_MAX_AGE",
    "ERASED_ATTRIBUTES",
    "ERASED_KEEPS",
    "EVENT_SK",
    "EXPIRY_MARGIN_SECONDS",
    "FULL_HINT_SECONDS",
    "GUARD_PREFIX",
    "INVITE_SEQUENCE",
    "MESSAGE_PREFIX",
    "MESSAGE_SK",
    "PUT_EVENT_ATTEMPTS",
    "QUIET_PREFIX",
    "REGISTRATION_INDEX",
    "REGISTRATION_PREFIX",
    "REMINDER_ASK_ATTEMPTS",
    "SCHEDULES",
    "SCHEDULE_REVISION",
    "SENT_ATTEMPTS",
    "TTL_ATTRIBUTE",
    "WAITLIST_BUCKET_SIZE",
    "WAITLIST_PREFIX",
    "AddressSuppressed",
    "AlreadyRegistered",
    "Availability",
    "AvailabilityState",
    "Busy",
    "Claim",
    "EventCounters",
    "EventFull",
    "EventNotFound",
    "EventOver",
    "LegacyEventItem",
    "NotActive",
    "NothingToResend",
    "Published",
    "RegistrationErased",
    "RegistrationNotFound",
    "SeatFree",
    "SeatsKind",
    "StoreError",
    "Ticket",
    "WaitlistEntry",
    "WindowClosed",
    "add_notification",
    "address_hash",
    "address_taken",
    "ask_reminder",
    "availability",
    "cancel_transition",
    "catalogue_entries",
    "change_email",
    "claim_notification",
    "deserialize",
    "email_key",
    "erase_transition",
    "event_definition",
    "event_from_item",
    "event_pk",
    "event_schedules",
    "find_message",
    "find_registration",
    "forget_full",
    "get_counters",
    "get_event",
    "get_event_item",
    "get_registration",
    "get_registration_in_event",
    "give_up_ticket",
    "guard_sk",
    "iter_registrations",
    "known_schedule_revision",
    "latest_notification",
    "list_event_items",
    "mark_job_done",
    "mark_schedule_change",
    "message_ids",
    "message_key",
    "new_registration_item",
    "next_schedules",
    "plain",
    "probably_full",
    "promote_transition",
    "put_event",
    "put_quiet_guard",
    "put_registration",
    "quiet_guard_live",
    "quiet_guard_sk",
    "record_feedback",
    "record_notification",
    "record_sent",
    "registration_for_address",
    "registration_sk",
    "registration_with_position",
    "remember_full",
    "reminded_attribute",
    "reminder_candidates",
    "request_resend",
    "reset_caches",
    "restamp_expiry",
    "save_job_cursor",
    "schedules_of",
    "serialize",
    "suppression_reason",
    "take_waitlist_ticket",
    "waiting_registrations",
    "waitlist_bucket",
    "waitlist_bucket_sk",
    "waitlist_entry",
    "waitlist_head",
    "waitlist_position",
    "withdraw_notification",
]
