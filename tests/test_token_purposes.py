"""Personal link tokens are bound to their purpose (README, "Emails", personal links).

A view token shows the status page (and is the calendar entry's link) but never cancels; a cancel
token opens the cancel page and cancels but shows no status page; a check-in token does neither.
Tokens of the first release, signed without a purpose, keep working for view and cancel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import store, tokens
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json

INVALID = {"type": "/problems/invalid-token", "title": "Invalid link", "status": 403,
           "detail": "This link is not valid. Use the link from your most recent email."}


def legacy_token(registration_id: str) -> str:
    """A link token as the first release made it: HMAC over ``"registration:" + id``, no purpose."""
    kid, key = tokens.signing_keys()[0]
    digest = hmac.new(key, f"registration:{registration_id}".encode(), hashlib.sha256).digest()
    return f"{kid}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def register(client, **fields) -> str:
    answer = post_json(client, partos_registration(**fields))
    assert answer.status_code == 201, answer.body
    return json.loads(answer.body)["registration_id"]


def status_page(client, registration_id: str, token: str, html: bool = False):
    headers = {"Accept": "text/html" if html else "application/json", "Accept-Language": "en"}
    return client.http.get(f"/registrations/{registration_id}?token={quote(token, safe='')}&lang=en", headers=headers)


def cancel_page(client, registration_id: str, token: str):
    return client.http.get(f"/registrations/{registration_id}/cancel?token={quote(token, safe='')}&lang=en",
                           headers={"Accept": "text/html"})


def cancel_post(client, registration_id: str, token: str):
    return client.http.post(f"/registrations/{registration_id}/cancel", headers={"Content-Type": "application/json",
                                                                                 "Accept-Language": "en"},
                            body=json.dumps({"token": token}))


@pytest.mark.parametrize("purpose", tokens.PURPOSES)
def test_each_purpose_is_refused_on_the_routes_of_the_others(client, seed_event, purpose):
    registration_id = register(client)
    token = tokens.make_token(registration_id, purpose)
    view, page, cancel = status_page(client, registration_id, token), cancel_page(client, registration_id, token), \
        cancel_post(client, registration_id, token)
    allowed = {"view": (200, 403, 403), "cancel": (403, 200, 200), "checkin": (403, 403, 403)}[purpose]
    assert (view.status_code, page.status_code, cancel.status_code) == allowed
    if view.status_code == 403:
        assert json.loads(view.body) == INVALID
    if cancel.status_code == 403:
        assert json.loads(cancel.body) == INVALID
    status = store.get_registration_in_event(SEED_EVENT_ID, registration_id)["status"]
    assert status == ("cancelled" if purpose == "cancel" else "confirmed")


@settings(max_examples=200, deadline=None)
@given(registration_id=st.text(min_size=1, max_size=40), made=st.sampled_from(tokens.PURPOSES),
       checked=st.sampled_from(tokens.PURPOSES), other_id=st.text(min_size=1, max_size=40))
def test_a_token_serves_its_own_purpose_and_registration_only(registration_id, made, checked, other_id):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKEN_KEYS", "k1:purpose-test-secret")
        token = tokens.make_token(registration_id, made)
        assert tokens.verify_token(registration_id, token, checked) is (made == checked)
        assert tokens.purposes_of(registration_id, token) == {made}
        if other_id != registration_id:
            assert not tokens.purposes_of(other_id, token)


def test_an_unknown_purpose_is_a_programming_error(monkeypatch):
    monkeypatch.setenv("TOKEN_KEYS", "k1:purpose-test-secret")
    with pytest.raises(tokens.UnknownPurpose):
        tokens.make_token("abc", "admin")
    with pytest.raises(tokens.UnknownPurpose):
        tokens.verify_token("abc", "k1.x", "admin")


def test_the_status_page_of_a_view_token_says_where_the_cancel_link_is(client, seed_event):
    registration_id = register(client, language="en")
    page = html.unescape(status_page(client, registration_id, tokens.make_token(registration_id, tokens.VIEW),
                                     html=True).body.decode())
    assert "Your registration is confirmed: you have a seat." in page
    assert "/cancel" not in page  # no way to cancel from a view link
    assert "Can't make it after all? Cancel with the link ‘Cancel your registration’ in your email." in page


def test_the_cancel_page_needs_a_cancel_token_and_leads_back_with_a_view_token(client, seed_event):
    registration_id = register(client, language="en")
    cancel_token = tokens.make_token(registration_id, tokens.CANCEL)
    page = cancel_page(client, registration_id, cancel_token).body.decode()
    assert "Are you sure you want to cancel your registration?" in page
    answer = client.http.post(f"/registrations/{registration_id}/cancel?lang=en",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              body=f"token={quote(cancel_token, safe='')}".encode())
    assert answer.status_code == 303
    back = parse_qs(urlsplit(answer.headers["Location"]).query)["token"][0]
    assert tokens.purposes_of(registration_id, back) == {tokens.VIEW}  # the redirect carries no cancel token
    after = status_page(client, registration_id, back, html=True).body.decode()
    assert "This registration has been cancelled." in after


def test_first_release_tokens_still_view_and_cancel_but_never_check_in(client, seed_event):
    registration_id = register(client, language="en")
    old = legacy_token(registration_id)
    assert tokens.purposes_of(registration_id, old) == {tokens.VIEW, tokens.CANCEL}
    page = status_page(client, registration_id, old, html=True).body.decode()
    assert f'href="{registration_id}/cancel?token=' in page  # such a link could cancel: the page offers it
    assert cancel_page(client, registration_id, old).status_code == 200
    assert cancel_post(client, registration_id, old).status_code == 200
    assert store.get_registration_in_event(SEED_EVENT_ID, registration_id)["status"] == "cancelled"


def test_thank_you_references_are_no_link_tokens_of_any_purpose(client, seed_event):
    registration_id = register(client)
    receipt = tokens.make_receipt(SEED_EVENT_ID, registration_id, 1_700_000_000)
    signature_part = receipt.split(".", 2)[2]
    assert not tokens.purposes_of(registration_id, signature_part)
    for purpose in tokens.PURPOSES:
        assert (
            tokens.read_receipt(
                SEED_EVENT_ID,
                f"{registration_id}.1700000060.{tokens.make_token(registration_id, purpose)}",
                1_700_000_000,
            )
            is None
        )


def test_the_cancel_page_of_a_waitlisted_registrant_speaks_of_the_waitlist(client, seed_event):
    """Someone waiting has no seat to give up: the link, question and button say "leave the waitlist"."""
    from tests.test_capacity import small_event

    small_event(1)
    register(client, language="en", email="seat@example.org")
    waiting = register(client, language="en", email="waiting@example.org")
    page = cancel_page(client, waiting, tokens.make_token(waiting, tokens.CANCEL)).body.decode()
    assert "Are you sure you want to leave the waitlist? You will lose your place in the queue." in page
    assert "Yes, leave the waitlist" in page and "seat" not in page.split('id="registration-status"')[1]
    legacy = status_page(client, waiting, legacy_token(waiting), html=True).body.decode()
    assert ">Leave the waitlist</a>" in legacy


@pytest.mark.parametrize(("lang", "question", "button"), [
    ("en", "Do you want to withdraw your registration? No seat will come free for you any more.",
     "Yes, withdraw my registration"),
    ("nl", "Wil je je inschrijving intrekken? Er komt geen plek meer voor je vrij.", "Ja, trek mijn inschrijving in"),
])
def test_past_the_waitlist_cutoff_the_cancel_page_withdraws(seed_event, lang, question, button):
    from chalicelib import pages

    cutoff = seed_event.utc(seed_event.waitlist_closes_local)
    page = pages.registration_status(seed_event, lang, registration_id="r", status="waitlisted", position=3,
                                   token="t", ask_cancel=True, base_path="..", now=cutoff, can_cancel=True)
    assert question in page and button in page
    assert "seat will go" not in page and "plek gaat" not in page
