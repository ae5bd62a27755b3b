"""What happened to each email after SES accepted it: delivery, bounce, complaint, reject, delay.

Every send names the stage's SES configuration set (``SES_CONFIGURATION_SET``,
``chalicelib.delivery``). Its event destination publishes the message's events to
Amazon EventBridge (the account's default event bus), and a rule of the deploy stack
invokes the ``RecordEmailEvents`` function with each one (``chalicelib.entry_feedback``;
README, "Emails"). An event is an EventBridge event whose ``detail`` is SES's event
record (SES Developer Guide, "Contents of event data that Amazon SES publishes"):
``detail.eventType`` (``Delivery``, ``Bounce``, ``Complaint``, ``Reject``,
``DeliveryDelay``), ``detail.mail.messageId`` (the id ``SendEmail`` returned) and the
part of its type (``detail.bounce``, ...).

:func:`handle_event` finds the registration's notification by the message id (the
message lookup item ``MSG#<id>`` that ``store.record_sent`` wrote with ``sent``: one
GetItem, no Scan, no index) and records the outcome on it with one conditional
UpdateItem (``store.record_feedback``). The outcomes and their precedence
(:data:`RANKS`), which the write's condition enforces, so events may come twice and
in any order:

===================  ====  ==========================================================
outcome              rank  from
===================  ====  ==========================================================
``delayed``          1     ``DeliveryDelay``: SES is still trying
``bounced_transient`` 2    ``Bounce`` with ``bounceType`` ``Transient`` or ``Undetermined``
``delivered``        3     ``Delivery``: the receiving server accepted it
``rejected``         4     ``Reject``: SES refused to send it (a virus in it)
``bounced``          5     ``Bounce`` with ``bounceType`` ``Permanent``
``complained``       6     ``Complaint``: the recipient marked it as spam
===================  ====  ==========================================================

So a transient bounce followed by a delivery ends ``delivered`` (SES retried and got
through), and a late ``delivered`` never overwrites ``bounced``: a server may accept a
message and bounce it afterwards (an asynchronous bounce, after SES's ``Delivery``), and
nothing after a complaint changes it. An event of an equal or lower rank than the one
recorded changes nothing (a duplicate is such an event).

A permanent bounce or a complaint also marks the address as suppressed on the
registration (``email_suppressed``, with the hash of the address SES tried), so later
emails to it are not sent (``chalicelib.delivery``) until staff correct it
(``registrations set-email``).

Retries: an error (DynamoDB unreachable, a message id not recorded yet) raises, and
Lambda's asynchronous invocation retries the event (twice), then sends it to the
function's dead-letter queue; EventBridge's own retry policy covers failures to invoke.
A message id that is still unknown :data:`UNKNOWN_GRACE_SECONDS` after SES accepted the
message is not ours to record (its sender died before recording it, or the
registration expired): it is logged and dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib import clock, store
from chalicelib.settings import get_settings

logger = Logger(service="event-registration", child=True)

#: Precedence of the outcomes (module docstring): a recorded outcome is replaced only by a higher rank.
RANKS = {"delayed": 1, "bounced_transient": 2, "delivered": 3, "rejected": 4, "bounced": 5, "complained": 6}
#: Outcomes that stop later emails to the address (``email_suppressed``).
SUPPRESSING = {"bounced": "bounced permanently", "complained": "complained (marked an email as spam)"}
#: EventBridge ``detail-type`` of each SES event type this function records (SES Developer Guide,
#: "Monitoring using Amazon EventBridge"); the stack's rule matches exactly these.
DETAIL_TYPES = {
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Reject": "Email Rejected",
    "DeliveryDelay": "Email Delivery Delayed",
}
#: Seconds after SES accepted a message during which an unknown message id is retried (the
#: sending function records the id right after SES answers; an event can come first).
UNKNOWN_GRACE_SECONDS = 900
#: Longest diagnostic kept, in characters.
DIAGNOSTIC_MAX = 500


class MessageNotRecordedYet(Exception):
    """The message id has no lookup item yet, and SES accepted it only moments ago: retry the event."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Recipient(_Lenient):
    """A recipient of a bounce or delay: its address and the receiving server's answer."""

    emailAddress: str = ""
    status: str | None = None
    diagnosticCode: str | None = None


class Mail(_Lenient):
    """``detail.mail``: the message the event is about."""

    messageId: str
    timestamp: datetime | None = None
    destination: list[str] = Field(default_factory=list)


class Bounce(_Lenient):
    """``detail.bounce``."""

    bounceType: str = "Undetermined"
    bounceSubType: str = ""
    bouncedRecipients: list[Recipient] = Field(default_factory=list)
    timestamp: datetime | None = None


class Complaint(_Lenient):
    """``detail.complaint``."""

    complainedRecipients: list[Recipient] = Field(default_factory=list)
    complaintFeedbackType: str | None = None
    timestamp: datetime | None = None


class Delivery(_Lenient):
    """``detail.delivery``."""

    recipients: list[str] = Field(default_factory=list)
    smtpResponse: str | None = None
    timestamp: datetime | None = None


class Reject(_Lenient):
    """``detail.reject``."""

    reason: str = ""


class DeliveryDelay(_Lenient):
    """``detail.deliveryDelay``."""

    delayType: str = ""
    delayedRecipients: list[Recipient] = Field(default_factory=list)
    timestamp: datetime | None = None


class SesEvent(_Lenient):
    """``detail``: one SES event record, as the configuration set's event destination publishes it."""

    eventType: str
    mail: Mail
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    delivery: Delivery | None = None
    reject: Reject | None = None
    deliveryDelay: DeliveryDelay | None = None


@dataclass(frozen=True)
class Outcome:
    """What one SES event says about its email: ``outcome`` (a key of :data:`RANKS`) and its details.

    ``at`` is when it happened (UTC, from the event); ``recipient`` the address SES
    tried (from the event: used only to hash it for the suppression marker, never
    logged); ``diagnostic`` the receiving server's answer or SES's reason (one line,
    at most :data:`DIAGNOSTIC_MAX` characters).
    """

    outcome: str
    at: datetime
    recipient: str = ""
    bounce_type: str = ""
    bounce_subtype: str = ""
    diagnostic: str = ""
    complaint_type: str = ""

    @property
    def rank(self) -> int:
        """The outcome's precedence (:data:`RANKS`)."""
        return RANKS[self.outcome]

    def feedback(self) -> dict[str, Any]:
        """The ``feedback`` map stored on the notification (empty details left out)."""
        found = {"outcome": self.outcome, "rank": self.rank, "at": self.at.isoformat(),
                 "bounce_type": self.bounce_type, "bounce_subtype": self.bounce_subtype,
                 "diagnostic": self.diagnostic, "complaint_type": self.complaint_type}
        return {k: v for k, v in found.items() if v not in ("", None)}

    def suppression(self, notification: str) -> dict[str, Any] | None:
        """The ``email_suppressed`` marker for a permanent bounce or a complaint, else ``None``."""
        if self.outcome not in SUPPRESSING or not self.recipient:
            return None
        return {"reason": f"the address {SUPPRESSING[self.outcome]} on {self.at:%Y-%m-%d %H:%M} UTC",
                "at": self.at.isoformat(), "address": store.address_hash(self.recipient),
                "outcome": self.outcome, "notification": notification}


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())[:DIAGNOSTIC_MAX]


def _utc(instant: datetime | None, fallback: datetime) -> datetime:
    if instant is None:
        return fallback
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def outcome_of(detail: SesEvent) -> Outcome | None:
    """The :class:`Outcome` an SES event record reports, or ``None`` for a type not recorded (``Send``, ``Open``...)."""
    fallback = _utc(detail.mail.timestamp, clock.now())
    recipient = detail.mail.destination[0] if detail.mail.destination else ""
    kind = detail.eventType
    if kind == "Bounce" and detail.bounce is not None:
        bounce = detail.bounce
        first = bounce.bouncedRecipients[0] if bounce.bouncedRecipients else Recipient()
        permanent = bounce.bounceType == "Permanent"
        return Outcome("bounced" if permanent else "bounced_transient", _utc(bounce.timestamp, fallback),
                       first.emailAddress or recipient, bounce.bounceType, bounce.bounceSubType,
                       _one_line(first.diagnosticCode or first.status))
    if kind == "Complaint" and detail.complaint is not None:
        complaint = detail.complaint
        first = complaint.complainedRecipients[0] if complaint.complainedRecipients else Recipient()
        return Outcome("complained", _utc(complaint.timestamp, fallback), first.emailAddress or recipient,
                       complaint_type=_one_line(complaint.complaintFeedbackType))
    if kind == "Delivery" and detail.delivery is not None:
        return Outcome("delivered", _utc(detail.delivery.timestamp, fallback), recipient,
                       diagnostic=_one_line(detail.delivery.smtpResponse))
    if kind == "Reject" and detail.reject is not None:
        return Outcome("rejected", fallback, recipient, diagnostic=_one_line(detail.reject.reason))
    if kind == "DeliveryDelay" and detail.deliveryDelay is not None:
        delay = detail.deliveryDelay
        first = delay.delayedRecipients[0] if delay.delayedRecipients else Recipient()
        return Outcome("delayed", _utc(delay.timestamp, fallback), first.emailAddress or recipient,
                       diagnostic=_one_line(" ".join(filter(None, (delay.delayType, first.diagnosticCode)))))
    return None


def handle_event(event: dict[str, Any]) -> dict[str, Any]:
    """Record one EventBridge event of SES on the notification of its message; returns what was done.

    Returns ``{"result": ..., "outcome": ...}``: ``result`` is one of
    ``store.record_feedback``'s answers, ``"ignored"`` (an event type not recorded) or
    ``"unknown-message"`` (no lookup item, long after the send). Raises
    ``pydantic.ValidationError`` for an event that is not an SES event record (it goes to
    the dead-letter queue after Lambda's retries), :class:`MessageNotRecordedYet` (retried)
    and botocore's errors (retried).
    """
    try:
        detail = SesEvent.model_validate(event.get("detail"))
    except ValidationError:
        logger.error("not an SES event record", extra={"detail_type": str(event.get("detail-type"))[:100]})
        raise
    found = outcome_of(detail)
    message_id = detail.mail.messageId
    log: dict[str, Any] = {"message_id": message_id, "ses_event": detail.eventType}
    if found is None:
        logger.info("SES event not recorded", extra=log)
        return {"result": "ignored", "outcome": None}
    log["outcome"] = found.outcome
    lookup = store.find_message(message_id)
    if lookup is None:
        sent_at = _utc(detail.mail.timestamp, found.at)
        if clock.now() - sent_at < timedelta(seconds=UNKNOWN_GRACE_SECONDS):
            logger.warning("SES event for a message not recorded yet; will retry", extra=log)
            raise MessageNotRecordedYet(message_id)
        logger.warning("SES event for an unknown message, dropped", extra=log)
        return {"result": "unknown-message", "outcome": found.outcome}
    if lookup.get("erased"):  # its registration was erased (store.erase_transition): nothing to record
        logger.info("SES event for an erased registration's email, dropped", extra=log)
        return {"result": "stale", "outcome": found.outcome}
    change = str(lookup["notification"])
    log.update(event_id=lookup["event_id"], registration_id=lookup["for_registration"], change=change)
    result = store.record_feedback(lookup["event_id"], lookup["for_registration"], change, message_id,
                                   found.feedback(), suppress=found.suppression(change))
    logger.info("SES event recorded" if result.startswith("recorded") else "SES event changed nothing",
                extra={**log, "result": result})
    return {"result": result, "outcome": found.outcome}


def simulated_event(message_id: str, recipient: str, outcome: str, *, at: datetime | None = None,
                    configuration_set: str = "", sender: str = "") -> dict[str, Any]:
    """A hand-built EventBridge event of SES for ``message_id``, as the deploy stack's rule passes it on.

    ``outcome`` is one of ``bounce`` (permanent), ``transient-bounce``, ``complaint``,
    ``delivery``, ``delay`` and ``reject``; ``at`` (aware) defaults to the clock's now.
    Used by the local stage's ``registrations simulate`` command, the local mailbox
    simulator addresses and the tests; the shape is SES's (SES Developer Guide, "Examples
    of event data that Amazon SES publishes"), with made-up server answers.
    Raises ``ValueError`` for another ``outcome``.
    """
    at = (at or clock.now()).astimezone(UTC)
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts: dict[str, tuple[str, dict[str, Any]]] = {
        "bounce": ("Bounce", {"bounce": {
            "bounceType": "Permanent", "bounceSubType": "General", "timestamp": stamp,
            "feedbackId": f"{uuid.uuid4()}-000000", "reportingMTA": "dns; simulated.invalid",
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown (simulated)"}]}}),
        "transient-bounce": ("Bounce", {"bounce": {
            "bounceType": "Transient", "bounceSubType": "MailboxFull", "timestamp": stamp,
            "feedbackId": f"{uuid.uuid4()}-000000",
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "4.2.2",
                                   "diagnosticCode": "smtp; 452 4.2.2 mailbox full (simulated)"}]}}),
        "complaint": ("Complaint", {"complaint": {
            "complainedRecipients": [{"emailAddress": recipient}], "timestamp": stamp,
            "feedbackId": f"{uuid.uuid4()}-000000", "complaintFeedbackType": "abuse"}}),
        "delivery": ("Delivery", {"delivery": {
            "timestamp": stamp, "processingTimeMillis": 1200, "recipients": [recipient],
            "smtpResponse": "250 2.0.0 OK (simulated)", "reportingMTA": "simulated.invalid"}}),
        "delay": ("DeliveryDelay", {"deliveryDelay": {
            "timestamp": stamp, "delayType": "TransientCommunicationFailure",
            "expirationTime": stamp,
            "delayedRecipients": [{"emailAddress": recipient, "status": "4.4.1",
                                   "diagnosticCode": "smtp; 421 4.4.1 try later (simulated)"}]}}),
        "reject": ("Reject", {"reject": {"reason": "Bad content"}}),
    }
    if outcome not in parts:
        raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(parts)}")
    event_type, part = parts[outcome]
    tags = {"ses:configuration-set": [configuration_set]} if configuration_set else {}
    detail = {"eventType": event_type, **part, "mail": {
        "timestamp": stamp, "source": sender, "messageId": message_id, "destination": [recipient],
        "headersTruncated": False, "tags": tags}}
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPES[event_type], "source": "aws.ses",
            "time": stamp, "region": get_settings().aws_region, "resources": [], "detail": detail}
