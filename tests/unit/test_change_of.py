"""chalicelib.delivery.change_of: which email a registration's stream record calls for (README, "Emails")."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from boto3.dynamodb.types import TypeSerializer

from chalicelib import delivery

_serializer = TypeSerializer()


def registration(**fields: Any) -> dict[str, Any]:
    base = {"pk": "EVENT#e1", "sk": "REG#r1", "type": "registration", "event_id": "e1", "registration_id": "r1",
            "status": "confirmed", "invite_sequence": 0,
            "notifications": {"registered": {"state": "sent", "at": "2023-06-01T10:00:00+00:00", "sequence": 0}}}
    return {**base, **fields}


def record(name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> DynamoDBRecord:
    """A stream record as Lambda delivers it (NEW_AND_OLD_IMAGES), typed by Powertools."""
    stream: dict[str, Any] = {"SequenceNumber": "100", "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        stream["NewImage"] = {k: _serializer.serialize(v) for k, v in new.items()}
    if old is not None:
        stream["OldImage"] = {k: _serializer.serialize(v) for k, v in old.items()}
    return DynamoDBRecord({"eventName": name, "dynamodb": stream})


def test_an_insert_is_registered_with_plain_numbers():
    # GIVEN a new registration item
    # WHEN its INSERT record is read
    change, item = delivery.change_of(record("INSERT", registration()))
    # THEN it asks for the registered email, and DynamoDB's numbers are ints again
    assert change == "registered"
    assert item["invite_sequence"] == 0 and type(item["invite_sequence"]) is int
    assert item["notifications"]["registered"]["sequence"] == 0


def test_status_changes_promotion_and_cancellation():
    # GIVEN a waiting registration that got a seat, and a confirmed one that was cancelled
    promoted = record("MODIFY", registration(status="confirmed"), registration(status="waitlisted"))
    cancelled = record("MODIFY", registration(status="cancelled"), registration(status="confirmed"))
    erased = record("MODIFY", registration(status="erased"), registration(status="confirmed"))
    # WHEN their records are read, THEN each names its email; an erasure sends none
    assert delivery.change_of(promoted)[0] == "promoted"
    assert delivery.change_of(cancelled)[0] == "cancelled"
    assert delivery.change_of(erased) is None


def test_other_items_removals_and_our_own_state_writes_send_nothing():
    # GIVEN records of a counters item, a removal, and a write of the email state only
    counters = record("INSERT", {"pk": "EVENT#e1", "sk": "#COUNTERS", "type": "counters", "seats_taken": 3})
    removed = record("REMOVE", None, registration())
    sending = registration(notifications={"registered": {"state": "sending", "at": "2023-06-01T10:00:01+00:00"}})
    own_write = record("MODIFY", sending, registration())
    # THEN none of them calls for an email
    assert [delivery.change_of(r) for r in (counters, removed, own_write)] == [None, None, None]


def test_a_notification_newly_pending_is_asked_for_once():
    # GIVEN a registration whose waitlist_closed notice was just set to pending
    before = registration(status="waitlisted")
    after = registration(status="waitlisted", notifications={
        **before["notifications"], "waitlist_closed": {"state": "pending", "at": "2023-06-02T09:00:00+00:00"}})
    # WHEN the record is read, THEN it asks for that notice
    assert delivery.change_of(record("MODIFY", after, before))[0] == "waitlist_closed"
    # AND a claim put back to pending after a failed send is not a new request (batchItemFailures retries it)
    sending = registration(status="waitlisted", notifications={
        **before["notifications"], "waitlist_closed": {"state": "sending", "at": "2023-06-02T09:00:00+00:00"}})
    assert delivery.change_of(record("MODIFY", after, sending)) is None


def test_a_later_event_change_replacing_a_waiting_update_is_a_new_request():
    # GIVEN an updated email still pending with sequence 1, replaced by one with sequence 2
    waiting = {"state": "pending", "at": "2023-06-02T09:00:00+00:00", "sequence": 1}
    replaced = {"state": "pending", "at": "2023-06-02T09:05:00+00:00", "sequence": 2}
    before = registration(notifications={"updated": waiting})
    after = registration(notifications={"updated": replaced})
    # WHEN the record is read
    change, item = delivery.change_of(record("MODIFY", after, before))
    # THEN the newer update is asked for, with its sequence
    assert (change, item["notifications"]["updated"]["sequence"]) == ("updated", 2)
