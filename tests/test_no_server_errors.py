"""No input gives a 5xx: every registration field of the seed event and of an event with every
question type, driven with arbitrary JSON values and form values through the API (Hypothesis)."""

from __future__ import annotations

import itertools
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import store
from chalicelib.events import CORE_FIELDS, load_event_file, parse_event
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=60,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])
ALL_TYPES_ID = "every-question-type"
_serial = itertools.count()


def _label(text: str) -> dict[str, str]:
    return {"nl": text, "en": text}


def every_question_type_event():
    """The seed event with one question of each type, required and optional, and no capacity."""
    seed = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_dump(mode="json", exclude_none=True)
    options = [{"id": o, "label": _label(o)} for o in ("a", "b", "c")]
    seed.update(id=ALL_TYPES_ID, capacity=None, questions=[
        {"id": "text_q", "type": "text", "required": True, "label": _label("Text")},
        {"id": "textarea_q", "type": "textarea", "max_length": 300, "label": _label("Textarea")},
        {"id": "choice_q", "type": "choice", "required": True, "options": options, "label": _label("Choice")},
        {"id": "multi_q", "type": "multichoice", "required": True, "options": options, "label": _label("Multi")},
        {"id": "bool_q", "type": "boolean", "label": _label("Boolean")},
        {"id": "phone_q", "type": "phone", "label": _label("Phone")},
        {"id": "phone_opt", "type": "phone", "required": False, "label": _label("Phone")},
    ])
    seed.pop("capacity")
    return parse_event(seed, "test")


def valid_body(event_id: str) -> dict:
    address = f"p{next(_serial)}@example.org"
    if event_id == SEED_EVENT_ID:
        return partos_registration(email=address)
    return {"name": "Anna", "email": address, "consent": True, "text_q": "x", "choice_q": "a", "multi_q": ["a", "c"],
            "bool_q": True, "phone_q": "+31 20 123 4567", "textarea_q": "line 1\nline 2"}


def fields_of(event) -> list[str]:
    return [*CORE_FIELDS, *(q.id for q in event.questions), "unknown_field", ""]


NOW = 1_684_738_800  # 22 May 2023 07:00 UTC
numbers = st.one_of(
    st.integers(), st.floats(), st.integers(min_value=-10**400, max_value=10**400),
    st.sampled_from([10**400, -10**400, 2**63, 2**64, 1e308, 1e11, 1e11 + 1, 10**13 - 1, 10**13, NOW, NOW * 1000,
                     NOW + 3600, (NOW + 3600) * 1000, 0, -1, 0.5]),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), numbers, st.text(),
    st.sampled_from(["", " ", "a" * 20000, "1" + "0" * 400, "\ud800", "\x00", "\u2028",
                     "=?utf-8?b?eCA8cjFAZXZpbC5leGFtcGxlPg==?=", "on", "true"]),
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)
form_text = (
    st.text(st.characters(exclude_categories=("Cs",)))
    | numbers.map(str)
    | st.sampled_from(
        [
            "",
            "9" * 400,
            "9" * 5000,
            "on",
            "true",
            "-1",
            "1e400",
            "NaN",
            "١٢٣",
            "\u2028",
            "=?utf-8?q?a=0D=0ABcc:_e@evil.example?=",
        ]
    )
)


def mutated_fields(event):
    """Two or three fields at once."""
    return st.lists(st.sampled_from(fields_of(event)), min_size=2, max_size=3, unique=True)


@pytest.fixture
def events(aws):
    seed = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    every = every_question_type_event()
    store.put_event(seed)
    store.put_event(every)
    return {SEED_EVENT_ID: seed, ALL_TYPES_ID: every}


def assert_no_server_error(answer, body) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.body[:300], repr(body)[:300])
    assert answer.status_code in (201, 303, 400, 409, 413, 422), answer.status_code


SEED_FIELDS = fields_of(load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"))
ALL_TYPES_FIELDS = fields_of(every_question_type_event())


def post_json_body(client, event_id: str, body: dict):
    answer = client.http.post(f"/events/{event_id}/registrations", headers={"Content-Type": "application/json"},
                              body=json.dumps(body))
    assert_no_server_error(answer, body)
    if answer.status_code == 422:
        named = {e["field"] for e in json.loads(answer.body)["errors"]}
        assert named and named <= set(body) | set(ALL_TYPES_FIELDS) | set(SEED_FIELDS), named
    return answer


def post_form_pairs(client, event_id: str, pairs: list[tuple[str, str]], charset: str = ""):
    body = urlencode(pairs)
    answer = client.http.post(f"/events/{event_id}/registrations?lang=en",
                              headers={"Content-Type": "application/x-www-form-urlencoded" + charset}, body=body)
    assert_no_server_error(answer, body)
    return answer


def valid_pairs(event_id: str) -> list[tuple[str, str]]:
    pairs = [(k, v if not isinstance(v, bool) else ("on" if v else "")) for k, v in valid_body(event_id).items()
             if not isinstance(v, list)]
    return pairs + ([("multi_q", "a")] if event_id == ALL_TYPES_ID else [])


@pytest.mark.case("huge-number")
@pytest.mark.parametrize("event_id", [SEED_EVENT_ID, ALL_TYPES_ID])
@settings(PROPERTY, max_examples=25)
@given(data=st.data())
def test_any_json_value_in_each_field_gives_no_5xx(client, events, event_id, data):
    """Each field in turn gets an arbitrary value, the others valid, so the value goes as deep as it
    can (validation, anti-spam, storage)."""
    for field in fields_of(events[event_id]):
        post_json_body(
            client, event_id, {**valid_body(event_id), field: data.draw(json_scalars | json_values, label=field)}
        )


@pytest.mark.case("huge-number")
@pytest.mark.parametrize("event_id", [SEED_EVENT_ID, ALL_TYPES_ID])
@settings(PROPERTY, max_examples=25)
@given(data=st.data())
def test_any_form_values_in_each_field_give_no_5xx(client, events, event_id, data):
    for field in fields_of(events[event_id]):
        values = data.draw(st.lists(form_text, max_size=3), label=field)
        post_form_pairs(
            client, event_id, [(k, v) for k, v in valid_pairs(event_id) if k != field] + [(field, v) for v in values]
        )


@pytest.mark.parametrize("event_id", [SEED_EVENT_ID, ALL_TYPES_ID])
@PROPERTY
@given(data=st.data())
def test_any_json_values_in_several_fields_give_no_5xx(client, events, event_id, data):
    body = valid_body(event_id)
    for field in data.draw(mutated_fields(events[event_id])):
        if data.draw(st.booleans().map(lambda drop, field=field: drop and field in body), label="drop"):
            del body[field]
        else:
            body[field] = data.draw(json_values, label=field)
    post_json_body(client, event_id, body)


@pytest.mark.parametrize("event_id", [SEED_EVENT_ID, ALL_TYPES_ID])
@PROPERTY
@given(data=st.data())
def test_any_form_values_in_several_fields_with_any_charset_give_no_5xx(client, events, event_id, data):
    pairs = valid_pairs(event_id)
    for field in data.draw(mutated_fields(events[event_id])):
        pairs = [(k, v) for k, v in pairs if k != field]
        pairs += [(field, v) for v in data.draw(st.lists(form_text, max_size=3), label=field)]
    charset = data.draw(
        st.sampled_from(["", "; charset=UTF-8", "; charset=latin-1", "; charset=nope", "; charset=utf-16"])
    )
    post_form_pairs(client, event_id, pairs, charset)


@PROPERTY
@given(raw=st.binary(max_size=2000), media=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                                           "application/json; charset=utf-16", "text/plain", ""]))
def test_any_bytes_give_no_5xx(client, events, raw, media):
    headers = {"Content-Type": media} if media else {}
    answer = client.http.post(f"/events/{ALL_TYPES_ID}/registrations", headers=headers, body=raw)
    assert answer.status_code < 500, (answer.status_code, raw)
