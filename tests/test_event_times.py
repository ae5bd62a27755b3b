"""Date-time fields of an event file refuse a bare date (README, "Event files").

``registration_closes_at: 2023-05-22`` was read as 2023-05-22T00:00, closing registration at the
start of the day the organiser meant. Every date-time field now refuses a date without a time of
day, written unquoted (YAML reads it as a date) or quoted, with a message that says what to write.
"""

from __future__ import annotations

import pytest
import yaml

from chalicelib.events import EventFileError, load_event_file, parse_event
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID
from tests.staff.conftest import CASES_EVENT, run

TIME_FIELDS = ["starts_at", "ends_at", "registration_opens_at", "registration_closes_at", "waitlist_closes_at"]


def seed_file_with(tmp_path, line: str):
    """The seed event's file with ``line`` added (YAML as an organiser writes it)."""
    text = (EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").read_text(encoding="utf-8") + f"\n{line}\n"
    path = tmp_path / f"{SEED_EVENT_ID}.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "assets").symlink_to(EVENTS_DIR / "assets")
    return path


@pytest.mark.case("date-only-deadline")
def test_a_date_only_closing_time_is_refused_with_a_clear_message(aws, tmp_path):
    path = seed_file_with(tmp_path, "registration_closes_at: 2023-05-22")
    with pytest.raises(EventFileError) as refused:
        load_event_file(path)
    assert refused.value.problems == [(
        "registration_closes_at",
        "Value error, registration_closes_at 2023-05-22 is a date without a time of day, which would mean "
        "2023-05-22T00:00, the start of that day; write the local time you mean, e.g. 2023-05-22T23:59 for "
        "the end of that day",
    )]
    result = run("events", "put", str(path))
    assert result.exit_code == 2
    assert f"{path}: registration_closes_at: Value error, registration_closes_at 2023-05-22 is a date" in result.stderr


@pytest.mark.case("date-only-deadline")
@pytest.mark.parametrize("field", TIME_FIELDS)
@pytest.mark.parametrize("written", ["2023-06-01", "'2023-06-01'", "' 2023-6-1 '"])
def test_every_time_field_refuses_a_bare_date(field, written):
    data = dict(CASES_EVENT)
    data.update({"starts_at": "2023-06-05T14:00:00", "ends_at": "2023-06-05T17:00:00", "waitlist": True})
    data[field] = yaml.safe_load(f"value: {written}")["value"]  # unquoted: a datetime.date; quoted: a string
    with pytest.raises(EventFileError) as refused:
        parse_event(data)
    [(where, reason)] = refused.value.problems
    assert where == field
    assert "is a date without a time of day" in reason and "T23:59 for the end of that day" in reason


@pytest.mark.parametrize("value", [1685966400, 1685966400.0, True])
def test_a_number_is_no_local_time(value):
    with pytest.raises(EventFileError) as refused:
        parse_event({**CASES_EVENT, "registration_closes_at": value})
    assert refused.value.problems == [("registration_closes_at", "Value error, write registration_closes_at as a "
                                       "local date and time, e.g. 2023-06-05T14:00")]


@pytest.mark.parametrize("written, meant", [
    ("2023-05-22T23:59", "2023-05-22T23:59:00"),
    ("2023-05-22 23:59:00", "2023-05-22T23:59:00"),  # YAML's own timestamp form
    ("'2023-05-22T00:00'", "2023-05-22T00:00:00"),  # midnight, said in so many words
])
def test_a_date_with_a_time_is_taken_as_written(written, meant):
    data = {**CASES_EVENT, "registration_closes_at": yaml.safe_load(f"value: {written}")["value"]}
    assert parse_event(data).registration_closes_at.isoformat() == meant


def test_stored_definitions_read_back(aws):
    """A definition the store wrote (ISO strings with a time) reads back unchanged."""
    event = parse_event({**CASES_EVENT, "registration_closes_at": "2023-05-22T23:59:00"})
    again = parse_event(yaml.safe_load(event.model_dump_json()), stored=True)
    assert again == event
