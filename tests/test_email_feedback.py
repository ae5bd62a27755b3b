"""SES events (delivery, bounce, complaint, reject, delay) recorded on the registration's notification.

Hand-built EventBridge events (``feedback.simulated_event``, SES's shape) go through the
``RecordEmailEvents`` function's own entry (``chalicelib.entry_feedback.handler``) against
moto; the stored notification, its mirror ``email_outcome`` and the suppression marker
are read back from the table. Orders and duplicates are tried exhaustively.
"""

from __future__ import annotations

import itertools
from datetime import UTC, timedelta

import pytest
from pydantic import ValidationError

from chalicelib import clock, entry_feedback, feedback, lifecycle, registrations, store
from tests.conftest import SEED_EVENT_ID, partos_registration, sent_messages


def register(email: str, **fields):
    return registrations.register(SEED_EVENT_ID, partos_registration(email=email, **fields), "nl")


def item_of(registration_id: str) -> dict:
    return store.get_registration_in_event(SEED_EVENT_ID, registration_id)


def message_of(registration_id: str, change: str = "registered") -> str:
    return item_of(registration_id)["notifications"][change]["message_id"]


def ses(registration_id: str, outcome: str, *, change: str = "registered", at=None, recipient: str | None = None):
    """Feed one SES event of the registration's ``change`` email to the function's entry; its answer."""
    item = item_of(registration_id)
    event = feedback.simulated_event(message_of(registration_id, change), recipient or item["email"], outcome,
                                     at=at, configuration_set="registrations-local")
    return entry_feedback.handler(event, None)


@pytest.fixture
def sent(seed_event, pump):
    """Register ``email`` and deliver its confirmation; returns the registration id."""

    def make(email: str) -> str:
        result = register(email)
        pump.pump_once()
        assert item_of(result.registration_id)["email_state"] == "sent"
        return result.registration_id

    return make


# -- sending names the configuration set and leaves a lookup item -------------------------------


def test_every_send_names_the_configuration_set_and_leaves_a_message_lookup_item(seed_event, pump):
    from chalicelib import aws

    seen = []

    def capture(params, **_):
        seen.append(params.get("ConfigurationSetName"))

    aws.client("sesv2").meta.events.register("provide-client-params.sesv2.SendEmail", capture)
    try:
        result = register("anna@example.org")
        pump.pump_once()
    finally:
        aws.client("sesv2").meta.events.unregister("provide-client-params.sesv2.SendEmail", capture)
    assert seen == ["registrations-local"]
    item = item_of(result.registration_id)
    message_id = item["notifications"]["registered"]["message_id"]
    assert message_id == sent_messages()[0].id == item["email_message_id"]
    lookup = store.find_message(message_id)
    assert lookup == {
        "pk": f"MSG#{message_id}", "sk": "#MESSAGE", "type": "message", "event_id": SEED_EVENT_ID,
        "for_registration": result.registration_id, "notification": "registered",
        "sent_at": item["notifications"]["registered"]["at"], "expires_at": item["expires_at"],
    }
    # The lookup item is no registration: the by-registration index still finds the registration itself.
    assert store.find_registration(result.registration_id)["sk"] == f"REG#{result.registration_id}"


def test_without_a_configuration_set_the_send_names_none(seed_event, pump, monkeypatch):
    from chalicelib import aws

    monkeypatch.setenv("SES_CONFIGURATION_SET", "")
    seen = []
    aws.client("sesv2").meta.events.register("provide-client-params.sesv2.SendEmail",
                                             lambda params, **_: seen.append(dict(params)))
    register("anna@example.org")
    pump.pump_once()
    assert len(seen) == 1 and "ConfigurationSetName" not in seen[0]


# -- each outcome as stored ------------------------------------------------------------------------------


def test_permanent_bounce_is_recorded_with_its_diagnostic_and_suppresses_the_address(sent):
    registration_id = sent("anna@wildeganzen.nll")
    at = clock.now().replace(microsecond=0)
    assert ses(registration_id, "bounce", at=at) == {"result": "recorded", "outcome": "bounced"}
    item = item_of(registration_id)
    assert item["notifications"]["registered"]["feedback"] == {
        "outcome": "bounced", "rank": 5, "at": at.astimezone(UTC).isoformat(), "bounce_type": "Permanent",
        "bounce_subtype": "General", "diagnostic": "smtp; 550 5.1.1 user unknown (simulated)",
    }
    assert item["notifications"]["registered"]["state"] == "sent"  # the send's own state stays
    assert item["email_state"] == "sent" and item["email_outcome"] == "bounced"
    assert item["email_suppressed"] == {
        "reason": f"the address bounced permanently on {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "at": at.astimezone(UTC).isoformat(), "address": store.address_hash("anna@wildeganzen.nll"),
        "outcome": "bounced", "notification": "registered",
    }
    assert item["status"] == "confirmed"  # the registration itself stays as it is


@pytest.mark.parametrize("outcome, stored, suppressed", [
    ("transient-bounce", "bounced_transient", False),
    ("delivery", "delivered", False),
    ("complaint", "complained", True),
    ("delay", "delayed", False),
    ("reject", "rejected", False),
])
def test_each_outcome_is_recorded(sent, outcome, stored, suppressed):
    registration_id = sent("bert@example.org")
    assert ses(registration_id, outcome)["result"] == "recorded"
    item = item_of(registration_id)
    assert item["notifications"]["registered"]["feedback"]["outcome"] == stored
    assert item["notifications"]["registered"]["feedback"]["rank"] == feedback.RANKS[stored]
    assert item["email_outcome"] == stored
    assert ("email_suppressed" in item) is suppressed


def test_transient_bounce_keeps_the_server_answer(sent):
    registration_id = sent("vol@example.org")
    ses(registration_id, "transient-bounce")
    found = item_of(registration_id)["notifications"]["registered"]["feedback"]
    assert (found["bounce_type"], found["bounce_subtype"], found["diagnostic"]) == (
        "Transient", "MailboxFull", "smtp; 452 4.2.2 mailbox full (simulated)")


# -- exactly once, in any order ----------------------------------------------------------------------------


@pytest.mark.parametrize("events, final", [
    # a transient bounce then a delivery ends delivered, whatever the order events arrive in
    (("transient-bounce", "delivery", "delay"), "delivered"),
    # a late delivered never overwrites a permanent bounce (asynchronous bounces follow a Delivery)
    (("delivery", "bounce", "transient-bounce"), "bounced"),
    # nothing after a complaint changes it
    (("delivery", "complaint", "bounce"), "complained"),
])
def test_every_order_and_duplicate_ends_in_the_highest_outcome(seed_event, pump, events, final):
    orders = sorted(set(itertools.permutations(events + events[:1])))  # every order, the first event twice
    for number, order in enumerate(orders):
        result = register(f"order{number}@example.org")
        pump.pump_once()
        answers = [ses(result.registration_id, outcome)["result"] for outcome in order]
        item = item_of(result.registration_id)
        assert item["notifications"]["registered"]["feedback"]["outcome"] == final, order
        assert item["email_outcome"] == final, order
        # each event either raised the outcome (recorded) or changed nothing (superseded)
        ranks = [feedback.RANKS[_stored(outcome)] for outcome in order]
        expected = ["recorded" if rank > max(ranks[:i], default=0) else "superseded" for i, rank in enumerate(ranks)]
        assert answers == expected, order


def _stored(outcome: str) -> str:
    return {"transient-bounce": "bounced_transient", "delivery": "delivered", "delay": "delayed",
            "bounce": "bounced", "complaint": "complained", "reject": "rejected"}[outcome]


def test_a_duplicate_event_changes_nothing(sent):
    registration_id = sent("twice@example.org")
    at = clock.now()
    assert ses(registration_id, "bounce", at=at)["result"] == "recorded"
    before = item_of(registration_id)
    assert ses(registration_id, "bounce", at=at + timedelta(seconds=5))["result"] == "superseded"
    assert item_of(registration_id) == before


# -- which notification -----------------------------------------------------------------------------------


def test_an_event_of_an_earlier_email_is_recorded_on_its_own_notification(seed_event, pump):
    """The confirmation bounces after the cancellation email went out: it lands on ``registered`` only."""
    result = register("early@example.org")
    pump.pump_once()
    lifecycle.cancel(SEED_EVENT_ID, result.registration_id, by="staff")
    pump.pump_once()
    item = item_of(result.registration_id)
    assert item["email_message_id"] == item["notifications"]["cancelled"]["message_id"]
    assert ses(result.registration_id, "delivery", change="cancelled")["result"] == "recorded"
    assert ses(result.registration_id, "bounce", change="registered")["result"] == "recorded-older"
    item = item_of(result.registration_id)
    assert item["notifications"]["registered"]["feedback"]["outcome"] == "bounced"
    assert item["notifications"]["cancelled"]["feedback"]["outcome"] == "delivered"
    assert item["email_outcome"] == "delivered"  # the mirror follows the latest email
    assert item["email_suppressed"]["address"] == store.address_hash("early@example.org")


def test_an_event_of_a_replaced_message_is_stale(seed_event, pump):
    result = register("stale@example.org")
    pump.pump_once()
    old_message = message_of(result.registration_id)
    recipient = item_of(result.registration_id)["email"]
    store.request_resend(SEED_EVENT_ID, result.registration_id, at=clock.now())
    pump.pump_once()
    assert message_of(result.registration_id) != old_message
    before = item_of(result.registration_id)
    event = feedback.simulated_event(old_message, recipient, "bounce")
    assert entry_feedback.handler(event, None)["result"] == "stale"
    assert item_of(result.registration_id) == before


def test_an_erased_registration_records_nothing(seed_event, pump):
    result = register("erase@example.org")
    pump.pump_once()
    message_id = message_of(result.registration_id)
    lifecycle.erase(SEED_EVENT_ID, result.registration_id, delete_guard=True)
    event = feedback.simulated_event(message_id, "erase@example.org", "complaint")
    assert entry_feedback.handler(event, None)["result"] == "stale"
    item = item_of(result.registration_id)
    assert "notifications" not in item and "email_suppressed" not in item and "email_outcome" not in item
    lookup = store.find_message(message_id)  # kept only so that late events of it are dropped, not retried
    assert set(lookup) == {"pk", "sk", "erased", "expires_at"} and lookup["erased"] is True


def test_an_unknown_message_is_retried_while_recent_and_dropped_later(seed_event):
    recent = feedback.simulated_event("never-recorded", "x@example.org", "delivery")
    with pytest.raises(feedback.MessageNotRecordedYet):
        entry_feedback.handler(recent, None)
    old = feedback.simulated_event("never-recorded", "x@example.org", "delivery",
                                   at=clock.now() - timedelta(seconds=feedback.UNKNOWN_GRACE_SECONDS + 1))
    assert entry_feedback.handler(old, None) == {"result": "unknown-message", "outcome": "delivered"}


def test_an_event_that_is_not_an_ses_record_raises(seed_event):
    with pytest.raises(ValidationError):
        entry_feedback.handler({"detail-type": "Email Bounced", "source": "aws.ses", "detail": {"eventType": "Bounce"}},
                               None)


def test_an_event_type_not_recorded_is_ignored(sent):
    registration_id = sent("open@example.org")
    event = feedback.simulated_event(message_of(registration_id), "open@example.org", "delivery")
    event["detail"]["eventType"] = "Open"
    assert entry_feedback.handler(event, None) == {"result": "ignored", "outcome": None}


def test_the_app_registers_the_function_chalice_creates(sent):
    from app import app, record_email_events

    registration_id = sent("chalice@example.org")
    assert app.handler_map["RecordEmailEvents"] is not None
    event = feedback.simulated_event(message_of(registration_id), "chalice@example.org", "delivery")
    assert record_email_events(event, None)["result"] == "recorded"
