"""Seats and the waitlist under concurrency: never overbook, promote first come first served."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import lifecycle, registrations, store
from chalicelib.events import load_event_file
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json


def small_event(capacity: int, waitlist: bool = True, event_id: str = SEED_EVENT_ID):
    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    event = event.model_copy(update={"capacity": capacity, "waitlist": waitlist, "show_seats": "exact"})
    store.put_event(event)
    return event


def items_by_status(event_id=SEED_EVENT_ID):
    result = {"confirmed": [], "waitlisted": [], "cancelled": []}
    for item in store.iter_registrations(event_id, consistent=True):
        result[item["status"]].append(item)
    return result


def register_many(count: int, prefix: str = "person"):
    def one(i):
        return registrations.register(
            SEED_EVENT_ID, partos_registration(name=f"P{i}", email=f"{prefix}{i}@example.org"), "en"
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(one, range(count)))


def test_hundred_concurrent_registrations_for_25_seats(aws, pump):
    small_event(25)
    outcomes = register_many(100)
    confirmed = [o for o in outcomes if o.status == "confirmed"]
    waitlisted = [o for o in outcomes if o.status == "waitlisted"]
    assert len(confirmed) == 25 and len(waitlisted) == 75
    stored = items_by_status()
    assert len(stored["confirmed"]) == 25 and len(stored["waitlisted"]) == 75
    assert sorted(i["waitlist_ticket"] for i in stored["waitlisted"]) == list(range(1, 76))
    ticket_of = {i["registration_id"]: i["waitlist_ticket"] for i in stored["waitlisted"]}
    # Answered: the place when the ticket was taken (1 + all then waiting, who all hold lower tickets):
    # never behind the final place, and in ticket order. Read now: exactly the ticket's rank.
    answered = sorted((ticket_of[o.registration_id], o.waitlist_position) for o in waitlisted)
    assert [p for _, p in answered] == sorted(p for _, p in answered) and answered[0][1] == 1
    assert all(1 <= position <= ticket for ticket, position in answered)
    assert [registrations.registrant_view(o.registration_id).waitlist_position for o in sorted(
        waitlisted, key=lambda o: ticket_of[o.registration_id])] == list(range(1, 76))
    counters = store.get_counters(SEED_EVENT_ID, consistent=True)
    assert counters.seats_taken == 25 and counters.waitlisted_count == 75

    by_ticket = {i["waitlist_ticket"]: i["registration_id"] for i in stored["waitlisted"]}
    victims = [i["registration_id"] for i in stored["confirmed"][:10]]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda r: lifecycle.cancel(SEED_EVENT_ID, r), victims))
    assert all(r.changed for r in results)
    assert sorted(r.promoted_id for r in results) == sorted(by_ticket[t] for t in range(1, 11))
    after = items_by_status()
    assert len(after["confirmed"]) == 25 and len(after["waitlisted"]) == 65 and len(after["cancelled"]) == 10
    assert {i["registration_id"] for i in after["confirmed"]} >= {by_ticket[t] for t in range(1, 11)}
    counters = store.get_counters(SEED_EVENT_ID, consistent=True)
    assert counters.seats_taken == 25 and counters.waitlisted_count == 65
    # the next in line is now first
    assert registrations.registrant_view(by_ticket[11]).waitlist_position == 1


@pytest.mark.case("last-seat-race")
def test_last_seat_race(aws):
    small_event(2)
    outcomes = register_many(20)
    assert sorted(o.status for o in outcomes).count("confirmed") == 2
    waiting = sorted((o for o in outcomes if o.status == "waitlisted"),
                     key=lambda o: store.get_registration_in_event(SEED_EVENT_ID, o.registration_id)["waitlist_ticket"])
    assert [registrations.registrant_view(o.registration_id).waitlist_position for o in waiting] == list(range(1, 19))
    stored = items_by_status()
    assert store.get_counters(SEED_EVENT_ID, consistent=True).seats_taken == len(stored["confirmed"]) == 2


def test_full_event_without_waitlist_is_409(client, aws):
    small_event(1, waitlist=False)
    assert post_json(client, partos_registration(email="a@example.org")).status_code == 201
    answer = post_json(client, partos_registration(email="b@example.org", language="en"))
    assert answer.status_code == 409
    assert json.loads(answer.body) == {
        "type": "/problems/event-full", "title": "Event full", "status": 409,
        "detail": "All seats are taken and this event has no waitlist.",
    }
    assert json.loads(client.http.get(f"/events/{SEED_EVENT_ID}").body)["registration"] == {
        "open": False, "state": "full", "seats_left": 0, "seats": "full", "waitlist": False,
        "waitlist_open": False, "opens_text": None, "closes_text": "5 juni 2023 14:00 CEST",
    }
    page = client.http.get(f"/events/{SEED_EVENT_ID}/register?lang=en").body.decode()
    assert "This event is full." in page and 'id="registration-form"' not in page
    assert 'action="../../events/partos-engagement-mobilisatie-2023/resend?lang=en"' in page  # lost the email?
    assert len(items_by_status()["confirmed"]) == 1


def test_waitlisted_answer_and_seats_left(client, aws):
    small_event(1)
    post_json(client, partos_registration(email="a@example.org"))
    answer = post_json(client, partos_registration(email="b@example.org"))
    body = json.loads(answer.body)
    assert answer.status_code == 201 and body["status"] == "waitlisted" and body["waitlist_position"] == 1
    assert json.loads(client.http.get(f"/events/{SEED_EVENT_ID}").body)["registration"]["seats_left"] == 0


def test_waitlisted_registrant_who_cancels_is_never_promoted(aws):
    small_event(1)
    a, b, c = register_many(1, "a") + register_many(1, "b") + register_many(1, "c")
    assert (a.status, b.status, c.status) == ("confirmed", "waitlisted", "waitlisted")
    assert lifecycle.cancel(SEED_EVENT_ID, b.registration_id).changed
    assert registrations.registrant_view(c.registration_id).waitlist_position == 1
    result = lifecycle.cancel(SEED_EVENT_ID, a.registration_id)
    assert result.promoted_id == c.registration_id
    assert store.get_registration_in_event(SEED_EVENT_ID, b.registration_id)["status"] == "cancelled"
    assert store.get_counters(SEED_EVENT_ID, consistent=True).waitlisted_count == 0


def test_capacity_increase_fills_free_seats_in_order(aws):
    event = small_event(1)
    outcomes = register_many(1, "first") + register_many(1, "second") + register_many(1, "third")
    store.put_event(event.model_copy(update={"capacity": 2}))
    assert lifecycle.fill_free_seats(SEED_EVENT_ID) == 1
    assert store.get_registration_in_event(SEED_EVENT_ID, outcomes[1].registration_id)["status"] == "confirmed"
    assert store.get_registration_in_event(SEED_EVENT_ID, outcomes[2].registration_id)["status"] == "waitlisted"
    assert store.get_counters(SEED_EVENT_ID, consistent=True).seats_taken == 2


def test_cancelled_person_may_register_again(aws):
    small_event(5)
    [first] = register_many(1, "again")
    lifecycle.cancel(SEED_EVENT_ID, first.registration_id)
    [second] = register_many(1, "again")
    assert second.status == "confirmed" and second.registration_id != first.registration_id
