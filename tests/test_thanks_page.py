"""The thank-you page: seat or waitlist (and position), the address the email went to, what to do
if it does not arrive, and "back" to the event's page; reached through a signed, hour-long
reference, so the redirect after a form post carries no personal data."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chalicelib import clock, registrations, store, tokens
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json

FORM_BODY = ("name=Anna+de+Vries&email=anna%40example.org&language=nl&organisation=Wilde+Ganzen&role=campaigner"
             "&consent=true&form_started_at=1684738800")


def _post_form(client, body: str = FORM_BODY, lang: str = "nl"):
    return client.http.post(f"/events/{SEED_EVENT_ID}/registrations?lang={lang}",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body)


def _thanks(client, location: str):
    return client.http.get(f"/events/{SEED_EVENT_ID}/{location}")


def test_form_post_redirects_with_a_reference_and_no_personal_data(client, seed_event):
    answer = _post_form(client)
    assert answer.status_code == 303 and answer.headers["Cache-Control"] == "no-store"
    location = answer.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert set(query) == {"lang", "ref"} and query["lang"] == ["nl"]
    assert "anna" not in location.lower() and "example" not in location
    page = _thanks(client, location)
    html = page.body.decode()
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<h1>Je bent ingeschreven</h1>" in html
    assert "Je inschrijving is bevestigd: je hebt een plek." in html
    assert ('<p id="thanks-email">We hebben een bevestiging met een agenda-uitnodiging gestuurd naar '
            '<strong class="address">anna@example.org</strong>.</p>') in html
    assert "Geen e-mail ontvangen?" in html and 'href="mailto:events@partos.example.org"' in html
    assert f'<a id="back-to-event" href="../../events/{SEED_EVENT_ID}?lang=nl">Terug naar het evenement</a>' in html


def test_waitlisted_registrant_reads_the_position(client, aws):
    from tests.test_capacity import small_event

    small_event(1)
    post_json(client, partos_registration(email="first@example.org"))
    answer = _post_form(client, FORM_BODY.replace("language=nl", "language=en"), lang="en")
    html = _thanks(client, answer.headers["Location"]).body.decode()
    assert "<h1>You are on the waitlist</h1>" in html
    assert ("The event is full, so you do not have a seat yet. You are on the waitlist, at position "
            "<strong>1</strong>.") in html
    assert "We have sent an email with your place on the waitlist to <strong class=\"address\">anna@example.org</strong>" in html


def test_json_answer_carries_the_same_thank_you_page(client, seed_event):
    body = json.loads(post_json(client, partos_registration(email="js@example.org")).body)
    path = urlsplit(body["thanks_url"])
    html = client.http.get(f"{path.path}?{path.query}").body.decode()
    assert "js@example.org" in html and "Je bent ingeschreven" in html


@pytest.mark.parametrize("tamper", [
    lambda ref: ref[:-2] + ("AA" if not ref.endswith("AA") else "BB"),  # signature
    lambda ref: re.sub(r"\.(\d+)\.", lambda m: f".{int(m.group(1)) + 60}.", ref, count=1),  # expiry moved
    lambda ref: ("y" if ref.startswith("x") else "x") + ref[1:],  # another registration id (never the same one)
    lambda ref: "",
    lambda ref: "a.b.c",
    lambda ref: "é" * 300,
])
def test_a_bad_reference_gets_the_general_page_and_no_data(client, seed_event, tamper):
    ref = parse_qs(urlsplit(_post_form(client).headers["Location"]).query)["ref"][0]
    page = client.http.get(f"/events/{SEED_EVENT_ID}/thanks?" + urlencode({"lang": "nl", "ref": tamper(ref)}))
    html = page.body.decode()
    assert page.status_code == 200
    assert "<h1>Bedankt voor je inschrijving</h1>" in html and "anna@example.org" not in html


def test_reference_is_bound_to_its_event_and_expires_after_an_hour(seed_event):
    now = int(clock.now().timestamp())
    result = registrations.register(SEED_EVENT_ID, partos_registration(consent=True), "nl")
    receipt = tokens.make_receipt(SEED_EVENT_ID, result.registration_id, now)
    assert tokens.read_receipt(SEED_EVENT_ID, receipt, now + 3599) == result.registration_id
    assert tokens.read_receipt(SEED_EVENT_ID, receipt, now + 3601) is None
    assert tokens.read_receipt("demo-small-workshop", receipt, now) is None
    # not a personal link token, nor the other way round
    assert not any(tokens.verify_token(result.registration_id, receipt.split(".", 2)[2], p) for p in tokens.PURPOSES)
    assert tokens.read_receipt(SEED_EVENT_ID, f"{result.registration_id}.{now + 60}.{tokens.make_token(result.registration_id, tokens.VIEW)}", now) is None


def test_a_caught_bot_gets_the_general_page(client, seed_event):
    answer = _post_form(client, FORM_BODY + "&website=http%3A%2F%2Fspam.example")
    assert answer.status_code == 303
    assert list(store.iter_registrations(SEED_EVENT_ID, consistent=True)) == []
    assert "<h1>Bedankt voor je inschrijving</h1>" in _thanks(client, answer.headers["Location"]).body.decode()
