"""AWS calls per operation: deterministic, so they are budgets (README, "Performance").

Counted on the real path (routes through ``chalice.test.Client``, moto behind
botocore) with botocore's ``before-call`` event hook on the app's own clients.
The definition cache (``store.event_definition``) is warm unless a test says
otherwise, as in a function instance that has served a request in the last seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib import aws, lifecycle, registrations, store, tokens
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json


@contextmanager
def aws_calls() -> Iterator[Counter]:
    """Every DynamoDB and SES v2 request made inside the block, by ``service.Operation``."""
    calls: Counter = Counter()

    def count(model, **_):
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    clients = [aws.client("dynamodb"), aws.client("sesv2")]
    for client in clients:
        client.meta.events.register("before-call", count)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", count)


def event_with(capacity: int | None, waitlist: bool = True):
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(
        update={"capacity": capacity, "waitlist": waitlist}
    )
    store.put_event(event)
    store.event_definition(SEED_EVENT_ID)  # a warm function instance
    return event


def register(email: str) -> registrations.Registered:
    return registrations.register(SEED_EVENT_ID, partos_registration(email=email), "nl")


def test_registration_is_one_call(client, aws):
    event_with(40)
    with aws_calls() as calls:
        answer = post_json(client, partos_registration(email="one@example.org"))
    assert answer.status_code == 201
    assert calls == {"dynamodb.TransactWriteItems": 1}


def test_registration_on_a_cold_instance_reads_the_definition_once(client, aws):
    event_with(40)
    store.reset_caches()
    with aws_calls() as calls:
        post_json(client, partos_registration(email="one@example.org"))
        post_json(client, partos_registration(email="two@example.org"))
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 2}


def test_waitlisted_registration_is_two_calls_once_the_instance_saw_the_event_full(client, aws):
    event_with(1)
    register("seat@example.org")
    with aws_calls() as first:
        answer = post_json(client, partos_registration(email="first-waiting@example.org"))
    assert json.loads(answer.body)["waitlist_position"] == 1
    # The seat write finds the event full; then the ticket and the waitlist write.
    assert first == {"dynamodb.TransactWriteItems": 2, "dynamodb.UpdateItem": 1}
    with aws_calls() as calls:
        answer = post_json(client, partos_registration(email="second-waiting@example.org"))
    assert (answer.status_code, json.loads(answer.body)["waitlist_position"]) == (201, 2)
    assert calls == {"dynamodb.UpdateItem": 1, "dynamodb.TransactWriteItems": 1}


def get_registration(client, registration_id: str):
    token = tokens.make_token(registration_id, tokens.VIEW)
    return client.http.get(f"/registrations/{registration_id}?token={token}", headers={"Accept": "application/json"})


@pytest.mark.parametrize("status", ["confirmed", "waitlisted"])
def test_get_registration_is_two_calls(client, aws, status):
    event_with(1)
    outcomes = [register(f"p{i}@example.org") for i in range(3)]
    wanted = next(o for o in outcomes if o.status == status)
    with aws_calls() as calls:
        answer = get_registration(client, wanted.registration_id)
    body = json.loads(answer.body)
    assert (answer.status_code, body["status"]) == (200, status)
    assert body["waitlist_position"] == (None if status == "confirmed" else 1)
    # The index finds the registration; one consistent read returns it (with its position when it waits).
    second = "dynamodb.GetItem" if status == "confirmed" else "dynamodb.BatchGetItem"
    assert calls == {"dynamodb.Query": 1, second: 1}


def cancel(client, registration_id: str):
    return client.http.post(f"/registrations/{registration_id}/cancel", headers={"Content-Type": "application/json"},
                            body=json.dumps({"token": tokens.make_token(registration_id, tokens.CANCEL)}))


@pytest.mark.parametrize("who", ["confirmed with a waitlist", "confirmed without a waitlist", "waitlisted"])
def test_cancel_is_three_calls(client, aws, who):
    event_with(1)
    seat = register("seat@example.org")
    waiting = None if who == "confirmed without a waitlist" else register("waiting@example.org")
    target = waiting if who == "waitlisted" else seat
    with aws_calls() as calls:
        answer = cancel(client, target.registration_id)
    assert answer.status_code == 200 and json.loads(answer.body)["changed"] is True
    # The index (the registration), then the waitlist head (Query, 1 item) for a seat or the
    # registration's own waitlist bucket (GetItem) for a place, then the transaction.
    if who == "waitlisted":
        assert calls == {"dynamodb.Query": 1, "dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1}
    else:
        assert calls == {"dynamodb.Query": 2, "dynamodb.TransactWriteItems": 1}
    if who == "confirmed with a waitlist":
        assert store.get_registration_in_event(SEED_EVENT_ID, waiting.registration_id)["status"] == "confirmed"


def test_staff_cancel_is_three_calls(aws):
    event_with(1)
    seat, waiting = register("seat@example.org"), register("waiting@example.org")
    with aws_calls() as calls:
        result = lifecycle.cancel(SEED_EVENT_ID, seat.registration_id, by="staff")
    assert result.promoted_id == waiting.registration_id
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}


def test_deliver_emails_reads_the_event_once_per_batch(aws, pump):
    from app import deliver_emails

    event_with(8)
    for i in range(10):
        register(f"batch{i}@example.org")
    records = [r for r in pump._new_records() if r["dynamodb"]["Keys"]["sk"]["S"].startswith("REG#")]
    assert len(records) == 10
    store.reset_caches()  # a fresh DeliverEmails instance
    with aws_calls() as calls:
        assert deliver_emails({"Records": records}, None) == {"batchItemFailures": []}
    # Per record: the claim, the email, and one transaction recording ``sent`` with the message lookup
    # item (README "Emails": how SES's events find the notification); the 2 waitlisted ones also
    # read their position. Still 3 calls per email, as before the lookup item.
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 10, "dynamodb.TransactWriteItems": 10,
                     "sesv2.SendEmail": 10, "dynamodb.BatchGetItem": 2}


def test_the_scheduled_function_reads_the_catalogue_and_writes_once_per_waiting_registrant(aws):
    """RunDueJobs: one Query of the catalogue when nothing is due; for a due waitlist cutoff, a Query of
    the waitlist buckets, one conditional UpdateItem per waiting registrant and one marking it done."""
    from datetime import timedelta

    from chalicelib import clock, jobs

    event = event_with(1)
    for i in range(4):
        register(f"p{i}@example.org")  # one seat, three waiting
    with aws_calls() as idle:
        assert jobs.run_due(clock.now()).done == []
    assert idle == {"dynamodb.Query": 1}
    now = clock.now().astimezone(event.zone).replace(tzinfo=None, microsecond=0)
    store.put_event(event.model_copy(update={"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1),
                                             "reminders": ()}))  # reminders: the next test
    with aws_calls() as due:
        assert jobs.run_due(clock.now()).done == [(SEED_EVENT_ID, "waitlist_closed", 3)]
    assert due == {"dynamodb.Query": 2, "dynamodb.UpdateItem": 4}
    with aws_calls() as again:
        assert jobs.run_due(clock.now()).done == []
    assert again == {"dynamodb.Query": 1}


def test_a_due_reminder_reads_the_registrations_once_and_writes_once_per_confirmed_registrant(aws):
    """RunDueJobs for a due reminder: the catalogue Query, one Query of the event's registrations (a page
    holds about 1 MB, some hundreds of registrations; DynamoDB filters, only sort keys travel), one
    conditional UpdateItem per confirmed registrant and one marking the job done. Waitlisted people cost
    a read, never a write. (A registrant whose calendar entry predates a change of the event's time or
    place costs a second UpdateItem: ``store.ask_reminder``.)"""
    from datetime import timedelta

    from chalicelib import clock, jobs

    event = event_with(2)
    now = clock.now().astimezone(event.zone).replace(tzinfo=None, microsecond=0)
    store.put_event(event.model_copy(update={"starts_at": now + timedelta(days=1, minutes=1),
                                             "ends_at": now + timedelta(days=1, hours=2), "reminders": ("1d",)}))
    for i in range(4):
        register(f"r{i}@example.org")  # two seats, two waiting; all told the event's schedule now
    with aws_calls() as due:
        assert jobs.run_due(clock.now() + timedelta(minutes=2)).done == [(SEED_EVENT_ID, "reminder_1d", 2)]
    assert due == {"dynamodb.Query": 2, "dynamodb.UpdateItem": 3}
    with aws_calls() as again:
        assert jobs.run_due(clock.now() + timedelta(minutes=3)).done == []
    assert again == {"dynamodb.Query": 1}


def test_an_ses_event_is_two_calls_and_three_for_an_earlier_email(aws, pump):
    """RecordEmailEvents: the message lookup item (GetItem), then one conditional UpdateItem; an event of
    an email older than the registration's latest is written without the mirror (a second UpdateItem)."""
    from chalicelib import entry_feedback, feedback

    event_with(8)
    outcome = register("feedback@example.org")
    pump.pump_once()

    def event(change: str, kind: str):
        item = store.get_registration_in_event(SEED_EVENT_ID, outcome.registration_id)
        return feedback.simulated_event(item["notifications"][change]["message_id"], item["email"], kind)

    delivered = event("registered", "delivery")
    with aws_calls() as calls:
        assert entry_feedback.handler(delivered, None)["result"] == "recorded"
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 1}
    lifecycle.cancel(SEED_EVENT_ID, outcome.registration_id, by="staff")
    pump.pump_once()
    bounced = event("registered", "bounce")
    with aws_calls() as calls:
        assert entry_feedback.handler(bounced, None)["result"] == "recorded-older"
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 2}
