"""Email notifications on a registration: requests, claims, outcomes and SES feedback (README, "Emails").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import Busy, retried
from chalicelib.store.errors import RegistrationNotFound
from chalicelib.store.keys import (
    INVITE_SEQUENCE,
    MESSAGE_PREFIX,
    MESSAGE_SK,
    SCHEDULE_REVISION,
    TTL_ATTRIBUTE,
    _key,
    address_hash,
    event_pk,
    message_key,
    registration_sk,
)
from chalicelib.store.serialize import _serializer, deserialize, serialize
from chalicelib.store.table import _cancellation_codes, _conditional_update, _ddb, _table

# ---------------------------------------------------------------- email claims, outcomes and corrections
#
# A notification entry ``notifications.<change>`` (README, "Emails") is
# ``{state, at, message_id?, reason?, feedback?}``: ``state`` follows the send
# (``pending`` -> ``sending`` -> ``sent`` | ``failed`` | ``suppressed``), and ``feedback`` is what
# SES reported afterwards (``chalicelib.feedback``). The registration mirrors its latest email in
# ``email_state``, ``email_message_id`` and ``email_outcome``, and an address that must not be
# mailed again in ``email_suppressed``.


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim_notification`: ``claimed``, else the registration as the failed condition saw it.

    ``current`` is ``None`` when the claim succeeded or the item no longer exists.
    """

    claimed: bool
    current: dict[str, Any] | None = None


def claim_notification(event_id: str, registration_id: str, change: str, *, at: datetime,
                       stale_before: datetime, email: str, sequence: int | None = None,
                       status: str | None = None, claimant: str | None = None) -> Claim:
    """Claim a pending email for sending (``pending`` -> ``sending``), one conditional UpdateItem.

    Conditional on the change's state being ``pending`` (or a ``sending`` claim older than
    ``stale_before``: the sender died; or one made by ``claimant``, the stream record's id, which
    the claim keeps as ``by``: a retry of the same record whose claim was written but whose answer
    was lost takes it again instead of leaving it ``sending``), on ``email`` still being the registration's address
    (the stream image the caller holds may predate a staff correction), and on the address not
    being suppressed (``email_suppressed.address`` is not :func:`address_hash` of ``email``)
    and, when ``sequence`` is given, on the entry still being the one of that ``sequence``
    (kept in the claim; an ``updated`` entry replaced by a later event change is not claimed)
    and, when ``status`` is given (the status the email was asked for, :func:`add_notification`),
    on the registration still having it. On failure the item as the condition saw it comes back in
    :attr:`Claim.current`, so the caller can tell "already handled" from "address changed" or
    "suppressed" without a read.
    """
    entry: dict[str, Any] = {"state": "sending", "at": at.isoformat()}
    names = {"#n": "notifications", "#c": change, "#s": "state", "#a": "at", "#addr": "address"}
    values: dict[str, Any] = {
        ":sending": {"S": "sending"}, ":pending": {"S": "pending"},
        ":stale": {"S": stale_before.isoformat()}, ":email": {"S": email}, ":address": {"S": address_hash(email)},
    }
    mine = ""
    if claimant is not None:
        entry["by"] = claimant
        names["#by"] = "by"
        values[":by"] = {"S": claimant}
        mine = " OR (#n.#c.#s = :sending AND #n.#c.#by = :by)"
    condition = (f"(#n.#c.#s = :pending OR (#n.#c.#s = :sending AND #n.#c.#a < :stale){mine}) "
                 "AND email = :email "
                 "AND (attribute_not_exists(email_suppressed) OR email_suppressed.#addr <> :address)")
    if sequence is not None:
        entry["sequence"] = int(sequence)
        names["#q"] = "sequence"
        values[":q"] = {"N": str(int(sequence))}
        condition += " AND #n.#c.#q = :q"
    if status is not None:
        entry["status"] = status
        names["#st"] = "status"
        values[":st"] = {"S": status}
        condition += " AND #st = :st"
    values[":entry"] = _serializer.serialize(entry)
    seen = _conditional_update(_key(event_pk(event_id), registration_sk(registration_id)),
                               update="SET #n.#c = :entry, email_state = :sending", condition=condition,
                               names=names, values=values)
    return Claim(True) if seen is None else Claim(False, seen or None)

def add_notification(event_id: str, registration_id: str, change: str, *, at: datetime, status: str) -> bool:
    """Ask for an email of ``change`` to a registration: ``notifications.<change>`` ``pending``, once.

    One conditional UpdateItem: the registration still has ``status`` and has no entry for
    ``change`` yet, so the email is asked for at most once however often this runs. The entry
    keeps ``status``: the email is for a registration with that status only (a reminder for a
    confirmed one, "the waitlist closed" for a waitlisted one), and delivery withdraws it if the
    status changed before it was sent (:func:`withdraw_notification`). Sets
    ``email_state`` ``pending`` too, which lets the stream record through to ``DeliverEmails``
    (``chalicelib.streamfilter``); ``chalicelib.delivery.change_of`` reads the new entry as the
    change. Returns ``False`` when the condition did not hold.
    """
    stamp = at.isoformat()
    return _conditional_update(
        _key(event_pk(event_id), registration_sk(registration_id)),
        update="SET #n.#c = :entry, email_state = :pending",
        condition="#s = :status AND attribute_exists(#n) AND attribute_not_exists(#n.#c)",
        names={"#n": "notifications", "#c": change, "#s": "status"},
        values={":entry": _serializer.serialize({"state": "pending", "at": stamp, "status": status}),
                ":pending": {"S": "pending"}, ":status": {"S": status}},
    ) is None


def withdraw_notification(event_id: str, registration_id: str, change: str, *, status: str) -> bool:
    """Withdraw a pending email asked for a registration with ``status`` that no longer has it.

    One conditional UpdateItem removes ``notifications.<change>``: conditional on the entry being
    ``pending`` for ``status`` and the registration's status being another (a registrant who
    cancelled after a reminder was asked for gets no reminder; one promoted after "the waitlist
    closed" was asked for does not get it). ``email_state`` is left to the email of the change
    that moved the status (a cancellation's, a promotion's). Returns ``False`` when the
    condition did not hold (sent, claimed or withdrawn meanwhile, or the status is back).
    """
    return _conditional_update(
        _key(event_pk(event_id), registration_sk(registration_id)), update="REMOVE #n.#c",
        condition="#n.#c.#s = :pending AND #n.#c.#st = :status AND #st <> :status",
        names={"#n": "notifications", "#c": change, "#s": "state", "#st": "status"},
        values={":pending": {"S": "pending"}, ":status": {"S": status}},
    ) is None


def record_notification(
    event_id: str,
    registration_id: str,
    change: str,
    state: str,
    *,
    expect: tuple[str, ...],
    at: datetime,
    message_id: str | None = None,
    reason: str | None = None,
    stale_before: datetime | None = None,
    email: str | None = None,
    sequence: int | None = None,
) -> bool:
    """Move the email state of one change (``registered``, ``promoted``, ``cancelled``, ``updated``,
    ``waitlist_closed``) on a registration.

    The write happens only if the change's current state is one of ``expect``
    (or, when ``stale_before`` is given, a ``sending`` claim older than it); when
    ``email`` is given, if the registration's address is still ``email``; and, when
    ``sequence`` is given, if the entry is still the one of that ``sequence`` (an
    ``updated`` entry is replaced by the next event change: an older stream record
    then claims nothing).
    Sets ``notifications.<change>`` to ``{state, at, message_id?, reason?, sequence?}`` and
    mirrors it in ``email_state``/``email_message_id``/``email_error``.
    Returns ``False`` when the condition did not hold (another delivery got there first).
    """
    entry: dict[str, Any] = {"state": state, "at": at.isoformat()}
    if message_id:
        entry["message_id"] = message_id
    if reason:
        entry["reason"] = reason[:500]
    if sequence is not None:
        entry["sequence"] = int(sequence)
    names = {"#n": "notifications", "#c": change, "#s": "state"}
    values: dict[str, Any] = {":entry": _serializer.serialize(entry), ":state": {"S": state}}
    expect_names = []
    for i, expected in enumerate(expect):
        values[f":e{i}"] = {"S": expected}
        expect_names.append(f":e{i}")
    condition = f"#n.#c.#s IN ({', '.join(expect_names)})"
    if stale_before is not None:
        values[":sending"] = {"S": "sending"}
        values[":stale"] = {"S": stale_before.isoformat()}
        names["#a"] = "at"
        condition = f"({condition}) OR (#n.#c.#s = :sending AND #n.#c.#a < :stale)"
    if email is not None:
        values[":email"] = {"S": email}
        condition = f"({condition}) AND email = :email"
    if sequence is not None:
        names["#q"] = "sequence"
        values[":q"] = {"N": str(int(sequence))}
        condition = f"({condition}) AND #n.#c.#q = :q"
    update = "SET #n.#c = :entry, email_state = :state"
    if message_id:
        update += ", email_message_id = :mid"
        values[":mid"] = {"S": message_id}
    if reason:
        update += ", email_error = :why"
        values[":why"] = {"S": reason[:500]}
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=serialize({"pk": event_pk(event_id), "sk": registration_sk(registration_id)}),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True

#: Attempts of the ``sent`` transaction when another write to the registration conflicts with it
#: (a cancellation at that moment): a count, never a duration. The email is already sent, so
#: giving up would leave a stale claim and, later, the same email a second time.
SENT_ATTEMPTS = 10


def record_sent(event_id: str, registration_id: str, change: str, *, at: datetime, message_id: str,
                expires_at: int, sequence: int | None = None) -> bool:
    """Record that SES accepted the email of ``change``, and how to find it again, in one transaction.

    Updates the notification ``sending`` -> ``{state: sent, at, message_id}`` (mirrored in
    ``email_state``, ``email_message_id``; ``email_outcome`` is removed: the new email has
    none yet; the id joins the set ``email_messages``, every id the registration was sent),
    and Puts the message lookup item ``MSG#<message_id>`` / ``#MESSAGE`` with
    ``event_id``, ``for_registration``, ``notification`` (the change) and the registration's
    TTL ``expires_at`` (epoch seconds), so the SES events of this message find their
    notification with one GetItem (:func:`find_message`). Returns ``False`` when the
    notification was no longer ``sending``, or, with ``sequence``, no longer the entry of that
    ``sequence`` (kept in the ``sent`` entry; nothing written). A transaction conflict is tried
    again, :data:`SENT_ATTEMPTS` times in all, then raises :class:`Busy`.
    """
    entry: dict[str, Any] = {"state": "sent", "at": at.isoformat(), "message_id": message_id}
    names = {"#n": "notifications", "#c": change, "#s": "state"}
    values: dict[str, Any] = {":sent": {"S": "sent"}, ":mid": {"S": message_id}, ":sending": {"S": "sending"},
                              ":mids": {"SS": [message_id]}}
    condition = "#n.#c.#s = :sending"
    if sequence is not None:
        entry["sequence"] = int(sequence)
        names["#q"] = "sequence"
        values[":q"] = {"N": str(int(sequence))}
        condition += " AND #n.#c.#q = :q"
    values[":entry"] = _serializer.serialize(entry)
    # ``for_registration``, not ``registration_id``: only registration items may carry that attribute,
    # the partition key of the ``by-registration`` index.
    lookup = {"pk": f"{MESSAGE_PREFIX}{message_id}", "sk": MESSAGE_SK, "type": "message", "event_id": event_id,
              "for_registration": registration_id, "notification": change, "sent_at": at.isoformat(),
              TTL_ATTRIBUTE: int(expires_at)}
    operations = [
        {"Update": {
            "TableName": _table(),
            "Key": _key(event_pk(event_id), registration_sk(registration_id)),
            # email_messages: every message id the registration was sent, also those a later email of the same
            # kind replaced in its notification, so that erasure and a moved event find all their lookups.
            "UpdateExpression": "SET #n.#c = :entry, email_state = :sent, email_message_id = :mid "
                                "REMOVE email_outcome ADD email_messages :mids",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }},
        {"Put": {"TableName": _table(), "Item": serialize(lookup), "ConditionExpression": "attribute_not_exists(pk)"}},
    ]

    @retried(SENT_ATTEMPTS, max_wait=0.5)
    def write() -> bool:
        try:
            _ddb().transact_write_items(TransactItems=operations)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            codes = _cancellation_codes(error)
            if code == "TransactionCanceledException" and codes[:1] == ["ConditionalCheckFailed"]:
                return False
            if code == "TransactionConflictException" or (code == "TransactionCanceledException"
                                                          and "TransactionConflict" in codes):
                raise Busy(",".join(codes) or code) from None
            raise
        return True

    return write()


def find_message(message_id: str) -> dict[str, Any] | None:
    """The message lookup item of an SES message id (one consistent GetItem), or ``None``."""
    answer = _ddb().get_item(TableName=_table(), Key=message_key(message_id), ConsistentRead=True)
    return deserialize(answer["Item"]) if "Item" in answer else None


def record_feedback(event_id: str, registration_id: str, change: str, message_id: str, feedback: dict[str, Any],
                    *, suppress: dict[str, Any] | None = None) -> str:
    """Record what SES reported about one sent email on its notification, exactly once, in any order.

    ``feedback`` is ``{outcome, rank, at, ...details}`` (``chalicelib.feedback.Outcome``). The
    write (UpdateItem, conditional) sets ``notifications.<change>.feedback`` only if the
    notification still holds ``message_id`` (a resend replaced it: the event is stale) and
    its recorded feedback has a lower ``rank`` (so a duplicate, or a lower-ranked event
    arriving late, changes nothing: the precedence is enforced in the condition). When
    the message is the registration's latest email (``email_message_id``) the same write
    mirrors the outcome in ``email_outcome``; otherwise a second write records it on the
    notification alone. ``suppress`` (``{reason, at, address, notification}``, for a
    permanent bounce or a complaint) is set as ``email_suppressed``.

    Returns ``"recorded"``, ``"recorded-older"`` (not the latest email: no mirror),
    ``"stale"`` (the notification or the registration no longer holds this message) or
    ``"superseded"`` (a duplicate, or an outcome of equal or higher rank is recorded).
    """
    key = _key(event_pk(event_id), registration_sk(registration_id))
    names = {"#n": "notifications", "#c": change, "#f": "feedback", "#r": "rank", "#m": "message_id"}
    values: dict[str, Any] = {":fb": _serializer.serialize(feedback), ":mid": {"S": message_id},
                              ":rank": {"N": str(int(feedback["rank"]))}}
    condition = "#n.#c.#m = :mid AND (attribute_not_exists(#n.#c.#f) OR #n.#c.#f.#r < :rank)"
    sets = ["#n.#c.#f = :fb"]
    if suppress is not None:
        sets.append("email_suppressed = :sup")
        values[":sup"] = _serializer.serialize(suppress)
    for latest in (True, False):
        update_names, update_values = dict(names), dict(values)
        update_sets, update_condition = list(sets), condition
        if latest:
            update_sets.append("email_outcome = :outcome")
            update_values[":outcome"] = {"S": str(feedback["outcome"])}
            update_condition += " AND email_message_id = :mid"
        old = _conditional_update(key, update="SET " + ", ".join(update_sets), condition=update_condition,
                                  names=update_names, values=update_values)
        if old is None:
            return "recorded" if latest else "recorded-older"
        entry = (old.get("notifications") or {}).get(change)
        if not isinstance(entry, dict) or entry.get("message_id") != message_id:
            return "stale"
        if int((entry.get("feedback") or {}).get("rank", 0)) >= int(feedback["rank"]):
            return "superseded"
        # only email_message_id differs: an older email of this registration
    return "superseded"  # the notification changed between the two writes

def mark_schedule_change(item: dict[str, Any], revision: int, entry: dict[str, Any], at: str) -> dict[str, Any] | None:
    """Tell one registration of a schedule change: its ``updated`` email becomes ``pending``.

    One conditional UpdateItem: ``schedule_revision`` becomes ``revision``,
    :data:`INVITE_SEQUENCE` one more than in ``item``, ``notifications.updated``
    ``{state: pending, at, sequence, **entry}`` and ``email_state`` ``pending`` (the
    stream filter's mark, ``chalicelib.streamfilter``), on condition that the status,
    ``schedule_revision`` and :data:`INVITE_SEQUENCE` are still those of ``item`` (as read;
    absent for a registration of the first release). Returns ``None`` when written,
    else the registration as the failed condition saw it (read again and decide anew).
    """
    sequence = int(item.get(INVITE_SEQUENCE, 0)) + 1
    names = {"#s": "status", "#r": SCHEDULE_REVISION, "#q": INVITE_SEQUENCE, "#n": "notifications", "#u": "updated"}
    values: dict[str, Any] = {
        ":status": {"S": item["status"]},
        ":rev": {"N": str(int(revision))},
        ":seq": {"N": str(sequence)},
        ":entry": _serializer.serialize({**entry, "state": "pending", "at": at, "sequence": sequence}),
        ":pending": {"S": "pending"},
    }
    conditions = ["#s = :status"]
    for name, attribute in (("#r", SCHEDULE_REVISION), ("#q", INVITE_SEQUENCE)):
        if attribute in item:
            values[f":old{name[1]}"] = {"N": str(int(item[attribute]))}
            conditions.append(f"{name} = :old{name[1]}")
        else:
            conditions.append(f"attribute_not_exists({name})")
    seen = _conditional_update(_key(item["pk"], item["sk"]),
                               update="SET #r = :rev, #q = :seq, #n.#u = :entry, email_state = :pending",
                               condition=" AND ".join(conditions), names=names, values=values)
    if seen == {}:
        raise RegistrationNotFound(item["registration_id"])
    return seen
