"""The registrant's links: status, cancel confirmation page, cancel; tokens; emails per change."""

import email
import email.policy
import json
import re
from urllib.parse import urlsplit

import pytest

from chalicelib import store, tokens
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json, sent_messages
from tests.test_capacity import small_event


def parsed(message):
    return email.message_from_string(message.raw_data, policy=email.policy.default)


def links_in(message):
    text = parsed(message).get_body(("plain",)).get_content()
    status = re.search(r"(http://\S+/registrations/[\w-]+\?\S+)", text)
    cancel = re.search(r"(http://\S+/cancel\?\S+)", text)
    return (status.group(1) if status else None), (cancel.group(1) if cancel else None)


def calendar_part(message) -> str:
    """The ``text/calendar`` part inside the message's ``multipart/alternative``."""
    [part] = [p for p in parsed(message).walk() if p.get_content_type() == "text/calendar"]
    return part.get_content()


def path_of(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def register(client, email_address, **fields):
    answer = post_json(client, partos_registration(email=email_address, **fields))
    assert answer.status_code == 201, answer.body
    return json.loads(answer.body)


def emails_to(address):
    return [m for m in sent_messages() if parsed(m)["To"].addresses[0].addr_spec == address]


@pytest.mark.case("cancel-frees-seat")
def test_cancel_frees_the_seat_for_the_waitlist(client, aws, pump):
    small_event(1)
    a = register(client, "a@example.org")
    b = register(client, "b@example.org", language="en")
    assert (a["status"], b["status"], b["waitlist_position"]) == ("confirmed", "waitlisted", 1)
    pump.pump_once()
    [waitlisted_mail] = emails_to("b@example.org")
    text = parsed(waitlisted_mail).get_body(("plain",)).get_content()
    assert "You are on the waitlist at position 1." in text
    assert not list(parsed(waitlisted_mail).iter_attachments())  # no invite without a seat

    _, cancel_url = links_in(emails_to("a@example.org")[0])
    token = dict(p.split("=") for p in urlsplit(cancel_url).query.split("&"))["token"]
    first = client.http.post(f"/registrations/{a['registration_id']}/cancel",
                             headers={"Content-Type": "application/json"}, body=json.dumps({"token": token}))
    assert first.status_code == 200 and json.loads(first.body)["changed"] is True
    second = client.http.post(f"/registrations/{a['registration_id']}/cancel",
                              headers={"Content-Type": "application/json"}, body=json.dumps({"token": token}))
    assert second.status_code == 200 and json.loads(second.body)["changed"] is False

    assert store.get_registration_in_event(SEED_EVENT_ID, b["registration_id"])["status"] == "confirmed"
    counters = store.get_counters(SEED_EVENT_ID, consistent=True)
    assert counters.seats_taken == 1 and counters.waitlisted_count == 0

    pump.pump_once()
    pump.pump_once()
    [_, promoted] = emails_to("b@example.org")
    assert parsed(promoted)["Subject"] == "A seat is yours: Workshop Best Practices ‘Engagement and mobilisation’"
    ics = calendar_part(promoted)
    assert "DTSTART;TZID=Europe/Amsterdam:20230605T140000" in ics and "METHOD:REQUEST" in ics
    [_, cancelled] = emails_to("a@example.org")
    assert (
        parsed(cancelled)["Subject"] == "Inschrijving geannuleerd: Workshop Best Practices ‘Engagement en mobilisatie’"
    )
    cancel_ics = calendar_part(cancelled)
    assert "METHOD:CANCEL" in cancel_ics and "STATUS:CANCELLED" in cancel_ics
    assert len(sent_messages()) == 4  # confirmed, waitlisted, cancelled, promoted: one each


@pytest.mark.case("cancel-when-full")
def test_cancel_link_works_when_the_event_is_full(client, aws, pump):
    small_event(1)
    a = register(client, "a@example.org", language="en")
    register(client, "b@example.org")
    pump.pump_once()
    status_url, cancel_url = links_in(emails_to("a@example.org")[0])

    page = client.http.get(path_of(cancel_url), headers={"Accept": "text/html"})
    body = page.body.decode()
    assert page.status_code == 200
    assert "Are you sure you want to cancel your registration?" in body
    assert "full" not in body.lower()
    # opening the page (as a mail scanner would) changed nothing
    assert store.get_registration_in_event(SEED_EVENT_ID, a["registration_id"])["status"] == "confirmed"

    token = re.search(r'name="token" value="([^"]+)"', body).group(1)
    answer = client.http.post(f"/registrations/{a['registration_id']}/cancel?lang=en",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              body=f"token={token}".encode())
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith(f"../{a['registration_id']}?token=")
    after = client.http.get(path_of(status_url), headers={"Accept": "text/html"}).body.decode()
    assert "This registration has been cancelled." in after


def test_status_json_with_waitlist_position(client, aws):
    small_event(1)
    register(client, "a@example.org")
    register(client, "b@example.org")
    c = register(client, "c@example.org")
    token = tokens.make_token(c["registration_id"], tokens.VIEW)
    answer = client.http.get(f"/registrations/{c['registration_id']}?token={token}")
    body = json.loads(answer.body)
    assert answer.status_code == 200
    assert (body["status"], body["waitlist_position"], body["event_id"]) == ("waitlisted", 2, SEED_EVENT_ID)
    assert "email" not in body and "name" not in body


def test_the_links_of_an_erased_registration_say_its_data_was_removed(client, seed_event):
    """Not "there is no registration with this id": the link holder learns what happened (410 Gone)."""
    from chalicelib import lifecycle

    a = register(client, "a@example.org")
    lifecycle.erase(SEED_EVENT_ID, a["registration_id"], delete_guard=True)
    view = tokens.make_token(a["registration_id"], tokens.VIEW)
    cancel = tokens.make_token(a["registration_id"], tokens.CANCEL)
    erased = {"type": "/problems/registration-erased", "title": "Registration erased", "status": 410,
              "detail": "The data of this registration has been removed. Questions? Write to the organiser of the "
                        "event."}
    answer = client.http.get(f"/registrations/{a['registration_id']}?token={view}", headers={"Accept-Language": "en"})
    assert (answer.status_code, json.loads(answer.body)) == (410, erased)
    posted = client.http.post(f"/registrations/{a['registration_id']}/cancel?lang=en",
                              headers={"Content-Type": "application/json"}, body=json.dumps({"token": cancel}))
    assert (posted.status_code, json.loads(posted.body)) == (410, erased)
    page = client.http.get(f"/registrations/{a['registration_id']}?token={view}&lang=nl",
                           headers={"Accept": "text/html"})
    assert page.status_code == 410 and "De gegevens van deze inschrijving zijn verwijderd." in page.body.decode()
    # the token is checked first: without it, nothing is told
    assert client.http.get(f"/registrations/{a['registration_id']}?token=nonsense").status_code == 403
    assert store.get_registration_in_event(SEED_EVENT_ID, a["registration_id"])["status"] == "erased"


@pytest.mark.parametrize("token", ["", "nonsense", "local1.AAAA", "other.key", None])
def test_bad_token_is_403_and_reveals_nothing(client, seed_event, token):
    a = register(client, "a@example.org")
    real = tokens.make_token(a["registration_id"], tokens.VIEW)
    query = "" if token is None else f"?token={token}"
    answer = client.http.get(f"/registrations/{a['registration_id']}{query}", headers={"Accept-Language": "en"})
    assert answer.status_code == 403
    assert json.loads(answer.body) == {
        "type": "/problems/invalid-token", "title": "Invalid link", "status": 403,
        "detail": "This link is not valid. Use the link from your most recent email.",
    }
    # a token for another registration, or for an id that does not exist, is refused the same way
    assert client.http.get(f"/registrations/doesnotexist?token={real}").status_code == 403
    cancel = client.http.post(
        f"/registrations/{a['registration_id']}/cancel",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"token": token or ""}),
    )
    assert cancel.status_code == 403
    assert store.get_registration_in_event(SEED_EVENT_ID, a["registration_id"])["status"] == "confirmed"


def test_tampered_token_is_refused(client, seed_event):
    a = register(client, "a@example.org")
    real = tokens.make_token(a["registration_id"], tokens.VIEW)
    tampered = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    assert client.http.get(f"/registrations/{a['registration_id']}?token={tampered}").status_code == 403


def test_token_is_opaque_and_keys_rotate(monkeypatch):
    monkeypatch.setenv("TOKEN_KEYS", "k1:first-secret")
    old = tokens.make_token("reg123", tokens.CANCEL)
    assert "reg123" not in old and "@" not in old and "cancel" not in old and old.startswith("k1.")
    monkeypatch.setenv("TOKEN_KEYS", "k2:second-secret,k1:first-secret")
    assert tokens.verify_token("reg123", old, tokens.CANCEL)  # old links keep working after rotation
    new = tokens.make_token("reg123", tokens.CANCEL)
    assert new.startswith("k2.") and tokens.verify_token("reg123", new, tokens.CANCEL)
    assert not tokens.verify_token("reg124", new, tokens.CANCEL)
    monkeypatch.setenv("TOKEN_KEYS", "k2:second-secret")
    assert not tokens.verify_token("reg123", old, tokens.CANCEL)  # retired key


def test_token_from_secrets_manager(aws, monkeypatch):
    from chalicelib import aws as clients

    arn = clients.client("secretsmanager").create_secret(Name="token-key", SecretString="generatedsecretvalue")["ARN"]
    monkeypatch.setenv("TOKEN_KEYS", "")
    monkeypatch.setenv("TOKEN_SECRET_ARN", arn)
    token = tokens.make_token("abc", tokens.VIEW)
    assert token.startswith("k1.") and tokens.verify_token("abc", token, tokens.VIEW)


def test_unknown_registration_with_valid_token_is_404(client, seed_event):
    token = tokens.make_token("gone-registration", tokens.VIEW)
    answer = client.http.get(f"/registrations/gone-registration?token={token}")
    assert answer.status_code == 404
    assert json.loads(answer.body)["type"] == "/problems/not-found"


@pytest.mark.parametrize("token", ["local1.%C3%A9", "local1.\u00e9"])
def test_non_ascii_token_is_403_not_500(client, seed_event, token):
    a = register(client, "a@example.org")
    answer = client.http.get(f"/registrations/{a['registration_id']}?token={token}")
    assert answer.status_code == 403
    cancel = client.http.post(
        f"/registrations/{a['registration_id']}/cancel",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"token": "local1.\u00e9"}),
    )
    assert cancel.status_code == 403


def test_cancel_form_with_a_bad_token_shows_a_page_to_a_browser(client, seed_event):
    a = register(client, "a@example.org")
    answer = client.http.post(f"/registrations/{a['registration_id']}/cancel",
                              headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                                       "Accept-Language": "en"},
                              body=b"token=bad")
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "This link is not valid." in answer.body.decode()
