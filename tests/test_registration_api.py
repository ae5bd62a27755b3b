"""The registration endpoint: answers, problem+json errors, form posts, the stored item."""

import json

import pytest

from chalicelib import store
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json

URL = f"/events/{SEED_EVENT_ID}/registrations"
PROBLEM = "application/problem+json"


def stored_registrations():
    return list(store.iter_registrations(SEED_EVENT_ID, consistent=True))


def test_json_registration_is_created_and_stored(client, seed_event):
    answer = post_json(client, partos_registration())
    assert answer.status_code == 201
    body = json.loads(answer.body)
    registration_id = body["registration_id"]
    thanks_url = body.pop("thanks_url")
    assert body == {
        "registration_id": registration_id,
        "event_id": SEED_EVENT_ID,
        "status": "confirmed",
        "waitlist_position": None,
    }
    assert thanks_url.startswith(f"http://127.0.0.1:8000/events/{SEED_EVENT_ID}/thanks?lang=nl&ref={registration_id}.")
    assert answer.headers["Location"] == f"http://127.0.0.1:8000/registrations/{registration_id}"
    assert len(registration_id) == 22  # 128 random bits, base64url

    [item] = stored_registrations()
    assert item["pk"] == f"EVENT#{SEED_EVENT_ID}" and item["sk"] == f"REG#{registration_id}"
    assert item["name"] == "Anna de Vries" and item["email"] == "anna@example.org"
    assert item["status"] == "confirmed" and item["language"] == "nl"
    assert item["answers"] == {
        "organisation": "Wilde Ganzen",
        "role": "campaigner",
        "partos_member": True,
        "needs": "Vegetarisch",
    }
    # the local stage's pinned clock, UTC; it started when the test process imported chalicelib.clock
    # and runs on at real speed, so in a long test run it is minutes past 07:00
    assert "2023-05-22T07:00" <= item["registered_at"] < "2023-05-22T08:00"
    # retention: event end (2023-06-05 15:00 UTC) + RETENTION_DAYS (90)
    assert item["expires_at"] == 1685977200 + 90 * 86400
    assert item["email_state"] == "pending"
    assert store.get_counters(SEED_EVENT_ID).seats_taken == 1


def test_event_json_shows_registration_state_and_no_organiser_address(client, seed_event):
    answer = client.http.get(f"/events/{SEED_EVENT_ID}")
    assert answer.status_code == 200
    body = json.loads(answer.body)
    # the seed's capacity is a guess (show_seats: few): neither the figure nor the capacity is public
    assert body["registration"] == {
        "open": True, "state": "open", "seats_left": None, "seats": "available", "waitlist": True,
        "waitlist_open": True, "opens_text": None, "closes_text": "5 juni 2023 14:00 CEST",
    }
    assert "capacity" not in body
    assert body["starts_at"] == "2023-06-05T14:00:00" and body["starts_at_utc"] == "2023-06-05T12:00:00Z"
    # every time with its UTC twin, the defaults written out (closing and the waitlist cutoff at starts_at)
    assert {k: body[k] for k in ("registration_opens_at", "registration_opens_at_utc", "registration_closes_at",
                                 "registration_closes_at_utc", "waitlist_closes_at", "waitlist_closes_at_utc")} == {
        "registration_opens_at": None, "registration_opens_at_utc": None,
        "registration_closes_at": "2023-06-05T14:00:00", "registration_closes_at_utc": "2023-06-05T12:00:00Z",
        "waitlist_closes_at": "2023-06-05T14:00:00", "waitlist_closes_at_utc": "2023-06-05T12:00:00Z",
    }
    assert body["organiser"] == {"name": "Partos"}
    assert "events@partos.example.org" not in answer.body.decode()


def test_unknown_event_is_404_problem(client, seed_event):
    answer = post_json(client, partos_registration(), event_id="no-such-event")
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == PROBLEM
    assert json.loads(answer.body) == {
        "type": "/problems/not-found", "title": "Not found", "status": 404, "detail": "There is no event with this id.",
    }
    assert client.http.get("/events/no-such-event").status_code == 404


def test_malformed_json_is_400(client, seed_event):
    answer = client.http.post(URL, headers={"Content-Type": "application/json"}, body=b'{"name": ')
    assert answer.status_code == 400 and answer.headers["Content-Type"] == PROBLEM
    assert json.loads(answer.body) == {
        "type": "/problems/malformed-body", "title": "Onleesbaar verzoek", "status": 400,
        "detail": "De inhoud kon niet worden gelezen als een JSON-object.",
    }


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b"", b"\xff\xfe",
                                  # RFC 8259 section 6 has no NaN or Infinity (Python's json reads them)
                                  b'{"name": "A", "form_started_at": NaN}', b'{"form_started_at": -Infinity}'])
def test_json_that_is_not_an_object_is_400(client, seed_event, body):
    answer = client.http.post(URL, headers={"Content-Type": "application/json", "Accept-Language": "en"}, body=body)
    assert answer.status_code == 400
    assert json.loads(answer.body)["type"] == "/problems/malformed-body"


def test_no_content_type_is_read_as_json_or_refused(client, seed_event):
    answer = client.http.post(URL, body=b"")
    assert answer.status_code == 400
    answer = client.http.post(URL, body=json.dumps(partos_registration()).encode())
    assert answer.status_code == 201


def test_body_over_16_kib_is_413(client, seed_event):
    answer = post_json(client, partos_registration(needs="x" * 17000), headers={"Accept-Language": "en"})
    assert answer.status_code == 413
    problem = json.loads(answer.body)
    assert problem["type"] == "/problems/body-too-large" and problem["status"] == 413
    assert stored_registrations() == []


def test_other_content_type_is_415(client, seed_event):
    answer = client.http.post(URL, headers={"Content-Type": "text/plain", "Accept-Language": "en"}, body=b"hello")
    assert answer.status_code == 415 and answer.headers["Content-Type"] == PROBLEM
    assert json.loads(answer.body) == {
        "type": "/problems/unsupported-media-type", "title": "Unsupported media type", "status": 415,
        "detail": "Send application/json or application/x-www-form-urlencoded, not text/plain.",
    }


def test_the_dutch_415_joins_the_media_types_in_dutch(client, seed_event):
    """It said "Stuur application/json or application/x-www-form-urlencoded, niet text/plain."."""
    dutch = {"type": "/problems/unsupported-media-type", "title": "Niet-ondersteund type", "status": 415,
             "detail": "Stuur application/json of application/x-www-form-urlencoded, niet text/plain."}
    answer = client.http.post(URL, headers={"Content-Type": "text/plain"}, body=b"x")  # the event's default: nl
    assert answer.status_code == 415 and json.loads(answer.body) == dutch
    cancel = client.http.post("/registrations/someone/cancel", headers={"Content-Type": "text/plain",
                                                                        "Accept-Language": "nl"}, body=b"x")
    assert cancel.status_code == 415 and json.loads(cancel.body) == dutch


def test_invalid_fields_are_422_with_errors_in_the_request_language(client, seed_event):
    body = {
        "name": "  ",
        "email": "not-an-address",
        "language": "en",
        "consent": False,
        "role": "astronaut",
        "shoe_size": 44,
    }
    answer = post_json(client, body)
    assert answer.status_code == 422 and answer.headers["Content-Type"] == PROBLEM
    assert json.loads(answer.body) == {
        "type": "/problems/validation-failed",
        "title": "Invalid fields",
        "status": 422,
        "detail": "One or more fields are invalid; see errors.",
        "errors": [
            {"field": "name", "code": "too_short", "message": "This field is required."},
            {
                "field": "email",
                "code": "invalid_email",
                "message": "Enter a valid email address, like name@example.org.",
            },
            {
                "field": "consent",
                "code": "must_accept",
                "message": "You need to agree to the privacy statement to register.",
            },
            {"field": "organisation", "code": "required", "message": "This field is required."},
            {"field": "role", "code": "invalid_choice", "message": "Choose one of the options."},
            {"field": "shoe_size", "code": "unknown_field", "message": "This field is not part of the form."},
        ],
    }
    assert stored_registrations() == []


def test_422_in_dutch_and_wrong_types(client, seed_event):
    body = partos_registration(name=["Anna"], consent="yes", language="nl", partos_member="ja")
    answer = post_json(client, body)
    problem = json.loads(answer.body)
    assert answer.status_code == 422 and problem["title"] == "Ongeldige velden"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("name", "invalid_type"), ("consent", "invalid_type"), ("partos_member", "invalid_type"),
    }
    assert problem["errors"][0]["message"] == "Deze waarde heeft het verkeerde type."


def test_name_limits_and_control_characters(client, seed_event):
    too_long = post_json(client, partos_registration(name="A" * 201, language="en"))
    assert json.loads(too_long.body)["errors"] == [
        {"field": "name", "code": "too_long", "message": "At most 200 characters."}
    ]
    control = post_json(client, partos_registration(name="Anna\x00\nde Vries", language="en"))
    assert json.loads(control.body)["errors"][0]["code"] == "control_characters"
    trimmed = post_json(client, partos_registration(name="  Anna  "))
    assert trimmed.status_code == 201
    assert stored_registrations()[0]["name"] == "Anna"


def test_honeypot_gets_a_normal_answer_and_stores_nothing(client, seed_event):
    answer = post_json(client, partos_registration(website="http://spam.example"))
    assert answer.status_code == 201
    assert json.loads(answer.body)["status"] == "confirmed"
    assert stored_registrations() == []


@pytest.mark.case("form-charset")
def test_form_post_with_charset_redirects_and_stores_utf8(client, seed_event):
    form = (
        "name=Jos%C3%A9+Mu%C3%B1oz&email=jose%40example.org&language=nl&organisation=Cordaid"
        "&role=lobbyist&partos_member=true&needs=&consent=on&website=&form_started_at=1684738800"
    )
    answer = client.http.post(
        URL, headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, body=form.encode("ascii")
    )
    assert answer.status_code == 303
    [item] = stored_registrations()
    assert answer.headers["Location"].startswith(f"thanks?lang=nl&ref={item['registration_id']}.")
    assert "jose" not in answer.headers["Location"]  # no personal data in the URL
    assert item["name"] == "José Muñoz"
    assert item["answers"] == {"organisation": "Cordaid", "role": "lobbyist", "partos_member": True}
    thanks = client.http.get(f"/events/{SEED_EVENT_ID}/{answer.headers['Location']}")
    assert thanks.status_code == 200 and "Je bent ingeschreven" in thanks.body.decode()


def test_form_post_with_errors_rerenders_with_values_and_messages(client, seed_event):
    form = "name=Jos%C3%A9&email=jose%40&language=en&organisation=Cordaid&role=lobbyist"
    answer = client.http.post(URL, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=form.encode())
    page = answer.body.decode()
    assert answer.status_code == 422 and answer.headers["Content-Type"].startswith("text/html")
    assert 'value="José"' in page and 'value="Cordaid"' in page and 'value="jose@"' in page
    assert '<p class="field-error" id="error-email">Enter a valid email address, like name@example.org.</p>' in page
    assert 'aria-describedby="error-email" aria-invalid="true"' in page
    assert (
        '<p class="field-error" id="error-consent">You need to agree to the privacy statement to register.</p>' in page
    )
    assert stored_registrations() == []


FORM = "name=Anna&email=anna%40example.org&organisation=Cordaid&role=lobbyist&form_started_at="


def post_form(client, form: str, lang: str = "nl"):
    return client.http.post(f"{URL}?lang={lang}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body=form.encode("ascii"))


@pytest.mark.parametrize("fields,field", [
    ("consent=true&partos_member=maybe", "partos_member"),
    ("consent=maybe&partos_member=on", "consent"),
    ("consent=off&consent=ja", "consent"),  # the last value counts, and "ja" is no checkbox value
])
def test_a_checkbox_value_no_browser_sends_is_422_invalid_type(client, seed_event, fields, field):
    """``partos_member=maybe`` was stored as false (303); JSON ``"consent": "yes"`` is 422 ``invalid_type`` too."""
    for lang, message in (("nl", "Deze waarde heeft het verkeerde type."), ("en", "This value has the wrong type.")):
        answer = post_form(client, f"{FORM}&{fields}", lang)
        page = answer.body.decode()
        assert answer.status_code == 422 and answer.headers["Content-Type"].startswith("text/html")
        assert f'<p class="field-error" id="error-{field}">{message}</p>' in page
        assert f'id="field-{field}" type="checkbox" name="{field}" value="true" data-kind="boolean" ' in page
        assert f'name="{field}" value="true" data-kind="boolean" checked' not in page  # shown unchecked
    assert stored_registrations() == []


@pytest.mark.parametrize("fields,consent_member", [
    ("consent=on&partos_member=on", True),
    ("consent=off&consent=true&partos_member=off&partos_member=true", True),  # hidden "off" first: last value wins
    ("consent=TRUE&partos_member=off", False),
    ("consent=yes&partos_member=0", False),
    ("consent=1&partos_member=", False),
    ("consent=true", False),  # an unchecked box is not sent
])
def test_checkboxes_read_what_browsers_send(client, seed_event, fields, consent_member):
    answer = post_form(client, f"{FORM}&{fields}")
    assert answer.status_code == 303, answer.body
    [item] = stored_registrations()
    assert item["answers"].get("partos_member", False) is consent_member


def test_form_with_undecodable_bytes_is_400(client, seed_event):
    answer = client.http.post(
        URL, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"name=%FF%FE&email=a%40b.nl"
    )
    assert answer.status_code == 400
    assert json.loads(answer.body)["type"] == "/problems/malformed-body"


def test_registration_page_is_an_accessible_bilingual_form(client, seed_event):
    dutch = client.http.get(f"/events/{SEED_EVENT_ID}/register").body.decode()
    assert '<html lang="nl">' in dutch
    assert '<label for="field-name">Naam' in dutch and 'id="field-name" name="name"' in dutch
    assert '<legend>Je rol <span class="req">(verplicht)</span></legend>' in dutch
    assert 'href="https://www.partos.nl/privacy/"' in dutch
    assert "maandag 5 juni 2023, 14:00-17:00 CEST" in dutch
    assert 'method="post"' in dutch and "<script" in dutch  # the script only enhances; the form posts without it
    english = client.http.get(f"/events/{SEED_EVENT_ID}/register?lang=en").body.decode()
    assert '<html lang="en">' in english and "Monday, June 5, 2023, 14:00-17:00 CEST" in english
    negotiated = client.http.get(f"/events/{SEED_EVENT_ID}/register", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in negotiated.body.decode()
    assert "Content-Security-Policy" in negotiated.headers


@pytest.mark.case("email-case")
def test_same_address_in_another_case_is_409_and_first_spelling_kept(client, seed_event):
    first = post_json(client, partos_registration(email="Jan.Jansen@Example.NL", name="Jan Jansen", language="en"))
    assert first.status_code == 201
    second = post_json(client, partos_registration(email="jan.jansen@example.nl", name="Jan Jansen", language="en"))
    assert second.status_code == 409 and second.headers["Content-Type"] == PROBLEM
    assert json.loads(second.body) == {
        "type": "/problems/already-registered", "title": "Already registered", "status": 409,
        "detail": "This email address is already registered for this event.",
    }
    [item] = stored_registrations()
    assert item["email"] == "Jan.Jansen@Example.NL"
    assert store.get_counters(SEED_EVENT_ID).seats_taken == 1


def test_registration_closed_is_409_and_stores_nothing(client, seed_event):
    from datetime import datetime

    # The local stage's clock reads 2023-05-22 09:00 in Amsterdam; close registration a minute before.
    store.put_event(seed_event.model_copy(update={"registration_closes_at": datetime(2023, 5, 22, 8, 59)}))
    answer = post_json(client, partos_registration(language="en"))
    assert answer.status_code == 409
    assert json.loads(answer.body) == {
        "type": "/problems/registration-closed", "title": "Registration closed", "status": 409,
        "detail": "Registration for this event is closed.",
    }
    assert stored_registrations() == []

    page = client.http.get(f"/events/{SEED_EVENT_ID}/register?lang=en").body.decode()
    assert "Registration for this event is closed." in page and 'id="registration-form"' not in page
    assert "Already registered and lost the email?" in page  # the registered may still want their email


def test_after_registration_closes_a_registered_address_gets_the_same_answer_as_any(client, seed_event):
    """A repeat is not told apart once registration has closed: the answer cannot reveal who registered."""
    from datetime import datetime

    assert post_json(client, partos_registration(email="anna@example.org", language="en")).status_code == 201
    store.put_event(seed_event.model_copy(update={"registration_closes_at": datetime(2023, 5, 22, 8, 59)}))
    answers = [json.loads(post_json(client, partos_registration(email=address, language="en")).body)
               for address in ("anna@example.org", "ANNA@example.org", "someone-else@example.org")]
    assert answers == [{
        "type": "/problems/registration-closed", "title": "Registration closed", "status": 409,
        "detail": "Registration for this event is closed.",
    }] * 3
    assert len(stored_registrations()) == 1


def test_registration_not_yet_open_says_when_it_opens(client, seed_event):
    """The problem, the event's JSON and the pages say when it opens, in the event's zone with its abbreviation."""
    from datetime import datetime

    store.put_event(seed_event.model_copy(update={"registration_opens_at": datetime(2023, 5, 23, 9, 0)}))
    answer = post_json(client, partos_registration(language="en"))
    assert answer.status_code == 409
    assert json.loads(answer.body) == {
        "type": "/problems/registration-closed", "title": "Registration closed", "status": 409,
        "detail": "Registration for this event is not open yet. It opens on May 23, 2023 09:00 CEST.",
        "registration_opens_at": "2023-05-23T09:00:00", "registration_opens_at_utc": "2023-05-23T07:00:00Z",
    }
    dutch = json.loads(post_json(client, partos_registration(language="nl")).body)
    assert dutch["detail"] == ("De inschrijving voor dit evenement is nog niet geopend. "
                               "De inschrijving opent op 23 mei 2023 09:00 CEST.")
    event = json.loads(client.http.get(f"/events/{SEED_EVENT_ID}?lang=en").body)
    assert event["registration"]["state"] == "not_yet_open"
    assert event["registration"]["opens_text"] == "May 23, 2023 09:00 CEST"
    assert (event["registration_opens_at"], event["registration_opens_at_utc"]) == ("2023-05-23T09:00:00",
                                                                                    "2023-05-23T07:00:00Z")
    for path in (f"/events/{SEED_EVENT_ID}/register?lang=en", f"/events/{SEED_EVENT_ID}?lang=en"):
        page = client.http.get(path, headers={"Accept": "text/html"}).body.decode()
        assert ('Registration for this event is not open yet. It opens on '
                '<time id="registration-opens" datetime="2023-05-23T07:00:00Z">May 23, 2023 09:00 CEST</time>.') in page
        assert "<form" not in page
    form = client.http.post(URL + "?lang=nl", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body=b"name=Anna&email=anna%40example.org&language=nl&consent=true&organisation=X&role=other")
    assert form.status_code == 409
    assert "De inschrijving opent op <time" in form.body.decode() and "23 mei 2023 09:00 CEST" in form.body.decode()
    assert stored_registrations() == []


def test_unknown_charset_is_400(client, seed_event):
    answer = client.http.post(URL, headers={"Content-Type": "application/x-www-form-urlencoded; charset=bogus"},
                              body=b"name=Anna&email=a%40example.org")
    assert answer.status_code == 400


@pytest.mark.parametrize("name", ["\ud800", "Anna\udc80", "\u200b\u200b", "Anna \u202eavoN"])
def test_names_with_surrogates_invisible_or_bidi_characters_are_422(client, seed_event, name):
    answer = post_json(client, partos_registration(name=name, language="en"))
    assert answer.status_code == 422
    assert json.loads(answer.body)["errors"][0]["field"] == "name"
    assert stored_registrations() == []


def test_lone_surrogate_in_an_answer_is_422_not_a_retry_loop(client, seed_event):
    answer = post_json(client, partos_registration(organisation="X\udc80", language="en"))
    assert answer.status_code == 422
    assert json.loads(answer.body)["errors"] == [
        {"field": "organisation", "code": "control_characters", "message": "Remove the control characters."}
    ]


@pytest.mark.parametrize("address", ["jürgen@müller.example", "ａnna@example.org", ("x" * 65) + "@example.org"])
def test_addresses_we_cannot_deliver_to_are_refused(client, seed_event, address):
    answer = post_json(client, partos_registration(email=address, language="en"))
    assert answer.status_code == 422
    [error] = json.loads(answer.body)["errors"]
    assert error["field"] == "email" and error["code"] in ("non_ascii_email", "invalid_email")


def test_dutch_details_have_no_english(client, seed_event):
    answer = client.http.post(URL, headers={"Content-Type": "application/json", "Accept-Language": "nl"}, body=b"[1]")
    assert json.loads(answer.body)["detail"] == "De inhoud kon niet worden gelezen als een JSON-object."


@pytest.mark.parametrize("first, second", [
    ("hanzi@例え.jp", "hanzi@xn--r8jz45g.jp"),
    ("user@éxample.org", "USER@XN--XAMPLE-9UA.ORG"),
])
def test_the_same_mailbox_spelled_in_unicode_and_punycode_is_409(client, seed_event, first, second):
    assert post_json(client, partos_registration(email=first)).status_code == 201
    assert post_json(client, partos_registration(email=second)).status_code == 409
    assert len(stored_registrations()) == 1


def test_json_without_language_takes_the_request_language(client, seed_event):
    body = partos_registration()
    del body["language"]
    answer = client.http.post(f"{URL}?lang=en", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    assert answer.status_code == 201
    assert stored_registrations()[0]["language"] == "en"
    del body["email"]
    body["email"] = "other@example.org"
    client.http.post(
        URL, headers={"Content-Type": "application/json", "Accept-Language": "en-GB"}, body=json.dumps(body)
    )
    assert {i["language"] for i in stored_registrations()} == {"en"}


BOM = b"\xef\xbb\xbf"


@pytest.mark.case("bom-json")
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", None])
def test_json_body_starting_with_a_byte_order_mark_is_read(client, seed_event, content_type):
    """RFC 8259 section 8.1: a parser may ignore a UTF-8 byte order mark; Windows tools write one."""
    body = BOM + json.dumps(partos_registration(name="Zoë Ødegård"), ensure_ascii=False).encode("utf-8")
    answer = client.http.post(URL, headers={"Content-Type": content_type} if content_type else {}, body=body)
    assert answer.status_code == 201, answer.body
    [item] = stored_registrations()
    assert item["name"] == "Zoë Ødegård" and item["registration_id"] == json.loads(answer.body)["registration_id"]


def test_form_and_cancel_bodies_starting_with_a_byte_order_mark_are_read(client, seed_event):
    form = BOM + b"name=Anna&email=anna%40example.org&language=nl&organisation=X&role=other&consent=on"
    answer = client.http.post(URL, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=form)
    assert answer.status_code == 303
    [item] = stored_registrations()
    assert item["name"] == "Anna"
    from chalicelib import tokens

    token = tokens.make_token(item["registration_id"], tokens.CANCEL)
    cancelled = client.http.post(f"/registrations/{item['registration_id']}/cancel",
                                 headers={"Content-Type": "application/json"},
                                 body=BOM + json.dumps({"token": token}).encode())
    assert cancelled.status_code == 200 and json.loads(cancelled.body)["changed"] is True


def test_a_bom_in_another_charset_or_twice_is_still_malformed(client, seed_event):
    twice = client.http.post(URL, headers={"Content-Type": "application/json"},
                             body=BOM + BOM + json.dumps(partos_registration()).encode())
    assert twice.status_code == 400 and json.loads(twice.body)["type"] == "/problems/malformed-body"
    assert stored_registrations() == []


def test_the_201_location_is_the_registration_which_answers_with_the_emails_token(client, seed_event):
    """README, "HTTP API": ``Location`` names the registration; reading it needs the token of the link in the
    registrant's email (403 without, so an address typed by someone else reveals nothing); ``thanks_url``
    answers without it for an hour."""
    from chalicelib import tokens

    answer = post_json(client, partos_registration())
    body = json.loads(answer.body)
    path = answer.headers["Location"].removeprefix("http://127.0.0.1:8000")
    assert path == f"/registrations/{body['registration_id']}"
    without = client.http.get(path, headers={"Accept": "application/json"})
    assert without.status_code == 403
    assert json.loads(without.body)["detail"] == "This link is not valid. Use the link from your most recent email."
    token = tokens.make_token(body["registration_id"], tokens.VIEW)
    mine = client.http.get(f"{path}?token={token}", headers={"Accept": "application/json"})
    assert mine.status_code == 200 and json.loads(mine.body)["status"] == "confirmed"
    thanks = client.http.get(body["thanks_url"].removeprefix("http://127.0.0.1:8000"), headers={"Accept": "text/html"})
    assert thanks.status_code == 200 and "anna@example.org" in thanks.body.decode()


@pytest.mark.parametrize("body", [
    b'{"name": "Anna", "email": "anna@example.org", "email": "someone@else.example"}',
    b'{"name": "Anna", "answers": {"x": 1, "x": 2}}',
])
def test_a_json_member_named_twice_is_malformed(client, seed_event, body):
    """RFC 8259 section 4: parsers disagree on which value counts (a firewall may read the first)."""
    answer = client.http.post(f"/events/{SEED_EVENT_ID}/registrations",
                              headers={"Content-Type": "application/json", "Accept-Language": "en"}, body=body)
    assert answer.status_code == 400
    assert json.loads(answer.body) == {
        "type": "/problems/malformed-body", "title": "Malformed request body", "status": 400,
        "detail": "The body could not be read as a JSON object."}
    assert stored_registrations() == []


@pytest.mark.parametrize("blank", ["", "   ", "\u200b", "\t \u3164"])
def test_an_optional_question_sent_blank_is_not_answered(client, seed_event, blank):
    """The document allows "" for an optional text question (anyOf string, null), and an organiser's
    own JSON form sends "" for a field left empty: it was 422 too_short "This field is required."
    (a schema fuzzer's find); a form post of spaces only likewise. A required one still refuses it."""
    from urllib.parse import quote_plus

    answer = post_json(client, partos_registration(email=f"blank{len(blank)}{ord(blank[:1] or 'x')}@example.org",
                                                   needs=blank))
    assert answer.status_code == 201, answer.body
    item = store.get_registration_in_event(SEED_EVENT_ID, json.loads(answer.body)["registration_id"])
    assert "needs" not in item["answers"] or item["answers"]["needs"] is None
    form = client.http.post(URL + "?lang=en", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body=f"name=Ida&email=ida{len(blank)}{ord(blank[:1] or 'x')}%40example.org&consent=on"
                                 f"&organisation=X&role=campaigner&language=en&needs={quote_plus(blank)}")
    assert form.status_code == 303, form.body[:300]
    required = post_json(client, partos_registration(email="req@example.org", organisation=blank or " "))
    assert required.status_code == 422
    assert json.loads(required.body)["errors"][0]["field"] == "organisation"
