"""Calendar invites as iTIP scheduling messages (README, "Emails", calendar invites), read by Mozilla's ical.js.

Every kind of email in both languages; one registration through its whole life (a waitlist place,
an event change, the promotion, the cancellation) with one UID and a rising SEQUENCE; a changed time
that moves the entry. The seed workshop is 14:00-17:00 CEST, 12:00-15:00 UTC.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import emails, store, tokens
from chalicelib.events import load_event_file
from tests import icaljs
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json, sent_messages
from tests.test_capacity import small_event

SEED = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
NOW = datetime(2023, 5, 22, 7, 0, tzinfo=UTC)
SENDER = "Partos Events <events@partos.example.org>"
PREVIOUS = {"starts_at": "2023-06-05T11:00:00Z", "ends_at": "2023-06-05T14:00:00Z", "timezone": "Europe/Amsterdam",
            "place": "Elders, Straat 1, Utrecht", "country": "NL"}


@pytest.fixture(autouse=True)
def token_keys(monkeypatch):
    """A signing key for the emails built here without the ``aws`` fixture (which sets the local stage's)."""
    monkeypatch.setenv("TOKEN_KEYS", "k1:calendar-test-secret")


def message_of(raw: bytes | str) -> email.message.EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    return email.message_from_bytes(data, policy=email.policy.default)


def calendar_parts(message) -> tuple[list[str], list[bytes]]:
    """``(text/calendar parts inside multipart/alternative, invite.ics attachments)``."""
    inline = [p.get_content() for p in message.walk() if p.get_content_type() == "text/calendar"]
    attached = [p.get_content() for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    return inline, attached


def build(change: str, status: str, language: str, *, name: str = "Anna de Vries", sequence: int = 3, **extra):
    registration = {"registration_id": "r-1", "name": name, "email": "anna@example.org", "language": language,
                    "status": status, **extra}
    return emails.build_email(
        event=SEED, registration=registration, change=change, sender=SENDER, base_url="https://api.example.org",
        view_token=tokens.make_token("r-1", tokens.VIEW), cancel_token=tokens.make_token("r-1", tokens.CANCEL),
        now=NOW, waitlist_position=2, sequence=sequence,
        update={"changes": ["place"], "previous": PREVIOUS} if change == "updated" else None,
    )


def assert_scheduling_message(read: dict, *, method: str, uid: str, sequence: int, attendee: str,
                              attendee_name: str, start: str = "2023-06-05T12:00:00Z",
                              end: str = "2023-06-05T15:00:00Z") -> dict:
    """What ical.js read is one event of the registration as README "Emails" says it is; returns the event."""
    assert read["method"] == method
    assert read["timezones"] == ["Europe/Amsterdam"]
    [event] = read["events"]
    assert event["uid"] == uid
    assert event["sequence"] == sequence
    assert event["status"] == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    assert (event["start_utc"], event["end_utc"], event["start_tzid"]) == (start, end, "Europe/Amsterdam")
    # ORGANIZER: the sending identity, with the organiser's name (README, "Emails": From and ORGANIZER agree)
    assert event["organizer"] == {"value": "mailto:events@partos.example.org", "params": {"CN": "Partos"}}
    [person] = event["attendees"]
    assert person["value"] == f"mailto:{attendee}"
    expected = {"CN": attendee_name, "CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"}
    if method == "REQUEST":
        expected["PARTSTAT"] = "ACCEPTED"
    assert person["params"] == expected
    return event


def assert_view_link_only(event: dict, registration_id: str) -> None:
    """The entry's URL is the status page with a token that can view and nothing else (calendars are shared)."""
    url = urlsplit(event["url"])
    assert url.path.endswith(f"/registrations/{registration_id}")
    token = parse_qs(url.query)["token"][0]
    assert tokens.verify_token(registration_id, token, tokens.VIEW)
    assert not tokens.verify_token(registration_id, token, tokens.CANCEL)
    assert not tokens.verify_token(registration_id, token, tokens.CHECKIN)


# ------------------------------------------------------------------ every kind, both languages


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_kind_of_email_carries_the_right_calendar_part(language):
    icaljs.require_icaljs()
    cases = [(change, status, extra) for change, status in emails.EMAIL_CASES
             for extra in ([{}, {"cancelled_from": "waitlisted"}] if change == "cancelled" else [{}])]
    built = {(change, status, tuple(extra.items())): build(change, status, language, **extra)
             for change, status, extra in cases}
    with_calendar = {}
    for key, outgoing in built.items():
        inline, attached = calendar_parts(message_of(outgoing.raw))
        _change, status, extra = key
        if status == "waitlisted" or dict(extra).get("cancelled_from") == "waitlisted":
            assert (inline, attached) == ([], []), key  # no seat, no calendar entry: nothing to add or cancel
            continue
        [ics] = inline
        [file] = attached
        assert file.decode("utf-8") == ics  # the attachment is the same scheduling message
        with_calendar[key] = ics
    assert {k[:2] for k in with_calendar} == {("registered", "confirmed"), ("promoted", "confirmed"),
                                              ("cancelled", "cancelled"), ("updated", "confirmed"),
                                              ("reminder_1d", "confirmed")}
    for key, read in zip(with_calendar, icaljs.parse(list(with_calendar.values())), strict=True):
        method = "CANCEL" if key[0] == "cancelled" else "REQUEST"
        event = assert_scheduling_message(read, method=method, uid="r-1@event-registration", sequence=3,
                                          attendee="anna@example.org", attendee_name="Anna de Vries")
        assert_view_link_only(event, "r-1")
        assert f"lang={language}" in event["url"]
        assert event["summary"] == SEED.title.get(language, "nl")
        assert event["location"] == "Partos, Ellermanstraat 18b, Amsterdam"


def test_hostile_names_stay_one_attendee_in_icaljs():
    names = [
        'Zoë "Z" Ødegård, MSc (NL)',
        "a;ROLE=CHAIR:mailto:evil@evil.example",
        'x"\r\nATTENDEE:mailto:evil@evil.example',
        "caret ^ and ^n and ^'",
        "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGU=?=",
        "李小龍 🙂",
        "line\u2028sep",
    ]
    texts = [calendar_parts(message_of(build("registered", "confirmed", "en", name=name).raw))[0][0] for name in names]
    for name, read in zip(names, icaljs.parse(texts), strict=True):
        [person] = read["events"][0]["attendees"]
        assert person["value"] == "mailto:anna@example.org"
        assert person["params"].get("CN", "") == emails.header_display_name(name)
        assert set(person["params"]) <= {"CN", "CUTYPE", "ROLE", "PARTSTAT", "RSVP"}
        assert person["params"]["ROLE"] == "REQ-PARTICIPANT"


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=80), organiser=st.text(min_size=1, max_size=60).filter(str.strip))
def test_any_name_gives_one_attendee_and_one_organizer(name, organiser):
    """In-process with icalendar's parser: whatever the names, the properties are exactly ours."""
    event = SEED.model_copy(update={"organiser": SEED.organiser.model_copy(update={"name": organiser})})
    registration = {"registration_id": "r-1", "name": name, "email": "anna@example.org", "language": "en",
                    "status": "confirmed"}
    outgoing = emails.build_email(event=event, registration=registration, change="registered", sender=SENDER,
                                  base_url="https://api.example.org", view_token="k1.v", cancel_token="k1.c", now=NOW)
    [ics] = calendar_parts(message_of(outgoing.raw))[0]
    [vevent] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert [
        str(a) for a in ([vevent["ATTENDEE"]] if not isinstance(vevent["ATTENDEE"], list) else vevent["ATTENDEE"])
    ] == ["mailto:anna@example.org"]
    assert str(vevent["ORGANIZER"]) == "mailto:events@partos.example.org"
    assert vevent["ATTENDEE"].params.get("CN", "") == emails.header_display_name(emails.greeting_name(name))
    assert vevent["ORGANIZER"].params.get("CN", "") == emails.header_display_name(organiser)
    assert sorted(vevent.keys()) == sorted(["SUMMARY", "DTSTART", "DTEND", "DTSTAMP", "UID", "SEQUENCE", "ATTENDEE",
                                            "DESCRIPTION", "LAST-MODIFIED", "LOCATION", "ORGANIZER", "STATUS",
                                            "TRANSP", "URL"])


# ------------------------------------------------------------------ through the real path


def register(client, address: str, **fields) -> str:
    answer = post_json(client, partos_registration(email=address, **fields))
    assert answer.status_code == 201, answer.body
    return json.loads(answer.body)["registration_id"]


def cancel(client, registration_id: str) -> None:
    answer = client.http.post(f"/registrations/{registration_id}/cancel", headers={"Content-Type": "application/json"},
                              body=json.dumps({"token": tokens.make_token(registration_id, tokens.CANCEL)}))
    assert answer.status_code == 200, answer.body


def calendar_messages_to(address: str) -> list[tuple[str, str | None]]:
    """``(subject, text/calendar part or None)`` of every email sent to ``address``, oldest first."""
    found = []
    for sent in sent_messages():
        message = message_of(sent.raw_data)
        if message["To"].addresses[0].addr_spec == address:
            inline, _ = calendar_parts(message)
            found.append((message["Subject"], inline[0] if inline else None))
    return found


def test_one_registration_keeps_its_uid_and_raises_its_sequence(client, aws, pump, monkeypatch):
    """Waitlisted, told of a new place, promoted, cancelled: one UID, a higher SEQUENCE each time."""
    from staff.operations import put_event

    event = small_event(1)
    anna = register(client, "anna@example.org", language="en")
    bob = register(client, "bob@example.org", name="Bob Jansen")
    pump.pump_once()
    moved = event.model_copy(update={"location": event.location.model_copy(update={"name": "Partos, zaal 2"})})
    outcome = put_event(moved, settle=0)
    assert (outcome.changed, outcome.told) == (("place",), 2)
    pump.pump_once()
    cancel(client, anna)  # Bob gets the seat
    pump.pump_once()
    pump.pump_once()
    cancel(client, bob)
    pump.pump_once()

    anna_mail = calendar_messages_to("anna@example.org")
    bob_mail = calendar_messages_to("bob@example.org")
    assert [s.split(":")[0] for s, _ in anna_mail] == ["Confirmed", "Changed", "Registration cancelled"]
    assert [s.split(":")[0] for s, _ in bob_mail] == ["Op de wachtlijst", "Gewijzigd", "Er is een plek voor je",
                                                      "Inschrijving geannuleerd"]
    # Bob waited: no entry to add, none to change; then a REQUEST, then its CANCEL.
    assert [ics is None for _, ics in bob_mail] == [True, True, False, False]
    anna_read = icaljs.parse([ics for _, ics in anna_mail])
    bob_read = icaljs.parse([ics for _, ics in bob_mail if ics])
    for read, method, sequence in zip(anna_read, ["REQUEST", "REQUEST", "CANCEL"], [0, 1, 2], strict=True):
        assert_scheduling_message(read, method=method, uid=f"{anna}@event-registration", sequence=sequence,
                                  attendee="anna@example.org", attendee_name="Anna de Vries")
    assert [r["events"][0]["location"] for r in anna_read] == [
        "Partos, Ellermanstraat 18b, Amsterdam", "Partos, zaal 2, Ellermanstraat 18b, Amsterdam",
        "Partos, zaal 2, Ellermanstraat 18b, Amsterdam"]
    for read, method, sequence in zip(bob_read, ["REQUEST", "CANCEL"], [2, 3], strict=True):
        assert_scheduling_message(read, method=method, uid=f"{bob}@event-registration", sequence=sequence,
                                  attendee="bob@example.org", attendee_name="Bob Jansen")
    # the items keep the sequence the last message carried
    assert store.get_registration_in_event(SEED_EVENT_ID, anna)[store.INVITE_SEQUENCE] == 2
    assert store.get_registration_in_event(SEED_EVENT_ID, bob)[store.INVITE_SEQUENCE] == 3


def test_a_changed_time_moves_the_entry(client, seed_event, pump):
    from staff.operations import put_event

    anna = register(client, "anna@example.org")
    pump.pump_once()
    later = seed_event.model_copy(update={"starts_at": seed_event.starts_at + timedelta(hours=1),
                                          "ends_at": seed_event.ends_at + timedelta(hours=1, minutes=30)})
    put_event(later, settle=0)
    pump.pump_once()
    [(_, first), (subject, update)] = calendar_messages_to("anna@example.org")
    assert subject == "Gewijzigd: Workshop Best Practices ‘Engagement en mobilisatie’"
    before, after = icaljs.parse([first, update])
    assert_scheduling_message(before, method="REQUEST", uid=f"{anna}@event-registration", sequence=0,
                              attendee="anna@example.org", attendee_name="Anna de Vries")
    assert_scheduling_message(after, method="REQUEST", uid=f"{anna}@event-registration", sequence=1,
                              attendee="anna@example.org", attendee_name="Anna de Vries",
                              start="2023-06-05T13:00:00Z", end="2023-06-05T16:30:00Z")


@pytest.mark.parametrize("name", ["\\", "a\\", "Zoë \\\\ Ødegård"])
def test_a_name_with_a_backslash_has_no_cn_and_no_display_name(name):
    """Found by the property above: ``CN=a\\;CUTYPE=...`` made icalendar read one parameter."""
    registration = {"registration_id": "r-1", "name": name, "email": "anna@example.org", "language": "en",
                    "status": "confirmed"}
    outgoing = emails.build_email(event=SEED, registration=registration, change="registered", sender=SENDER,
                                  base_url="https://api.example.org", view_token="k1.v", cancel_token="k1.c", now=NOW)
    message = message_of(outgoing.raw)
    [ics] = calendar_parts(message)[0]
    [vevent] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert "CN" not in vevent["ATTENDEE"].params
    assert vevent["ATTENDEE"].params["CUTYPE"] == "INDIVIDUAL"
    assert str(message["To"]) == "anna@example.org"
