"""The staff tools of a ``make run`` use the service's clock as it reads now (README, "Staff tools").

The service publishes its clock reading (``localservice.clockfile``); ``--local`` staff commands
set their ``APP_CLOCK`` from it, unless ``APP_CLOCK`` is in their environment.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from localservice import clockfile
from staff.config import resolve


@pytest.fixture
def port(tmp_path, monkeypatch):
    monkeypatch.setattr(clockfile.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.delenv("APP_CLOCK", raising=False)
    return 59123


def test_the_published_clock_runs_on_at_real_speed(port):
    clockfile.publish(port, datetime.fromisoformat("2023-05-22T09:13:00+02:00"))
    path = clockfile.clock_path(port)
    published = json.loads(path.read_text())
    path.write_text(json.dumps({**published, "real": published["real"] - 90}))  # published 90 s ago
    now = datetime.fromisoformat(clockfile.read(port))
    assert timedelta(seconds=90) <= now - datetime.fromisoformat("2023-05-22T09:13:00+02:00") < timedelta(seconds=95)
    assert now.utcoffset() == timedelta(hours=2)  # shown as it was given
    clockfile.withdraw(port)
    assert clockfile.read(port) is None


def test_local_staff_commands_take_the_running_services_clock(port):
    clockfile.publish(port, datetime.fromisoformat("2023-06-12T12:30:00+02:00"))
    target = resolve(None, True, None, aws_port=str(port))
    taken = datetime.fromisoformat(target.set["APP_CLOCK"])
    assert timedelta(0) <= taken - datetime.fromisoformat("2023-06-12T12:30:00+02:00") < timedelta(seconds=5)


def test_app_clock_in_the_environment_wins_and_no_service_means_the_stages(port, monkeypatch):
    clockfile.publish(port, datetime.fromisoformat("2023-06-12T12:30:00+02:00"))
    monkeypatch.setenv("APP_CLOCK", "2023-05-22T09:00:00+02:00")
    assert resolve(None, True, None, aws_port=str(port)).set["APP_CLOCK"] == "2023-05-22T09:00:00+02:00"
    monkeypatch.delenv("APP_CLOCK")
    clockfile.withdraw(port)
    stage_clock = resolve(None, True, None, aws_port=str(port)).set.get("APP_CLOCK")
    assert stage_clock == "2023-05-22T09:00:00+02:00"  # .chalice/config.json's local stage


@pytest.mark.parametrize("text", ["", "{", '{"clock": "2023-05-22T09:00:00", "real": 1}', '{"clock": 5}', "[]"])
def test_a_damaged_or_naive_file_is_ignored(port, text):
    clockfile.clock_path(port).write_text(text)
    assert clockfile.read(port) is None


def test_a_port_that_is_not_a_number_is_refused_before_any_clock_is_read(port):
    from staff.config import ConfigError

    with pytest.raises(ConfigError, match="AWS_PORT 'abc' is not a port number"):
        resolve(None, True, None, aws_port="abc")
