"""``reminders`` in an event file (README, "Event files"): times before ``starts_at`` such as ``24h``,
``2d`` or ``90m``; default one day; ``[]`` for none. Bad values get the field and a reason, never a 500
nor a reminder at a surprising time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import publishing
from chalicelib.events import REMINDER_MAX, REMINDER_MIN, EventFileError, offset_text, parse_event, parse_offset
from tests.staff.conftest import CASES_EVENT

BASE = {**CASES_EVENT, "questions": []}
START_UTC = datetime(2023, 6, 5, 12, 0, tzinfo=UTC)


def reminders_of(value) -> tuple[str, ...]:
    return parse_event({**BASE, "reminders": value}).reminders


def refusal(value) -> str:
    with pytest.raises(EventFileError) as refused:
        reminders_of(value)
    [(field, reason)] = refused.value.problems
    assert field == "reminders"
    return reason


def test_default_is_one_reminder_a_day_before_the_start():
    event = parse_event(BASE)
    assert event.reminders == ("1d",)
    assert event.scheduled_times()["reminder_1d"] == START_UTC - timedelta(days=1)
    assert parse_event({**BASE, "reminders": []}).reminder_times() == {}


def test_offsets_are_read_as_days_hours_and_minutes_and_kept_earliest_first():
    assert reminders_of(["2h", "24h", "1d12h", "90m"]) == ("1d12h", "1d", "2h", "1h30m")
    event = parse_event({**BASE, "reminders": [" 2d ", "45m"]})
    assert event.reminder_times() == {"reminder_2d": START_UTC - timedelta(days=2),
                                      "reminder_45m": START_UTC - timedelta(minutes=45)}
    assert event.public_view("en")["reminders"] == ["2d", "45m"]


@pytest.mark.parametrize(("value", "reason"), [
    (["1d", "24h"], "reminders '1d' and '24h' are the same time before the event"),
    (["10m"], "reminder '10m' is too close to the start: at least 15m before starts_at"),
    (["0h"], "reminder '0h' is too close to the start"),
    (["29d"], "reminder '29d' is too early: at most 28d before starts_at"),
    (["-1h"], "reminder '-1h' is not a duration"),
    (["1m1h"], "reminder '1m1h' is not a duration"),
    (["24"], "reminder '24' is not a duration"),
    ([24], "a reminder is a time before starts_at with its unit"),
    ([True], "a reminder is a time before starts_at with its unit"),
    ([None], "a reminder is a time before starts_at with its unit"),
    ("24h", "reminders is a list such as"),
    (None, "reminders is a list such as"),
    (["1h", "2h", "3h", "4h", "5h", "6h"], "at most 5 reminders per event, not 6"),
    (["\uff12\uff14h"], "is not a duration"),  # full-width digits are not ASCII digits
    (["1h\r\nBcc: x"], "is not a duration"),
])
def test_a_bad_reminder_is_refused_with_the_reason(value, reason):
    assert reason in refusal(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789dhmDHM -+.\u0660\uff10\n\r\t", max_size=30),
    st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.lists(st.integers(min_value=0, max_value=10**30).map(lambda n: f"{n}d"), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
))
def test_hostile_offsets_are_refused_or_read_within_the_bounds(value):
    """Whatever an event file holds, a reminder is refused with a reason, or lies 15 minutes to 28 days
    before the start: no huge number overflows, no other digit or line break gets through."""
    try:
        offset = parse_offset(value)
    except ValueError as exc:
        # a property over any input: refused (with a one-line reason) or accepted, never a crash
        assert str(exc) and "\n" not in str(exc) and "\r" not in str(exc)  # noqa: PT017
        return
    assert REMINDER_MIN <= offset <= REMINDER_MAX
    assert parse_offset(offset_text(offset)) == offset  # the canonical text reads back the same


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.text(alphabet="0123456789dhm", min_size=1, max_size=8), st.integers()), max_size=7))
def test_hostile_reminder_lists_never_break_the_model(values):
    try:
        reminders = reminders_of(values)
    except EventFileError as exc:
        assert exc.problems and exc.problems[0][0] == "reminders"  # noqa: PT017 - refused or valid, never a crash
        return
    offsets = [parse_offset(r) for r in reminders]
    assert len(set(offsets)) == len(offsets) <= 5
    assert offsets == sorted(offsets, reverse=True)


def test_publishing_renders_the_reminder_in_every_language():
    fields = [field for field, _ in publishing._renders(parse_event(BASE))]
    assert "(email reminder, nl)" in fields and "(email reminder, en)" in fields
