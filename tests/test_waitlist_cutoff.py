"""The waitlist cutoff and the end of an event (README, "Seats, waitlist and cancellation").

Promotions stop at ``waitlist_closes_at`` (default ``starts_at``): after it a cancellation frees no
seat for anyone (the seat count drops, the waitlist stays). After ``ends_at`` a cancellation is
refused (409 ``event-over``) and changes nothing. Both rules are in the writes' conditions (the
counters item carries the cutoff and the end), so a stale definition cannot break them. Those still
waiting at the cutoff get one ``waitlist_closed`` email from the scheduled function, exactly once.

The local clock is pinned (APP_CLOCK), so time "passes" by publishing the event again with its
times moved, as staff ``events put`` would.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime, timedelta

import pytest

from chalicelib import clock, emails, jobs, lifecycle, registrations, store, tokens
from chalicelib.events import EventFileError, parse_event
from tests.conftest import sent_messages
from tests.staff.conftest import CASES_EVENT, person, run

EVENT_ID = CASES_EVENT["id"]


def local_now() -> datetime:
    """The service's clock in the event's zone, naive, to the minute."""
    return clock.now().astimezone(parse_event(CASES_EVENT).zone).replace(tzinfo=None, second=0, microsecond=0)


def publish(*, start: timedelta, end: timedelta, capacity: int = 1, **fields) -> object:
    """Publish the test event (capacity 1, waitlist) with times relative to the service's clock."""
    now = local_now()
    data = {**CASES_EVENT, "capacity": capacity, "waitlist": True, "questions": [], "reminders": [],  # reminders:
            "starts_at": (now + start).isoformat(), "ends_at": (now + end).isoformat()}  # tests/test_reminders.py
    for name, offset in fields.items():
        data[name] = (now + offset).isoformat() if isinstance(offset, timedelta) else offset
    event = parse_event(data)
    store.put_event(event)
    return event


def upcoming(**fields):
    return publish(start=timedelta(days=2), end=timedelta(days=2, hours=3), **fields)


def register(name: str, address: str, language: str = "nl") -> registrations.Registered:
    return registrations.register(EVENT_ID, person(name, address) | {"language": language}, language)


def status_of(registration_id: str) -> str:
    return store.get_registration_in_event(EVENT_ID, registration_id)["status"]


def parsed(message):
    return email.message_from_string(message.raw_data, policy=email.policy.default)


def subjects_to(address: str) -> list[str]:
    return [str(parsed(m)["Subject"]) for m in sent_messages() if parsed(m)["To"].addresses[0].addr_spec == address]


def cancel(client, registration_id: str, **headers):
    return client.http.post(f"/registrations/{registration_id}/cancel",
                            headers={"Content-Type": "application/json", **headers},
                            body=json.dumps({"token": tokens.make_token(registration_id, tokens.CANCEL)}))


@pytest.fixture
def a_and_b(aws, pump):
    """Capacity 1 with a waitlist: A confirmed, B waitlisted (B reads English), their first emails sent."""
    upcoming()
    a = register("Anna", "a@example.org")
    b = register("Bram", "b@example.org", language="en")
    assert (a.status, b.status) == ("confirmed", "waitlisted")
    pump.pump_once()
    assert subjects_to("b@example.org") == ["On the waitlist: Test event"]
    return a, b


@pytest.mark.case("cancel-after-event")
def test_a_cancellation_after_the_event_changes_nothing(client, a_and_b, pump):
    a, b = a_and_b
    publish(start=timedelta(hours=-4), end=timedelta(hours=-1))  # the event is over
    before = store.get_counters(EVENT_ID, consistent=True)

    page = client.http.get(
        f"/registrations/{a.registration_id}/cancel?token={tokens.make_token(a.registration_id, tokens.CANCEL)}"
        "&lang=en",
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 200
    html = page.body.decode()
    assert "This event is over, so the registration can no longer be cancelled." in html and "<form" not in html

    answer = cancel(client, a.registration_id)
    assert answer.status_code == 409
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert json.loads(answer.body) == {
        "type": "/problems/event-over", "title": "Event over", "status": 409,
        "detail": "This event is over, so the registration can no longer be cancelled.",
    }
    browser = client.http.post(f"/registrations/{a.registration_id}/cancel?lang=en",
                               headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
                               body=f"token={tokens.make_token(a.registration_id, tokens.CANCEL)}")
    assert browser.status_code == 409 and "<h1>Event over</h1>" in browser.body.decode()
    staff = run("registrations", "cancel", EVENT_ID, a.registration_id, "--yes")
    assert staff.exit_code == 1 and "is over" in staff.stderr

    assert (status_of(a.registration_id), status_of(b.registration_id)) == ("confirmed", "waitlisted")
    after = store.get_counters(EVENT_ID, consistent=True)
    assert (after.seats_taken, after.waitlisted_count, after.waiting) == (before.seats_taken, 1, before.waiting)
    pump.pump_once()
    assert subjects_to("b@example.org") == ["On the waitlist: Test event"]  # no "A seat is yours"
    assert subjects_to("a@example.org") == ["Bevestiging: Testevenement"]  # no cancellation either


@pytest.mark.case("cancel-after-event")
def test_a_cancellation_while_the_event_runs_frees_no_seat_and_the_waitlist_hears_once(client, a_and_b, pump):
    a, b = a_and_b
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))  # running: past the cutoff (its start)

    answer = cancel(client, a.registration_id)
    assert answer.status_code == 200 and json.loads(answer.body)["changed"] is True
    assert (status_of(a.registration_id), status_of(b.registration_id)) == ("cancelled", "waitlisted")
    counters = store.get_counters(EVENT_ID, consistent=True)
    assert (counters.seats_taken, counters.waitlisted_count) == (0, 1)  # the seat count drops, the waitlist stays
    assert [e.registration_id for e in store.waiting_registrations(EVENT_ID)] == [b.registration_id]
    pump.pump_once()
    assert subjects_to("a@example.org")[-1] == "Inschrijving geannuleerd: Testevenement"
    assert subjects_to("b@example.org") == ["On the waitlist: Test event"]  # no "A seat is yours"

    # The scheduled function, twice: one "no seat came free" email, in B's language.
    first = jobs.run_due(clock.now())
    assert first.as_json() == {"done": [{"event_id": EVENT_ID, "job": "waitlist_closed", "changes": 1}],
                               "unfinished": []}
    pump.pump_once()
    assert jobs.run_due(clock.now()).as_json() == {"done": [], "unfinished": []}
    pump.pump_once()
    assert subjects_to("b@example.org") == ["On the waitlist: Test event", "No seat came free: Test event"]
    [closed] = [m for m in sent_messages() if str(parsed(m)["Subject"]).startswith("No seat came free")]
    message = parsed(closed)
    text = message.get_body(("plain",)).get_content()
    assert "The waitlist has closed and no seat came free for you." in text
    assert "/cancel?" not in text and "Add to Google Calendar" not in text
    assert list(message.iter_attachments()) == []  # no seat: no invite
    item = store.get_registration_in_event(EVENT_ID, b.registration_id)
    assert item["status"] == "waitlisted" and item["notifications"]["waitlist_closed"]["state"] == "sent"

    page = client.http.get(
        f"/registrations/{b.registration_id}?token={tokens.make_token(b.registration_id, tokens.VIEW)}",
        headers={"Accept": "text/html"},
    ).body.decode()
    assert "The waitlist has closed and no seat came free for you." in page


def test_the_waitlist_email_goes_once_even_when_the_cutoff_moves(aws, pump):
    """Publishing a new cutoff makes the job due again; nobody who heard already hears twice."""
    upcoming()
    register("Anna", "a@example.org")
    b = register("Bram", "b@example.org")
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    assert jobs.run_due(clock.now()).done == [(EVENT_ID, "waitlist_closed", 1)]
    publish(start=timedelta(hours=-1), end=timedelta(hours=2), waitlist_closes_at=timedelta(minutes=-30))
    assert jobs.run_due(clock.now()).done == [(EVENT_ID, "waitlist_closed", 0)]  # due again, nobody new
    pump.pump_once()
    assert subjects_to("b@example.org") == ["Op de wachtlijst: Testevenement", "Geen plek vrijgekomen: Testevenement"]
    assert store.get_registration_in_event(EVENT_ID, b.registration_id)["status"] == "waitlisted"


def test_the_job_waits_for_the_cutoff_and_skips_events_without_a_waitlist(aws):
    event = upcoming()
    register("Anna", "a@example.org")
    register("Bram", "b@example.org")
    assert jobs.run_due(clock.now()).done == []  # the cutoff is two days away
    entry = next(e for e in store.catalogue_entries() if e["event_id"] == EVENT_ID)
    assert entry["due_waitlist_closed"] == int(event.utc(event.starts_at).timestamp())
    publish(start=timedelta(hours=-1), end=timedelta(hours=1), waitlist=False)
    entry = next(e for e in store.catalogue_entries() if e["event_id"] == EVENT_ID)
    assert "due_waitlist_closed" not in entry
    assert jobs.run_due(clock.now()).done == []


def test_a_cutoff_before_the_start_closes_the_waitlist_to_newcomers(client, aws, pump):
    """After ``waitlist_closes_at`` a full event answers 409 event-full, even while registration is open."""
    upcoming(waitlist_closes_at=timedelta(days=1))
    register("Anna", "a@example.org")
    b = register("Bram", "b@example.org")
    upcoming(waitlist_closes_at=timedelta(minutes=-5))  # registration still open for two days
    with pytest.raises(store.EventFull):
        register("Carla", "c@example.org")
    answer = client.http.get(f"/events/{EVENT_ID}")
    assert json.loads(answer.body)["registration"]["state"] == "full"
    assert json.loads(answer.body)["registration"]["waitlist_open"] is False
    assert [e.registration_id for e in store.waiting_registrations(EVENT_ID)] == [b.registration_id]


def test_the_writes_conditions_decide_not_a_stale_definition(aws, pump):
    """A function instance that still has the old definition (cutoff and end in the future) cannot promote
    after the cutoff nor cancel after the end: the counters item's condition refuses, the retry obeys."""
    stale = upcoming()
    a = register("Anna", "a@example.org")
    b = register("Bram", "b@example.org")
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    result = lifecycle.cancel(EVENT_ID, a.registration_id, event=stale)
    assert (result.changed, result.promoted_id) == (True, None)
    assert status_of(b.registration_id) == "waitlisted"
    assert store.get_counters(EVENT_ID, consistent=True).seats_taken == 0

    publish(start=timedelta(hours=-3), end=timedelta(minutes=-1))
    with pytest.raises(store.EventOver):
        lifecycle.cancel(EVENT_ID, b.registration_id, event=stale)
    assert status_of(b.registration_id) == "waitlisted"
    assert store.get_counters(EVENT_ID, consistent=True).waitlisted_count == 1


def test_a_promotion_past_the_cutoff_fails_its_condition(aws):
    """The transaction itself refuses to hand on a seat after the cutoff (no read involved)."""
    upcoming()
    a = register("Anna", "a@example.org")
    b = register("Bram", "b@example.org")
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    item = store.get_registration_in_event(EVENT_ID, a.registration_id)
    head = store.waitlist_head(EVENT_ID)
    assert head.registration_id == b.registration_id
    with pytest.raises(store.Busy) as refused:
        store.cancel_transition(item, clock.now().isoformat(), "registrant", head=head)
    assert refused.value.counters.promotions_closed(clock.now())
    assert (status_of(a.registration_id), status_of(b.registration_id)) == ("confirmed", "waitlisted")
    with pytest.raises(store.EventFull):
        store.promote_transition(EVENT_ID, head, clock.now().isoformat())


def test_more_seats_after_the_cutoff_promote_nobody(aws):
    upcoming()
    register("Anna", "a@example.org")
    b = register("Bram", "b@example.org")
    publish(start=timedelta(hours=-1), end=timedelta(hours=2), capacity=5)
    assert lifecycle.fill_free_seats(EVENT_ID) == 0
    assert status_of(b.registration_id) == "waitlisted"


def test_erasure_after_the_event_still_works_and_promotes_nobody(aws):
    upcoming()
    a = register("Anna", "a@example.org")
    b = register("Bram", "b@example.org")
    publish(start=timedelta(hours=-4), end=timedelta(hours=-1))
    result = lifecycle.erase(EVENT_ID, a.registration_id, delete_guard=True)
    assert (result.freed_seat, result.promoted_id) == (True, None)
    assert (status_of(a.registration_id), status_of(b.registration_id)) == ("erased", "waitlisted")
    assert store.get_counters(EVENT_ID, consistent=True).seats_taken == 0


def test_before_the_cutoff_a_cancellation_still_promotes(client, a_and_b, pump):
    a, b = a_and_b
    publish(start=timedelta(hours=1), end=timedelta(hours=3), waitlist_closes_at=timedelta(minutes=30))
    assert cancel(client, a.registration_id).status_code == 200
    assert status_of(b.registration_id) == "confirmed"
    pump.pump_once()
    assert subjects_to("b@example.org")[-1] == "A seat is yours: Test event"


def test_waitlist_closes_at_defaults_to_the_start_and_is_not_after_the_end():
    event = parse_event({**CASES_EVENT})
    assert event.waitlist_closes_local == event.starts_at
    assert parse_event({**CASES_EVENT, "waitlist_closes_at": "2023-06-05T15:30"}).waitlist_closes_local == datetime(
        2023, 6, 5, 15, 30)
    with pytest.raises(EventFileError) as refused:
        parse_event({**CASES_EVENT, "waitlist_closes_at": "2023-06-05T17:01"})
    assert refused.value.problems == [("waitlist_closes_at", "Value error, waitlist_closes_at must not be after "
                                       "ends_at: nobody can take a seat after the event")]


def test_the_app_registers_the_scheduled_function_and_the_local_service_calls_it(aws, pump):
    from app import app
    from localservice.schedule import ScheduleRunner

    upcoming()
    register("Anna", "a@example.org")
    register("Bram", "b@example.org")
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    ticks = iter([100.0, 105.0, 110.5])
    runner = ScheduleRunner(app.handler_map["RunDueJobs"], "eu-west-1", every_seconds=10, monotonic=lambda: next(ticks))
    assert runner.run_if_due() == {"done": [{"event_id": EVENT_ID, "job": "waitlist_closed", "changes": 1}],
                                   "unfinished": []}
    assert runner.run_if_due() is None  # 5 s later: not yet
    assert runner.run_if_due() == {"done": [], "unfinished": []}
    pump.pump_once()
    assert subjects_to("b@example.org")[-1] == "Geen plek vrijgekomen: Testevenement"


def test_a_run_cut_short_carries_on_next_time(aws):
    upcoming(capacity=1)
    register("Anna", "a@example.org")
    waiting = [register(f"P{n}", f"p{n}@example.org") for n in range(3)]
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    asked = iter([False, True])
    first = jobs.run_due(clock.now(), should_stop=lambda: next(asked, True))
    assert first.unfinished == [(EVENT_ID, "waitlist_closed")] and first.done == []
    second = jobs.run_due(clock.now())
    assert second.done == [(EVENT_ID, "waitlist_closed", 2)]
    marked = [store.get_registration_in_event(EVENT_ID, w.registration_id)["notifications"].get("waitlist_closed")
              for w in waiting]
    assert all(entry and entry["state"] == "pending" for entry in marked)


def test_the_kinds_table_has_the_waitlist_closed_email():
    assert emails.SUBJECTS["waitlist_closed"] == {"nl": "Geen plek vrijgekomen: {title}",
                                                  "en": "No seat came free: {title}"}


def _bodies(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def test_asking_to_cancel_promises_the_seat_to_someone_else_only_while_someone_can_get_it(client, aws, pump):
    """Past the waitlist cutoff with registration closed (or with no capacity at all) a seat given up
    goes to nobody: the reminder, the other emails and the cancel page then ask to cancel so the
    organiser need not expect you, not "so someone else gets your seat" (a tester's finding)."""
    def asked(event, when):
        registration = {"registration_id": "r1", "name": "Anna", "email": "a@example.org", "language": "en",
                        "status": "confirmed"}
        outgoing = emails.build_email(event=event, registration=registration, change="reminder_1d",
                                      sender="Events <events@example.org>", base_url="https://x.example/api",
                                      view_token="v", cancel_token="c", now=when)
        return _bodies(outgoing.raw)

    def cancel_page(registration_id):
        token = tokens.make_token(registration_id, tokens.CANCEL)
        page = client.http.get(f"/registrations/{registration_id}/cancel?token={token}&lang=en",
                               headers={"Accept": "text/html"})
        assert page.status_code == 200
        return page.body.decode()

    event = upcoming()
    a = register("Anna", "a@example.org", language="en")
    text, html = asked(event, clock.now())
    assert "Please cancel so someone else gets your seat:" in text and " so someone else gets your seat.</p>" in html
    assert "Your seat will go to someone else." in cancel_page(a.registration_id)

    # The waitlist closed a day before the start, registration stays open: a newcomer can take the seat.
    open_after_cutoff = upcoming(waitlist_closes_at=timedelta(hours=-1))
    assert "so someone else gets your seat" in asked(open_after_cutoff, clock.now())[0]

    # Running (past the cutoff, registration closed): nobody can get it.
    running = publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    text, html = asked(running, clock.now())
    assert "Please cancel so we know not to expect you:" in text and " so we know not to expect you.</p>" in html
    assert "someone else" not in text + html
    page = cancel_page(a.registration_id)
    assert "Are you sure you want to cancel your registration? We will then no longer expect you." in page
    assert "someone else" not in page

    # Seats without a waitlist, registration closed before the start: nobody can take the seat (a tester's find:
    # the cutoff defaults to the start, so "before the cutoff" alone promised it to a waitlist there is not).
    no_waitlist = publish(start=timedelta(days=2), end=timedelta(days=2, hours=3), capacity=5, waitlist=False,
                          registration_closes_at=timedelta(hours=-1))
    assert "Please cancel so we know not to expect you:" in asked(no_waitlist, clock.now())[0]
    assert "so someone else gets your seat" in asked(
        publish(start=timedelta(days=2), end=timedelta(days=2, hours=3), capacity=5, waitlist=False),
        clock.now())[0]  # registration still open: a newcomer can

    # No capacity: nobody is waiting for a seat, before the cutoff too.
    unlimited = publish(start=timedelta(days=2), end=timedelta(days=2, hours=3), capacity=None, waitlist=False)
    assert "Please cancel so we know not to expect you:" in asked(unlimited, clock.now())[0]
    dutch = emails.build_email(event=unlimited, registration={
        "registration_id": "r2", "name": "Bram", "email": "b@example.org", "language": "nl", "status": "confirmed"},
        change="registered", sender="Events <events@example.org>", base_url="https://x.example/api",
        view_token="v", cancel_token="c", now=clock.now())
    assert "Kun je toch niet komen? Annuleer dan, zodat we weten dat je niet komt:" in _bodies(dutch.raw)[0]
    pump.pump_once()


def test_the_page_of_someone_still_waiting_past_the_cutoff_asks_nothing_of_them(client, a_and_b, pump):
    """It told them to use the "Leave the waitlist" link in their email, which the "No seat came free"
    email does not have; that email says they need not do anything (a tester's finding)."""
    _, b = a_and_b
    publish(start=timedelta(hours=-1), end=timedelta(hours=2))  # running: past the cutoff
    view = tokens.make_token(b.registration_id, tokens.VIEW)
    page = client.http.get(f"/registrations/{b.registration_id}?token={view}&lang=en", headers={"Accept": "text/html"})
    html = page.body.decode()
    assert page.status_code == 200 and "The waitlist has closed and no seat came free for you." in html
    assert "Leave the waitlist" not in html and "in your email" not in html


def test_a_change_of_place_after_the_cutoff_promises_no_seat_to_those_still_waiting(client, a_and_b, pump, aws):
    """B was told "No seat came free"; a new place published after the cutoff sent B "You are still on
    the waitlist ... We will email you as soon as a seat is yours" (a tester's find). Only A, holding a
    seat, is told now."""
    from staff.operations import put_event

    running = publish(start=timedelta(hours=-1), end=timedelta(hours=2))
    jobs.run_due(clock.now())
    pump.pump_once()
    assert subjects_to("b@example.org")[-1] == "No seat came free: Test event"
    moved = running.model_copy(update={"location": running.location.model_copy(update={"name": "Zaal 2"})})
    outcome = put_event(moved, settle=0)
    assert (outcome.changed, outcome.told) == (("place",), 1)
    pump.pump_once()
    assert subjects_to("b@example.org")[-1] == "No seat came free: Test event"
    assert subjects_to("a@example.org")[-1].startswith("Gewijzigd")
