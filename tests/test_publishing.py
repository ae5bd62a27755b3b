"""Publishing an event: a definition the service cannot turn into every email, invite and page is refused.

README, "Event files": single-line fields refuse line breaks and control characters; publishing
renders every email kind of the kinds table, the invite and the pages in every language of the
event (``chalicelib.publishing.check_renders``), on every publish path (``staff events put FILE``,
``make run``'s ``events/``, ``store.put_event``), naming the file, the field and the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import emails, publishing, store
from chalicelib.events import EventFileError, load_event_dir, load_event_file, parse_event
from tests.conftest import ROOT, sent_messages
from tests.live import free_port
from tests.staff.conftest import CASES_EVENT, run

#: The issue's file: a title written as a two-line YAML block.
NEWLINE_TITLE = """\
id: evening-lecture
languages: [en]
title:
  en: |
    Evening lecture
    with dinner
description:
  en: |
    Two lines
    are fine here.
timezone: Europe/Amsterdam
starts_at: 2023-06-12T19:00:00
ends_at: 2023-06-12T22:00:00
location: {name: Partos, address: Ellermanstraat 18b, city: Amsterdam, country: NL}
organiser: {name: Partos, email: events@partos.example.org}
capacity: 20
privacy_url: https://www.partos.nl/privacy/
"""


def write(directory: Path, text: str, name: str = "evening-lecture") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.case("newline-in-title")
def test_staff_put_refuses_a_two_line_title_with_file_field_and_reason(aws, tmp_path):
    path = write(tmp_path, NEWLINE_TITLE)
    result = run("events", "put", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {path}: title.en: Value error, must be one line: it holds a line break, LINE FEED (U+000A) "
        "at character 16; write it on one line (a YAML block such as | or > adds line breaks; only description "
        "and audience may have several lines)")
    with pytest.raises(store.EventNotFound):  # nothing published: no registration can exist without its email
        store.get_event("evening-lecture")
    assert run("events", "list").stdout.count("evening-lecture") == 0


@pytest.mark.case("newline-in-title")
def test_make_run_refuses_to_start_with_a_two_line_title(tmp_path):
    """``make run`` loads ``events/`` before it starts anything; a bad file stops it (exit 2) with file, field,
    reason."""
    write(tmp_path, NEWLINE_TITLE)
    env = {**os.environ, "EVENTS_DIR": str(tmp_path), "PORT": str(free_port()), "AWS_PORT": str(free_port()),
           "LOCAL_STATE": str(tmp_path / "state"), "OUTBOX": str(tmp_path / "outbox")}
    done = subprocess.run([sys.executable, "-m", "localservice"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    assert "Refusing to start: an event file is invalid." in done.stderr
    assert f"{tmp_path / 'evening-lecture.yaml'}: title.en: Value error, must be one line" in done.stderr
    assert not (tmp_path / "state").exists()


#: Every single-line field of an event, as ``(path in the file, the field in the error)``: positions counted from 1.
SINGLE_LINE_FIELDS = [
    (("title", "nl"), "title.nl"),
    (("location", "name"), "location.name"),
    (("location", "address"), "location.address"),
    (("location", "city"), "location.city"),
    (("organiser", "name"), "organiser.name"),
    (("questions", 1, "label", "nl"), "questions[2].label.nl (question note)"),
    (("questions", 2, "options", 0, "label", "nl"),
     "questions[3].options[1].label.nl (question diet, option vegetarian)"),
]
#: Characters no single-line field may hold: line breaks and separators, tabs, C0 and C1 controls, bidi controls.
BREAKING = st.sampled_from(["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\t", "\x00", "\x0b", "\x1b", "\x7f",
                            "\x9b", "\u202e", "\u2066"])


def _set(data: dict, path: tuple, value: str) -> None:
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(SINGLE_LINE_FIELDS), before=st.text(min_size=1, max_size=10).filter(
    lambda t: all(unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp", "Cf") for c in t)), bad=BREAKING)
def test_every_single_line_field_refuses_breaks_and_control_characters(field, before, bad):
    import copy

    data = copy.deepcopy(CASES_EVENT)
    path, dotted = field
    _set(data, path, f"{before}{bad}end")
    with pytest.raises(EventFileError) as refused:
        parse_event(data, "event.yaml")
    [(where, reason)] = refused.value.problems
    assert where == dotted
    assert f"U+{ord(bad[0]):04X}) at character {len(before) + 1}" in reason


def test_multi_line_fields_keep_line_breaks_but_refuse_other_control_characters():
    data = {**CASES_EVENT, "description": {"nl": "Regel een\nRegel twee\tmet tab", "en": "Line one"},
            "audience": {"nl": "Leden\nen gasten", "en": "Members\nand guests"}}
    event = parse_event(data)
    assert event.description.nl == "Regel een\nRegel twee\tmet tab"
    with pytest.raises(EventFileError) as refused:
        parse_event({**CASES_EVENT, "description": {"nl": "Regel\x1b[31m rood"}})
    assert refused.value.problems == [("description.nl", "Value error, holds a control character, "
                                       "control character (U+001B) at character 6; only line breaks and tabs "
                                       "may be used here")]


def test_a_definition_stored_before_these_rules_is_still_read(aws):
    """A stored title with a line break (an earlier release accepted it) keeps its event working."""
    event = parse_event({**CASES_EVENT, "title": {"nl": "Avond\nmet diner"}}, stored=True)
    assert event.title.nl == "Avond\nmet diner"


def test_check_renders_refuses_what_the_model_lets_through(aws, tmp_path):
    """An organiser address with a non-ASCII part before the @ passes the model (EmailStr), but SES
    cannot send such mail: every email would fail. Refused at publish, on every path."""
    text = NEWLINE_TITLE.replace("  en: |\n    Evening lecture\n    with dinner\n", "  en: Evening lecture\n", 1)
    text = text.replace("email: events@partos.example.org", "email: jürgen@partos.example.org")
    path = write(tmp_path, text)
    with pytest.raises(EventFileError) as refused:
        load_event_file(path)
    fields = [field for field, _ in refused.value.problems]
    # every email kind of the kinds table, in the event's one language; invites and pages render
    assert fields == [f"(email {kind}, en)" for kind in emails.SUBJECTS]
    assert refused.value.problems[0][1] == ("ValueError: Internationalized characters before the @-sign are not "
                                            "supported: 'ü'.")
    assert str(refused.value).startswith(f"{path}: (email confirmed, en): ValueError: ")
    result = run("events", "put", str(path))
    assert result.exit_code == 2 and f"{path}: (email promoted, en): ValueError" in result.stderr
    event = parse_event(yaml.safe_load(text))
    with pytest.raises(EventFileError) as direct:  # any other path that stores a definition
        store.put_event(event)
    assert str(direct.value).startswith("event evening-lecture: (email confirmed, en): ValueError")
    with pytest.raises(store.EventNotFound):
        store.get_event("evening-lecture")
    assert sent_messages() == []


def test_a_new_email_kind_is_checked_as_soon_as_it_is_in_the_kinds_table(monkeypatch):
    """The check iterates over ``emails.SUBJECTS``: a kind without its text in the templates is refused."""
    event = parse_event(CASES_EVENT)
    publishing.check_renders(event)  # passes as it is
    monkeypatch.setitem(emails.SUBJECTS, "survey", {"nl": "Enquête: {title}", "en": "Survey: {title}"})
    monkeypatch.setattr(publishing, "_passed", set())
    with pytest.raises(EventFileError) as refused:
        publishing.check_renders(event)
    assert [field for field, _ in refused.value.problems] == ["(email survey, nl)", "(email survey, en)"]
    assert "UndefinedError" in refused.value.problems[0][1] and "survey" in refused.value.problems[0][1]


def test_every_kind_maps_to_a_change_that_makes_it():
    for kind in emails.SUBJECTS:
        change, status = publishing.change_and_status(kind)
        assert emails.email_kind(change, status) == kind
    assert publishing.change_and_status("waitlist_closed") == ("waitlist_closed", "waitlisted")
    assert publishing.change_and_status("confirmed") == ("registered", "confirmed")


def test_the_shipped_event_files_render():
    for event in load_event_dir(ROOT / "events"):
        publishing.check_renders(event, f"events/{event.id}.yaml")
