"""Event files a person gets wrong, refused with the file, the field and a reason they can act on
(README, "Event files"): a registration window past the event's end, a listed language without its texts.
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
    assert refusal(dutch_only) == [("title.en", reason), ("questions.1.label.en", reason),
                                   ("questions.1.options.1.label.en", reason)]


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
