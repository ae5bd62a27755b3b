"""Question ids that would clash with the form's fields or the export's columns (case colliding-question-id).

Event files may not use them; an event stored before that rule still exports every answer, each
under a column name of its own, and SQL over the export works.
"""

from __future__ import annotations

import csv
import io
import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.staff.conftest import CASES_EVENT, person, run, table_items, write_aws_export

CLASHING = {**CASES_EVENT, "id": "clashing-questions", "questions": [
    {"id": "status", "type": "text", "label": {"nl": "Status in uw organisatie", "en": "Status"}},
    {"id": "answer_status", "type": "boolean", "label": {"nl": "Akkoord met status", "en": "Agrees"}},
    {"id": "email_state", "type": "text", "label": {"nl": "Staat", "en": "State"}},
]}


def event_with(question_ids: list[str]) -> dict:
    return {**CASES_EVENT, "questions": [{"id": q, "type": "text", "label": {"nl": q, "en": q}} for q in question_ids]}


@pytest.mark.case("colliding-question-id")
def test_the_event_model_refuses_status_and_answer_status_with_the_reason():
    from chalicelib.events import EventFileError, parse_event

    with pytest.raises(EventFileError) as refused:
        parse_event(CLASHING, "events/clashing-questions.yaml")
    problems = dict(refused.value.problems)
    first, second, third = ("questions[1] (question status)", "questions[2] (question answer_status)",
                            "questions[3] (question email_state)")  # counted from 1, as people count
    assert set(problems) == {first, second, third}
    assert "question id 'status' is the name of an export column" in problems[first]
    assert "question id 'answer_status' starts with 'answer_'" in problems[second]
    assert "question id 'email_state' is the name of an export column" in problems[third]
    assert str(refused.value).splitlines()[0].startswith(f"events/clashing-questions.yaml: {first}: ")


@pytest.mark.parametrize("question_id", ["registration_id", "status", "waitlist_position", "registered_at",
                                         "email_state", "checked_in_at", "email_outcome", "answer_x", "answer_",
                                         "name", "email", "language", "consent", "website", "form_started_at",
                                         "model_config", "model_dump"])
def test_every_reserved_id_is_refused(question_id):
    from chalicelib.events import EventFileError, parse_event

    with pytest.raises(EventFileError, match="choose another id"):
        parse_event(event_with([question_id]))


@pytest.mark.parametrize(
    "question_id", ["organisation", "role", "state", "answers", "answer", "email_address", "models"]
)
def test_ids_near_the_reserved_ones_are_fine(question_id):
    from chalicelib.events import parse_event

    assert parse_event(event_with([question_id])).questions[0].id == question_id


def test_events_put_refuses_the_file_with_file_field_and_reason(aws, tmp_path):
    import yaml

    path = tmp_path / "clashing-questions.yaml"
    path.write_text(yaml.safe_dump(CLASHING, allow_unicode=True), encoding="utf-8")
    result = run("events", "put", str(path))
    assert result.exit_code == 2
    assert f"{path}: questions[1] (question status): " in result.stderr and "export column" in result.stderr
    assert run("events", "show", "clashing-questions").exit_code == 1  # nothing stored


def test_the_export_columns_of_the_staff_tools_are_the_reserved_ones():
    """``chalicelib.events`` keeps the list (chalicelib never imports staff); ``staff.columns`` uses it."""
    from chalicelib.events import EXPORT_COLUMNS, RESERVED_QUESTION_IDS, parse_event
    from staff.columns import CORE_COLUMNS, RECORD_FIELDS, TAIL_COLUMNS, columns_for

    own = [c.name for c in columns_for(parse_event(event_with([])))]
    assert own == list(CORE_COLUMNS + TAIL_COLUMNS)
    assert set(own) <= set(EXPORT_COLUMNS) <= RESERVED_QUESTION_IDS
    assert {"checked_in_at", "email_outcome", "email_state"} <= set(EXPORT_COLUMNS)  # columns to come
    assert set(RECORD_FIELDS) - {"waitlist_ticket", "answers"} <= set(own)


def test_an_exports_record_has_the_fields_rows_are_made_of():
    from staff.columns import RECORD_FIELDS
    from staff.exporting import _FIRST_FIELD, Wanted

    assert Wanted.__struct_fields__[_FIRST_FIELD:] == RECORD_FIELDS


@pytest.mark.parametrize("typed", [False, True])
def test_rows_follow_the_columns(typed):
    """RowMaker writes each value under the column of its name (it builds rows in columns_for's layout)."""
    from chalicelib.events import parse_event
    from staff.columns import RowMaker, columns_for, record

    event = parse_event(CASES_EVENT)
    answers = {"phone": "+31 6 1", "note": "n", "diet": ["halal"], "member": True}
    item = {"registration_id": "rid", "status": "waitlisted", "name": "N", "email": "e@x", "language": "en",
            "registered_at": "2023-05-01T10:00:00+00:00", "email_state": "sent", "email_outcome": "bounced",
            "waitlist_ticket": 7, "checked_in_at": "2023-06-05T12:03:00+00:00",
            "answers": {"phone": {"S": "+31 6 1"}, "note": {"S": "n"}, "diet": {"L": [{"S": "halal"}]},
                        "member": {"BOOL": True}} if typed else answers}
    row = RowMaker(event, {7: 3}, typed_answers=typed)(record(item))
    assert dict(zip([c.name for c in columns_for(event)], row, strict=True)) == {
        "registration_id": "rid", "status": "waitlisted", "waitlist_position": 3, "name": "N", "email": "e@x",
        "language": "en", "registered_at": "2023-05-01T12:00:00+02:00", "phone": "+31 6 1", "note": "n",
        "diet": "halal", "member": True, "email_state": "sent", "email_outcome": "bounced",
        "checked_in_at": "2023-06-05T14:03:00+02:00"}


question_ids = st.from_regex(r"\A[a-z][a-z0-9_]{0,39}\Z")
reserved_ids = st.sampled_from(["registration_id", "status", "waitlist_position", "registered_at", "email_state",
                                "checked_in_at", "email_outcome"]) | st.builds(
    lambda tail: "answer_" + tail, st.text(string.ascii_lowercase + "_", max_size=32))


@settings(max_examples=200, deadline=None)
@given(st.lists(question_ids | reserved_ids | st.builds(lambda i: "answer_" + i, reserved_ids), max_size=12,
                unique=True))
def test_column_names_are_unique_for_any_stored_event(ids):
    """An event stored before the rule, with any ids at all (core fields never were allowed): no two columns
    share a name."""
    from chalicelib.events import CORE_FIELDS, parse_event
    from staff.columns import columns_for

    ids = [i for i in ids if i not in CORE_FIELDS and len(i) <= 40]
    event = parse_event(event_with(ids), stored=True)
    names = [c.name for c in columns_for(event)]
    assert len(names) == len(set(names))
    assert [c.question.id for c in columns_for(event) if c.question] == ids


@pytest.fixture
def stored_clash(aws):
    """CLASHING stored as an earlier release would have stored it, with two registrations."""
    from chalicelib import store
    from chalicelib.events import parse_event
    from tests.staff.conftest import register

    event = parse_event(CLASHING, stored=True)
    store.put_event(event)
    assert store.get_event(event.id)[0] == event  # the service still reads it
    register(event.id, **person("Anna", "anna@example.org", status="directeur", answer_status=True, email_state="x"))
    register(event.id, **person("Bram", "bram@example.org", status="=1+1", answer_status=False))
    return event


@pytest.mark.case("colliding-question-id")
def test_an_old_stored_event_exports_every_answer_under_its_own_name(stored_clash, tmp_path):
    from openpyxl import load_workbook

    assert run("registrations", "export", stored_clash.id, "-o", str(tmp_path / "list.csv")).exit_code == 0
    rows = list(csv.reader(io.StringIO((tmp_path / "list.csv").read_text(encoding="utf-8-sig"), newline="")))
    names = rows[0]
    assert names == ["registration_id", "status", "waitlist_position", "name", "email", "language", "registered_at",
                     "answer_status", "answer_answer_status", "answer_email_state", "email_state", "email_outcome",
                     "checked_in_at"]
    by_name = {row[3]: dict(zip(names, row, strict=True)) for row in rows[1:]}
    assert by_name["Anna"]["status"] == "confirmed" and by_name["Anna"]["answer_status"] == "directeur"
    assert by_name["Anna"]["answer_answer_status"] == "yes" and by_name["Anna"]["answer_email_state"] == "x"
    assert by_name["Anna"]["email_state"] == "pending"
    assert by_name["Bram"]["answer_status"] == "'=1+1" and by_name["Bram"]["answer_answer_status"] == "no"

    assert run("registrations", "export", stored_clash.id, "-o", str(tmp_path / "list.json")).exit_code == 0
    data = json.loads((tmp_path / "list.json").read_text(encoding="utf-8"))
    anna = next(r for r in data if r["name"] == "Anna")
    assert list(anna) == names
    assert (anna["status"], anna["answer_status"], anna["answer_answer_status"]) == ("confirmed", "directeur", True)

    assert run("registrations", "export", stored_clash.id, "-o", str(tmp_path / "list.xlsx")).exit_code == 0
    sheet = [list(r) for r in load_workbook(tmp_path / "list.xlsx", read_only=True).active.iter_rows(values_only=True)]
    assert sheet[0] == names and len(sheet) == 3


@pytest.mark.case("colliding-question-id")
def test_sql_over_the_export_of_an_old_stored_event_works(stored_clash, tmp_path):
    folder = write_aws_export(tmp_path / "x", table_items())
    result = run("exports", "query", str(folder), "--event", stored_clash.id, "--csv",
                 "SELECT name, status, answer_status, answer_answer_status FROM registrations ORDER BY name")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["name,status,answer_status,answer_answer_status",
                                          "Anna,confirmed,directeur,true", "Bram,confirmed,'=1+1,false"]
    out = tmp_path / "converted.jsonl"
    assert run("exports", "convert", str(folder), "--event", stored_clash.id, "-o", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["name"]: (r["answer_status"], r["answer_answer_status"]) for r in rows} == {
        "Anna": ("directeur", True), "Bram": ("=1+1", False)}
