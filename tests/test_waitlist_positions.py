"""Waitlist positions are exact, however registrations, cancellations, erasures and promotions interleave.

The queue is kept in waitlist buckets (``store.WAITLIST_BUCKET_SIZE`` tickets each;
3 here, so a few registrants span several buckets): a position is read from the
counters item and the ticket's bucket, never by counting registration items.
A Hypothesis state machine drives the real code against moto and compares every
waiting registrant's position with a plain model of the queue after each step.
"""

from __future__ import annotations

from email import message_from_string
from email.policy import default

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib import aws, lifecycle, registrations, store
from chalicelib.events import load_event_file
from chalicelib.settings import get_settings
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration


@pytest.fixture
def small_buckets(monkeypatch):
    monkeypatch.setattr(store.keys, "WAITLIST_BUCKET_SIZE", 3)


def seed_event(capacity: int):
    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(
        update={"capacity": capacity, "waitlist": True}
    )
    store.put_event(event)
    return event


def table_items(prefix: str) -> list[dict]:
    answer = aws.client("dynamodb").query(
        TableName=get_settings().table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": store.event_pk(SEED_EVENT_ID)}, ":p": {"S": prefix}},
        ConsistentRead=True,
    )
    return [store.deserialize(i) for i in answer["Items"]]


class Queue(RuleBasedStateMachine):
    """The model: who holds a seat, and who waits in which order (by ticket)."""

    def __init__(self):
        super().__init__()
        self.count = 0
        self.confirmed: list[str] = []
        self.waiting: list[str] = []  # queue order
        self.capacity = 0

    @initialize(capacity=st.integers(min_value=0, max_value=3), registrants=st.integers(min_value=0, max_value=8))
    def fresh_table(self, capacity, registrants):
        from localservice.awsfake import create_table

        name = get_settings().table_name
        client = aws.client("dynamodb")
        client.delete_table(TableName=name)
        create_table(client, name)
        store.reset_caches()
        self.capacity = capacity
        if capacity == 0:  # an event needs a positive capacity: start full by one seat taken
            self.capacity = 1
            seed_event(1)
            self._register()
        else:
            seed_event(capacity)
        for _ in range(registrants):
            self._register()

    def _register(self):
        self.count += 1
        result = registrations.register(SEED_EVENT_ID, partos_registration(email=f"p{self.count}@example.org"), "en")
        if len(self.confirmed) < self.capacity:
            assert result.status == "confirmed"
            self.confirmed.append(result.registration_id)
        else:
            assert result.status == "waitlisted"
            self.waiting.append(result.registration_id)
            # Registering one at a time, the answered place is the place.
            assert result.waitlist_position == len(self.waiting)

    @rule()
    def register(self):
        self._register()

    @precondition(lambda self: self.confirmed)
    @rule(data=st.data(), erase=st.booleans())
    def end_a_seat(self, data, erase):
        who = data.draw(st.sampled_from(self.confirmed))
        if erase:
            result = lifecycle.erase(SEED_EVENT_ID, who, delete_guard=True)
            promoted = result.promoted_id
        else:
            promoted = lifecycle.cancel(SEED_EVENT_ID, who).promoted_id
        self.confirmed.remove(who)
        expected = self.waiting.pop(0) if self.waiting and len(self.confirmed) < self.capacity else None
        assert promoted == expected
        if expected:
            self.confirmed.append(expected)

    @precondition(lambda self: self.waiting)
    @rule(data=st.data(), erase=st.booleans())
    def leave_the_waitlist(self, data, erase):
        who = data.draw(st.sampled_from(self.waiting))
        if erase:
            assert lifecycle.erase(SEED_EVENT_ID, who, delete_guard=True).promoted_id is None
        else:
            assert lifecycle.cancel(SEED_EVENT_ID, who).promoted_id is None
        self.waiting.remove(who)

    @rule(more=st.integers(min_value=1, max_value=2))
    def add_seats(self, more):
        self.capacity += more
        seed_event(self.capacity)
        promoted = lifecycle.fill_free_seats(SEED_EVENT_ID)
        expected = min(len(self.waiting), self.capacity - len(self.confirmed))
        assert promoted == expected
        self.confirmed += self.waiting[:expected]
        del self.waiting[:expected]

    @invariant()
    def positions_are_exact(self):
        for place, registration_id in enumerate(self.waiting, start=1):
            view = registrations.registrant_view(registration_id)
            assert (view.status, view.waitlist_position) == ("waitlisted", place)
        for registration_id in self.confirmed:
            assert registrations.registrant_view(registration_id).waitlist_position is None

    @invariant()
    def counters_and_buckets_agree(self):
        counters = store.get_counters(SEED_EVENT_ID, consistent=True)
        assert (counters.seats_taken, counters.waitlisted_count) == (len(self.confirmed), len(self.waiting))
        buckets = table_items(store.WAITLIST_PREFIX)
        # A bucket item exists only while someone waits in it, and the counters count each.
        assert all(b["waiting_count"] >= 1 for b in buckets)
        assert {int(b["sk"][len(store.WAITLIST_PREFIX):]): b["waiting_count"] for b in buckets} == counters.waiting
        head = store.waitlist_head(SEED_EVENT_ID)
        assert (head.registration_id if head else None) == (self.waiting[0] if self.waiting else None)


def test_positions_stay_exact_through_cancellations_erasures_and_promotions(aws, small_buckets):
    run_state_machine_as_test(Queue, settings=settings(
        max_examples=6, stateful_step_count=15, deadline=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each step talks to moto
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ))


def test_position_reads_two_small_items_however_long_the_waitlist(aws, small_buckets):
    """60 waiting in 20 buckets: each position is one BatchGetItem of the counters and one bucket."""
    from tests.test_aws_budgets import aws_calls

    seed_event(1)
    outcomes = [registrations.register(SEED_EVENT_ID, partos_registration(email=f"w{i}@example.org"), "en")
                for i in range(61)]
    waiting = [o for o in outcomes if o.status == "waitlisted"]
    assert [o.waitlist_position for o in waiting] == list(range(1, 61))
    # Take out every third, from the front, the middle and the back, and the seat holder.
    for o in waiting[::3]:
        lifecycle.cancel(SEED_EVENT_ID, o.registration_id)
    lifecycle.cancel(SEED_EVENT_ID, outcomes[0].registration_id)  # promotes waiting[1]
    still = [o for i, o in enumerate(waiting) if i % 3 and i != 1]
    for place, o in enumerate(still, start=1):
        item = store.get_registration_in_event(SEED_EVENT_ID, o.registration_id)
        with aws_calls() as calls:
            assert store.waitlist_position(SEED_EVENT_ID, item["waitlist_ticket"]) == place
        assert calls == {"dynamodb.BatchGetItem": 1}
    assert len(table_items(store.WAITLIST_PREFIX)) == 20  # 21 buckets; the one emptied (tickets 1 and 2) is deleted


def test_the_waitlist_email_gives_the_position_at_sending(aws, pump):
    from app import deliver_emails
    from tests.conftest import sent_messages

    seed_event(1)
    _first, second, third = (registrations.register(SEED_EVENT_ID, partos_registration(email=f"{n}@example.org"), "en")
                            for n in ("first", "second", "third"))
    records = pump._new_records()
    lifecycle.cancel(SEED_EVENT_ID, second.registration_id)  # before the emails go out
    deliver_emails({"Records": records}, None)
    [mail] = [m for m in sent_messages() if "third@" in str(m.destinations)]
    text = message_from_string(mail.raw_data, policy=default).get_body(("plain",)).get_content()
    assert third.waitlist_position == 2  # when it registered
    assert "op de wachtlijst op plaats 1." in text  # when the email went out


def test_a_stale_index_copy_costs_a_retry_not_a_wrong_cancel(aws):
    """The cancel link reads the registration from the index; a stale copy fails the condition and is re-read."""
    seed_event(1)
    seat = registrations.register(SEED_EVENT_ID, partos_registration(email="seat@example.org"), "en")
    waiting = registrations.register(SEED_EVENT_ID, partos_registration(email="waiting@example.org"), "en")
    stale = store.get_registration_in_event(SEED_EVENT_ID, waiting.registration_id)
    lifecycle.cancel(SEED_EVENT_ID, seat.registration_id)  # promotes the waiting one
    result = lifecycle.cancel(SEED_EVENT_ID, waiting.registration_id, item=stale)  # copy says "waitlisted"
    assert result.changed and result.promoted_id is None
    counters = store.get_counters(SEED_EVENT_ID, consistent=True)
    assert (counters.seats_taken, counters.waitlisted_count, counters.waiting) == (0, 0, {})
    assert table_items(store.WAITLIST_PREFIX) == []


def test_the_answered_position_counts_the_waitlist_writes_still_in_flight(aws):
    """A rush: tickets are taken before the writes of lower tickets land. The 201's position counts
    those lower tickets still being written (they are ahead once written), and a write that fails
    after its ticket gives it up, so later positions do not count it."""
    seed_event(capacity=1)
    first = registrations.register(SEED_EVENT_ID, partos_registration(email="seat@example.org"), "en")
    assert first.status == "confirmed"
    now = clock_now()
    in_flight = [store.take_waitlist_ticket(SEED_EVENT_ID, now) for _ in range(2)]  # two writes not landed yet
    assert [(t.number, t.waiting, t.in_flight) for t in in_flight] == [(1, 0, 0), (2, 0, 1)]
    third = registrations.register(SEED_EVENT_ID, partos_registration(email="third@example.org"), "en")
    assert (third.status, third.waitlist_position) == ("waitlisted", 3)
    # one of the two in flight gives up (its write failed); the next answer no longer counts it
    store.give_up_ticket(SEED_EVENT_ID)
    fourth = registrations.register(SEED_EVENT_ID, partos_registration(email="fourth@example.org"), "en")
    assert (fourth.status, fourth.waitlist_position) == ("waitlisted", 3)
    # a failed waitlist write (the address is registered already) gives its own ticket up
    with pytest.raises(store.AlreadyRegistered):
        registrations.register(SEED_EVENT_ID, partos_registration(email="third@example.org"), "en")
    counters = store.get_counters(SEED_EVENT_ID, consistent=True)
    assert counters.waitlisted_count == 2
    fifth = registrations.register(SEED_EVENT_ID, partos_registration(email="fifth@example.org"), "en")
    assert fifth.waitlist_position == 4  # third, fourth, and the one ticket still in flight


def test_twenty_at_once_are_answered_positions_one_to_eighteen(aws):
    """The field report: 20 posts at the same moment for 2 seats; every 201 said position 1."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    seed_event(capacity=2)
    barrier = Barrier(20)

    def one(i: int) -> registrations.Registered:
        barrier.wait()
        return registrations.register(SEED_EVENT_ID, partos_registration(email=f"r{i}@example.org"), "en")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(one, range(20)))
    waitlisted = sorted(a.waitlist_position for a in answers if a.status == "waitlisted")
    assert sum(a.status == "confirmed" for a in answers) == 2
    assert waitlisted == list(range(1, 19))
    for answer in answers:  # each answer is the position the registrant's page shows
        if answer.status == "waitlisted":
            assert registrations.registrant_view(answer.registration_id).waitlist_position == answer.waitlist_position


def clock_now():
    from chalicelib import clock

    return clock.now()
