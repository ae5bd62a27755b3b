"""Staff corrections of a registration's email: resend the latest, change the address (README, "Emails").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import Busy, retried
from chalicelib.store.errors import AddressSuppressed, AlreadyRegistered, NotActive, NothingToResend
from chalicelib.store.keys import TTL_ATTRIBUTE, _key, address_hash, event_pk, guard_sk, registration_sk
from chalicelib.store.registrations import _guard_delete, get_registration_in_event
from chalicelib.store.serialize import _serializer, serialize
from chalicelib.store.table import _cancellation_codes, _conditional_update, _ddb, _retryable, _table


def suppression_reason(item: dict[str, Any]) -> str | None:
    """Why the registration's current address may not be mailed (``email_suppressed``), or ``None``.

    The marker applies only to the address it was set for (its ``address`` hash): after a
    staff correction (:func:`change_email`) a marker of the old address no longer counts.
    """
    marker = item.get("email_suppressed")
    email = item.get("email")
    if not isinstance(marker, dict) or not email or marker.get("address") != address_hash(str(email)):
        return None
    return str(marker.get("reason") or "the address is suppressed")


def latest_notification(item: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(change, entry)`` of the registration's most recent notification (latest ``at``), or ``None``."""
    entries = [(str(entry.get("at", "")), change, entry)
               for change, entry in (item.get("notifications") or {}).items() if isinstance(entry, dict)]
    if not entries:
        return None
    _, change, entry = max(entries, key=lambda found: (found[0], found[1]))
    return change, entry


#: Attempts of a staff correction (resend, change of address) when the registration changed
#: between its read and its write: a count, never a duration.
CORRECTION_ATTEMPTS = 10

#: Seconds a correction waits at most between its attempts (:func:`chalicelib.errors.retried`).
CORRECTION_MAX_WAIT = 0.5


def request_resend(event_id: str, registration_id: str, *, at: datetime, quiet_seconds: float = 0) -> str:
    """Ask for the registration's latest email again: its notification back to ``pending``.

    Reads the registration (consistently), takes its latest notification
    (:func:`latest_notification`) and sets it to ``{state: pending, at, resent: n,
    previous: {message_id, outcome}, sequence?}`` (the entry's calendar ``SEQUENCE``, kept) with
    ``email_state`` ``pending``, on condition that
    nothing changed since the read (state, ``at``, address). The stream then feeds it to
    ``DeliverEmails`` like any new email (README, "Emails"): the same claim, retries and
    recipient check, to the address the registration has at that moment. With ``quiet_seconds``
    (a registrant's own request), an email asked for or sent less than that many seconds before
    ``at`` is :class:`NothingToResend` too: nobody can make a mailbox receive it over and over.
    Returns the change
    (``registered``, ``promoted``, ``cancelled``, ...). Raises :class:`RegistrationNotFound`,
    :class:`NothingToResend`, :class:`AddressSuppressed` (correct the address first) and,
    after :data:`CORRECTION_ATTEMPTS` conflicting writes, :class:`Busy`.
    """
    @retried(CORRECTION_ATTEMPTS, max_wait=CORRECTION_MAX_WAIT)
    def attempt() -> str:
        item = get_registration_in_event(event_id, registration_id)
        found = latest_notification(item) if item.get("email") else None
        if found is None:
            raise NothingToResend(f"registration {registration_id} has no email to send again")
        change, entry = found
        if entry.get("state") in ("pending", "sending"):
            raise NothingToResend(f"the {change} email of registration {registration_id} is on its way")
        last = max((str(v) for v in (entry.get("at"), entry.get("sent_at")) if v), default="")
        if quiet_seconds and last and (at - datetime.fromisoformat(last)).total_seconds() < quiet_seconds:
            raise NothingToResend(f"the {change} email of registration {registration_id} went out moments ago")
        reason = suppression_reason(item)
        if reason:
            raise AddressSuppressed(registration_id, reason)
        previous = {k: v for k, v in (("message_id", entry.get("message_id")),
                                      ("outcome", (entry.get("feedback") or {}).get("outcome")),
                                      ("state", entry.get("state"))) if v}
        request = {"state": "pending", "at": at.isoformat(), "resent": int(entry.get("resent", 0)) + 1,
                   "previous": previous}
        if "sequence" in entry:  # the same calendar message again (README, "Emails")
            request["sequence"] = int(entry["sequence"])
        changed = _conditional_update(
            _key(event_pk(event_id), registration_sk(registration_id)),
            update="SET #n.#c = :request, email_state = :pending",
            condition="#n.#c.#s = :state AND #n.#c.#a = :at AND email = :email",
            names={"#n": "notifications", "#c": change, "#s": "state", "#a": "at"},
            values={
                ":request": _serializer.serialize(request), ":pending": {"S": "pending"},
                ":state": {"S": str(entry.get("state"))}, ":at": {"S": str(entry.get("at"))},
                ":email": {"S": str(item["email"])},
            },
        )
        if changed is not None:
            raise Busy("the registration changed; read again")
        return change

    return attempt()


def change_email(event_id: str, registration_id: str, new_email: str, *, at: datetime) -> str:
    """Correct a registration's address (staff), moving its address guard in the same transaction.

    The registration (``confirmed`` or ``waitlisted``) gets ``email = new_email`` and
    ``email_changed_at``; the mirrors of mail to the old address (``email_outcome``,
    ``email_message_id``, ``email_suppressed``) are removed, so the new address starts
    clean. The old address guard is deleted and a new one Put on condition that none
    exists: the same rule as registering (one registration per address and event, any
    case). A change that keeps the address key (only its case or the domain's spelling)
    leaves the guard as it is. Returns the old address. Raises
    :class:`RegistrationNotFound`, :class:`NotActive`, :class:`AlreadyRegistered` (the new
    address is taken) and, after :data:`CORRECTION_ATTEMPTS` conflicting writes, :class:`Busy`.
    """
    @retried(CORRECTION_ATTEMPTS, max_wait=CORRECTION_MAX_WAIT)
    def attempt() -> str:
        item = get_registration_in_event(event_id, registration_id)
        if item.get("status") not in ("confirmed", "waitlisted") or not item.get("email"):
            raise NotActive(registration_id, str(item.get("status")))
        old = str(item["email"])
        registration = {"Update": {
            "TableName": _table(),
            "Key": _key(item["pk"], item["sk"]),
            "UpdateExpression": ("SET email = :new, email_changed_at = :at "
                                 "REMOVE email_outcome, email_message_id, email_suppressed"),
            "ConditionExpression": "email = :old AND #s = :status",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": serialize({":new": new_email, ":at": at.isoformat(), ":old": old,
                                                    ":status": item["status"]}),
        }}
        operations = [registration]
        if guard_sk(new_email) != guard_sk(old):
            operations.append(_guard_delete(item))
            operations.append({"Put": {
                "TableName": _table(),
                "Item": serialize({"pk": item["pk"], "sk": guard_sk(new_email), "type": "guard",
                                   "for_registration": registration_id,
                                   TTL_ATTRIBUTE: int(item[TTL_ATTRIBUTE])}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }})
        try:
            _ddb().transact_write_items(TransactItems=operations)
        except ClientError as error:
            codes = _cancellation_codes(error)
            if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
                raise AlreadyRegistered(event_id) from None
            if error.response["Error"]["Code"] in ("TransactionCanceledException", "TransactionConflictException") \
                    and (not codes or _retryable(codes)):
                raise Busy(",".join(codes) or "conflict") from None
            raise
        return old

    return attempt()
