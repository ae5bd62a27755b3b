"""Event files a person gets wrong, refused with the file, the field and a reason they can act on
(README, "Event files"): a registration window past the event's end, a listed language without its texts;
fields named by their YAML path with positions counted from 1, and each message saying the form expected
(a time written day first, an id with other characters or one YAML reads as yes/no or a number, a zone
abbreviation). A fresh staff tester's finds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chalicelib.events import EventFileError, load_event_file, parse_event
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID

SEED = EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"


def seed_with(folder: Path, *replacements: tuple[str, str]) -> Path:
    """The seed event's file in ``folder`` (with its logo) with each ``(old, new)`` replaced once."""
    text = SEED.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    shutil.copytree(EVENTS_DIR / "assets", folder / "assets", dirs_exist_ok=True)
    path = folder / f"{SEED_EVENT_ID}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(EventFileError) as refused:
        load_event_file(path)
    assert str(refused.value).startswith(f"{path}: ")
    return refused.value.problems


# -- registration_closes_at after the event ---------------------------------------------------------------


def test_registration_closing_after_the_end_is_refused(tmp_path):
    """A tester's find: a file closing registration three weeks after the event was accepted, and a registration
    then got 201 confirmed and an invite for an event that had ended."""
    late = seed_with(tmp_path, ("ends_at: 2023-06-05T17:00:00",
                                "ends_at: 2023-06-05T17:00:00\nregistration_closes_at: 2023-06-26T23:59"))
    assert refusal(late) == [("registration_closes_at", "Value error, registration_closes_at must not be after "
                                                        "ends_at: nobody can register for an event that has ended")]
    at_the_end = seed_with(tmp_path, ("ends_at: 2023-06-05T17:00:00",
                                      "ends_at: 2023-06-05T17:00:00\nregistration_closes_at: 2023-06-05T17:00"))
    assert load_event_file(at_the_end).closes_at_local.hour == 17


def test_a_definition_stored_with_a_late_closing_is_still_read():
    """Stored by an earlier release: its pages keep working (registration is closed by the counters anyway)."""
    import yaml

    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    data["registration_closes_at"] = "2023-06-26T23:59"
    with pytest.raises(EventFileError):
        parse_event(data)
    assert parse_event(data, stored=True).closes_at_local.day == 26


def test_staff_put_of_a_late_closing_exits_2_and_stores_nothing(aws, tmp_path):
    from chalicelib import store
    from tests.staff.conftest import run

    late = seed_with(tmp_path, ("ends_at: 2023-06-05T17:00:00",
                                "ends_at: 2023-06-05T17:00:00\nregistration_closes_at: 2023-06-26T23:59"))
    result = run("events", "put", str(late))
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {late}: registration_closes_at: Value error, registration_closes_at must not "
                             "be after ends_at: nobody can register for an event that has ended\n")
    with pytest.raises(store.EventNotFound):
        store.get_event_item(SEED_EVENT_ID)


# -- every listed language has every shown text -----------------------------------------------------------

EN_TITLE = '  en: "Workshop Best Practices ‘Engagement and mobilisation’"\n'
EN_ROLE = "      en: Your role\n"
EN_MOBILISER = "label: {nl: Mobilizer, en: Mobiliser}"


def test_a_listed_language_without_its_text_is_refused_naming_each_field(tmp_path):
    """A tester's find: deleting the English title, a question label and an option label was accepted; the English
    form then showed Dutch and ``GET /events/{id}`` answered ``"en": null``."""
    dutch_only = seed_with(tmp_path, (EN_TITLE, ""), (EN_ROLE, ""), (EN_MOBILISER, "label: {nl: Mobilizer}"))
    reason = ("Value error, no English text (en), while languages lists en: the English form and emails would "
              "show another language's text; add it, or take the language out of languages")
    assert refusal(dutch_only) == [("title.en", reason), ("questions[2].label.en (question role)", reason),
                                   ("questions[2].options[2].label.en (question role, option mobiliser)", reason)]


def test_a_language_listed_first_needs_its_texts_too(tmp_path):
    no_dutch = seed_with(tmp_path, ('  nl: "Workshop Best Practices ‘Engagement en mobilisatie’"\n', ""))
    assert refusal(no_dutch) == [("title.nl", "Value error, no Dutch text (nl), while languages lists nl: the Dutch "
                                              "form and emails would show another language's text; add it, or take "
                                              "the language out of languages")]


def test_texts_in_a_language_not_listed_are_allowed(tmp_path):
    """Taking English out of ``languages`` leaves its texts unused, which is no harm."""
    english_unused = seed_with(tmp_path, ("languages: [nl, en]", "languages: [nl]"))
    assert load_event_file(english_unused).languages == ("nl",)


def test_staff_put_of_a_file_missing_a_language_exits_2(aws, tmp_path):
    from tests.staff.conftest import run

    dutch_only = seed_with(tmp_path, (EN_TITLE, ""))
    result = run("events", "put", str(dutch_only))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {dutch_only}: title.en: Value error, no English text (en), while "
                                    "languages lists en")


# -- messages a person can act on: the YAML path counted from 1, the form expected --------------------------

WALL_RULE = "year-month-day, T, then the local wall time in the event's timezone"


@pytest.mark.parametrize(("written", "suggested"), [
    ("20-06-2023 14:00", "2023-06-20T14:00"),  # Dutch order; Pydantic said "invalid character in year"
    ("20/6/2023 14.00", "2023-06-20T14:00"),
    ("6/20/2023 14:00", "2023-06-20T14:00"),  # the second number cannot be a month: month first
    ("05-06-2023", "2023-06-05THH:MM"),
])
def test_a_day_first_time_says_how_to_write_it(tmp_path, written, suggested):
    path = seed_with(tmp_path, ("starts_at: 2023-06-05T14:00:00", f"starts_at: {written}"))
    assert refusal(path) == [("starts_at", f"Value error, starts_at '{written}' is not a date and time as event "
                                           f"files write them: write it as {suggested} ({WALL_RULE})")]


def test_other_unreadable_times_say_the_form_and_why(tmp_path):
    no_such_day = seed_with(tmp_path, ("ends_at: 2023-06-05T17:00:00", "ends_at: 2023-02-30T17:00"))
    assert refusal(no_such_day) == [("ends_at", "Value error, ends_at '2023-02-30T17:00' is not a valid date and "
                                                f"time (day is out of range for month); write {WALL_RULE}, e.g. "
                                                "2023-06-05T14:00")]
    words = seed_with(tmp_path, ("ends_at: 2023-06-05T17:00:00", "ends_at: five o'clock"))
    assert refusal(words) == [("ends_at", "Value error, ends_at \"five o'clock\" is not a date and time as event "
                                          f"files write them: write {WALL_RULE}, e.g. 2023-06-05T14:00")]


def test_question_positions_count_from_1_and_name_the_question(tmp_path):
    """``questions.3.max_length`` counted from 0: staff looked at the third question, the wrong one."""
    path = seed_with(tmp_path, ("max_length: 1000", "max_length: 0"))
    assert refusal(path) == [("questions[4].max_length (question needs)", "Input should be greater than 0")]


def test_an_option_id_with_other_characters_says_the_rule_and_an_id_that_would_do(tmp_path):
    path = seed_with(tmp_path, ("- id: lobbyist", "- id: Grants & more"))
    assert refusal(path) == [(
        "questions[2].options[3].id (question role)",
        "Value error, option id 'Grants & more': use lower-case letters a-z, digits, - and _, starting with a letter "
        "or digit, up to 40 characters (it is what the form sends and the export shows), e.g. grants-more")]
    question = seed_with(tmp_path, ("- id: partos_member", "- id: Partos-member"))
    assert refusal(question) == [(
        "questions[3].id",
        "Value error, question id 'Partos-member': use lower-case letters a-z, digits and _, starting with a letter, "
        "up to 40 characters (it names the form field and the export column), e.g. partos_member")]


@pytest.mark.parametrize(("written", "read_as"), [
    ("yes", "YAML reads an unquoted yes, no, on, off, true or false as true: quote it, e.g. id: \"yes\""),
    ("off", "YAML reads an unquoted yes, no, on, off, true or false as false: quote it, e.g. id: \"no\""),
    ("2", "YAML reads 2 as a number: quote it, id: \"2\""),
])
def test_an_option_id_yaml_reads_as_a_boolean_or_number_says_to_quote_it(tmp_path, written, read_as):
    path = seed_with(tmp_path, ("- id: lobbyist", f"- id: {written}"))
    assert refusal(path) == [("questions[2].options[3].id (question role)",
                              f"Value error, option id must be text, but {read_as}")]
    quoted = seed_with(tmp_path, ("- id: lobbyist", f"- id: \"{written}\""))
    assert load_event_file(quoted).question("role").option_ids()[2] == written


@pytest.mark.parametrize(("written", "hint"), [
    ("CEST", "CEST is what a clock shows, not a zone; write the zone's name, e.g. Europe/Amsterdam (the event's city "
             "or the nearest one listed in the tz database)"),
    ("europe/amsterdam", "did you mean Europe/Amsterdam?"),
    ("Europe/Amsterdamm", "did you mean Europe/Amsterdam?"),
    ("Netherlands/Amsterdam", "write the zone's name from the tz database, Region/City, e.g. Europe/Amsterdam"),
])
def test_an_unknown_time_zone_suggests_an_iana_name(tmp_path, written, hint):
    path = seed_with(tmp_path, ("timezone: Europe/Amsterdam", f"timezone: {written}"))
    assert refusal(path) == [("timezone", f"Value error, unknown IANA time zone '{written}': {hint}")]
