"""The stream filter of DeliverEmails (``chalicelib.streamfilter``) lets through every record that asks for an email.

Records come from the real writes on moto (registering, the waitlist, cancelling,
promotion, erasure, the delivery's own state updates); the pattern is matched
with moto's implementation of the EventBridge pattern syntax that Lambda event
filtering uses. The stack's template carries the same pattern
(``tests/infrastructure/test_infra_stack.py``).
"""

from __future__ import annotations

import json

from moto.events.models import EventPattern

from app import deliver_emails
from chalicelib import delivery, lifecycle, registrations, store
from chalicelib.streamfilter import STREAM_FILTER_PATTERN
from tests.conftest import SEED_EVENT_ID, partos_registration


def matches(record: dict) -> bool:
    as_lambda_sees_it = json.loads(json.dumps(record, default=str))  # boto3 parses the record's date
    return EventPattern(None, STREAM_FILTER_PATTERN).matches_event(as_lambda_sees_it)


def test_every_record_that_needs_an_email_passes_and_the_rest_mostly_not(aws, pump):
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update={"capacity": 1, "waitlist": True})
    store.put_event(event)
    people = [registrations.register(SEED_EVENT_ID, partos_registration(email=f"p{i}@example.org"), "nl")
              for i in range(4)]
    records = pump._new_records()
    deliver_emails({"Records": records}, None)  # claims and sent states: more records
    lifecycle.cancel(SEED_EVENT_ID, people[0].registration_id)  # promotes people[1]
    lifecycle.cancel(SEED_EVENT_ID, people[3].registration_id)  # leaves the waitlist
    lifecycle.erase(SEED_EVENT_ID, people[2].registration_id, delete_guard=True)
    store.put_event(event.model_copy(update={"capacity": 3, "ends_at": event.ends_at.replace(hour=18)}))
    assert lifecycle.announce_schedule(SEED_EVENT_ID) == 1  # the one confirmed registration left: a new time
    records += pump._new_records()
    deliver_emails({"Records": records[-20:]}, None)
    records += pump._new_records()

    acted_on = [r for r in records if delivery.change_of(r) is not None]
    ignored = [r for r in records if delivery.change_of(r) is None]
    changes = sorted(delivery.change_of(r)[0] for r in acted_on)
    assert changes == ["cancelled", "cancelled", "promoted"] + ["registered"] * 4 + ["updated"]
    assert all(matches(r) for r in acted_on)
    # Counters, guards, waitlist buckets, event and catalogue items, claims and sent states: none pass.
    let_through = [r for r in ignored if matches(r)]
    assert let_through == [] and len(ignored) > 3 * len(acted_on)
    kinds = {r["dynamodb"]["Keys"]["sk"]["S"].split("#")[0] or r["dynamodb"]["Keys"]["sk"]["S"] for r in ignored}
    assert {"REG", "EMAIL", "WAITLIST", "#COUNTERS", "#EVENT", SEED_EVENT_ID} <= kinds


def test_a_transient_send_failure_record_passes_but_sends_nothing(aws):
    """A claim put back to ``pending`` after a failed send matches the filter; the function ignores it."""
    record = {
        "eventName": "MODIFY",
        "dynamodb": {
            "OldImage": {"type": {"S": "registration"}, "status": {"S": "confirmed"}, "email_state": {"S": "sending"}},
            "NewImage": {"type": {"S": "registration"}, "status": {"S": "confirmed"}, "email_state": {"S": "pending"}},
        },
    }
    assert matches(record) and delivery.change_of(record) is None


def test_pattern_is_extended_by_setting_email_state_pending():
    """A future email kind (a reminder) only has to set ``email_state`` to ``pending`` on the registration."""
    reminder = {
        "eventName": "MODIFY",
        "dynamodb": {"NewImage": {"type": {"S": "registration"}, "email_state": {"S": "pending"},
                                  "notifications": {"M": {"reminder": {"M": {"state": {"S": "pending"}}}}}}},
    }
    assert matches(reminder)
    assert not matches({**reminder, "eventName": "REMOVE"})
    assert not matches({"eventName": "MODIFY", "dynamodb": {"NewImage": {"type": {"S": "counters"}}}})


def test_a_resend_passes_and_ses_events_and_message_lookups_do_not(seed_event, pump):
    """A staff resend (a notification newly ``pending``) is acted on; the message lookup item written with
    ``sent``, and the outcome RecordEmailEvents writes, cost DeliverEmails no invocation."""
    from chalicelib import clock, entry_feedback, feedback

    result = registrations.register(SEED_EVENT_ID, partos_registration(email="resend@example.org"), "nl")
    pump.pump_once()
    item = store.get_registration_in_event(SEED_EVENT_ID, result.registration_id)
    entry_feedback.handler(feedback.simulated_event(item["email_message_id"], "resend@example.org", "delivery"), None)
    store.request_resend(SEED_EVENT_ID, result.registration_id, at=clock.now())
    records = pump._new_records(advance=False)
    lookups = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"].startswith("MSG#")]
    registration = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == f"REG#{result.registration_id}"]
    outcome, resend = registration[-2:]
    assert lookups and not any(matches(r) for r in lookups)
    assert outcome["dynamodb"]["NewImage"]["email_outcome"]["S"] == "delivered"
    assert not matches(outcome) and delivery.change_of(outcome) is None
    assert matches(resend) and delivery.change_of(resend)[0] == "registered"


def test_an_update_put_back_to_pending_is_not_a_new_update(aws):
    """Only a write that puts a new ``updated`` entry (another sequence) on the item asks for an email."""
    def image(state: str, sequence: int) -> dict:
        return {"type": {"S": "registration"}, "status": {"S": "confirmed"}, "email_state": {"S": state},
                "notifications": {"M": {"updated": {"M": {"state": {"S": state}, "sequence": {"N": str(sequence)}}}}}}

    retried = {"eventName": "MODIFY", "dynamodb": {"OldImage": image("sending", 2), "NewImage": image("pending", 2)}}
    assert matches(retried) and delivery.change_of(retried) is None
    fresh = {"eventName": "MODIFY", "dynamodb": {"OldImage": image("sent", 2), "NewImage": image("pending", 3)}}
    assert matches(fresh) and delivery.change_of(fresh)[0] == "updated"
    # a later event change replaces an update still waiting: new, though the older one was pending
    replaced = {"eventName": "MODIFY", "dynamodb": {"OldImage": image("pending", 2), "NewImage": image("pending", 3)}}
    assert matches(replaced) and delivery.change_of(replaced)[0] == "updated"
