"""Check-in at the door (README, "Check-in at the door"): codes, door links, the door API, the writes.

The routes run through ``chalice.test.Client`` against moto (the ``aws`` fixture applies DynamoDB
requests one at a time, as DynamoDB's own atomicity does); the concurrent scans run threads
through the same function the route calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json

DOOR = f"/events/{SEED_EVENT_ID}/door"
LOCAL_KEY = ("local1", b"local-development-key-not-secret")  # .chalice/config.json, stage local
PERSON_KEYS = {"name", "organisation", "status", "checked_in_at", "time", "code"}


def register(client, **overrides) -> str:
    answer = post_json(client, partos_registration(**overrides))
    assert answer.status_code == 201, answer.body
    return json.loads(answer.body)["registration_id"]


def door_token(event_id: str = SEED_EVENT_ID, valid: timedelta = timedelta(days=2)) -> str:
    from chalicelib import checkin, clock

    return checkin.make_door_token(event_id, clock.now() + valid)


def door(client, path: str, body=None, token: str | None = "auto", lang: str = "en",  # noqa: S107 - "auto": make one
         content_type="application/json"):
    """Call a door route with a fresh valid door link (``token="auto"``), another token, or none."""
    headers = {"Accept": "application/json"}
    if token == "auto":
        token = door_token()
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{DOOR}{path}?lang={lang}"
    if body is None:
        return client.http.get(url, headers=headers)
    headers["Content-Type"] = content_type
    return client.http.post(url, headers=headers, body=body if isinstance(body, (str, bytes)) else json.dumps(body))


def scan(client, code: str, **kwargs) -> dict:
    answer = door(client, "/checkins", {"code": code}, **kwargs)
    assert answer.status_code == 200, answer.body
    assert answer.headers["Cache-Control"] == "no-store"
    return json.loads(answer.body)


def item_of(registration_id: str) -> dict:
    from chalicelib import store

    return store.get_registration_in_event(SEED_EVENT_ID, registration_id)


def checkins_counter(event_id: str = SEED_EVENT_ID) -> dict | None:
    from chalicelib import aws, checkin, store

    found = aws.client("dynamodb").get_item(TableName=aws_table(), Key={
        "pk": {"S": store.event_pk(event_id)}, "sk": {"S": checkin.CHECKINS_SK}}, ConsistentRead=True)
    return store.deserialize(found["Item"]) if "Item" in found else None


def aws_table() -> str:
    from chalicelib.settings import get_settings

    return get_settings().table_name


def seed_with(capacity: int | None, event_id: str = SEED_EVENT_ID):
    from chalicelib import store
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(
        update={"capacity": capacity, "id": event_id}
    )
    store.put_event(event)
    return event


# ------------------------------------------------------------------ codes


def test_a_code_is_24_base32_characters_in_six_groups_and_reads_back_however_it_is_typed(aws):
    from chalicelib import checkin

    code = checkin.make_code(SEED_EVENT_ID, "Ab3xYz0000000000000001")
    assert re.fullmatch(r"[A-Z2-7]{24}", code)
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4}){5}", checkin.spoken(code))
    typed = checkin.spoken(code).lower().replace(" ", "-").replace("o", "0").replace("i", "1").replace("b", "8")
    parsed = checkin.parse_code(f"  {typed} ")
    assert parsed is not None and parsed.code == code
    assert parsed.id_prefix == "Ab3xYz00" and parsed.tag == checkin.event_tag(SEED_EVENT_ID)
    assert checkin.code_matches(parsed, "Ab3xYz0000000000000001")
    assert not checkin.code_matches(parsed, "Ab3xYz0000000000000002")  # same prefix, another id: the signature differs


def test_the_signature_is_the_checkin_purpose_hmac_truncated_to_64_bits(aws):
    """The message is the one chalicelib.tokens signs for purpose ``checkin`` (README, "Emails", personal links)."""
    from chalicelib import checkin

    registration_id = "Zz9_-aBcDeFgHiJkLmNoPq"
    raw = base64.b32decode(checkin.make_code(SEED_EVENT_ID, registration_id))
    expected = hmac.new(LOCAL_KEY[1], f"checkin:registration:{registration_id}".encode(), hashlib.sha256).digest()
    assert raw[7:] == expected[:8]
    assert raw[1:7] == base64.urlsafe_b64decode(registration_id[:8])
    assert raw[0] == hashlib.sha256(f"event:{SEED_EVENT_ID}".encode()).digest()[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=60), st.from_regex(r"[A-Za-z2-7 \-]{20,30}", fullmatch=True),
                      st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_any_text_is_read_as_a_code_or_refused_never_an_error(aws, text):
    from chalicelib import checkin

    parsed = checkin.parse_code(text)
    if parsed is not None:
        assert re.fullmatch(r"[A-Z2-7]{24}", parsed.code) and len(parsed.mac) == 8 and len(parsed.id_prefix) == 8
        assert not checkin.code_matches(parsed, parsed.id_prefix + "AAAAAAAAAAAAAA")  # no signature by chance


def test_codes_survive_a_new_key_and_die_with_a_retired_one(aws, monkeypatch):
    from chalicelib import checkin

    monkeypatch.setenv("TOKEN_KEYS", "k1:first-secret")
    code = checkin.make_code(SEED_EVENT_ID, "Ab3xYz0000000000000001")
    monkeypatch.setenv("TOKEN_KEYS", "k2:second-secret,k1:first-secret")
    assert checkin.code_matches(checkin.parse_code(code), "Ab3xYz0000000000000001")
    assert checkin.make_code(SEED_EVENT_ID, "Ab3xYz0000000000000001") != code  # new codes: the newest key
    monkeypatch.setenv("TOKEN_KEYS", "k2:second-secret")
    assert not checkin.code_matches(checkin.parse_code(code), "Ab3xYz0000000000000001")


# ------------------------------------------------------------------ purposes: a code is no link token, no token a code


def test_a_checkin_code_never_views_or_cancels(client, seed_event):
    from chalicelib import checkin

    registration_id = register(client)
    code = checkin.make_code(SEED_EVENT_ID, registration_id)
    for token in (code, checkin.spoken(code)):
        assert client.http.get(f"/registrations/{registration_id}?token={token}",
                               headers={"Accept": "application/json"}).status_code == 403
        assert client.http.get(f"/registrations/{registration_id}/cancel?token={token}",
                               headers={"Accept": "application/json"}).status_code == 403
        cancel = client.http.post(
            f"/registrations/{registration_id}/cancel",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"token": token}),
        )
        assert cancel.status_code == 403
    assert item_of(registration_id)["status"] == "confirmed"


def _code_with(event_id: str, registration_id: str, signature: bytes) -> str:
    from chalicelib import checkin

    raw = bytes([checkin.event_tag(event_id)]) + base64.urlsafe_b64decode(registration_id[:8]) + signature[:8]
    return base64.b32encode(raw).decode()


def test_one_scheme_for_every_purpose_and_nothing_signed_for_one_passes_for_another(aws):
    """Each pair of purposes (view, cancel, check-in code, door link): what is made for one is refused by the
    other's check.

    All are ``chalicelib.tokens.mac`` over ``"<purpose>:<subject>"``; the code is the first 64 bits of the
    ``checkin`` purpose's signature, the door link the ``door`` purpose's over ``"<event>:<expiry>"``.
    """
    from chalicelib import checkin, clock, tokens

    registration_id = "Ab3xYz0000000000000001"
    made = {purpose: tokens.make_token(registration_id, purpose) for purpose in (tokens.VIEW, tokens.CANCEL)}
    code = checkin.make_code(SEED_EVENT_ID, registration_id)
    door_link = checkin.make_door_token(SEED_EVENT_ID, clock.now() + timedelta(days=1))
    key = LOCAL_KEY[1]
    assert base64.b32decode(code)[7:] == tokens.registration_mac(key, registration_id, tokens.CHECKIN)[:8]
    assert door_link.split(".")[2] == tokens.encode(
        tokens.mac(key, tokens.DOOR, f"{SEED_EVENT_ID}:{door_link.split('.')[0]}")
    )
    for purpose, token in made.items():  # view <-> cancel, and neither as a code or a door link
        for other in (tokens.VIEW, tokens.CANCEL):
            assert tokens.verify_token(registration_id, token, other) is (other == purpose)
        assert not tokens.verify_token(registration_id, token, tokens.CHECKIN)
        assert checkin.parse_code(token) is None
        signature = base64.urlsafe_b64decode(token.split(".", 1)[1] + "==")
        assert not checkin.code_matches(checkin.parse_code(_code_with(SEED_EVENT_ID, registration_id, signature)),
                                        registration_id)
        with pytest.raises(checkin.DoorLinkInvalid):
            checkin.read_door_token(SEED_EVENT_ID, token, clock.now())
    for form in (code, checkin.spoken(code), f"local1.{code}"):  # a code, as written, is no view, cancel or door token
        assert tokens.purposes_of(registration_id, form) == frozenset()
        with pytest.raises(checkin.DoorLinkInvalid):
            checkin.read_door_token(SEED_EVENT_ID, form, clock.now())
    assert tokens.purposes_of(registration_id, door_link) == frozenset()  # a door link is no registration token
    assert checkin.parse_code(door_link) is None
    with pytest.raises(tokens.UnknownPurpose):
        tokens.registration_mac(key, registration_id, tokens.DOOR)  # a door link is an event's, never a registration's


def test_a_view_or_cancel_token_never_checks_anyone_in(client, seed_event):
    """The personal link token (its full signature, and the first 64 bits of it in a code's shape) is refused at
    the door."""
    from chalicelib import tokens

    registration_id = register(client)
    for purpose in (tokens.VIEW, tokens.CANCEL):
        link_token = tokens.make_token(registration_id, purpose)
        signature = base64.urlsafe_b64decode(link_token.split(".", 1)[1] + "==")
        assert scan(client, _code_with(SEED_EVENT_ID, registration_id, signature))["outcome"] == "unknown_code"
        assert scan(client, link_token)["outcome"] == "unknown_code"
    for message in (
        "registration:",
        "view:registration:",
        "cancel:registration:",
    ):  # the first release's, the purposes'
        other = hmac.new(LOCAL_KEY[1], f"{message}{registration_id}".encode(), hashlib.sha256).digest()
        assert scan(client, _code_with(SEED_EVENT_ID, registration_id, other))["outcome"] == "unknown_code"
    assert "checked_in_at" not in item_of(registration_id)


def test_a_door_link_is_no_personal_link_and_a_personal_link_no_door_link(client, seed_event):
    from chalicelib import tokens

    registration_id = register(client)
    door_link = door_token()
    assert client.http.get(f"/registrations/{registration_id}?token={door_link}",
                           headers={"Accept": "application/json"}).status_code == 403
    for purpose in tokens.PURPOSES:
        answer = door(client, "/summary", token=tokens.make_token(registration_id, purpose))
        assert answer.status_code == 401 and json.loads(answer.body)["type"] == "/problems/door-link-invalid"
    answer = door(client, "/summary", token=door_link.replace(".local1.", ".local1x.", 1))
    assert answer.status_code == 401 and json.loads(answer.body)["type"] == "/problems/door-link-invalid"


# ------------------------------------------------------------------ door links


def test_door_links_expire_and_say_when(client, seed_event):
    from chalicelib import checkin, clock

    expired = checkin.make_door_token(SEED_EVENT_ID, datetime(2023, 5, 20, 16, 0, tzinfo=UTC))
    for path, body in (("/summary", None), ("/checkins", {"code": "x"}), ("/search", {"query": "anna"})):
        answer = door(client, path, body, token=expired, lang="nl")
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="door", error="invalid_token"'
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert json.loads(answer.body) == {
            "type": "/problems/door-link-expired",
            "title": "Link verlopen",
            "status": 401,
            "detail": "Deze link voor de ingang is verlopen op 20 mei 2023 18:00 CEST. "
                      "Vraag de organisator om een nieuwe.",
        }
    assert clock.now() > datetime(2023, 5, 20, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("make", [
    lambda t: None,  # no Authorization header
    lambda t: "",
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # tampered signature
    lambda t: str(int(t.split(".")[0]) + 86400) + t[t.index("."):],  # a later expiry than signed
    lambda t: t.replace("local1", "k9"),  # unknown key
    lambda t: "x" * 400,
    lambda t: "1.2.3.4",
    lambda t: "\u00b2\u00b2" + t[t.index("."):],  # superscript digits: isdigit() but not int() (was 500)
    lambda t: "".join(chr(0x660 + int(c)) for c in t.split(".")[0]) + t[t.index("."):],  # Arabic-Indic digits
])
def test_bad_door_links_are_refused_before_anything_is_read(client, seed_event, make):
    from tests.test_aws_budgets import aws_calls

    with aws_calls() as calls:
        token = make(door_token())
        answer = door(client, "/checkins", {"code": "AAAA"}, token=token)
    assert answer.status_code == 401  # RFC 6750 section 3.1: no token names no error, a bad one invalid_token
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="door", error="invalid_token"' if token else 'Bearer realm="door"'
    )
    assert json.loads(answer.body)["type"] == "/problems/door-link-invalid"
    assert calls == {}


def test_a_door_link_opens_only_its_own_event(client, seed_event):
    seed_with(10, "another-workshop")
    other = door_token("another-workshop")
    answer = door(client, "/summary", token=other)
    assert answer.status_code == 401 and json.loads(answer.body)["type"] == "/problems/door-link-invalid"


def test_door_links_die_with_their_key(aws, monkeypatch):
    """Revoking door links is retiring the key that signed them (chalice.test.Client sets the stage's keys, so
    the rotation is tested on the function the routes call)."""
    from chalicelib import checkin

    now = datetime(2023, 6, 5, 10, 0, tzinfo=UTC)
    monkeypatch.setenv("TOKEN_KEYS", "k1:first-secret")
    token = checkin.make_door_token(SEED_EVENT_ID, now + timedelta(days=1))
    monkeypatch.setenv("TOKEN_KEYS", "k2:second-secret,k1:first-secret")
    assert checkin.read_door_token(SEED_EVENT_ID, token, now).key_id == "k1"
    monkeypatch.setenv("TOKEN_KEYS", "k2:second-secret")
    with pytest.raises(checkin.DoorLinkInvalid):
        checkin.read_door_token(SEED_EVENT_ID, token, now)


def test_the_authorization_header_is_read_as_rfc_6750_says(aws):
    from chalicelib.checkin import bearer_token

    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer ") is None and bearer_token(None) is None


# ------------------------------------------------------------------ checking in


def test_a_scan_checks_in_once_and_then_says_already_with_the_time(client, seed_event):
    from chalicelib import checkin

    registration_id = register(client, name="Zoë van der Berg-Ødegård", organisation="Wilde Ganzen")
    code = checkin.make_code(SEED_EVENT_ID, registration_id)
    first = scan(client, checkin.spoken(code), lang="en")
    item = item_of(registration_id)
    at = datetime.fromisoformat(item["checked_in_at"])
    assert item["checked_in_via"] == "door" and at.tzinfo is not None and at.utcoffset() == timedelta(0)
    local = at.astimezone(seed_event.zone)
    assert first == {
        "outcome": "checked_in", "tone": "ok", "title": "Checked in", "changed": True,
        "person": {"name": "Zoë van der Berg-Ødegård", "organisation": "Wilde Ganzen", "status": "confirmed",
                   "checked_in_at": local.isoformat(timespec="seconds"), "time": local.strftime("%H:%M"), "code": code},
        # the clock reads 22 May, the event is on 5 June
        "early": True, "note": "This event starts on Monday, June 5, 2023 14:00 CEST — checked in early.",
    }
    second = scan(client, code, lang="nl")
    assert second["outcome"] == "already_checked_in" and second["changed"] is False and second["tone"] == "warn"
    assert second["title"] == f"Al ingecheckt om {local.strftime('%H:%M')}"
    assert second["early"] is True and second["note"] == (
        f"Die check-in was op maandag 22 mei 2023 {local.strftime('%H:%M')} CEST, vóór de dag van het evenement: "
        "maak hem ongedaan als het een test was.")
    assert second["person"]["checked_in_at"] == first["person"]["checked_in_at"]
    assert item_of(registration_id)["checked_in_at"] == item["checked_in_at"]
    assert checkins_counter()["checked_in_count"] == 1
    assert checkins_counter()["expires_at"] == item["expires_at"]  # goes with the event's items (TTL)


def test_the_door_never_sees_more_than_it_needs(client, seed_event):
    from chalicelib import checkin

    registration_id = register(client, email="private@example.org", needs="Rolstoel")
    body = door(client, "/checkins", {"code": checkin.make_code(SEED_EVENT_ID, registration_id)}).body.decode()
    answer = json.loads(body)
    assert set(answer) == {"outcome", "tone", "title", "changed", "person", "early", "note"}
    assert set(answer["person"]) == PERSON_KEYS
    for private in ("private@example.org", "Rolstoel", registration_id, "campaigner"):
        assert private not in body
    found = door(client, "/search", {"query": "private@example"}).body.decode()
    assert json.loads(found)["results"][0]["name"] == "Anna de Vries"
    assert "private@example.org" not in found and registration_id not in found and "Rolstoel" not in found


def test_cancelled_waitlisted_and_erased_registrations_are_not_checked_in(client, aws):
    from chalicelib import checkin, lifecycle
    from staff.changes import erase_address

    seed_with(1)
    seated = register(client, email="seat@example.org")
    waiting = register(client, email="wait@example.org")
    cancelled = register(client, email="gone@example.org")  # waitlisted, then cancelled
    lifecycle.cancel(SEED_EVENT_ID, cancelled, by="staff")
    erased = register(client, email="erase@example.org")
    erase_address(SEED_EVENT_ID, "erase@example.org")
    expected = {waiting: ("waitlisted", "On the waitlist: no seat", "Anna de Vries"),
                cancelled: ("cancelled", "Registration cancelled", "Anna de Vries"),
                erased: ("erased", "Registration removed", "")}
    for registration_id, (outcome, title, name) in expected.items():
        answer = scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))
        assert (answer["outcome"], answer["tone"], answer["title"], answer["changed"]) == (
            outcome,
            "stop",
            title,
            False,
        )
        assert answer["person"]["name"] == name and answer["person"]["status"] == outcome
        assert "checked_in_at" not in item_of(registration_id)
    assert checkins_counter() is None  # no check-in, no counter
    assert scan(client, checkin.make_code(SEED_EVENT_ID, seated))["outcome"] == "checked_in"


def test_codes_of_another_event_and_made_up_codes_are_told_apart(client, seed_event):
    from chalicelib import checkin

    seed_with(10, "another-workshop")
    elsewhere = post_json(client, partos_registration(email="else@example.org"), event_id="another-workshop")
    other_id = json.loads(elsewhere.body)["registration_id"]
    here = register(client)
    assert scan(client, checkin.make_code("another-workshop", other_id)) == {
        "outcome": "not_for_event", "tone": "stop", "title": "Not for this event", "changed": False, "person": None,
        "early": False, "note": None}
    forged = _code_with(SEED_EVENT_ID, here, b"\0" * 8)
    nobody = _code_with(SEED_EVENT_ID, "QQQQQQQQ", b"\1" * 8)  # this event's tag, no registration with the prefix
    for code in (forged, nobody, "not a code", "https://example.org/", ""):
        assert scan(client, code)["outcome"] == "unknown_code"
    assert door(client, "/checkins", {"code": 42}).status_code == 422  # not text: a type error, naming "code"
    assert "checked_in_at" not in item_of(here)


def event_id_tagged(tag: int, start: str = "other") -> str:
    """An event id whose code tag (``checkin.event_tag``) is ``tag``: the first of ``<start>-0``, ``<start>-1``, ..."""
    from chalicelib import checkin

    return next(f"{start}-{n}" for n in range(100_000) if checkin.event_tag(f"{start}-{n}") == tag)


def plant_registration(event_id: str, registration_id: str) -> None:
    """A confirmed registration item with a chosen id, written as stored (a prefix shared with another event's)."""
    from chalicelib import aws, clock, store

    item = store.new_registration_item(event_id, registration_id, name="Someone Else", email="else@example.org",
                                       language="nl", answers={}, now=clock.now(), expires_at=2_000_000_000)
    aws.client("dynamodb").put_item(TableName=aws_table(), Item=store.serialize(item))


def test_a_mistyped_or_made_up_code_is_unknown_not_for_another_event(client, seed_event):
    """A typo in the first two characters changes the event tag, which no signature covers: the door said
    "Not for this event" and door staff told a registered person they had signed up for another event."""
    from chalicelib import checkin

    here = register(client)
    code = checkin.spoken(checkin.make_code(SEED_EVENT_ID, here))
    first = "M" if code[0] != "M" else "N"
    second = "A" if code[1] != "A" else "B"
    for typed in (first + code[1:], code[0] + second + code[2:], "AAAA BBBB CCCC DDDD EEEE FFFF"):
        assert scan(client, typed) == {"outcome": "unknown_code", "tone": "stop", "title": "Unknown code",
                                       "changed": False, "person": None, "early": False,
                                       "note": "Check the code, or search by name."}, typed
    assert json.loads(door(client, "/checkins", {"code": first + code[1:]}, lang="nl").body)["title"] == \
        "Onbekende code"
    assert "checked_in_at" not in item_of(here)


def test_a_code_of_another_event_with_this_events_tag_is_still_not_for_this_event(client, seed_event):
    """One event in 256 shares this event's tag: a code of it is found there, not called unknown."""
    from chalicelib import checkin

    twin = event_id_tagged(checkin.event_tag(SEED_EVENT_ID), "twin")
    seed_with(10, twin)
    elsewhere = post_json(client, partos_registration(email="twin@example.org"), event_id=twin)
    assert scan(client, checkin.make_code(twin, json.loads(elsewhere.body)["registration_id"]))["outcome"] == \
        "not_for_event"


#: What a person may type for one character of a code: the alphabet, the digits read as letters, a hyphen.
TYPED = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" + "0189-"


def registered_anna(client) -> str:
    """Anna's registration in the seed event, made on the first call (Hypothesis examples share the fixtures)."""
    from chalicelib import store

    try:
        store.event_definition(SEED_EVENT_ID)
    except store.EventNotFound:
        seed_with(None)
    for item in store.iter_registrations(SEED_EVENT_ID, consistent=True):
        if item.get("name") == "Anna de Vries":
            return str(item["registration_id"])
    return register(client)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_one_character_typo_of_a_code_is_unknown_or_the_same_code_never_not_for_event(client, data):
    """Worst case for each typo: an event whose tag the typo makes, holding a registration whose id starts with
    the characters the typo makes (the Query finds it; only the signature tells it is not this code's)."""
    from chalicelib import checkin, store

    anna = registered_anna(client)
    code = checkin.make_code(SEED_EVENT_ID, anna)
    position = data.draw(st.integers(0, len(code) - 1), label="position")
    typed = data.draw(st.sampled_from(TYPED).filter(lambda c: c != code[position]), label="typed")
    mistyped = code[:position] + typed + code[position + 1:]
    parsed = checkin.parse_code(mistyped)
    if parsed is not None and parsed.tag != checkin.event_tag(SEED_EVENT_ID):
        other = event_id_tagged(parsed.tag)
        try:
            store.event_definition(other)
        except store.EventNotFound:
            seed_with(10, other)
        plant_registration(other, parsed.id_prefix + "AAAAAAAAAAAAAA")
    elif parsed is not None and parsed.code != code:
        plant_registration(SEED_EVENT_ID, parsed.id_prefix + "AAAAAAAAAAAAAA")
    outcome = scan(client, checkin.spoken(mistyped) if position % 2 else mistyped)["outcome"]
    if parsed is not None and parsed.code == code:  # 0, 1, 8 are read as O, I, B
        assert outcome in ("checked_in", "already_checked_in")
    else:
        assert outcome == "unknown_code", (code, mistyped)


def test_undo_takes_a_check_in_back_once(client, seed_event):
    from chalicelib import checkin

    registration_id = register(client)
    code = checkin.make_code(SEED_EVENT_ID, registration_id)
    scan(client, code)
    undone = json.loads(door(client, "/undo", {"code": code}).body)
    assert (undone["outcome"], undone["changed"], undone["person"]["checked_in_at"]) == ("undone", True, None)
    assert "checked_in_at" not in item_of(registration_id) and "checked_in_via" not in item_of(registration_id)
    assert checkins_counter()["checked_in_count"] == 0
    again = json.loads(door(client, "/undo", {"code": code}).body)
    assert (again["outcome"], again["changed"], again["tone"]) == ("not_checked_in", False, "info")
    assert checkins_counter()["checked_in_count"] == 0
    assert scan(client, code)["outcome"] == "checked_in"  # and in again


def test_check_in_and_undo_each_log_one_line_with_ids_and_the_door_key(client, seed_event):
    import app  # noqa: F401 - creates the app's loggers as Lambda would
    from chalicelib import checkin
    from tests.test_logs import writing_handlers

    # GIVEN a registration with its code
    registration_id = register(client, name="Geheime Naam", email="geheim@example.org")
    code = checkin.make_code(SEED_EVENT_ID, registration_id)
    stream = io.StringIO()
    handlers = writing_handlers("event-registration.chalicelib.routes.door")
    previous = [(h, h.setStream(stream)) for h in {id(h): h for h in handlers}.values()]
    try:
        # WHEN the door checks it in and takes it back
        scan(client, code)
        door(client, "/undo", {"code": code})
    finally:
        for handler, old in previous:
            handler.setStream(old)
    # THEN one line each, with the same ids: the door link's key says which link did it
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line["event_id"], line["outcome"], line["door_key"], line["registration_id"])
            for line in lines] == [
        ("door check-in", SEED_EVENT_ID, "checked_in", LOCAL_KEY[0], registration_id),
        ("door check-in undone", SEED_EVENT_ID, "undone", LOCAL_KEY[0], registration_id),
    ]
    assert "Geheime" not in stream.getvalue() and "geheim@" not in stream.getvalue() and code not in stream.getvalue()


def test_two_phones_scanning_one_code_at_once_give_one_check_in_and_one_already(client, seed_event):
    """Threads through checkin.check_in_code, the function the route calls: the conditional write decides."""
    from chalicelib import checkin, clock

    people = [register(client, email=f"p{n}@example.org") for n in range(6)]
    for registration_id in people:
        code = checkin.make_code(SEED_EVENT_ID, registration_id)
        outcomes: list[str] = []
        start = threading.Barrier(2)

        def phone(start: threading.Barrier = start, outcomes: list[str] = outcomes, code: str = code) -> None:
            start.wait()
            outcomes.append(checkin.check_in_code(SEED_EVENT_ID, code, clock.now()).outcome)

        threads = [threading.Thread(target=phone) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["already_checked_in", "checked_in"]
    assert checkins_counter()["checked_in_count"] == len(people)


def test_the_figures_are_checked_in_of_confirmed(client, aws):
    from chalicelib import checkin

    seed_with(3)
    people = [register(client, email=f"p{n}@example.org") for n in range(4)]  # the fourth waits
    assert json.loads(door(client, "/summary").body)["checked_in"] == 0
    scan(client, checkin.make_code(SEED_EVENT_ID, people[0]))
    scan(client, checkin.make_code(SEED_EVENT_ID, people[1]))
    answer = door(client, "/summary", lang="nl")
    summary = json.loads(answer.body)
    assert answer.headers["Cache-Control"] == "no-store"
    assert {k: summary[k] for k in ("event_id", "checked_in", "confirmed", "count_text")} == {
        "event_id": SEED_EVENT_ID, "checked_in": 2, "confirmed": 3, "count_text": "2 van 3 ingecheckt"}
    assert summary["link_valid_text"].startswith("Deze link werkt tot 2")


def test_aws_calls_of_the_door(client, seed_event):
    from chalicelib import checkin
    from tests.test_aws_budgets import aws_calls

    code = checkin.make_code(SEED_EVENT_ID, register(client))
    door(client, "/summary")  # the definition is kept by a warm instance
    with aws_calls() as calls:
        scan(client, code)
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}  # the item by its code's prefix, the write
    with aws_calls() as calls:
        scan(client, code)  # refused by the condition, which returns the item: no second read
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    with aws_calls() as calls:
        door(client, "/summary")
    assert calls == {"dynamodb.GetItem": 2}
    with aws_calls() as calls:  # another event's tag (no event has it): the catalogue's ids, no partition
        scan(client, "AAAA BBBB CCCC DDDD EEEE FFFF")
    assert calls == {"dynamodb.Query": 1}
    with aws_calls() as calls:  # this event's tag, not found here: then the other events with this tag (none)
        scan(client, code[:-1] + ("A" if code[-1] != "A" else "B"))
    assert calls == {"dynamodb.Query": 2}


# ------------------------------------------------------------------ search


def test_search_finds_confirmed_people_by_any_part_of_name_or_address_without_accents(client, aws):
    seed_with(2)
    register(client, name="Zoë van der Berg-Ødegård", email="zoe@example.org", organisation="Wilde Ganzen")
    register(client, name="Anna de Vries", email="anna.devries@example.org")
    register(client, name="Zoë Waits", email="zoe.waits@example.org")  # waitlisted: not found
    for query in ("zoe odegard", "ØDEGÅRD", "berg zoë", "zoe@example"):
        found = json.loads(door(client, "/search", {"query": query}).body)
        assert [p["name"] for p in found["results"]] == ["Zoë van der Berg-Ødegård"], query
        assert found["results"][0]["organisation"] == "Wilde Ganzen" and found["more"] is False
    assert json.loads(door(client, "/search", {"query": "nobody"}).body) == {"results": [], "more": False}


def test_search_shows_ten_at_most_and_says_there_are_more(client, seed_event):
    for n in range(12):
        register(client, name=f"Jansen {n:02d}", email=f"jansen{n}@example.org")
    found = json.loads(door(client, "/search", {"query": "jansen"}).body)
    assert [p["name"] for p in found["results"]] == [f"Jansen {n:02d}" for n in range(10)] and found["more"] is True


def test_search_needs_two_letters(client, seed_event):
    answer = door(client, "/search", {"query": " a "}, lang="nl")
    assert answer.status_code == 422
    assert json.loads(answer.body)["errors"] == [
        {"field": "query", "code": "search_too_short", "message": "Typ minstens 2 letters van een naam of adres."}]


def test_search_ignores_invisible_characters_in_the_query_as_names_are_stored_without_them(client, seed_event):
    """Names are stored without invisible characters (README, "Emails"); a query with a zero-width
    space in it (pasted, or typed on some keyboards) found nobody."""
    register(client, name="Zoë Ødegård, MSc", email="zoe@example.org")
    for query in ("Ø\u200bd", "zo\u00ade", "\ufeffodeg\u2060ard"):
        found = json.loads(door(client, "/search", {"query": query}).body)
        assert [p["name"] for p in found["results"]] == ["Zoë Ødegård, MSc"], query


@pytest.mark.parametrize("path,body,field,code,message", [
    ("/checkins", {"code": 5}, "code", "invalid_type", "Deze waarde heeft het verkeerde type."),
    ("/checkins", {"code": None}, "code", "invalid_type", "Deze waarde heeft het verkeerde type."),
    ("/checkins", {"code": ["x"]}, "code", "invalid_type", "Deze waarde heeft het verkeerde type."),
    ("/checkins", {}, "code", "required", "Dit veld is verplicht."),
    ("/undo", {"code": True}, "code", "invalid_type", "Deze waarde heeft het verkeerde type."),
    ("/undo", {"kode": "ABCD"}, "code", "required", "Dit veld is verplicht."),
    ("/search", {"query": 12}, "query", "invalid_type", "Deze waarde heeft het verkeerde type."),
    ("/search", {"query": {"name": "anna"}}, "query", "invalid_type", "Deze waarde heeft het verkeerde type."),
    ("/search", {}, "query", "required", "Dit veld is verplicht."),
])
def test_door_bodies_of_the_wrong_json_type_are_422_naming_the_member(client, seed_event, path, body, field, code,
                                                                      message):
    """They were 200 ``unknown_code`` (a number, null, a list, nothing as the code) and 422
    ``search_too_short`` (a number as the query); codes as the registration API's (README, "HTTP API")."""
    answer = door(client, path, body, lang="nl")
    assert (answer.status_code, answer.headers["Content-Type"]) == (422, "application/problem+json")
    assert json.loads(answer.body) == {
        "type": "/problems/validation-failed", "title": "Ongeldige velden", "status": 422,
        "detail": "Een of meer velden zijn ongeldig; zie errors.",
        "errors": [{"field": field, "code": code, "message": message}],
    }
    assert checkins_counter() is None  # nothing was written


def test_search_results_check_in_with_their_code(client, seed_event):
    register(client, name="Bram Bakker", email="bram@example.org")
    person = json.loads(door(client, "/search", {"query": "bram"}).body)["results"][0]
    assert scan(client, person["code"])["outcome"] == "checked_in"
    again = json.loads(door(client, "/search", {"query": "bram"}).body)["results"][0]
    assert again["time"] is not None and again["checked_in_at"] is not None


# ------------------------------------------------------------------ bodies and the page


@pytest.mark.parametrize("body,content_type,status,problem", [
    ("code=ABC", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
    ("{not json", "application/json", 400, "malformed-body"),
    ("[1, 2]", "application/json", 400, "malformed-body"),
    ("x" * 20000, "application/json", 413, "body-too-large"),
])
def test_door_bodies_are_json_objects(client, seed_event, body, content_type, status, problem):
    answer = door(client, "/checkins", body, content_type=content_type)
    assert answer.status_code == status
    assert json.loads(answer.body)["type"] == f"/problems/{problem}"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_the_door_api_says_it_reads_json_only(client, seed_event, content_type):
    """It said "Send application/json or application/x-www-form-urlencoded, not
    application/x-www-form-urlencoded."; the door API reads JSON only."""
    answer = door(client, "/checkins", '{"code": "x"}', content_type=content_type)
    assert (answer.status_code, json.loads(answer.body)["detail"]) == (
        415, f"Send application/json, not {content_type}.")


def test_unknown_events_are_404_with_a_valid_link_for_them(client, seed_event):
    from chalicelib import checkin, clock

    token = checkin.make_door_token("no-such-event", clock.now() + timedelta(hours=1))
    answer = client.http.get("/events/no-such-event/door/summary", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404
    assert client.http.get("/events/no-such-event/door", headers={"Accept": "text/html"}).status_code == 404


def test_the_door_page_holds_no_data_and_allows_the_camera(client, seed_event):
    register(client, name="Anna de Vries")
    answer = client.http.get(f"{DOOR}?lang=nl")
    page = answer.body.decode()
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Permissions-Policy"] == "camera=(self), microphone=(), geolocation=()"
    assert "script-src 'self';" in answer.headers["Content-Security-Policy"]
    assert '<html lang="nl">' in page and "Inchecken bij de ingang" in page
    assert '<script src="../../static/door.js"></script>' in page
    assert "Anna" not in page
    english = client.http.get(f"{DOOR}?lang=en").body.decode()
    assert "Check-in at the door" in english and "Start camera" in english


def test_the_page_links_the_vendored_scanner_when_the_build_copied_it(client, seed_event):
    from chalicelib import doorpage

    page = client.http.get(DOOR).body.decode()
    script = client.http.get("/static/vendor/jsQR.js")
    if not doorpage.VENDORED_SCANNER.is_file():
        assert "jsQR.js" not in page and script.status_code == 404
        pytest.skip("jsQR is not vendored here (make vendored needs npm)")
    assert '<script src="../../static/vendor/jsQR.js"></script>' in page
    assert script.status_code == 200 and script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "jsQR" in script.body.decode()[:2000]
    for name in ("jsQR.LICENSE.txt", "nothing.js", "..%2Fdoor.js"):
        assert client.http.get(f"/static/vendor/{name}").status_code == 404


def test_the_colours_of_the_answers_have_aa_contrast_with_white_text():
    from pathlib import Path

    from chalicelib.colours import WCAG_AA_NORMAL_TEXT, contrast_ratio

    css = (Path(__file__).resolve().parent.parent / "chalicelib/templates/static/door.css").read_text()
    colours = re.findall(r"\.door-result\[data-tone=\w+\] \{ background: (#[0-9a-f]{6}); \}", css)
    assert len(colours) == 4
    for colour in colours:
        assert contrast_ratio(colour, "#ffffff") >= WCAG_AA_NORMAL_TEXT, colour


def test_erasing_someone_checked_in_removes_the_check_in_time(client, aws):
    """README "Staff tools": erased rows keep only id, status, language and time; the check-in time
    stayed on the item, in exports and lists, and in what a door scan showed."""
    from chalicelib import checkin
    from staff.changes import erase_address

    seed_with(5)
    registration_id = register(client, email="there@example.org")
    assert scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))["outcome"] == "checked_in"
    assert "checked_in_at" in item_of(registration_id)
    erase_address(SEED_EVENT_ID, "there@example.org")
    item = item_of(registration_id)
    assert item["status"] == "erased"
    assert not {"checked_in_at", "checked_in_via"} & set(item)
    answer = scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))
    assert answer["outcome"] == "erased" and answer["person"]["checked_in_at"] is None


def confirmed_and_checked_in() -> tuple[int, int]:
    """``(came, confirmed)`` from the registration items, as README's ``exports query`` counts them:
    ``count(checked_in_at)`` and ``count(*)`` over ``status = 'confirmed'``."""
    from chalicelib import store

    confirmed = [i for i in store.iter_registrations(SEED_EVENT_ID, consistent=True) if i["status"] == "confirmed"]
    return sum(1 for i in confirmed if i.get("checked_in_at")), len(confirmed)


def door_figures(client) -> tuple[int, int]:
    summary = json.loads(door(client, "/summary").body)
    return summary["checked_in"], summary["confirmed"]


def test_cancelling_a_checked_in_registration_takes_it_off_the_door_count(client, aws):
    """The door said "4 of 5 checked in" where the export's query gave 3 came of 5 confirmed: a cancellation
    (cancel link or staff) of someone checked in left the check-in on the door's count."""
    from chalicelib import checkin, lifecycle, tokens
    from staff.changes import cancel as staff_cancel
    from staff.changes import erase_address

    # GIVEN 7 confirmed registrations (no waitlist involved), 5 of them checked in at the door
    seed_with(7)
    people = [register(client, email=f"p{n}@example.org") for n in range(7)]
    for registration_id in people[:5]:
        assert scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))["outcome"] == "checked_in"
    assert door_figures(client) == (5, 7) == confirmed_and_checked_in()

    # WHEN one cancels with the cancel link and staff cancel another
    cancel_token = tokens.make_token(people[0], tokens.CANCEL)
    for _ in range(2):  # the second changes nothing
        answer = client.http.post(f"/registrations/{people[0]}/cancel", headers={"Content-Type": "application/json"},
                                  body=json.dumps({"token": cancel_token}))
        assert answer.status_code == 200, answer.body
    staff_cancel(SEED_EVENT_ID, people[1])
    assert lifecycle.cancel(SEED_EVENT_ID, people[1], by="staff").changed is False

    # THEN the door counts the confirmed who came, as the export does; the cancelled keep when they came
    assert door_figures(client) == (3, 5) == confirmed_and_checked_in()
    assert checkins_counter()["checked_in_count"] == 3
    assert item_of(people[0])["status"] == "cancelled" and "checked_in_at" in item_of(people[0])

    # AND an undo or a scan of a cancelled registration, and its erasure, change the count no more
    code = checkin.make_code(SEED_EVENT_ID, people[0])
    undo = json.loads(door(client, "/undo", {"code": code}).body)
    assert (undo["outcome"], undo["changed"], undo["title"]) == ("cancelled", False, "Registration cancelled")
    assert scan(client, code)["outcome"] == "cancelled"
    erase_address(SEED_EVENT_ID, "p0@example.org")
    assert door_figures(client) == (3, 5) == confirmed_and_checked_in()

    # AND erasing one checked in and still confirmed takes it off, as before
    erase_address(SEED_EVENT_ID, "p2@example.org")
    assert door_figures(client) == (2, 4) == confirmed_and_checked_in()
    assert checkins_counter()["checked_in_count"] == 2


def test_a_check_in_between_a_cancellations_read_and_write_is_taken_off_too(client, aws):
    """The cancellation is conditional on the check-in as it read it: a check-in in between fails the
    condition, and the retry, from the item as the condition saw it, takes that check-in off."""
    from chalicelib import checkin, lifecycle

    seed_with(3)
    registration_id = register(client)
    as_read = item_of(registration_id)  # not checked in yet
    assert scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))["outcome"] == "checked_in"
    assert lifecycle.cancel(SEED_EVENT_ID, registration_id, item=as_read).changed is True
    assert checkins_counter()["checked_in_count"] == 0 and door_figures(client) == (0, 0)

    other = register(client, email="other@example.org")
    code = checkin.make_code(SEED_EVENT_ID, other)
    scan(client, code)
    as_read = item_of(other)  # checked in
    door(client, "/undo", {"code": code})
    assert lifecycle.cancel(SEED_EVENT_ID, other, item=as_read).changed is True
    assert checkins_counter()["checked_in_count"] == 0 and door_figures(client) == (0, 0)


# ------------------------------------------------------------------ early check-ins


def test_a_check_in_before_the_event_day_is_made_and_said_in_the_pages_language(client, seed_event):
    """Volunteers trying the door link weeks ahead checked real people in without a word."""
    from chalicelib import checkin

    # GIVEN the clock reads 22 May 2023 and the event is on 5 June
    people = [register(client, email=f"p{n}@example.org") for n in range(2)]
    # WHEN the door checks someone in
    early = scan(client, checkin.make_code(SEED_EVENT_ID, people[0]), lang="nl")
    # THEN it is checked in and counted, and the answer says the event is later
    assert (early["outcome"], early["tone"], early["changed"], early["early"]) == ("checked_in", "ok", True, True)
    assert early["note"] == "Dit evenement begint op maandag 5 juni 2023 14:00 CEST — vroeg ingecheckt."
    assert json.loads(door(client, "/summary").body)["checked_in"] == 1
    # AND an undo answers without a note
    undone = json.loads(door(client, "/undo", {"code": checkin.make_code(SEED_EVENT_ID, people[0])}).body)
    assert (undone["outcome"], undone["early"], undone["note"]) == ("undone", False, None)


def test_a_check_in_on_the_event_day_has_no_note(client, seed_event):
    from chalicelib import checkin, clock, store

    # GIVEN a registration, and then the event moved to the clock's day (all of it, in the event's zone)
    registration_id = register(client)
    midnight = clock.now().astimezone(seed_event.zone).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    store.put_event(seed_event.model_copy(update={"starts_at": midnight,
                                                  "ends_at": midnight + timedelta(hours=23, minutes=59)}))
    # WHEN the door checks it in THEN no note, and none when scanned again
    answer = scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))
    assert (answer["outcome"], answer["early"], answer["note"]) == ("checked_in", False, None)
    again = scan(client, checkin.make_code(SEED_EVENT_ID, registration_id))
    assert (again["outcome"], again["early"], again["note"]) == ("already_checked_in", False, None)


@pytest.mark.parametrize("local,early", [
    ("2023-06-04T23:59:59+02:00", True),  # the evening before, in the event's zone
    ("2023-06-04T22:00:00+00:00", False),  # midnight in Amsterdam: the event's day
    ("2023-06-05T13:00:00+02:00", False),
    ("2023-06-05T18:00:00+02:00", False),  # after its end: late, not early
    ("2023-05-22T09:00:00+02:00", True),
])
def test_early_means_before_the_events_day_in_its_zone(seed_event, local, early):
    from chalicelib import checkin

    assert checkin.early(seed_event, datetime.fromisoformat(local)) is early
