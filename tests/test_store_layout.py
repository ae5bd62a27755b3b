"""The table layout: the small counters item, the cached definition, address keys, the first release's items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import aws as clients
from chalicelib import clock, registrations, store
from chalicelib.events import load_event_file
from chalicelib.settings import get_settings
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration


def seed(**changes):
    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update=changes)
    store.put_event(event)
    return event


def raw_item(sk: str) -> dict:
    key = {"pk": {"S": store.event_pk(SEED_EVENT_ID)}, "sk": {"S": sk}}
    return store.deserialize(clients.client("dynamodb").get_item(TableName=get_settings().table_name, Key=key)["Item"])


def test_counters_live_in_their_own_small_item(aws):
    seed(capacity=40, waitlist=True)
    registrations.register(SEED_EVENT_ID, partos_registration(), "nl")
    counters = raw_item(store.COUNTERS_SK)
    assert {k: v for k, v in counters.items() if k not in ("pk", "sk")} == {
        "type": "counters", "event_id": SEED_EVENT_ID, "seat_capacity": 40, "waitlist": True,
        "opens_at": 0, "closes_at": 1685966400,  # 2023-06-05 14:00 CEST, the workshop's start
        "waitlist_closes_at": 1685966400, "ends_at": 1685977200,  # the cutoff (default: the start), 17:00 CEST
        "seats_taken": 1, "waitlisted_count": 0, "erased_count": 0, "waitlist_seq": 0,
    }
    assert len(str(counters)) < 400  # the item every registration writes stays far under 1 KB
    definition = raw_item(store.EVENT_SK)
    assert set(definition) == {"pk", "sk", "type", "event_id", "definition", "schedule_revision", "schedules"}
    assert definition["schedule_revision"] == 0  # README, "Emails", event changes
    assert definition["schedules"] == {"0": {
        "starts_at": "2023-06-05T12:00:00Z", "ends_at": "2023-06-05T15:00:00Z", "timezone": "Europe/Amsterdam",
        "place": "Partos, Ellermanstraat 18b, Amsterdam", "country": "NL"}}


def test_a_cached_definition_cannot_open_a_closed_window_or_add_seats(aws):
    """Another function instance closed registration and cut the seats; this one still has the old definition."""
    old = seed(capacity=40, waitlist=False)
    store.event_definition(SEED_EVENT_ID)
    registrations.register(SEED_EVENT_ID, partos_registration(email="first@example.org"), "nl")
    now = clock.now().astimezone(old.zone).replace(tzinfo=None)
    seed(capacity=1, waitlist=False, registration_closes_at=(now - timedelta(minutes=1)).replace(microsecond=0))
    store.events._remember(old)  # as if put by another instance: this one keeps its copy for a few seconds
    assert store.event_definition(SEED_EVENT_ID) is old
    with pytest.raises(registrations.RegistrationClosed) as closed:
        registrations.register(SEED_EVENT_ID, partos_registration(email="late@example.org"), "nl")
    assert closed.value.state == "closed"
    seed(capacity=1, waitlist=False)  # open again, one seat, taken
    store.events._remember(old)
    with pytest.raises(store.EventFull):
        registrations.register(SEED_EVENT_ID, partos_registration(email="late@example.org"), "nl")
    assert store.get_counters(SEED_EVENT_ID, consistent=True).seats_taken == 1


def test_not_yet_open_is_judged_by_the_write(aws):
    event = seed(capacity=10)
    now = clock.now().astimezone(event.zone).replace(tzinfo=None, microsecond=0)
    seed(capacity=10, registration_opens_at=now + timedelta(hours=1))
    store.events._remember(event)  # a stale copy without the opening time
    with pytest.raises(registrations.RegistrationClosed) as early:
        registrations.register(SEED_EVENT_ID, partos_registration(), "nl")
    assert early.value.state == "not_yet_open"


def test_a_table_of_the_first_release_is_refused_with_a_reason(aws):
    clients.client("dynamodb").put_item(TableName=get_settings().table_name, Item=store.serialize({
        "pk": store.event_pk(SEED_EVENT_ID), "sk": store.EVENT_SK, "type": "event", "definition": "{}",
        "seats_taken": 3, "waitlisted_count": 0, "waitlist_seq": 0,
    }))
    with pytest.raises(store.LegacyEventItem, match="first release"):
        seed(capacity=40)


def validator_key(email: str) -> str:
    """The address key as email-validator alone would make it (the slow path for every address)."""
    local_part, _, domain = email.strip().rpartition("@")
    try:
        domain = validate_email(email.strip(), check_deliverability=False).ascii_domain
    except EmailNotValidError:
        pass
    return f"{local_part.casefold()}@{domain.lower()}"


@settings(max_examples=300, deadline=None)
@given(st.emails(), st.lists(st.booleans(), max_size=80))
def test_an_ascii_domain_needs_no_second_validation(email, upper):
    shouted = "".join(c.upper() if flip else c for c, flip in zip(email, upper + [False] * len(email)))
    assert store.email_key(shouted) == validator_key(shouted) == validator_key(email.lower())


@pytest.mark.parametrize("unicode_form, ascii_form", [
    ("Anna@Éxample.org", "anna@xn--xample-9ua.org"),
    ("anna@bücher.example", "anna@xn--bcher-kva.example"),
])
def test_an_idn_domain_is_one_mailbox_in_either_spelling(unicode_form, ascii_form):
    assert store.email_key(unicode_form) == store.email_key(ascii_form) == ascii_form.lower()
