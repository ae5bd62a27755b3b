"""chalicelib.store's seat-release writes: what a cancellation or an erasure changes, and on which conditions
(README, "Seats, waitlist and cancellation"). Built without calling DynamoDB."""

import pytest

from chalicelib import store
from chalicelib.errors import Busy
from chalicelib.store import transitions

AT = "2023-06-12T10:00:00+00:00"


def item(status: str, **more):
    return {"pk": "EVENT#e1", "sk": "REG#r1", "event_id": "e1", "registration_id": "r1", "status": status, **more}


def counters_update(ops):
    [update] = [op["Update"] for label, op in ops if label == "counters"]
    return update


def test_a_confirmed_seat_without_anyone_waiting_is_given_back():
    # GIVEN a confirmed registration and nobody waiting
    # WHEN its release is built for a cancellation (before the end)
    ops = transitions._release_ops(item("confirmed"), AT, own=None, head=None, before_end=True)
    # THEN the only write is the counters: one seat fewer taken, on condition nobody waits (or over capacity,
    # or past the cutoff) and the event has not ended
    assert [label for label, _ in ops] == ["counters"]
    update = counters_update(ops)
    assert update["UpdateExpression"] == "ADD #a0 :a0"
    assert (update["ExpressionAttributeNames"]["#a0"], update["ExpressionAttributeValues"][":a0"]) == (
        "seats_taken", {"N": "-1"})
    assert update["ConditionExpression"].startswith("(seats_taken >= :one AND (waitlisted_count = :zero")
    assert float(update["ExpressionAttributeValues"][":now"]["N"]) == 1686564000  # AT in epoch seconds


def test_a_confirmed_seat_goes_to_the_head_of_the_waitlist():
    # GIVEN a confirmed registration and a head of the waitlist, alone in its bucket
    head = store.WaitlistEntry(ticket=3, registration_id="r2", bucket_count=1)
    # WHEN its release is built
    ops = transitions._release_ops(item("confirmed"), AT, own=None, head=head)
    # THEN the head is promoted (guarded by its status), its bucket item deleted, and the count of waiting
    # drops, on condition the event is not over capacity and promotions are open; seats_taken is unchanged
    assert [label for label, _ in ops] == ["head", "bucket", "counters"]
    promote = ops[0][1]["Update"]
    assert promote["Key"] == {"pk": {"S": "EVENT#e1"}, "sk": {"S": "REG#r2"}}
    assert promote["ConditionExpression"] == "#s = :old"
    assert promote["ExpressionAttributeValues"][":old"] == {"S": "waitlisted"}
    assert ops[1][1]["Delete"]["Key"]["sk"] == {"S": "WAITLIST#00000000"}
    update = counters_update(ops)
    changed = {update["ExpressionAttributeNames"][k]: update["ExpressionAttributeValues"][k.replace("#", ":")]
               for k in update["ExpressionAttributeNames"] if k.startswith("#a")}
    assert changed == {"waitlisted_count": {"N": "-1"}}
    assert "seats_taken <= seat_capacity" in update["ConditionExpression"]
    assert "REMOVE #r0" in update["UpdateExpression"] and update["ExpressionAttributeNames"]["#r0"] == "w0"


def test_a_waiting_registration_leaves_its_bucket_and_an_erasure_counts_itself():
    # GIVEN a waiting registration sharing its bucket with others
    own = store.WaitlistEntry(ticket=51, registration_id="r1", bucket_count=4)
    # WHEN its release is built for an erasure
    ops = transitions._release_ops(item("waitlisted", waitlist_ticket=51), AT, own=own, head=None,
                             extra_adds={"erased_count": 1})
    # THEN its entry is removed from bucket 1 (others remain) and the counters count it out and the erasure in
    assert [label for label, _ in ops] == ["bucket", "counters"]
    bucket = ops[0][1]["Update"]
    assert (bucket["UpdateExpression"], bucket["ExpressionAttributeNames"]) == (
        "REMOVE #t ADD waiting_count :minus", {"#t": "t51"})
    update = counters_update(ops)
    changed = {update["ExpressionAttributeNames"][k]: int(update["ExpressionAttributeValues"][k.replace("#", ":")]["N"])
               for k in update["ExpressionAttributeNames"] if k.startswith("#a")}
    assert changed == {"erased_count": 1, "w1": -1, "waitlisted_count": -1}
    assert "ends_at" not in update["ConditionExpression"]  # an erasure may come after the event


def test_a_waiting_registration_without_its_entry_is_busy_and_a_cancelled_one_frees_nothing():
    # GIVEN a waiting registration whose entry was not found (a write in flight)
    # THEN building its release asks to read again
    with pytest.raises(Busy):
        transitions._release_ops(item("waitlisted", waitlist_ticket=5), AT, own=None, head=None)
    # AND a registration that holds nothing has nothing to release
    assert transitions._release_ops(item("cancelled"), AT, own=None, head=None) == []
