"""Anti-spam that never loses a person: the minimum fill time refuses with 422, never drops; the
honeypot is quiet and answers exactly as a person's post would be answered (README, "The registration page")."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import pytest

from chalicelib import antispam, store
from chalicelib.validation import RegistrationInvalid
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json, sent_messages

URL = f"/events/{SEED_EVENT_ID}/registrations"
FORM = "application/x-www-form-urlencoded; charset=UTF-8"
TOO_FAST_EN = {
    "type": "/problems/validation-failed", "title": "Invalid fields", "status": 422,
    "detail": "One or more fields are invalid; see errors.",
    "errors": [{"field": "form_started_at", "code": "too_fast",
                "message": "Please check your answers and send the form again."}],
}


def stored(event_id: str = SEED_EVENT_ID) -> list[dict]:
    return list(store.iter_registrations(event_id, consistent=True))


def form_body(**fields) -> str:
    base = {"name": "Anna de Vries", "email": "anna@example.org", "language": "nl", "consent": "true",
            "organisation": "Wilde Ganzen", "role": "campaigner"}
    return urlencode({**base, **fields})


def post_form(client, body: str, lang: str = "nl"):
    return client.http.post(f"{URL}?lang={lang}", headers={"Content-Type": FORM}, body=body)


def json_problem(answer) -> dict:
    assert answer.headers["Content-Type"] == "application/problem+json"
    return json.loads(answer.body)


# ------------------------------------------------------------------ the start time: seconds or milliseconds


@pytest.mark.case("millisecond-start-time")
def test_start_time_in_milliseconds_from_a_minute_ago_registers_and_emails(client, seed_event, pump):
    started_ms = int((time.time() - 60) * 1000)  # what JavaScript's Date.now() gave when the page loaded
    answer = post_json(client, partos_registration(form_started_at=started_ms))
    assert answer.status_code == 201
    registration_id = json.loads(answer.body)["registration_id"]
    [item] = stored()
    assert item["registration_id"] == registration_id and item["email"] == "anna@example.org"
    pump.pump_once()
    [sent] = sent_messages()
    assert {a.rpartition("<")[2].rstrip(">") for a in sent.destinations} == {"anna@example.org"}


@pytest.mark.case("millisecond-start-time")
def test_form_post_with_a_millisecond_start_time_is_stored(client, seed_event):
    answer = post_form(client, form_body(form_started_at=str(int((time.time() - 60) * 1000))))
    assert answer.status_code == 303 and answer.headers["Location"].startswith("thanks?lang=nl&ref=")
    assert len(stored()) == 1


@pytest.mark.case("millisecond-start-time")
def test_milliseconds_sent_too_fast_are_judged_like_seconds(client, seed_event):
    answer = post_json(client, partos_registration(form_started_at=int(time.time() * 1000), language="en"))
    assert answer.status_code == 422 and json_problem(answer) == TOO_FAST_EN
    assert stored() == []


def test_seconds_and_milliseconds_are_told_apart_at_1e11():
    assert antispam.started_seconds(1_684_738_800) == 1_684_738_800
    assert antispam.started_seconds(1_684_738_800_123) == pytest.approx(1_684_738_800.123)
    assert antispam.started_seconds(100_000_000_000) == 100_000_000_000  # the year 5138 in seconds: still seconds
    assert antispam.started_seconds(100_000_000_001) == pytest.approx(100_000_000.001)


@pytest.mark.parametrize("ahead", [10, 3600, 86400 * 365])
def test_start_time_in_the_future_cannot_be_judged_and_is_a_persons(client, seed_event, ahead):
    seconds = post_json(client, partos_registration(form_started_at=int(time.time()) + ahead))
    millis = post_json(
        client, partos_registration(email="bob@example.org", form_started_at=int((time.time() + ahead) * 1000))
    )
    form = post_form(client, form_body(email="cem@example.org", form_started_at=str(int(time.time()) + ahead)))
    assert (seconds.status_code, millis.status_code, form.status_code) == (201, 201, 303)
    assert len(stored()) == 3


def test_json_without_a_start_time_is_not_judged_by_time(client, seed_event):
    assert post_json(client, partos_registration()).status_code == 201
    assert len(stored()) == 1


def test_form_post_with_an_empty_start_time_is_not_judged_by_time(client, seed_event):
    assert post_form(client, form_body(form_started_at="")).status_code == 303
    assert len(stored()) == 1


def test_form_filled_at_human_speed_is_stored(client, seed_event):
    assert post_form(client, form_body(form_started_at=str(int(time.time()) - 10))).status_code == 303
    assert len(stored()) == 1


# ------------------------------------------------------------------ too fast: 422, never a silent drop


def test_json_sent_too_fast_gets_422_naming_the_field_and_stores_nothing(client, seed_event):
    answer = post_json(client, partos_registration(form_started_at=int(time.time()), language="en"))
    assert answer.status_code == 422
    assert json_problem(answer) == TOO_FAST_EN
    assert stored() == []


def test_form_sent_too_fast_is_shown_again_and_the_next_click_passes(client, seed_event):
    answer = post_form(client, form_body(form_started_at=str(int(time.time()))))
    assert answer.status_code == 422
    html = answer.body.decode()
    assert '<a href="#form-submit">Formulier: Controleer je antwoorden en verstuur het formulier opnieuw.</a>' in html
    assert 'value="Anna de Vries"' in html  # what was typed is kept
    assert stored() == []
    # The page carries a start time MIN_FILL_SECONDS (3) back: sending it again at once passes.
    started = re.search(r'name="form_started_at" value="(\d+)"', html).group(1)
    assert int(started) <= time.time() - 3
    again = post_form(client, form_body(form_started_at=started))
    assert again.status_code == 303
    assert [i["email"] for i in stored()] == ["anna@example.org"]


def test_min_fill_seconds_is_read_at_call_time_and_zero_turns_it_off(monkeypatch):
    now = 1_700_000_000
    monkeypatch.setenv("MIN_FILL_SECONDS", "5")
    with pytest.raises(RegistrationInvalid) as refused:
        antispam.check_fill_time({"form_started_at": now - 4}, "nl", now=now)
    assert [e.as_dict() for e in refused.value.errors] == [
        {
            "field": "form_started_at",
            "code": "too_fast",
            "message": "Controleer je antwoorden en verstuur het formulier opnieuw.",
        }
    ]
    antispam.check_fill_time({"form_started_at": now - 5}, "nl", now=now)
    antispam.check_fill_time({"form_started_at": now + 1}, "nl", now=now)  # the future: not judged
    antispam.check_fill_time({"form_started_at": None}, "nl", now=now)
    monkeypatch.setenv("MIN_FILL_SECONDS", "0")
    antispam.check_fill_time({"form_started_at": now}, "nl", now=now)


# ------------------------------------------------------------------ bounds: 422 naming the field, never 500

OUT_OF_RANGE_EN = {
    "type": "/problems/validation-failed", "title": "Invalid fields", "status": 422,
    "detail": "One or more fields are invalid; see errors.",
    "errors": [{"field": "form_started_at", "code": "out_of_range", "message": "This number is out of range."}],
}


DEMO_URL = "/events/demo-small-workshop/registrations"


@pytest.fixture
def demo_event(aws):
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / "demo-small-workshop.yaml")
    store.put_event(event)
    return event


@pytest.mark.case("huge-number")
def test_json_start_time_of_1_and_400_zeros_is_422_naming_the_field(client, demo_event):
    body = '{"name":"N","email":"ovf@example.org","consent":true,"form_started_at":1' + "0" * 400 + "}"
    answer = client.http.post(DEMO_URL, headers={"Content-Type": "application/json"}, body=body)
    assert answer.status_code == 422
    assert json_problem(answer) == OUT_OF_RANGE_EN
    assert stored("demo-small-workshop") == []


@pytest.mark.case("huge-number")
def test_form_start_time_of_400_nines_on_the_demo_event_is_422(client, demo_event):
    body = "name=N&email=ovf%40example.org&consent=on&form_started_at=" + "9" * 400
    answer = client.http.post(DEMO_URL, headers={"Content-Type": FORM}, body=body)
    assert answer.status_code == 422
    assert "Form: This number is out of range." in answer.body.decode()
    assert stored("demo-small-workshop") == []


@pytest.mark.case("huge-number")
def test_form_start_time_of_400_nines_is_422_naming_the_field(client, seed_event):
    answer = post_form(client, form_body(form_started_at="9" * 400), lang="en")
    assert answer.status_code == 422
    assert "Form: This number is out of range." in answer.body.decode()
    assert stored() == []


@pytest.mark.case("huge-number")
@pytest.mark.parametrize(
    # NaN and Infinity are no JSON (RFC 8259 section 6): 400 malformed-body, tests/test_registration_api.py
    "literal", ["1" + "0" * 13, "-1", "1e400", "-1e400", "1" + "0" * 5000, "1.5e13"]
)
def test_every_out_of_range_json_number_is_422(client, demo_event, literal):
    body = '{"name":"N","email":"ovf@example.org","consent":true,"form_started_at":' + literal + "}"
    answer = client.http.post(DEMO_URL, headers={"Content-Type": "application/json"}, body=body)
    assert answer.status_code == 422, literal
    assert json_problem(answer) == OUT_OF_RANGE_EN


@pytest.mark.case("huge-number")
@pytest.mark.parametrize("value, code", [
    ("9" * 5000, "out_of_range"), ("1" + "0" * 13, "out_of_range"), ("-5", "invalid_type"), ("12abc", "invalid_type"),
    ("١٢٣", "invalid_type"), ("²", "invalid_type"), ("1e5", "invalid_type"),
])
def test_form_start_time_that_is_no_bounded_number_is_422(client, seed_event, value, code):
    answer = client.http.post(f"{URL}?lang=en", headers={"Content-Type": FORM, "Accept": "application/json"},
                              body=form_body(form_started_at=value))
    assert answer.status_code == 422
    assert 'id="error-summary"' in answer.body.decode()
    from chalicelib.validation import form_to_data, validate_registration
    with pytest.raises(RegistrationInvalid) as refused:
        validate_registration(seed_event, form_to_data(seed_event, form_body(form_started_at=value).encode()), "en")
    assert [(e.field, e.code) for e in refused.value.errors] == [("form_started_at", code)]


def test_json_start_time_of_the_wrong_type_is_422(client, seed_event):
    for value in ("1684738800", "", True, [1], {"t": 1}):  # "" too: in JSON the field is a number or absent
        answer = post_json(client, partos_registration(form_started_at=value, language="en"))
        assert answer.status_code == 422
        assert [(e["field"], e["code"]) for e in json_problem(answer)["errors"]] == [
            ("form_started_at", "invalid_type")
        ]


# ------------------------------------------------------------------ the honeypot: quiet, and answered like a person


def test_honeypot_post_gets_a_persons_answer_and_stores_nothing(client, seed_event, pump):
    answer = post_json(client, partos_registration(website="http://spam.example"))
    assert answer.status_code == 201
    body = json.loads(answer.body)
    base = f"http://127.0.0.1:8000/events/{SEED_EVENT_ID}/thanks?lang=nl&ref="
    assert body == {"registration_id": body["registration_id"], "event_id": SEED_EVENT_ID, "status": "confirmed",
                    "waitlist_position": None, "thanks_url": body["thanks_url"]}
    assert body["thanks_url"].startswith(base) and body["registration_id"] in body["thanks_url"]  # as a person's
    assert answer.headers["Location"].endswith(f"/registrations/{body['registration_id']}")
    assert stored() == []
    pump.pump_once()
    assert sent_messages() == []


def test_a_caught_posts_repeat_is_answered_like_a_persons_repeat(client, seed_event):
    bot = partos_registration(email="bot@example.org", website="http://spam.example")
    person = partos_registration(email="person@example.org")
    bot_answers = [post_json(client, bot) for _ in range(2)]
    person_answers = [post_json(client, person) for _ in range(2)]
    assert [a.status_code for a in bot_answers] == [a.status_code for a in person_answers] == [201, 409]
    assert json_problem(bot_answers[1]) == json_problem(person_answers[1])
    assert json_problem(bot_answers[1])["type"] == "/problems/already-registered"
    # the same in a browser: the form again with the message at the address
    bot_form = post_form(client, form_body(email="bot@example.org", website="x")).body.decode()
    person_form = post_form(client, form_body(email="person@example.org")).body.decode()
    def strip(html):
        return re.sub(r'name="form_started_at" value="\d+"', "", html).replace("bot@", "person@")
    assert strip(bot_form) == strip(person_form)
    assert [i["email"] for i in stored()] == ["person@example.org"]


def test_a_bot_cannot_block_a_persons_address(client, seed_event):
    assert post_json(client, partos_registration(website="http://spam.example")).status_code == 201
    assert post_json(client, partos_registration(email="ANNA@example.org", website="x")).status_code == 409
    person = post_json(client, partos_registration())  # the real Anna, same address
    assert person.status_code == 201
    assert [i["email"] for i in stored()] == ["anna@example.org"]


def test_a_honeypot_post_never_tells_whether_a_person_registered_the_address(client, seed_event):
    """It stores and sends nothing, so a 409 for a registered address was a silent way to find out who
    registered (round-2 tester's find): the first post of an address gets 201 either way, a repeat 409."""
    assert post_json(client, partos_registration()).status_code == 201  # Anna registers
    sent_before = len(sent_messages())
    for address in ("anna@example.org", "stranger@example.org"):
        first = post_json(client, partos_registration(email=address, website="x"))
        assert first.status_code == 201 and json.loads(first.body)["status"] == "confirmed"
        repeat = post_json(client, partos_registration(email=address, website="x"))
        assert repeat.status_code == 409 and json_problem(repeat)["type"] == "/problems/already-registered"
    assert [i["email"] for i in stored()] == ["anna@example.org"] and len(sent_messages()) == sent_before


def test_quiet_guard_holds_a_hash_and_lasts_until_registration_closes(client, seed_event):
    post_json(client, partos_registration(email="bot@example.org", website="x"))
    [item] = [i for i in _partition_items() if i["sk"]["S"].startswith("QUIET#")]
    assert item["sk"]["S"] == "QUIET#" + store.guard_sk("bot@example.org").removeprefix("EMAIL#")
    assert "bot@example.org" not in json.dumps(item)
    closes = int(seed_event.utc(seed_event.closes_at_local).timestamp())
    assert int(item["expires_at"]["N"]) == closes
    # live until then, expired after (DynamoDB's TTL deletes late, so the condition checks the time)
    with pytest.raises(store.AlreadyRegistered):
        store.put_quiet_guard(SEED_EVENT_ID, "bot@example.org", now=closes - 1, expires_at=closes + 10)
    store.put_quiet_guard(SEED_EVENT_ID, "bot@example.org", now=closes, expires_at=closes + 10)
    assert store.address_taken(SEED_EVENT_ID, "bot@example.org", now=closes + 9)
    assert not store.address_taken(SEED_EVENT_ID, "bot@example.org", now=closes + 10)


def _partition_items():
    from chalicelib import aws

    return aws.client("dynamodb").query(
        TableName="registrations-local", KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"EVENT#{SEED_EVENT_ID}"}},
    )["Items"]


def _event(**changes):
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update=changes)
    store.put_event(event)
    return event


def test_honeypot_post_on_a_full_event_with_waitlist_is_waitlisted_like_a_person(client, aws):
    _event(capacity=1, waitlist=True)
    assert post_json(client, partos_registration(email="first@example.org")).status_code == 201
    person = json.loads(post_json(client, partos_registration(email="second@example.org")).body)
    bot = json.loads(post_json(client, partos_registration(email="third@example.org", website="x")).body)
    assert (person["status"], person["waitlist_position"]) == ("waitlisted", 1)
    assert (bot["status"], bot["waitlist_position"]) == ("waitlisted", 2)  # what a third person would get
    assert len(stored()) == 2


def test_honeypot_post_on_a_full_event_without_waitlist_gets_event_full_every_time(client, aws):
    _event(capacity=1, waitlist=False)
    assert post_json(client, partos_registration(email="first@example.org")).status_code == 201
    for _ in range(2):
        person = post_json(client, partos_registration(email="second@example.org"))
        bot = post_json(client, partos_registration(email="third@example.org", website="x"))
        assert person.status_code == bot.status_code == 409
        assert json_problem(bot) == json_problem(person)
        assert json_problem(bot)["type"] == "/problems/event-full"
    registered = post_json(client, partos_registration(email="first@example.org", website="x"))
    assert json_problem(registered)["type"] == "/problems/event-full"  # never tells that first@ registered


def test_honeypot_post_on_a_closed_event_gets_registration_closed(client, aws):
    from datetime import datetime

    _event(registration_closes_at=datetime(2023, 5, 1, 12, 0))  # the local clock says 22 May 2023
    person = post_json(client, partos_registration())
    bot = post_json(client, partos_registration(email="bot@example.org", website="x"))
    assert person.status_code == bot.status_code == 409
    assert json_problem(bot) == json_problem(person)


def test_honeypot_post_sent_too_fast_gets_the_same_422_as_a_person(client, seed_event):
    now = int(time.time())
    person = post_json(client, partos_registration(form_started_at=now, language="en"))
    bot = post_json(
        client, partos_registration(email="bot@example.org", website="x", form_started_at=now, language="en")
    )
    assert json_problem(person) == json_problem(bot) == TOO_FAST_EN
