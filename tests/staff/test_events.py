"""``python -m staff events ...``: put, list, show; help and exit codes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import EVENTS_DIR, ROOT, SEED_EVENT_ID
from tests.live import free_port
from tests.staff.conftest import register, run

COMMANDS = [
    [], ["events"], ["events", "put"], ["events", "list"], ["events", "show"],
    ["registrations"], ["registrations", "list"], ["registrations", "export"], ["registrations", "cancel"],
    ["registrations", "erase"], ["exports"], ["exports", "start"], ["exports", "list"], ["exports", "convert"],
    ["exports", "query"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "staff")
def test_every_command_has_readable_help(command):
    from staff.cli import cli

    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) >= 4


def test_without_a_table_it_is_a_usage_error(aws, monkeypatch):
    from staff.cli import cli

    monkeypatch.delenv("STAFF_STAGE", raising=False)
    result = CliRunner().invoke(cli, ["events", "list"])
    assert result.exit_code == 2
    assert "--stage" in result.output


def test_unknown_stage_is_a_usage_error(aws):
    from staff.cli import cli

    result = CliRunner().invoke(cli, ["--stage", "staging", "events", "list"])
    assert result.exit_code == 2
    assert "unknown stage" in result.output


def test_local_points_at_make_runs_stand_in(monkeypatch):
    from staff.config import resolve

    monkeypatch.setenv("AWS_PORT", "5100")
    monkeypatch.setenv("AWS_PROFILE", "someone")
    target = resolve(None, True, None)
    assert target.set["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5100"
    assert target.set["TABLE_NAME"] == "registrations-local"
    assert target.set["STAGE"] == "local"
    assert "AWS_PROFILE" in target.unset
    assert resolve("prod", False, "other-table").set["TABLE_NAME"] == "other-table"
    assert resolve("prod", False, None).set["TABLE_NAME"] == "event-registration-prod"


@pytest.mark.parametrize("port_setting", ["given", "default"])
def test_local_says_which_endpoint_it_tried_when_nothing_answers(monkeypatch, capsys, port_setting):
    """Nothing listens on the port: exit 3, one line naming the endpoint, AWS_PORT and make run."""
    from chalicelib import aws
    from staff import config
    from staff.cli import main

    port = str(free_port())  # nothing listens there
    if port_setting == "given":
        monkeypatch.setenv("AWS_PORT", port)
    else:
        monkeypatch.delenv("AWS_PORT", raising=False)
        monkeypatch.setattr(config, "DEFAULT_AWS_PORT", port)
    for name in ("AWS_ENDPOINT_URL", "STAFF_STAGE"):
        monkeypatch.delenv(name, raising=False)
    aws.reset_clients()
    try:
        code = main(["--local", "events", "list"])
    finally:
        aws.reset_clients()
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "Traceback" not in err
    how = f"AWS_PORT={port}" if port_setting == "given" else f"AWS_PORT not set: port {port}, the default"
    assert err == (f"Error: Could not reach the local AWS stand-in at http://127.0.0.1:{port} ({how}): "
                   "is make run running? Start it in another terminal, or set AWS_PORT to the port it uses.\n")


def test_the_environment_is_restored_after_a_command(aws, seed_event, monkeypatch):
    import os

    monkeypatch.setenv("TABLE_NAME", "registrations-local")
    run("--table", "registrations-local", "events", "list")
    assert os.environ["TABLE_NAME"] == "registrations-local"
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_put_creates_an_event_from_a_file(aws):
    result = run("events", "put", str(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"))
    assert result.exit_code == 0, result.output
    assert "Created event partos-engagement-mobilisatie-2023 (capacity 40)" in result.stdout
    listed = run("events", "list")
    assert listed.exit_code == 0
    assert SEED_EVENT_ID in listed.stdout and "40" in listed.stdout


def test_put_refuses_an_invalid_file_with_field_and_reason(aws, tmp_path):
    data = yaml.safe_load((EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").read_text())
    data["location"]["country"] = "Netherlands"
    bad = tmp_path / f"{SEED_EVENT_ID}.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = run("events", "put", str(bad))
    assert result.exit_code == 2
    assert "location.country" in result.stderr and str(bad) in result.stderr


def test_put_keeps_the_seat_count_when_the_capacity_drops(seed_event, tmp_path):
    from chalicelib import store

    for n in range(3):
        register(email=f"p{n}@example.org")
    data = yaml.safe_load((EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").read_text())
    data["capacity"] = 2
    path = tmp_path / f"{SEED_EVENT_ID}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    shutil.copytree(EVENTS_DIR / "assets", tmp_path / "assets")  # the logo its branding names
    result = run("events", "put", str(path))
    assert result.exit_code == 0, result.output
    assert "capacity 40 -> 2" in result.stdout
    assert "nobody was moved" in result.stderr
    counters = store.get_counters(SEED_EVENT_ID)
    assert counters.seats_taken == 3 and counters.seat_capacity == 2


def test_put_fills_free_seats_after_a_capacity_increase(cases_event, tmp_path):
    from chalicelib import store
    from tests.staff.conftest import CASES_EVENT, person

    for n in range(5):
        register(cases_event.id, **person(f"P{n}", f"p{n}@example.org"))
    counters = store.get_counters(cases_event.id)
    assert (counters.seats_taken, counters.waitlisted_count) == (3, 2)
    path = tmp_path / f"{cases_event.id}.yaml"
    path.write_text(yaml.safe_dump({**CASES_EVENT, "capacity": 4}, allow_unicode=True))
    result = run("events", "put", "--yes", str(path))  # the promotion is emailed: --yes, as a script would
    assert result.exit_code == 0, result.output
    assert "capacity 3 -> 4" in result.stdout and "Promoted 1" in result.stdout
    counters = store.get_counters(cases_event.id)
    assert (counters.seats_taken, counters.waitlisted_count) == (4, 1)
    statuses = sorted(r["status"] for r in store.iter_registrations(cases_event.id, consistent=True))
    assert statuses == ["confirmed"] * 4 + ["waitlisted"]


def test_show_counts_by_status_and_failed_emails(cases_event):
    from datetime import datetime

    from chalicelib import store
    from tests.staff.conftest import person

    ids = [register(cases_event.id, **person(f"P{n}", f"p{n}@example.org")).registration_id for n in range(4)]
    store.record_notification(cases_event.id, ids[0], "registered", "failed", expect=("pending",),
                              at=datetime.now(UTC), reason="MessageRejected: test")
    result = run("events", "show", cases_event.id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "confirmed:     3" in out and "waitlisted:    1" in out and "cancelled:     0" in out
    assert "seats left:    0" in out and "emails failed: 1" in out
    assert "2023-06-05 14:00-17:00 Europe/Amsterdam (CEST)" in out
    as_json = json.loads(run("events", "show", cases_event.id, "--json").stdout)
    assert as_json["confirmed"] == 3 and as_json["emails_failed"] == 1 and as_json["seats_left"] == 0


def test_show_unknown_event_exits_1(aws):
    result = run("events", "show", "no-such-event")
    assert result.exit_code == 1
    assert "no event no-such-event" in result.stderr


def test_aws_errors_exit_3(aws):
    result = run("--table", "no-such-table", "events", "show", "x")
    assert result.exit_code == 3
    assert "ResourceNotFoundException" in result.stderr


def test_events_list_with_no_events(aws):
    result = run("events", "list")
    assert result.exit_code == 0 and "No events" in result.stdout


def test_main_returns_the_exit_code_scripts_see(aws, seed_event):
    """``python -m staff`` runs ``main``; its return value is the process's exit code."""
    import subprocess
    import sys

    from staff.cli import main

    assert main(["--stage", "local", "events", "show", "no-such-event"]) == 1
    assert main(["--stage", "local", "events", "show", SEED_EVENT_ID]) == 0
    assert main(["--stage", "local", "events", "list", "--bogus"]) == 2
    assert main(["--stage", "nope", "events", "list"]) == 2
    done = subprocess.run(
        [sys.executable, "-m", "staff", "exports", "convert", "/nonexistent", "--event", "x", "-o", "x.csv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "no such file or folder" in done.stderr


@pytest.mark.parametrize("port", ["abc", "0", "70000", "５０００", "-1"])
def test_an_aws_port_that_is_no_port_is_a_usage_error_naming_it(monkeypatch, capsys, port):
    from staff.cli import main

    monkeypatch.setenv("AWS_PORT", port)
    monkeypatch.delenv("STAFF_STAGE", raising=False)
    assert main(["--local", "events", "list"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"Error: AWS_PORT {port!r} is not a port number (1 to 65535): the port make run's AWS "
                        "stand-in uses, e.g. AWS_PORT=5100\n") and "Traceback" not in err


def test_a_table_that_does_not_exist_is_named(aws, seed_event):
    result = run("--table", "nosuch", "events", "list")
    assert result.exit_code == 3
    assert result.stderr.strip().endswith(
        "ResourceNotFoundException: Requested resource not found (the table 'nosuch' in eu-west-1: is the stage "
        "deployed there, is --table right?)")
