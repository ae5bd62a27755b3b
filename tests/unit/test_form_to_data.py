"""chalicelib.validation.form_to_data: an HTML form post in the JSON shape of a registration (README, "HTTP API")."""

from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.events import load_event_file
from chalicelib.validation import form_to_data

EVENT = load_event_file(Path(__file__).parents[2] / "events" / "partos-engagement-mobilisatie-2023.yaml")


def form(*pairs: tuple[str, str], charset: str = "utf-8") -> bytes:
    return urlencode(pairs, encoding=charset).encode("ascii")


def test_a_filled_form_in_the_json_shape():
    # GIVEN the workshop's form filled in: a checkbox, a choice, an untouched optional text, the start time
    body = form(("name", "Anna de Vries"), ("email", "anna@example.org"), ("language", "nl"), ("consent", "on"),
                ("role", "lobbyist"), ("organisation", ""), ("partos_member", "on"), ("form_started_at", "1686564000"),
                ("website", ""))
    # WHEN it is read
    data = form_to_data(EVENT, body)
    # THEN checkboxes are booleans, the empty optional field is left out, the start time is a number
    assert data == {"name": "Anna de Vries", "email": "anna@example.org", "language": "nl", "consent": True,
                    "role": "lobbyist", "partos_member": True, "form_started_at": 1686564000, "website": ""}


def test_absent_checkboxes_are_false_and_the_last_value_wins():
    # GIVEN a form without the checkboxes, the name sent twice and an empty start time
    data = form_to_data(EVENT, form(("name", "first"), ("name", "Bram"), ("form_started_at", " ")))
    # THEN consent and the boolean question are false, the last name counts, and the empty start time is left out
    assert data == {"name": "Bram", "consent": False, "partos_member": False}


@pytest.mark.parametrize("sent,read", [
    ("on", True), ("true", True), ("TRUE", True), ("Yes", True), ("1", True),
    ("off", False), ("false", False), ("no", False), ("0", False), ("", False),
    ("maybe", "maybe"), ("2", "2"), ("ja", "ja"),
])
def test_checkbox_values_are_true_false_or_left_as_text_for_the_model_to_refuse(sent, read):
    data = form_to_data(EVENT, form(("consent", sent), ("partos_member", sent)))
    assert (data["consent"], data["partos_member"]) == (read, read)


def test_the_charset_of_the_content_type_decodes_the_escapes():
    # GIVEN a name sent as Latin-1 escapes
    body = form(("name", "Zoë"), charset="latin-1")
    # THEN it is read in that charset; an unknown charset, or escapes that are not UTF-8, are refused
    assert form_to_data(EVENT, body, "iso-8859-1")["name"] == "Zoë"
    with pytest.raises(LookupError):
        form_to_data(EVENT, form(("name", "x")), "no-such-charset")
    with pytest.raises(UnicodeDecodeError):
        form_to_data(EVENT, body)


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=8))
def test_any_utf8_form_is_read_without_surprises(pairs):
    # GIVEN any field names and values (CR/LF, ampersands, equals signs, percent signs, emoji)
    body = form(*pairs)
    # WHEN it is read
    data = form_to_data(EVENT, body)
    # THEN consent is a boolean, or the text sent when it is no checkbox value (the model refuses it), and every
    # other text field is the last value sent under its name
    assert isinstance(data["consent"], bool) or data["consent"] == dict(pairs)["consent"]
    last = dict(pairs)
    for name, value in data.items():
        if name in ("consent", "partos_member", "form_started_at") or name in {q.id for q in EVENT.questions}:
            continue
        assert value == last[name]
