"""Email delivery from the table's stream records (DynamoDB Streams, NEW_AND_OLD_IMAGES).

One function consumes a batch of stream records, deployed as the ``DeliverEmails``
Lambda function on the table stream and fed by the local service's poller.
For each record it works out which change of a registration it shows
(``registered`` on INSERT; ``promoted`` or ``cancelled`` when ``status``
changes; a notification newly set to ``pending`` otherwise, such as
``waitlist_closed`` or a ``reminder_<offset>`` from the scheduled function, ``updated``
when an event change put a new ``notifications.updated`` entry on it, or a staff resend; nothing for
other writes, such as our own email-state updates), then:

1. skips an address that bounced permanently or complained (``email_suppressed``
   for the registration's current address): the notification becomes
   ``suppressed`` with the reason, and nothing is sent (README, "Emails");
2. claims the change's email with a conditional write (``pending`` -> ``sending``,
   on condition that the address is still the one of the record and not
   suppressed, and for an entry with a ``sequence``, that it is still that one), so
   a record seen twice, a retried batch, or the record of an event change that a
   later one replaced, sends no email;
3. builds the message (``chalicelib.emails``), which must pass the one-recipient
   check, and sends it with SES v2 to that one recipient (``Destination``; botocore's
   ``standard`` retry mode retries throttling, timeouts and 5xx with backoff),
   naming the stage's configuration set (``SES_CONFIGURATION_SET``), whose events
   ``chalicelib.feedback`` records;
4. records ``sent`` with the SES message id and, in the same transaction, the
   message lookup item that lets those events find the notification
   (``store.record_sent``); or ``failed`` with the reason for a permanent error
   (rejected address, bad content) or a message that failed the recipient check
   (``UnsafeMessage: ...``; never sent).

A transient error that outlasts botocore's retries puts the claim back to
``pending`` and reports the record in ``batchItemFailures`` (partial batch
response, Powertools' ``BatchProcessor`` for DynamoDB Streams), so the stream
retries it and the rest of the batch goes on.
A ``sending`` claim older than :data:`CLAIM_SECONDS` counts as abandoned (the
function died mid-send) and may be taken again; so may a claim the same stream
record made (its id is kept in the claim), whose answer was lost after it was
written: the retry of that record takes it again instead of leaving it ``sending``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws, checkin, clock, emails, store, tokens
from chalicelib.settings import get_settings
from chalicelib.streamfilter import STREAM_FILTER_PATTERN  # noqa: F401 - the filter of the records change_of acts on

logger = Logger(service="event-registration", child=True)

#: A ``sending`` claim older than this many seconds is taken to be abandoned.
CLAIM_SECONDS = 300

#: SES v2 error codes that no retry will cure.
PERMANENT_ERRORS = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "BadRequestException",
    "AccountSuspendedException",
    "SendingPausedException",
    "NotFoundException",
    "InvalidParameterValue",
}


#: SES v2 answers to going over the account's sending rate (``TooManyRequestsException``, HTTP 429;
#: ``Throttling``/``ThrottlingException``, "Maximum sending rate exceeded"): botocore retries them with
#: backoff (``chalicelib.aws.SERVICE_MAX_ATTEMPTS``); one that outlasts those retries stops the batch.
THROTTLING_ERRORS = frozenset({
    "TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException",
})


class SendThrottled(Exception):
    """SES still refused a send for the sending rate after botocore's retries; the claim is back to ``pending``.

    :func:`handle_batch` then tries no more sends in the batch: it reports this record and every
    later one for retry (README, "Emails": sending rate).
    """


def change_of(record: DynamoDBRecord | dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(change, new image as plain values)`` for a registration stream record, else ``None``.

    ``record`` is Powertools' typed stream record, or one in Lambda's event shape (typed here);
    its images come deserialised, numbers as ``int``/``float`` (``store.plain``). Every record this acts on matches
    :data:`STREAM_FILTER_PATTERN`, the event source mapping's filter, so Lambda invokes the
    function only for those.
    """
    if not isinstance(record, DynamoDBRecord):
        record = DynamoDBRecord(record)
    stream = record.dynamodb
    new = stream.new_image if stream is not None else {}
    if stream is None or not new or new.get("type") != "registration":
        return None
    item: dict[str, Any] = store.plain(new)
    if record.event_name is DynamoDBRecordEventName.INSERT:
        return "registered", item
    old = stream.old_image
    if record.event_name is not DynamoDBRecordEventName.MODIFY or not old:
        return None
    before, after = old.get("status"), item.get("status")
    if before != after:
        change = _status_change(before, after)
        return (change, item) if change else None
    return _requested(store.plain(old).get("notifications") or {}, item.get("notifications") or {}, item)


def _status_change(before: str | None, after: str | None) -> str | None:
    """The email a change of ``status`` calls for: ``promoted`` (waitlisted to confirmed), ``cancelled``, or none."""
    if before == "waitlisted" and after == "confirmed":
        return "promoted"
    return "cancelled" if after == "cancelled" else None


def _requested(before: dict[str, Any], after: dict[str, Any],
               item: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A notification this write newly set to ``pending`` (a resend, an event change's ``updated``, or a
    kind without a status change such as ``waitlist_closed``).

    Newly: it was absent, or neither ``pending`` nor ``sending`` before, so a claim put back to
    ``pending`` after a failed send (already retried through ``batchItemFailures``) is not
    taken for a new request; or it carries a ``sequence`` the old image's entry did not have
    (a later event change replaced an ``updated`` entry still waiting,
    ``lifecycle.announce_schedule``). The latest such request when there are several.
    """
    wanted = [(str(entry.get("at", "")), change) for change, entry in after.items()
              if isinstance(entry, dict) and entry.get("state") == "pending"
              and _new_request(before.get(change) or {}, entry)]
    if not wanted:
        return None
    return max(wanted)[1], item


def _new_request(before: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether a ``pending`` entry is a new request compared with the old image's entry of the same change."""
    if "sequence" in entry and before.get("sequence") != entry["sequence"]:
        return True
    return before.get("state") not in ("pending", "sending")


def calendar_sequence(change: str, item: dict[str, Any]) -> int:
    """The ``SEQUENCE`` of the change's calendar message, from the stream record's image (README, "Emails").

    The change's own entry holds it when written with one (``registered``, ``updated``);
    a promotion or cancellation added one to ``invite_sequence`` in the write the record
    shows. A registration of the first release has neither: its PUBLISH had 0, its CANCEL 1.
    """
    entry = (item.get("notifications") or {}).get(change) or {}
    if "sequence" in entry:
        return int(entry["sequence"])
    if store.INVITE_SEQUENCE in item:
        return int(item[store.INVITE_SEQUENCE])
    return 0 if change == "registered" else 1


def _send(outgoing: emails.OutgoingEmail, sender: str, configuration_set: str = "") -> str:
    """Send one checked message to its one recipient with SES v2; returns the SES message id.

    ``Destination`` names ``outgoing.recipient`` alone, so SES never takes recipients
    from the message's headers; only an :class:`emails.OutgoingEmail` (which has passed
    ``emails.check_message``) is accepted. ``configuration_set`` (the stage's
    ``SES_CONFIGURATION_SET``), when given, is the send's ``ConfigurationSetName``: its
    event destination reports the message's delivery, bounce or complaint. Raises
    ``TypeError`` for anything else, and botocore's ``ClientError``/``BotoCoreError`` as SES answers.
    """
    if not isinstance(outgoing, emails.OutgoingEmail):
        raise TypeError("only an emails.OutgoingEmail can be sent")
    options = {"ConfigurationSetName": configuration_set} if configuration_set else {}
    answer = aws.client("sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": [outgoing.recipient]},
        Content={"Raw": {"Data": outgoing.raw}},
        **options,
    )
    return str(answer["MessageId"])


#: Claims tried for one record when the registration changed under it (its address corrected, or
#: suppressed meanwhile): a count; past it the record is retried through ``batchItemFailures``.
CLAIM_ATTEMPTS = 3


def _claim(change: str, item: dict[str, Any], log: dict[str, Any], sequence: int | None = None,
           claimant: str | None = None) -> tuple[str, dict[str, Any]]:
    """Claim the email of ``change``: ``("claimed", item to send from)``, ``("done", item)`` or ``("retry", item)``.

    ``done`` covers an email already handled by another delivery, one recorded as
    ``suppressed`` (the registration's current address bounced permanently or complained)
    and, with ``sequence`` (the stream record's entry had one), an entry that a later one
    replaced (another event change's ``updated``), and an email asked for a registration with a
    status it no longer has (``store.withdraw_notification``: a reminder after a cancellation).
    When the claim fails because the address
    changed since the stream record, the registration as the failed condition saw it is
    judged again (no extra read).
    """
    event_id, registration_id = item["event_id"], item["registration_id"]
    for _ in range(CLAIM_ATTEMPTS):
        now = clock.now()
        stale_before = now - timedelta(seconds=CLAIM_SECONDS)
        if not item.get("email"):
            return "done", item  # erased meanwhile
        asked_for = ((item.get("notifications") or {}).get(change) or {}).get("status")
        if asked_for and item.get("status") != asked_for:
            # e.g. a reminder for someone who cancelled since it was asked for: never sent
            if store.withdraw_notification(event_id, registration_id, change, status=str(asked_for)):
                logger.info("email withdrawn: the registration's status changed since it was asked for", extra=log)
            return "done", item
        reason = store.suppression_reason(item)
        if reason is not None and store.record_notification(
                event_id, registration_id, change, "suppressed", expect=("pending",), at=now, reason=reason,
                stale_before=stale_before, email=str(item["email"]), sequence=sequence):
            logger.info("email not sent: the address is suppressed", extra=log)
            return "done", item
        # Not suppressed; or no longer pending, or the address was corrected since the record: the
        # claim's condition covers all three, and its answer tells them apart.
        claim = store.claim_notification(event_id, registration_id, change, at=now, stale_before=stale_before,
                                         email=str(item["email"]), sequence=sequence,
                                         status=str(asked_for) if asked_for else None, claimant=claimant)
        if claim.claimed:
            return "claimed", item
        current = claim.current
        entry = ((current or {}).get("notifications") or {}).get(change) or {}
        still_wanted = (entry.get("state") == "pending" or (entry.get("state") == "sending" and (
            str(entry.get("at", "")) < stale_before.isoformat() or (claimant and entry.get("by") == claimant)))) and (
            sequence is None or entry.get("sequence") == sequence)
        if current is None or not still_wanted:
            logger.info("email already handled", extra=log)
            return "done", item
        item = current  # the address changed or was suppressed since the record: judge the item as it is now
    return "retry", item


def deliver(record: DynamoDBRecord) -> bool:
    """Send the email a stream record calls for, at most once per change.

    Returns ``False`` when the record must be retried (transient failure), ``True``
    otherwise (sent, already handled, failed permanently, or nothing to send).
    """
    found = change_of(record)
    if found is None:
        return True
    change, item = found
    log = {"event_id": item["event_id"], "registration_id": item["registration_id"], "change": change}
    entry = (item.get("notifications") or {}).get(change) or {}
    # An entry written with a sequence is claimed and recorded only while it is still that one.
    sequence = int(entry["sequence"]) if "sequence" in entry else None
    # The record's id marks the claim: a retry of this record may take its own claim again (its
    # answer may have been lost after it was written); ``None`` for a record without one.
    result, item = _claim(change, item, log, sequence, claimant=record.event_id)
    if result != "claimed":
        return result == "done"
    outgoing = _build(change, item, entry, log, sequence)
    if outgoing is None:
        return True  # failed for good, recorded
    return _send_and_record(change, item, outgoing, log, sequence)


def _build(change: str, item: dict[str, Any], entry: dict[str, Any], log: dict[str, Any],
           sequence: int | None) -> emails.OutgoingEmail | None:
    """The checked message of a claimed change, or ``None`` after recording it ``failed`` (it could
    reach someone else, ``UnsafeMessage``; or the event or the content cannot make one)."""
    event_id, registration_id = item["event_id"], item["registration_id"]
    now = clock.now()
    settings = get_settings()
    try:
        # Cached (at most one read per event and batch), but never older than the schedule the
        # registration was told, nor than the change being announced.
        event = store.event_definition(event_id, min_revision=max(
            int(item.get(store.SCHEDULE_REVISION, 0)), int(entry.get("revision", 0))))
        position = None
        # The stream image's ticket: who is still ahead (a waitlisted or an ``updated`` email while waiting;
        # a ``waitlist_closed`` notice names no position).
        if item["status"] == "waitlisted" and change != "waitlist_closed":
            position = store.waitlist_position(event_id, int(item["waitlist_ticket"]))
        return emails.build_email(
            event=event,
            registration=item,
            change=change,
            sender=settings.sender_email,
            base_url=settings.public_base_url,
            view_token=tokens.make_token(registration_id, tokens.VIEW),
            cancel_token=tokens.make_token(registration_id, tokens.CANCEL),
            now=now,
            waitlist_position=position,
            checkin_code=checkin.code_for_delivery(change, item),
            sequence=calendar_sequence(change, item),
            update=entry if change == "updated" else None,
        )
    except emails.UnsafeMessage as exc:  # could reach someone else: never sent
        store.record_notification(event_id, registration_id, change, "failed", expect=("sending",), at=clock.now(),
                                  reason=f"UnsafeMessage: {exc}", sequence=sequence)
        logger.error("email failed the recipient check, not sent", extra={**log, "error": "UnsafeMessage"})
    except (ValueError, store.StoreError) as exc:
        store.record_notification(event_id, registration_id, change, "failed", expect=("sending",), at=clock.now(),
                                  reason=f"{type(exc).__name__}: {exc}", sequence=sequence)
        logger.warning("email could not be built", extra={**log, "error": type(exc).__name__})
    return None


def _send_and_record(change: str, item: dict[str, Any], outgoing: emails.OutgoingEmail, log: dict[str, Any],
                     sequence: int | None) -> bool:
    """Send a claimed change's message and record ``sent``; or ``failed`` for a permanent SES error
    (:data:`PERMANENT_ERRORS`, a 4xx other than throttling); or ``pending`` again and ``False``
    (retry the record) for a transient one."""
    event_id, registration_id = item["event_id"], item["registration_id"]
    settings = get_settings()
    try:
        message_id = _send(outgoing, settings.sender_email, settings.ses_configuration_set)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in PERMANENT_ERRORS or (400 <= status < 500 and code not in THROTTLING_ERRORS):
            reason = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
            store.record_notification(event_id, registration_id, change, "failed", expect=("sending",),
                                      at=clock.now(), reason=reason, sequence=sequence)
            logger.warning("email refused by SES", extra={**log, "error_code": code})
            return True
        store.record_notification(event_id, registration_id, change, "pending", expect=("sending",), at=clock.now(),
                                  reason=f"{code}: retrying", sequence=sequence)
        logger.warning("email send failed, will retry", extra={**log, "error_code": code})
        if code in THROTTLING_ERRORS:
            raise SendThrottled(code) from exc
        return False
    except BotoCoreError as exc:
        store.record_notification(event_id, registration_id, change, "pending", expect=("sending",), at=clock.now(),
                                  reason=f"{type(exc).__name__}: retrying", sequence=sequence)
        logger.warning("email send failed, will retry", extra={**log, "error": type(exc).__name__})
        return False
    # The lookup expires with the event as it is now (cached by _build): the stream image's expiry can
    # be from before the event moved (lifecycle.keep_retention; README, "Storage").
    try:
        expires_at = store.event_definition(event_id).retention_until(settings.retention_days)
    except store.EventNotFound:  # never deleted in practice; the send is done, record it anyway
        expires_at = int(item[store.TTL_ATTRIBUTE])
    store.record_sent(event_id, registration_id, change, at=clock.now(), message_id=message_id,
                      expires_at=expires_at, sequence=sequence)
    logger.info("email sent", extra={**log, "message_id": message_id})
    return True


class RetryLater(Exception):
    """The record's email could not be sent now (a transient error that outlasted botocore's retries;
    its claim is ``pending`` again): the record goes into ``batchItemFailures`` for the stream to retry."""


def _deliver_record(record: DynamoDBRecord) -> None:
    """Powertools' record handler: :func:`deliver`, raising for a record the stream must retry.

    Raises :class:`RetryLater`, :class:`SendThrottled`, and botocore's ``ClientError``/``BotoCoreError`` from the
    table (logged by type, without personal data).
    """
    try:
        delivered = deliver(record)
    except SendThrottled:
        raise  # handle_batch stops the batch there
    except (ClientError, BotoCoreError) as exc:
        logger.warning("stream record failed", extra={"error": type(exc).__name__, "detail": str(exc)[:300]})
        raise
    except Exception as exc:  # a bug: the record is retried, and the traceback logged as Lambda would have
        logger.exception("stream record failed unexpectedly", extra={"error": type(exc).__name__})
        raise
    if not delivered:
        raise RetryLater(record.dynamodb.sequence_number if record.dynamodb else "")


def handle_batch(lambda_event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Deliver a batch of stream records (Lambda's DynamoDB Streams event); the partial batch response.

    Returns ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}`` naming the
    records to retry (Powertools' ``BatchProcessor``, ``process_partial_response``; a batch
    whose every record failed is reported the same way, not raised). Per AWS's rules for
    streams, the stream resumes from the lowest failed sequence number, so records after a
    failure are seen again; the claims make that harmless. When SES keeps refusing sends for the
    sending rate (:class:`SendThrottled`), the rest of the batch is not tried: those records are
    reported with it, and come again after the stream's retry. ``context`` is the Lambda context
    (``None`` when ``make run`` or a test calls it).
    """
    records = lambda_event.get("Records")
    if not records:
        return {"batchItemFailures": []}
    throttled: list[str] = []

    def record_handler(record: DynamoDBRecord) -> None:
        # Once SES refused a send for the sending rate, the rest of the batch is not tried: each later
        # record fails at once and comes again with the stream's retry (README, "Emails": sending rate).
        if throttled:
            raise SendThrottled(throttled[0])
        try:
            _deliver_record(record)
        except SendThrottled as exc:
            logger.warning("SES sending rate exceeded: the rest of the batch waits for the retry",
                           extra={"records": len(records)})
            throttled.append(str(exc))
            raise

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event=lambda_event, record_handler=record_handler, processor=processor,
                                         context=context))
