"""Reminders before an event (README, "Event files" and "Emails"; issue 12).

``RunDueJobs`` asks each registration that is confirmed and registered before a reminder's time for
one reminder email (``notifications.reminder_<offset>`` pending, a conditional write); the stream
and ``DeliverEmails`` send it like every other email. The service's clock is moved with ``APP_CLOCK``
(the local stage's pinned clock), as ``make run`` would be started.
"""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest

from chalicelib import clock, delivery, jobs, lifecycle, registrations, store, tokens
from chalicelib.events import parse_event
from chalicelib.invites import invite_uid
from tests.conftest import sent_messages
from tests.staff.conftest import CASES_EVENT, person

EVENT_ID = CASES_EVENT["id"]
ZONE = "Europe/Amsterdam"
#: The test event starts at 14:00 CEST on 5 June 2023 (12:00 UTC); its one-day reminder is due a day earlier.
START_UTC = datetime(2023, 6, 5, 12, 0, tzinfo=UTC)


def set_clock(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    """Pin the service's clock (``APP_CLOCK``, read at every call) so that it reads ``instant`` now."""
    elapsed = time.monotonic() - clock._PROCESS_START
    monkeypatch.setenv("APP_CLOCK", (instant - timedelta(seconds=elapsed)).isoformat())


def publish(**fields):
    event = parse_event({**CASES_EVENT, "questions": [], **fields})
    store.put_event(event)
    return event


def register(name: str, address: str, language: str = "nl") -> registrations.Registered:
    return registrations.register(EVENT_ID, person(name, address) | {"language": language}, language)


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_string(message.raw_data, policy=email.policy.default)


def mail_to(address: str) -> list[email.message.EmailMessage]:
    return [m for m in map(parsed, sent_messages()) if m["To"].addresses[0].addr_spec == address]


def reminders_to(address: str) -> list[email.message.EmailMessage]:
    return [m for m in mail_to(address) if str(m["Subject"]).startswith(("Reminder:", "Herinnering:"))]


def invite(message: email.message.EmailMessage) -> icalendar.Event:
    [part] = [p for p in message.walk() if p.get_filename() == "invite.ics"]
    return icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]


def run_jobs(at: datetime) -> dict:
    return jobs.run_due(at).as_json()


@pytest.fixture
def workshop(aws, pump, monkeypatch):
    """Capacity 3 with a waitlist, one reminder a day before: anna (nl) and bram (en) confirmed, dirk
    promoted after carla cancelled, eva still waitlisted; everyone registered on 1 June."""
    set_clock(monkeypatch, datetime(2023, 6, 1, 8, 0, tzinfo=UTC))
    publish(capacity=3, waitlist=True)
    people = {name: register(name.capitalize(), f"{name}@example.org", language)
              for name, language in (("anna", "nl"), ("bram", "en"), ("carla", "nl"), ("dirk", "en"), ("eva", "nl"))}
    lifecycle.cancel(EVENT_ID, people["carla"].registration_id)
    pump.pump_once()
    statuses = {
        name: store.get_registration_in_event(EVENT_ID, r.registration_id)["status"] for name, r in people.items()
    }
    assert statuses == {
        "anna": "confirmed",
        "bram": "confirmed",
        "carla": "cancelled",
        "dirk": "confirmed",
        "eva": "waitlisted",
    }
    return people


def test_each_confirmed_registrant_gets_one_reminder_and_nobody_else_does(workshop, pump, monkeypatch):
    # GIVEN the reminder's time (12:00 UTC on 4 June, 24 hours before the start) has passed
    due = START_UTC - timedelta(days=1)
    set_clock(monkeypatch, due + timedelta(minutes=3))
    assert run_jobs(due - timedelta(seconds=1)) == {"done": [], "unfinished": []}  # not yet due
    # WHEN the scheduled function runs twice, and the stream is delivered after each
    first = run_jobs(due + timedelta(minutes=2))
    pump.pump_once()
    second = run_jobs(due + timedelta(minutes=7))
    pump.pump_once()
    # THEN one reminder for each confirmed person (dirk was promoted), none for the waitlisted or cancelled
    assert first == {"done": [{"event_id": EVENT_ID, "job": "reminder_1d", "changes": 3}], "unfinished": []}
    assert second == {"done": [], "unfinished": []}
    counts = {name: len(reminders_to(f"{name}@example.org")) for name in workshop}
    assert counts == {"anna": 1, "bram": 1, "carla": 0, "dirk": 1, "eva": 0}
    anna = store.get_registration_in_event(EVENT_ID, workshop["anna"].registration_id)
    assert (
        anna["notifications"]["reminder_1d"]["state"] == "sent" and anna["notifications"]["reminder_1d"]["message_id"]
    )
    assert anna["reminder_1d_due"] == int(due.timestamp())  # asked for this reminder time; once


def test_the_reminder_says_when_and_where_in_the_registrants_language_with_the_invite_and_links(
    workshop, pump, monkeypatch
):
    due = START_UTC - timedelta(days=1)
    set_clock(monkeypatch, due + timedelta(minutes=3))
    run_jobs(due + timedelta(minutes=2))
    pump.pump_once()

    [nl] = reminders_to("anna@example.org")
    [en] = reminders_to("bram@example.org")
    assert str(nl["Subject"]) == "Herinnering: Testevenement, ma 5 jun, 14:00 CEST in Amsterdam"
    assert str(en["Subject"]) == "Reminder: Test event, Mon 5 Jun, 14:00 CEST in Amsterdam"
    assert nl["Content-Language"] == "nl" and en["Content-Language"] == "en"
    text = en.get_body(("plain",)).get_content()
    assert "A reminder: the event you registered for starts in 24 hours." in text
    assert "When: Monday, June 5, 2023, 14:00-17:00 CEST" in text
    assert "Where: Partos, Ellermanstraat 18b, Amsterdam" in text
    assert "Een herinnering: het evenement waarvoor je bent ingeschreven begint over 24 uur." in (
        nl.get_body(("plain",)).get_content()
    )

    # The invite again: the same entry (UID) as the confirmation's, at the event's time.
    bram_id = workshop["bram"].registration_id
    [confirmation] = [m for m in mail_to("bram@example.org") if str(m["Subject"]).startswith("Confirmed:")]
    again, first = invite(en), invite(confirmation)
    assert str(again["UID"]) == str(first["UID"]) == invite_uid(bram_id)
    assert again.decoded("DTSTART") == datetime(2023, 6, 5, 14, 0, tzinfo=again.decoded("DTSTART").tzinfo)
    assert str(again["DTSTART"].params["TZID"]) == ZONE
    assert again.decoded("DTSTART").astimezone(UTC) == START_UTC
    assert int(again["SEQUENCE"]) == int(first["SEQUENCE"]) == 0  # the event did not change
    assert str(again["STATUS"]) == "CONFIRMED"
    [calendar_part] = [p for p in en.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"

    # The check-in code, as in the confirmation: an inline QR code of exactly the code, and the code to read out.
    from chalicelib import checkin, qrcodes
    from tests.test_checkin_emails import code_parts, structure

    spoken, html, [image] = code_parts(en)
    assert (
        spoken.replace(" ", "") == checkin.make_code(EVENT_ID, bram_id) == code_parts(confirmation)[0].replace(" ", "")
    )
    assert (
        image.get_content() == qrcodes.qr_png(spoken.replace(" ", "")).png
        and f'src="cid:{image["Content-ID"][1:-1]}"' in html
    )
    assert "Your code for the door" in text and spoken in text
    assert structure(en) == structure(confirmation)  # text, HTML with the QR code, the iTIP part; invite.ics
    assert checkin.check_in_code(EVENT_ID, spoken, START_UTC).outcome == "checked_in"  # the code works at the door

    # The view and cancel links, with the registrant's token and language.
    links = [line for line in text.splitlines() if line.startswith(("http://", "https://"))]
    status = next(u for u in links if urlsplit(u).path == f"/registrations/{bram_id}")
    cancel = next(u for u in links if urlsplit(u).path == f"/registrations/{bram_id}/cancel")
    for url, purpose, other in ((status, tokens.VIEW, tokens.CANCEL), (cancel, tokens.CANCEL, tokens.VIEW)):
        query = parse_qs(urlsplit(url).query)
        assert query["lang"] == ["en"] and tokens.verify_token(bram_id, query["token"][0], purpose)
        assert not tokens.verify_token(bram_id, query["token"][0], other)  # each link for its purpose only


def test_late_and_cancelled_registrants_get_no_reminder_and_each_reminder_comes_once(aws, pump, monkeypatch):
    # GIVEN two reminders, two days and two hours before; ida registers early, jan between the
    # two reminder times, kees early and cancels
    set_clock(monkeypatch, datetime(2023, 6, 1, 8, 0, tzinfo=UTC))
    publish(capacity=None, waitlist=False, reminders=["2h", "48h"])
    ida = register("Ida", "ida@example.org", "en")
    kees = register("Kees", "kees@example.org")
    set_clock(monkeypatch, START_UTC - timedelta(days=1))
    jan = register("Jan", "jan@example.org", "en")
    lifecycle.cancel(EVENT_ID, kees.registration_id)
    # WHEN the function first runs after both reminder times (it was down meanwhile), twice
    set_clock(monkeypatch, START_UTC - timedelta(minutes=100))
    first = run_jobs(START_UTC - timedelta(minutes=110))
    again = run_jobs(START_UTC - timedelta(minutes=105))
    pump.pump_once()
    # THEN ida gets both, jan only the later one, kees none; each once
    assert first["done"] == [
        {"event_id": EVENT_ID, "job": "reminder_2d", "changes": 1},
        {"event_id": EVENT_ID, "job": "reminder_2h", "changes": 2},
    ]
    assert again == {"done": [], "unfinished": []}
    assert len(reminders_to("ida@example.org")) == 2
    assert [str(m["Subject"]) for m in reminders_to("jan@example.org")] == [
        "Reminder: Test event, Mon 5 Jun, 14:00 CEST in Amsterdam"
    ]
    assert reminders_to("kees@example.org") == []
    assert "reminder_2d" not in store.get_registration_in_event(EVENT_ID, jan.registration_id)["notifications"]
    assert {"reminder_2d", "reminder_2h"} <= set(
        store.get_registration_in_event(EVENT_ID, ida.registration_id)["notifications"]
    )


def test_no_reminder_once_the_event_has_begun(aws, pump, monkeypatch):
    set_clock(monkeypatch, datetime(2023, 6, 1, 8, 0, tzinfo=UTC))
    publish(capacity=None, waitlist=False)
    register("Ida", "ida@example.org")
    # The function was down from before the reminder's time until after the start.
    assert run_jobs(START_UTC + timedelta(minutes=1)) == {
        "done": [{"event_id": EVENT_ID, "job": "reminder_1d", "changes": 0}],
        "unfinished": [],
    }
    pump.pump_once()
    assert reminders_to("ida@example.org") == []


def test_an_event_moved_after_its_reminder_reminds_again_and_a_dropped_reminder_never_runs(aws, pump, monkeypatch):
    set_clock(monkeypatch, datetime(2023, 6, 1, 8, 0, tzinfo=UTC))
    publish(capacity=None, waitlist=False, reminders=["1d", "3d"])
    register("Ida", "ida@example.org", "en")
    run_jobs(START_UTC - timedelta(days=1) + timedelta(minutes=1))
    pump.pump_once()
    assert len(reminders_to("ida@example.org")) == 2
    # The event moves a week later and keeps only its one-day reminder.
    publish(
        capacity=None, waitlist=False, reminders=["24h"], starts_at="2023-06-12T14:00:00", ends_at="2023-06-12T17:00:00"
    )
    entry = next(e for e in store.catalogue_entries() if e["event_id"] == EVENT_ID)
    assert entry["reminders"] == ["1d"] and "due_reminder_3d" in entry  # left behind, but no longer a job
    assert run_jobs(datetime(2023, 6, 11, 11, 59, tzinfo=UTC)) == {"done": [], "unfinished": []}
    set_clock(monkeypatch, datetime(2023, 6, 11, 12, 2, tzinfo=UTC))
    assert run_jobs(datetime(2023, 6, 11, 12, 1, tzinfo=UTC))["done"] == [
        {"event_id": EVENT_ID, "job": "reminder_1d", "changes": 1}
    ]
    pump.pump_once()
    subjects = [str(m["Subject"]) for m in reminders_to("ida@example.org")]
    assert subjects[-1] == "Reminder: Test event, Mon 12 Jun, 14:00 CEST in Amsterdam" and len(subjects) == 3


def test_the_reminder_asks_pass_the_stream_filter_and_nothing_else_of_the_run_does(workshop, pump, monkeypatch):
    from tests.test_stream_filter import matches

    due = START_UTC - timedelta(days=1)
    set_clock(monkeypatch, due + timedelta(minutes=3))
    pump.skip_to_end()
    run_jobs(due + timedelta(minutes=2))
    records = pump._new_records()
    acted_on = [r for r in records if delivery.change_of(r) is not None]
    assert sorted(delivery.change_of(r)[0] for r in acted_on) == ["reminder_1d"] * 3
    assert all(matches(r) for r in acted_on)
    assert [r for r in records if r not in acted_on and matches(r)] == []  # the catalogue's done mark: filtered out


def test_the_reminders_sequence_is_higher_only_when_the_event_changed_since_the_registrants_last_invite(
    aws, pump, monkeypatch
):
    # GIVEN ida registered for 14:00; then the event moved to 15:00 (not announced yet); jan registered after
    set_clock(monkeypatch, datetime(2023, 6, 1, 8, 0, tzinfo=UTC))
    publish(capacity=None, waitlist=False)
    register("Ida", "ida@example.org", "en")
    pump.pump_once()
    assert store.put_event(
        parse_event(
            {**CASES_EVENT, "questions": [], "capacity": None, "waitlist": False, "starts_at": "2023-06-05T15:00:00"}
        )
    ).changed == ("time",)
    register("Jan", "jan@example.org", "en")
    pump.pump_once()
    [ida_confirmed], [jan_confirmed] = mail_to("ida@example.org"), mail_to("jan@example.org")
    assert (int(invite(ida_confirmed)["SEQUENCE"]), int(invite(jan_confirmed)["SEQUENCE"])) == (0, 0)
    # WHEN the reminder goes out (a day before 15:00), and then the change is announced
    due = START_UTC + timedelta(hours=1) - timedelta(days=1)
    set_clock(monkeypatch, due + timedelta(minutes=3))
    assert run_jobs(due + timedelta(minutes=2))["done"] == [{"event_id": EVENT_ID, "job": "reminder_1d", "changes": 2}]
    pump.pump_once()
    assert lifecycle.announce_schedule(EVENT_ID) == 1  # ida only: jan registered with the new time
    pump.pump_once()
    # THEN ida's reminder replaces her entry with the new time (SEQUENCE 1) and the change notice comes
    # after it (2); jan's reminder keeps his entry as it is (0, the new time already)
    [ida_reminder], [jan_reminder] = reminders_to("ida@example.org"), reminders_to("jan@example.org")
    [ida_changed] = [m for m in mail_to("ida@example.org") if str(m["Subject"]).startswith("Changed:")]
    assert [int(invite(m)["SEQUENCE"]) for m in (ida_reminder, ida_changed, jan_reminder)] == [1, 2, 0]
    for message in (ida_reminder, jan_reminder):
        assert invite(message).decoded("DTSTART").astimezone(UTC) == START_UTC + timedelta(hours=1)
        assert str(message["Subject"]) == "Reminder: Test event, Mon 5 Jun, 15:00 CEST in Amsterdam"
    assert store.get_registration_in_event(EVENT_ID, invite_uid_owner(ida_reminder))[store.INVITE_SEQUENCE] == 2


def invite_uid_owner(message) -> str:
    """The registration id of a message's calendar entry (its UID, ``<id>@event-registration``)."""
    return str(invite(message)["UID"]).partition("@")[0]


def test_a_reminder_asked_for_before_a_cancellation_is_withdrawn_not_sent(workshop, pump, monkeypatch):
    # GIVEN the reminder run asked for bram's reminder, and bram cancels before the stream is delivered
    due = START_UTC - timedelta(days=1)
    set_clock(monkeypatch, due + timedelta(minutes=3))
    assert run_jobs(due + timedelta(minutes=2))["done"] == [{"event_id": EVENT_ID, "job": "reminder_1d", "changes": 3}]
    bram = workshop["bram"].registration_id
    assert store.get_registration_in_event(EVENT_ID, bram)["notifications"]["reminder_1d"]["status"] == "confirmed"
    lifecycle.cancel(EVENT_ID, bram)
    # WHEN the stream records (the reminder's, then the cancellation's) are delivered
    pump.pump_once()
    # THEN bram gets the cancellation only; his reminder entry is gone; the others' reminders went out
    assert reminders_to("bram@example.org") == []
    assert [str(m["Subject"]) for m in mail_to("bram@example.org")][-1].startswith("Registration cancelled")
    item = store.get_registration_in_event(EVENT_ID, bram)
    assert "reminder_1d" not in item["notifications"]
    assert (item["status"], item["notifications"]["cancelled"]["state"], item["email_state"]) == (
        "cancelled", "sent", "sent")
    assert {name: len(reminders_to(f"{name}@example.org")) for name in ("anna", "dirk")} == {"anna": 1, "dirk": 1}
    # and a second delivery of the same records changes nothing
    pump.pump_once()
    assert reminders_to("bram@example.org") == []


@pytest.mark.parametrize(("after_start", "english", "dutch"), [
    (timedelta(minutes=30),
     "A reminder: the event you registered for has already started. Your seat is waiting for you.",
     "Een herinnering: het evenement waarvoor je bent ingeschreven is al begonnen. Je plek staat klaar."),
    (timedelta(hours=4), "A reminder of the event you registered for; it has taken place since.",
     "Een herinnering aan het evenement waarvoor je bent ingeschreven; het heeft inmiddels plaatsgevonden."),
])
def test_a_reminder_sent_again_after_the_start_says_it_started_not_starts_in_0_seconds(
    workshop, pump, monkeypatch, after_start, english, dutch
):
    from staff.changes import resend

    due = START_UTC - timedelta(days=1)
    set_clock(monkeypatch, due + timedelta(minutes=3))
    run_jobs(due + timedelta(minutes=2))
    pump.pump_once()
    set_clock(monkeypatch, START_UTC + after_start)
    for name in ("anna", "bram"):
        resend(EVENT_ID, workshop[name].registration_id)
    pump.pump_once()
    [_, nl_again] = reminders_to("anna@example.org")
    [_, en_again] = reminders_to("bram@example.org")
    english_text, dutch_text = (m.get_body(("plain",)).get_content() for m in (en_again, nl_again))
    assert english in english_text and "0 seconds" not in english_text and "starts in" not in english_text
    assert dutch in dutch_text and "0 seconden" not in dutch_text and "begint over" not in dutch_text
