"""Event files: the seed event, validation errors with file, field and reason, per-event questions."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.events import EventFileError, load_event_dir, load_event_file
from chalicelib.validation import RegistrationInvalid, validate_registration
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID

SEED = EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"


def test_seed_event_times_are_cest_wall_time():
    event = load_event_file(SEED)
    assert event.timezone == "Europe/Amsterdam"
    assert event.utc(event.starts_at) == datetime(2023, 6, 5, 12, 0, tzinfo=UTC)
    assert event.utc(event.ends_at) == datetime(2023, 6, 5, 15, 0, tzinfo=UTC)
    assert event.local(event.starts_at).tzname() == "CEST"


def test_seed_event_content_from_the_page():
    event = load_event_file(SEED)
    assert event.title.nl == "Workshop Best Practices ‘Engagement en mobilisatie’"
    assert event.title.en and event.description.en
    assert event.location.one_line() == "Partos, Ellermanstraat 18b, Amsterdam"
    assert event.location.country == "NL"
    assert event.languages == ("nl", "en")
    role = event.question("role")
    assert role.option_ids() == ["campaigner", "mobiliser", "lobbyist", "communications", "other"]
    assert [q.id for q in event.questions] == ["organisation", "role", "partos_member", "needs"]
    assert event.question("partos_member").type == "boolean"


def test_every_event_file_loads():
    assert {e.id for e in load_event_dir(EVENTS_DIR)} >= {SEED_EVENT_ID}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_file_names_file_field_and_reason(tmp_path):
    text = SEED.read_text(encoding="utf-8").replace("country: NL", "country: Netherlands").replace(
        "timezone: Europe/Amsterdam", "timezone: Europe/Amsterdamm"
    )
    path = _write(tmp_path, SEED_EVENT_ID, text)
    with pytest.raises(EventFileError) as caught:
        load_event_file(path)
    message = str(caught.value)
    assert f"{path}: location.country: String should match pattern '^[A-Z]{{2}}$'" in message
    assert f"{path}: timezone: Value error, unknown IANA time zone 'Europe/Amsterdamm'" in message


def test_offset_in_local_time_is_refused(tmp_path):
    text = SEED.read_text(encoding="utf-8").replace(
        "starts_at: 2023-06-05T14:00:00", "starts_at: 2023-06-05T14:00:00+01:00"
    )
    with pytest.raises(EventFileError, match=r"starts_at: Value error, write local wall time without an offset"):
        load_event_file(_write(tmp_path, SEED_EVENT_ID, text))


@settings(max_examples=40, deadline=None)
@given(capacity=st.one_of(st.integers(max_value=0), st.integers(min_value=1_000_001, max_value=10**60)))
def test_capacity_outside_one_to_a_million_is_refused(tmp_path_factory, capacity):
    """A 39-digit capacity was stored, then broke every read of the counters (DynamoDB keeps 38 digits)."""
    text = SEED.read_text(encoding="utf-8").replace("capacity: 40", f"capacity: {capacity}")
    refused = r"capacity: Input should be (greater than 0|less than or equal to 1000000)"
    with pytest.raises(EventFileError, match=refused):
        load_event_file(_write(tmp_path_factory.mktemp("cap"), SEED_EVENT_ID, text))


def test_a_million_seats_is_allowed(tmp_path):
    text = SEED.read_text(encoding="utf-8").replace("capacity: 40", "capacity: 1000000")
    (tmp_path / "assets").symlink_to(EVENTS_DIR / "assets")  # the file's logo
    assert load_event_file(_write(tmp_path, SEED_EVENT_ID, text)).capacity == 1_000_000


def test_file_name_must_match_id(tmp_path):
    with pytest.raises(
        EventFileError, match=r"id: 'partos-engagement-mobilisatie-2023' differs from the file name 'other'"
    ):
        load_event_file(_write(tmp_path, "other", SEED.read_text(encoding="utf-8")))


def test_unknown_field_and_broken_yaml(tmp_path):
    with pytest.raises(EventFileError, match=r"colour: Extra inputs are not permitted"):
        load_event_file(_write(tmp_path, SEED_EVENT_ID, SEED.read_text(encoding="utf-8") + "colour: blue\n"))
    with pytest.raises(EventFileError, match=r"\(file\)"):
        load_event_file(_write(tmp_path, "broken", "id: [unclosed\n"))


CUSTOM = """
id: bike-repair-cafe
languages: [en]
title: {en: Bike repair café}
description: {en: Fix your bike with us.}
timezone: America/New_York
starts_at: 2026-03-08T01:30:00
ends_at: 2026-03-08T04:00:00
location: {name: Garage, address: 1 Main St, city: Springfield, country: US}
organiser: {name: Repair Crew, email: crew@example.org}
privacy_url: https://example.org/privacy
questions:
  - {id: bikes, type: multichoice, required: true, label: {en: Bikes},
     options: [{id: road, label: {en: Road}}, {id: cargo, label: {en: Cargo}}]}
  - {id: phone, type: phone, label: {en: Phone}}
  - {id: newsletter, type: boolean, label: {en: Newsletter}}
"""


def test_questions_of_any_event_build_its_registration_model(tmp_path):
    event = load_event_file(_write(tmp_path, "bike-repair-cafe", CUSTOM))
    base = {"name": "Sam", "email": "sam@example.org", "consent": True}
    ok = validate_registration(event, {**base, "bikes": ["cargo", "road"], "phone": "+1 555 0100"}, "en")
    assert ok.bikes == ["road", "cargo"]  # the event's order
    assert ok.newsletter is False and ok.language == "en"
    with pytest.raises(RegistrationInvalid) as caught:
        validate_registration(event, {**base, "bikes": ["tandem"], "phone": "call me", "organisation": "x"}, "en")
    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("bikes", "invalid_choice"),
        ("phone", "invalid_phone"),
        ("organisation", "unknown_field"),
    }
    with pytest.raises(RegistrationInvalid) as caught:  # was invalid_choice, "Choose one of the options."
        validate_registration(event, {**base, "bikes": ["road", "cargo", "road"]}, "en")
    assert [e.as_dict() for e in caught.value.errors] == [
        {"field": "bikes", "code": "repeated_choice", "message": "Choose each option at most once."}]


def test_local_time_in_the_daylight_saving_gap_is_refused(tmp_path):
    text = SEED.read_text(encoding="utf-8").replace("starts_at: 2023-06-05T14:00:00", "starts_at: 2023-03-26T02:30:00")
    with pytest.raises(EventFileError, match=r"starts_at 2023-03-26T02:30:00 does not exist in Europe/Amsterdam"):
        load_event_file(_write(tmp_path, SEED_EVENT_ID, text))


@pytest.mark.parametrize("event_id", ["-hh", "-partos", "ab", "Partos", "a" * 65])
def test_event_ids_that_are_not_slugs_or_start_with_a_dash_are_refused(tmp_path, event_id):
    """``registrations export -hh -o out.csv`` printed its help and exited 0, writing nothing."""
    text = SEED.read_text(encoding="utf-8").replace(f"id: {SEED_EVENT_ID}", f"id: '{event_id}'")
    with pytest.raises(EventFileError, match=r"id: Value error, event id '.+': use 3 to 64 lower-case letters a-z, "
                                             r"digits and -, starting with a letter or digit"):
        load_event_file(_write(tmp_path, event_id, text))
