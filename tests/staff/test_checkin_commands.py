"""Staff commands for check-in at the door: ``checkin-link``, ``registrations checkin [--undo]``, and
``checked_in_at`` in ``registrations list``, the exports and ``exports convert``/``query``."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SEED_EVENT_ID
from tests.staff.conftest import register, run, table_items, write_aws_export


@pytest.fixture
def seed(aws):
    from chalicelib import store
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update={"capacity": 2})
    store.put_event(event)
    return event


def test_checkin_link_prints_a_signed_expiring_link_to_the_door_page(seed, monkeypatch):
    from chalicelib import checkin, clock

    monkeypatch.delenv("PORT", raising=False)
    before = clock.now()
    result = run("checkin-link", SEED_EVENT_ID, "--valid", "2d", "--lang", "nl")
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == (
        "http", "127.0.0.1:8000", f"/events/{SEED_EVENT_ID}/door", "lang=nl")
    door = checkin.read_door_token(SEED_EVENT_ID, parts.fragment, clock.now())
    assert before + timedelta(days=2) - timedelta(seconds=1) <= door.expires_at <= clock.now() + timedelta(days=2)
    assert door.key_id == "local1"
    assert "valid until" in result.stderr and "send it only to door staff" in result.stderr
    with pytest.raises(checkin.DoorLinkExpired):
        checkin.read_door_token(SEED_EVENT_ID, parts.fragment, clock.now() + timedelta(days=2, seconds=1))


def test_checkin_link_follows_make_runs_port_and_a_given_base_url(seed, monkeypatch):
    monkeypatch.setenv("PORT", "8100")
    assert run("checkin-link", SEED_EVENT_ID).stdout.startswith(f"http://127.0.0.1:8100/events/{SEED_EVENT_ID}/door#")
    given = run("checkin-link", SEED_EVENT_ID, "--valid", "12h", "--base-url", "https://door.example.org/api/")
    assert given.stdout.startswith(f"https://door.example.org/api/events/{SEED_EVENT_ID}/door#")


NO_QUERY = "the URL may not hold a query (?) or fragment (#): the door link adds its own"


@pytest.mark.parametrize("base_url,reason", [
    ("javascript:alert(1)", "the URL must start with https:// or http://, not javascript:"),
    ("data:text/html,<script>alert(1)</script>", "the URL must start with https:// or http://, not data:"),
    ("door.example.org", "the URL must start with https:// or http://"),
    ("https://", "the URL has no host, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/api"),
    ("http:///api", "the URL has no host, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/api"),
    ("https://staff@door.example.org", "the URL may not hold a user or password"),
    ("https://door.example.org/api?x=1", NO_QUERY),
    ("https://door.example.org/#x", NO_QUERY),
    ("https://door.example.org/?", NO_QUERY),
    ("https://door.example.org:99999", "not a URL: Port out of range 0-65535"),
    ("https://door.example.org/a b", "a URL has no spaces or control characters"),
    ("https://door.example.org/\nx", "a URL has no spaces or control characters"),
])
def test_checkin_link_takes_only_an_http_url_with_a_host(seed, base_url, reason):
    """``--base-url 'javascript:alert(1)'`` printed a javascript: "link" with exit 0."""
    result = run("checkin-link", SEED_EVENT_ID, "--base-url", base_url)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"Error: Invalid value for '--base-url': {reason}"


@pytest.mark.parametrize("base_url", ["https://door.example.org", "HTTP://127.0.0.1:8100/", "https://[::1]:8443/api"])
def test_checkin_link_takes_http_urls_with_a_host(seed, base_url):
    result = run("checkin-link", SEED_EVENT_ID, "--base-url", base_url)
    assert result.exit_code == 0 and result.stdout.startswith(f"{base_url.rstrip('/')}/events/{SEED_EVENT_ID}/door#")


def test_checkin_link_counts_from_the_app_clock_the_service_was_started_with(seed, monkeypatch):
    """``APP_CLOCK=... make run`` and ``APP_CLOCK=... python -m staff --local ...``: the environment's
    clock wins over the local stage's, so the link's expiry counts from the service's clock."""
    from datetime import datetime

    from chalicelib import checkin

    monkeypatch.setenv("APP_CLOCK", "2023-05-01T09:00:00+02:00")
    link = run("checkin-link", SEED_EVENT_ID, "--valid", "1d").stdout.strip()
    token = urlsplit(link).fragment
    door = checkin.read_door_token(SEED_EVENT_ID, token, datetime(2023, 5, 2, 6, 59, tzinfo=UTC))
    assert datetime(2023, 5, 2, 7, 0, tzinfo=UTC) <= door.expires_at < datetime(2023, 5, 2, 8, 0, tzinfo=UTC)
    with pytest.raises(checkin.DoorLinkExpired):  # the stage's clock (22 May) is long past it
        checkin.read_door_token(SEED_EVENT_ID, token, datetime(2023, 5, 22, 7, 0, tzinfo=UTC))


def pin_clock(monkeypatch, instant: str) -> None:
    """The clock (``APP_CLOCK``, read at every call) reads ``instant`` now (plus the time the test takes):
    the pinned clock counts from the process's start, so a long test run would read later."""
    import time
    from datetime import datetime

    from chalicelib import clock

    elapsed = time.monotonic() - clock._PROCESS_START
    monkeypatch.setenv("APP_CLOCK", (datetime.fromisoformat(instant) - timedelta(seconds=elapsed)).isoformat())


def test_checkin_link_says_in_english_until_when_it_works(seed, monkeypatch):
    """The stderr line said "valid until 23 mei 2023 09:04 CEST" (the page's language) in an English tool."""
    pin_clock(monkeypatch, "2023-05-22T09:00:00+02:00")
    result = run("checkin-link", SEED_EVENT_ID, "--valid", "14d6h", "--lang", "nl")
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stderr.splitlines() if "valid until" in line]
    assert re.fullmatch(rf"Door link for {SEED_EVENT_ID}, valid until 2023-06-05 15:0\d CEST \(signed with key "
                        r"local1\)\. Anyone with it can check people in and see their names: send it only to door "
                        r"staff\.", line), line
    assert "mei" not in result.stderr and "juni" not in result.stderr


def test_checkin_link_warns_when_it_expires_before_the_event_starts(seed, monkeypatch):
    """``--valid 1d`` weeks before the event printed a link that is dead on the day, without a word."""
    pin_clock(monkeypatch, "2023-05-22T09:00:00+02:00")
    result = run("checkin-link", SEED_EVENT_ID, "--valid", "1d")
    assert result.exit_code == 0 and result.stdout.startswith("http://")
    warning = result.stderr.splitlines()[-1]
    assert re.fullmatch(r"Warning: this link expires on 2023-05-23 09:0\d CEST, before the event starts on "
                        r"2023-06-05 14:00 CEST: door staff cannot use it then\. Make one with --valid 15d to cover "
                        r"the event until it ends \(2023-06-05 17:00 CEST\)\.", warning), warning


def test_checkin_link_warns_when_it_expires_during_the_event(seed, monkeypatch):
    pin_clock(monkeypatch, "2023-05-22T09:00:00+02:00")
    result = run("checkin-link", SEED_EVENT_ID, "--valid", "14d6h")  # until 15:00, the event 14:00-17:00
    assert result.exit_code == 0
    warning = result.stderr.splitlines()[-1]
    assert re.fullmatch(r"Warning: this link expires on 2023-06-05 15:0\d CEST, before the event ends on "
                        r"2023-06-05 17:00 CEST\. Make one with --valid 15d to cover the event until it ends "
                        r"\(2023-06-05 17:00 CEST\)\.", warning), warning


@pytest.mark.parametrize("valid", ["14d8h", "15d", "31d"])
def test_checkin_link_covering_the_event_gives_no_warning(seed, monkeypatch, valid):
    pin_clock(monkeypatch, "2023-05-22T09:00:00+02:00")
    result = run("checkin-link", SEED_EVENT_ID, "--valid", valid)
    assert result.exit_code == 0 and "Warning" not in result.stderr


def test_checkin_link_made_over_31_days_ahead_says_when_one_can_cover_the_event(seed, monkeypatch):
    pin_clock(monkeypatch, "2023-04-01T09:00:00+02:00")
    result = run("checkin-link", SEED_EVENT_ID, "--valid", "31d")
    assert result.exit_code == 0
    assert re.fullmatch(
        r"Warning: this link expires on 2023-05-02 09:0\d CEST, before the event starts on 2023-06-05 14:00 CEST: "
        r"door staff cannot use it then\. A door link works for at most 31 days: make another on or after "
        r"2023-05-05 17:00 CEST to cover the event until it ends \(2023-06-05 17:00 CEST\)\.",
        result.stderr.splitlines()[-1]), result.stderr


def test_checkin_link_after_the_event_gives_no_warning(seed, monkeypatch):
    pin_clock(monkeypatch, "2023-06-06T09:00:00+02:00")
    result = run("checkin-link", SEED_EVENT_ID, "--valid", "1h")
    assert result.exit_code == 0 and "Warning" not in result.stderr


@pytest.mark.parametrize("valid", ["soon", "0d", "32d", "2x", "-1d", "2d3"])
def test_checkin_link_refuses_a_duration_it_cannot_read_or_too_long(seed, valid):
    result = run("checkin-link", SEED_EVENT_ID, "--valid", valid)
    assert result.exit_code == 2, result.output
    assert "--valid" in result.output


@pytest.mark.parametrize("valid", ["1d1d", "12h12h", "1d2h1d", "30m1h", "1h1d", "2D", "1.5h", "\u0662d"])
def test_checkin_link_reads_each_unit_once_in_order_as_the_readme_writes_it(seed, valid):
    """README: ``--valid`` takes ``2d``, ``12h``, ``1d12h``, ``90m``: days, hours, minutes, each once, in that
    order. ``1d1d`` was read as 2 days; a repeated or reordered unit, a capital, a fraction, another script's
    digit is refused (the reminders of event files read the same way)."""
    result = run("checkin-link", SEED_EVENT_ID, "--valid", valid)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--valid': {valid!r}: say how long, e.g. 2d, 12h, 1d12h or 90m" in result.stderr
    assert "http" not in result.stdout


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789dhm \t", max_size=14))
def test_an_accepted_duration_names_each_unit_once_in_order(valid):
    from chalicelib.events import offset_text
    from staff.commands.checkin import parse_duration

    try:
        duration = parse_duration(valid)
    except click.BadParameter:
        return
    units = [c for c in valid if c in "dhm"]
    assert units == sorted(set(units), key="dhm".index)  # each at most once, days before hours before minutes
    assert timedelta(minutes=1) <= duration <= timedelta(days=31)
    assert parse_duration(offset_text(duration)) == duration


@pytest.mark.parametrize(
    "valid,seconds",
    [("2d", 172800), ("12h", 43200), ("1d12h", 129600), ("90m", 5400), ("31d", 2678400), (" 1d 12h ", 129600)],
)
def test_durations(valid, seconds):
    from staff.commands.checkin import parse_duration

    assert parse_duration(valid) == timedelta(seconds=seconds)


def test_checkin_link_of_an_unknown_event_exits_1(seed):
    assert run("checkin-link", "no-such-event").exit_code == 1


def test_registrations_checkin_and_undo(seed):
    seated = register(email="anna@example.org").registration_id
    waiting = register(email="bram@example.org", name="Bram").registration_id
    register(email="carla@example.org", name="Carla")  # capacity 2: Carla waits too
    first = run("registrations", "checkin", SEED_EVENT_ID, seated)
    assert first.exit_code == 0 and first.stdout.startswith(f"Checked in registration {seated} at 2023-05-22 ")
    assert first.stderr == "Note: checked in before the event's day; it starts on 2023-06-05 14:00 CEST.\n"
    from chalicelib import store

    item = store.get_registration_in_event(SEED_EVENT_ID, seated)
    assert item["checked_in_via"] == "staff" and item["checked_in_at"].startswith("2023-05-22T")
    again = run("registrations", "checkin", SEED_EVENT_ID, f"'{seated}")  # as copied from a CSV cell
    assert again.exit_code == 1 and "was checked in at 2023-05-22 " in again.stderr
    assert run("registrations", "checkin", SEED_EVENT_ID, seated, "--undo").exit_code == 0
    assert "checked_in_at" not in store.get_registration_in_event(SEED_EVENT_ID, seated)
    assert run("registrations", "checkin", SEED_EVENT_ID, seated, "--undo").exit_code == 1
    assert store.get_registration_in_event(SEED_EVENT_ID, waiting)["status"] == "confirmed"
    third = next(i for i in table_items() if i.get("status", {}).get("S") == "waitlisted")["registration_id"]["S"]
    refused = run("registrations", "checkin", SEED_EVENT_ID, third)
    assert refused.exit_code == 1 and f"Not checked in: registration {third} is waitlisted." in refused.stderr
    assert run("registrations", "checkin", SEED_EVENT_ID, "no-such-id").exit_code == 1


def test_registrations_cancel_of_someone_checked_in_takes_them_off_the_door_count(seed):
    """``registrations cancel`` of a checked-in registration left it on the door's count: "2 of 1 checked in"."""
    from chalicelib import checkin

    anna = register(email="anna@example.org").registration_id
    bram = register(email="bram@example.org", name="Bram").registration_id
    for registration_id in (anna, bram):
        assert run("registrations", "checkin", SEED_EVENT_ID, registration_id).exit_code == 0
    assert checkin.summary(SEED_EVENT_ID) == checkin.Summary(checked_in=2, confirmed=2)
    assert run("registrations", "cancel", SEED_EVENT_ID, anna, "--yes").exit_code == 0
    assert checkin.summary(SEED_EVENT_ID) == checkin.Summary(checked_in=1, confirmed=1)
    assert run("registrations", "cancel", SEED_EVENT_ID, anna, "--yes").exit_code == 1  # already: nothing changes
    undo = run("registrations", "checkin", SEED_EVENT_ID, anna, "--undo")
    assert undo.exit_code == 1
    assert f"Nothing to do: registration {anna} is cancelled; only a confirmed registration's check-in can be " \
        "taken back." in undo.stderr
    assert checkin.summary(SEED_EVENT_ID) == checkin.Summary(checked_in=1, confirmed=1)


def test_list_and_exports_show_when_people_were_checked_in(seed, tmp_path):
    from chalicelib import checkin, clock

    anna = register(email="anna@example.org").registration_id
    register(email="bram@example.org", name="Bram")
    result = checkin.check_in_code(SEED_EVENT_ID, checkin.make_code(SEED_EVENT_ID, anna), clock.now())
    local = result.person.checked_in_at.astimezone(seed.zone)

    listed = run("registrations", "list", SEED_EVENT_ID).stdout.splitlines()
    header = listed[0]
    anna_line = next(line for line in listed if anna in line)
    bram_line = next(line for line in listed if "Bram" in line)
    column = header.index("checked in")
    assert anna_line[column:column + 16] == local.strftime("%Y-%m-%d %H:%M")
    assert bram_line[column:column + 16].strip() == ""

    for fmt in ("csv", "json", "xlsx"):
        out = tmp_path / f"list.{fmt}"
        assert run("registrations", "export", SEED_EVENT_ID, "-o", str(out)).exit_code == 0
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
        elif fmt == "json":
            rows = json.loads(out.read_text(encoding="utf-8"))
        else:
            from openpyxl import load_workbook

            sheet = [list(r) for r in load_workbook(out, read_only=True).active.iter_rows(values_only=True)]
            rows = [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]]
        by_id = {r["registration_id"].removeprefix("'"): r for r in rows}  # CSV: an id starting with - carries a '
        assert list(rows[0])[-3:] == ["email_state", "email_outcome", "checked_in_at"]
        assert by_id[anna]["checked_in_at"] == local.isoformat(timespec="seconds"), fmt
        assert all(not r["checked_in_at"] for i, r in by_id.items() if i != anna), fmt

    folder = write_aws_export(tmp_path / "export", table_items())
    converted = tmp_path / "converted.jsonl"
    assert run("exports", "convert", str(folder), "--event", SEED_EVENT_ID, "-o", str(converted)).exit_code == 0
    lines = [json.loads(line) for line in converted.read_text(encoding="utf-8").splitlines()]
    assert {r["registration_id"]: r["checked_in_at"] for r in lines} == {
        anna: local.isoformat(timespec="seconds"),
        **{r["registration_id"]: None for r in lines if r["registration_id"] != anna},
    }
    query = run("exports", "query", str(folder), "--event", SEED_EVENT_ID, "--csv",
                "SELECT count(*) FILTER (WHERE checked_in_at IS NOT NULL) AS came, count(*) AS confirmed "
                "FROM registrations WHERE status = 'confirmed'")
    assert query.exit_code == 0, query.output
    assert query.stdout.splitlines() == ["came,confirmed", "1,2"]


def test_local_tools_take_the_real_clock_of_a_service_started_with_an_empty_app_clock(monkeypatch):
    """``APP_CLOCK= make run`` runs on the real clock; its staff tools (``--local``) fell back to the local
    stage's pinned 2023 clock: door links expired when made, and a cancel after the event's end went
    through and promoted someone (a tester's finding). The service now publishes "real clock" too."""
    from datetime import datetime

    from localservice import clockfile
    from staff.config import resolve, stage_environment

    monkeypatch.delenv("APP_CLOCK", raising=False)
    port = 1  # a port no stand-in of a test listens on: only its clock file matters here
    try:
        clockfile.publish(port, None)
        assert resolve(None, True, None, aws_port=str(port)).set["APP_CLOCK"] == ""
        clockfile.publish(port, datetime(2023, 6, 12, 10, 0, tzinfo=UTC))
        assert resolve(None, True, None, aws_port=str(port)).set["APP_CLOCK"].startswith("2023-06-12T10:00")
    finally:
        clockfile.withdraw(port)
    pinned = stage_environment("local")["APP_CLOCK"]
    assert resolve(None, True, None, aws_port=str(port)).set["APP_CLOCK"] == pinned  # no service: the stage's
