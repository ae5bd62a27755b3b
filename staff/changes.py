"""What staff change on one registration: cancel, correct the address, send again, simulate SES feedback, erase.

Each function is one staff command's work (README, "Staff tools"), with no printing: it returns
what it did, or raises :class:`staff.NothingToDo` (exit 1) when it would change nothing. A
command that asks before it changes passes ``confirm``, called once the registration is read and
the change is possible; it raises (``click.Abort``) to stop. Every change is a conditional write
or a transaction of ``chalicelib.store``/``chalicelib.lifecycle``; nothing here logs personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, clock, lifecycle, store
from chalicelib.settings import LOCAL_STAGE, get_settings
from staff import NothingToDo

#: Statuses a registration can be cancelled from, or have its address corrected in.
ACTIVE = ("confirmed", "waitlisted")
#: ``registrations simulate`` outcomes (``chalicelib.feedback.simulated_event``).
SIMULATED = ("bounce", "transient-bounce", "complaint", "delivery", "delay", "reject")


def _registration(event_id: str, registration_id: str) -> dict[str, Any]:
    """The registration item (a consistent read). Raises ``store.EventNotFound`` when the event does not
    exist (as ``registrations list`` says: README, "Staff tools"), else ``store.RegistrationNotFound``
    when it has no such registration; botocore errors. The event is read only when the registration is not found."""
    try:
        return store.get_registration_in_event(event_id, registration_id)
    except store.RegistrationNotFound:
        store.event_definition(event_id)
        raise


def cancel(event_id: str, registration_id: str,
           confirm: Callable[[str, str, str], None] | None = None) -> lifecycle.CancelResult:
    """Cancel a registration as its own cancel link does (``lifecycle.cancel(by="staff")``).

    ``confirm(status, name, email)`` is called with the registration's status (``confirmed``/``waitlisted``),
    name and address before the change, so staff see whom they cancel. Returns the
    ``lifecycle.CancelResult`` (``promoted_id``: who got the seat).
    Raises ``store.EventNotFound``, ``store.RegistrationNotFound``, :class:`staff.NothingToDo` (not active, already
    cancelled, or the event is over) and botocore errors.
    """
    item = _registration(event_id, registration_id)
    if item.get("status") not in ACTIVE:
        raise NothingToDo(f"registration {registration_id} is {item.get('status')}")
    if confirm is not None:
        confirm(str(item.get("status")), str(item.get("name", "")), str(item.get("email", "")))
    try:
        result = lifecycle.cancel(event_id, registration_id, by="staff")
    except store.EventOver:
        raise NothingToDo(f"event {event_id} is over, so registration {registration_id} "
                          "can no longer be cancelled") from None
    if not result.changed:
        raise NothingToDo(f"registration {registration_id} was already cancelled")
    return result


def set_email(event_id: str, registration_id: str, address: str, confirm: Callable[[], None] | None = None) -> None:
    """Correct the address of an active registration (``store.change_email``: the guard moves in one transaction).

    ``address`` must already be checked (``chalicelib.validation.checked_email``). Giving the
    address the registration has lifts our suppression of it; giving it when nothing is
    suppressed changes nothing. ``confirm()`` is called before the change. Raises ``store.EventNotFound``,
    ``store.RegistrationNotFound``, ``store.AlreadyRegistered`` (the address is taken for the
    event), :class:`staff.NothingToDo` and botocore errors.
    """
    item = _registration(event_id, registration_id)
    if item.get("status") not in ACTIVE:
        raise NothingToDo(f"registration {registration_id} is {item.get('status')}")
    if item.get("email") == address and not store.suppression_reason(item):
        raise NothingToDo(f"registration {registration_id} already has this address")
    if confirm is not None:
        confirm()
    try:
        store.change_email(event_id, registration_id, address, at=clock.now())
    except store.NotActive as inactive:
        raise NothingToDo(str(inactive)) from None


def resend(event_id: str, registration_id: str) -> str:
    """Set the registration's latest email back to pending (``store.request_resend``); the delivery sends it.

    Returns the change it was about (``registered``, ``promoted``, ``cancelled``, ...). Raises
    ``store.EventNotFound``, ``store.RegistrationNotFound``, ``store.AddressSuppressed`` (correct the address first),
    :class:`staff.NothingToDo` (no email yet, one on its way, erased) and botocore errors.
    """
    try:
        return store.request_resend(event_id, registration_id, at=clock.now())
    except store.NothingToResend as nothing:
        raise NothingToDo(str(nothing)) from None
    except store.RegistrationNotFound:
        store.event_definition(event_id)  # an unknown event says so (store.EventNotFound), as for _registration
        raise


class LocalOnly(Exception):
    """``registrations simulate`` on a stage other than ``local`` (``stage``): a usage error."""

    def __init__(self, stage: str):
        super().__init__(stage)
        self.stage = stage


@dataclass(frozen=True)
class Simulated:
    """What :func:`simulate_feedback` handed to the RecordEmailEvents code, and its answer.

    ``change`` is the email's change (``registered``, ...); ``outcome`` and ``result`` are
    ``chalicelib.feedback.handle_event``'s (e.g. ``bounced``, ``recorded``/``superseded``/``stale``).
    """

    change: str
    outcome: str
    result: str


def simulate_feedback(event_id: str, registration_id: str, outcome: str) -> Simulated:
    """Local stage only: hand an SES event of ``outcome`` (one of :data:`SIMULATED`) for the registration's
    latest sent email to ``chalicelib.feedback.handle_event``, as RecordEmailEvents would get it.

    Raises :class:`LocalOnly`, ``store.EventNotFound``, ``store.RegistrationNotFound``,
    :class:`staff.NothingToDo` (no email sent yet) and botocore errors.
    """
    from chalicelib import feedback

    settings = get_settings()
    if settings.stage != LOCAL_STAGE:
        raise LocalOnly(settings.stage)
    item = _registration(event_id, registration_id)
    sent = [(str(entry.get("at", "")), change, entry) for change, entry in (item.get("notifications") or {}).items()
            if isinstance(entry, dict) and entry.get("message_id") and entry.get("state") == "sent"]
    if item.get("status") == "erased":
        raise NothingToDo(f"registration {registration_id} was erased: it has no address and no emails any more")
    if not sent or not item.get("email"):
        raise NothingToDo(f"registration {registration_id} has no email sent yet "
                          "(is make run delivering? the email appears in outbox/ first)")
    _, change, entry = max(sent)
    lambda_event = feedback.simulated_event(str(entry["message_id"]), str(item["email"]), outcome,
                                            configuration_set=settings.ses_configuration_set,
                                            sender=settings.sender_email)
    # The function's own code; its log lines are for CloudWatch and are not shown here.
    answer = feedback.handle_event(lambda_event)
    return Simulated(change, str(answer["outcome"]), str(answer["result"]))


@dataclass(frozen=True)
class EraseOutcome:
    """What :func:`erase_address` changed: registrations anonymised, guards deleted, items changed in all."""

    registrations: int
    guards: int
    items_changed: int
    freed_seats: int
    promoted: int


def _matching_registrations(event_id: str, email: str) -> list[dict[str, Any]]:
    wanted = store.email_key(email)
    return [
        item
        for item in store.iter_registrations(event_id, consistent=True)
        if item.get("email") is not None and store.email_key(str(item["email"])) == wanted
    ]


def _guard(event_id: str, email: str) -> dict[str, Any] | None:
    found = aws.client("dynamodb").get_item(
        TableName=get_settings().table_name,
        Key=store.serialize({"pk": store.event_pk(event_id), "sk": store.guard_sk(email)}),
        ConsistentRead=True,
    )
    return store.deserialize(found["Item"]) if "Item" in found else None


def _delete_guard(event_id: str, email: str) -> None:
    """Delete a guard left without a registration (conditional: it must still exist)."""
    aws.client("dynamodb").delete_item(
        TableName=get_settings().table_name,
        Key=store.serialize({"pk": store.event_pk(event_id), "sk": store.guard_sk(email)}),
        ConditionExpression="attribute_exists(pk)",
    )


def _delete_quiet_guard(event_id: str, email: str) -> bool:
    """Delete the quiet guard a honeypot post with ``email`` left (``chalicelib.antispam``): a hash of the
    address, kept until registration closes. Conditional on it existing; ``False`` when there was none."""
    try:
        aws.client("dynamodb").delete_item(
            TableName=get_settings().table_name,
            Key=store.serialize({"pk": store.event_pk(event_id), "sk": store.quiet_guard_sk(email)}),
            ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def erase_address(event_id: str, email: str, confirm: Callable[[int], None] | None = None) -> EraseOutcome:
    """Erase the personal data of whoever registered for ``event_id`` with ``email`` (any case).

    Each matching registration item keeps its key and becomes ``status: erased``
    without ``name``, ``email``, ``answers`` and email details (so no pending email
    can still be sent); the address guard is deleted, and the quiet guard of a honeypot post with
    the address if there is one (a hash of the address); the event item counts
    ``erased_count``; a confirmed registration's seat passes to the first on the
    waitlist (promotion email from the stream) or is given back, a waitlisted one
    leaves the queue. One transaction per registration, conditioned on the status
    and address read (``lifecycle.erase``), retried with fresh reads on a concurrent change.
    ``confirm(count)`` is called with how many registrations have the address, after they are read and
    before anything changes.

    Returns an :class:`EraseOutcome`. Raises :class:`staff.NothingToDo` when no registration
    had the address, ``store.EventNotFound`` and botocore errors.
    """
    store.get_event_item(event_id)
    registrations = guards = changed = freed = promoted = 0
    matches = _matching_registrations(event_id, email)
    guard = _guard(event_id, email)
    if confirm is not None:
        confirm(len(matches))
    for index, item in enumerate(matches):
        owner = guard is not None and guard.get("for_registration") == item["registration_id"]
        guard_here = guard is not None and (owner or index == len(matches) - 1)
        result = lifecycle.erase(event_id, item["registration_id"], delete_guard=guard_here)
        if not result.items_changed:
            continue
        changed += result.items_changed
        registrations += 1
        guards += int(guard_here)
        freed += int(result.freed_seat)
        promoted += int(result.promoted_id is not None)
        if guard_here:
            guard = None
    if guard is not None and not registrations:
        _delete_guard(event_id, email)  # a guard without a registration (left over): delete it too
        guards += 1
        changed += 1
    if _delete_quiet_guard(event_id, email):  # a bot's post may have carried this person's address
        guards += 1
        changed += 1
    if not changed:
        raise NothingToDo("no registration with this address for this event")
    return EraseOutcome(registrations, guards, changed, freed, promoted)
