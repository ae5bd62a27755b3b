"""A registrant's "send my email again" (README, "HTTP API"): the same answer for any address, one email
per mailbox per RESEND_QUIET_SECONDS, only the latest email, to the address the registration has."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from chalicelib import clock, registrations, store
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json, sent_messages

RESEND = f"/events/{SEED_EVENT_ID}/resend"
FORM = "application/x-www-form-urlencoded"
SAYS_EN = ("If this address is registered for this event, its latest email is on its way again; it can take a few "
           "minutes, and may land in your spam folder. One such email goes out every 10 minutes at most.")


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the local stage's pinned clock ``seconds`` on (it runs from ``APP_CLOCK`` since the process
    started; the test client sets ``APP_CLOCK`` from the stage for each call, so the start moves)."""
    monkeypatch.setattr(clock, "_PROCESS_START", clock._PROCESS_START - seconds)


def subjects_to(address: str) -> list[str]:
    parsed = [email.message_from_string(m.raw_data, policy=email.policy.default) for m in sent_messages()]
    return [str(m["Subject"]) for m in parsed if m["To"].addresses[0].addr_spec == address]


def ask_by_form(client, address: str, headers: dict[str, str] | None = None):
    body = f"email={address.replace('@', '%40')}".encode()
    return client.http.post(f"{RESEND}?lang=en", body=body, headers={"Content-Type": FORM, **(headers or {})})


@pytest.fixture
def anna(client, seed_event, pump):
    answer = post_json(client, partos_registration(email="anna@example.org", language="en"))
    assert answer.status_code == 201
    pump.pump_once()
    assert len(subjects_to("anna@example.org")) == 1
    return json.loads(answer.body)["registration_id"]


def test_the_latest_email_goes_again_once_per_quiet_period_whatever_the_spelling(client, anna, pump, monkeypatch):
    later(monkeypatch, registrations.RESEND_QUIET_SECONDS + 60)
    answer = ask_by_form(client, "ANNA@Example.org")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert SAYS_EN in answer.body.decode() and answer.headers["Cache-Control"] == "no-store"
    pump.pump_once()
    first, again = subjects_to("anna@example.org")
    assert again == first and first.startswith("Confirmed:")
    # Asked again at once (or by someone else): the same answer, no email; the mailbox is not flooded.
    for _ in range(3):
        assert SAYS_EN in ask_by_form(client, "anna@example.org").body.decode()
    pump.pump_once()
    assert len(subjects_to("anna@example.org")) == 2
    later(monkeypatch, registrations.RESEND_QUIET_SECONDS + 1)
    assert ask_by_form(client, "anna@example.org").status_code == 200
    pump.pump_once()
    assert len(subjects_to("anna@example.org")) == 3


def test_the_answer_tells_nothing_about_the_address(client, anna, pump, monkeypatch):
    later(monkeypatch, registrations.RESEND_QUIET_SECONDS + 60)
    before = len(sent_messages())
    registered, unknown = (client.http.post(f"{RESEND}?lang=en", body=json.dumps({"email": address}).encode(),
                                            headers={"Content-Type": "application/json"})
                           for address in ("anna@example.org", "nobody@example.org"))
    assert (registered.status_code, registered.body) == (unknown.status_code, unknown.body) == (
        202, json.dumps({"detail": SAYS_EN}).encode())
    pages = [ask_by_form(client, a).body for a in ("bram@example.org", "cees@example.org")]
    assert pages[0] == pages[1]
    pump.pump_once()
    assert len(sent_messages()) == before + 1  # anna's only


def test_after_the_event_has_ended_it_says_so_and_sends_nothing(client, anna, pump, monkeypatch):
    event = store.event_definition(SEED_EVENT_ID)
    later(monkeypatch, (event.utc(event.ends_at) - clock.now()).total_seconds() + 60)
    page = ask_by_form(client, "anna@example.org").body.decode()
    assert "This event has ended" in page and "No emails go out for it any more." in page and SAYS_EN not in page
    answer = client.http.post(f"{RESEND}?lang=en", body=b'{"email": "nobody@example.org"}',
                              headers={"Content-Type": "application/json"})
    assert (answer.status_code, json.loads(answer.body)) == (
        200, {"detail": "No emails go out for it any more. Questions? Write to the organiser."})
    pump.pump_once()
    assert len(subjects_to("anna@example.org")) == 1


@pytest.mark.parametrize(("body", "content_type", "code"), [
    (b"{}", "application/json", "required"),
    (b'{"email": ""}', "application/json", "required"),
    (b'{"email": 42}', "application/json", "invalid_type"),
    (b'{"email": "not-an-address"}', "application/json", "invalid_email"),
])
def test_no_address_is_422_naming_the_field(client, seed_event, body, content_type, code):
    answer = client.http.post(f"{RESEND}?lang=en", body=body, headers={"Content-Type": content_type})
    assert answer.status_code == 422
    assert [(e["field"], e["code"]) for e in json.loads(answer.body)["errors"]] == [("email", code)]


def test_a_form_post_without_an_address_gets_a_page_and_an_unknown_event_404(client, seed_event):
    answer = client.http.post(f"{RESEND}?lang=en", body=b"email=", headers={"Content-Type": FORM})
    assert answer.status_code == 422 and answer.headers["Content-Type"].startswith("text/html")
    assert "This field is required." in answer.body.decode() or "Invalid fields" in answer.body.decode()
    missing = client.http.post("/events/no-such-event/resend", body=b'{"email": "a@example.org"}',
                               headers={"Content-Type": "application/json"})
    assert missing.status_code == 404


def test_a_form_from_another_site_is_refused(client, anna, pump, monkeypatch):
    later(monkeypatch, registrations.RESEND_QUIET_SECONDS + 60)
    answer = ask_by_form(client, "anna@example.org", {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert answer.status_code == 403
    typeless = client.http.post(RESEND, body=b'{"email": "anna@example.org"}',  # fetch() of a Blob: no preflight
                                headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert typeless.status_code == 403
    pump.pump_once()
    assert len(subjects_to("anna@example.org")) == 1


def test_the_registration_page_offers_it(client, seed_event):
    page = client.http.get(f"/events/{SEED_EVENT_ID}/register?lang=en").body.decode()
    assert '<summary>Already registered and lost the email?</summary>' in page
    assert f'action="../../events/{SEED_EVENT_ID}/resend?lang=en"' in page
    dutch = client.http.get(f"/events/{SEED_EVENT_ID}/register?lang=nl").body.decode()
    assert '<summary>Al ingeschreven en je e-mail kwijt?</summary>' in dutch


def test_a_form_post_with_a_bad_address_says_why_on_the_page(client, seed_event):
    answer = client.http.post(f"{RESEND}?lang=en", body=b"email=anna%40", headers={"Content-Type": FORM})
    page = answer.body.decode()
    assert answer.status_code == 422 and "Enter a valid email address, like name@example.org." in page


def test_an_organisers_page_may_ask_with_cors(client, seed_event, monkeypatch):
    answer = client.http.options(RESEND, headers={"Origin": "http://127.0.0.1:8000",
                                                  "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
