"""chalicelib.tokens: signed, opaque link tokens bound to a purpose, and thank-you receipts (README, "Emails")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import tokens

KEYS = "k2:new-secret-0123456789abcdef,k1:old-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("TOKEN_KEYS", KEYS)
    monkeypatch.delenv("TOKEN_SECRET_ARN", raising=False)


def test_a_token_serves_its_own_purpose_only():
    # GIVEN a token made to view a registration
    token = tokens.make_token("reg-1", tokens.VIEW)
    # THEN it views that registration, and neither cancels it nor views another one
    assert tokens.verify_token("reg-1", token, tokens.VIEW)
    assert not tokens.verify_token("reg-1", token, tokens.CANCEL)
    assert not tokens.verify_token("reg-2", token, tokens.VIEW)
    assert tokens.purposes_of("reg-1", token) == frozenset({tokens.VIEW})
    with pytest.raises(tokens.InvalidToken):
        tokens.require_token("reg-1", token, tokens.CANCEL)


def test_an_older_key_still_verifies_and_an_unknown_purpose_is_a_programming_error(monkeypatch):
    # GIVEN a token signed when k1 was the newest key
    monkeypatch.setenv("TOKEN_KEYS", "k1:old-secret-0123456789abcdef")
    old = tokens.make_token("reg-1", tokens.CANCEL)
    # WHEN k2 is added in front of it
    monkeypatch.setenv("TOKEN_KEYS", KEYS)
    # THEN the old token still works and new ones carry the new key's id
    assert tokens.verify_token("reg-1", old, tokens.CANCEL)
    assert tokens.make_token("reg-1", tokens.CANCEL).startswith("k2.")
    with pytest.raises(tokens.UnknownPurpose):
        tokens.make_token("reg-1", "admin")


def test_a_receipt_names_its_registration_for_an_hour_and_only_for_its_event():
    # GIVEN a receipt made at t
    t = 1_686_564_000
    receipt = tokens.make_receipt("e1", "reg-1", t)
    # THEN it is read until its expiry, not after, not for another event, and not as a link token
    assert tokens.read_receipt("e1", receipt, t + tokens.RECEIPT_SECONDS) == "reg-1"
    assert tokens.read_receipt("e1", receipt, t + tokens.RECEIPT_SECONDS + 1) is None
    assert tokens.read_receipt("e2", receipt, t) is None
    assert not tokens.verify_token("reg-1", receipt, tokens.VIEW)


@given(position=st.integers(min_value=0, max_value=60), replacement=st.characters(codec="utf-8"))
def test_any_changed_character_makes_a_token_invalid(position, replacement):
    # GIVEN a valid cancel token with one character replaced (hostile: any Unicode, CR/LF)
    token = tokens.make_token("reg-1", tokens.CANCEL)
    index = position % len(token)
    tampered = token[:index] + replacement + token[index + 1:]
    # THEN it verifies only if nothing changed
    assert tokens.verify_token("reg-1", tampered, tokens.CANCEL) == (tampered == token)


@given(st.text(max_size=300))
def test_hostile_tokens_and_receipts_are_refused_quietly(text):
    # GIVEN any text as a token or a receipt
    # THEN it is refused without an exception (unless it is a genuine one, which random text never is)
    assert tokens.verify_token("reg-1", text, tokens.VIEW) is False
    assert tokens.read_receipt("e1", text, 1_686_564_000) is None
