"""Per-stage settings and their environment overrides."""
from __future__ import annotations

import pytest
from stage_settings import available_stages, chalice_stage_environment, load_settings


def test_stages_defined():
    assert {"dev", "prod"} <= set(available_stages())


def test_prod_defaults():
    s = load_settings("prod", environ={})
    assert s.stack_name == "event-registration-prod"
    assert s.protect_data is True
    app_env = chalice_stage_environment("prod")
    # App settings come from .chalice/config.json, not a second copy.
    assert s.sender_email == app_env["SENDER_EMAIL"]
    assert s.retention_days == int(app_env["RETENTION_DAYS"])
    assert s.table_name == app_env["TABLE_NAME"]
    assert ",".join(s.allowed_origins) == app_env["ALLOWED_ORIGINS"]
    assert s.sender_domain == s.sender_address.rsplit("@", 1)[1]
    assert s.form_event_id == "partos-engagement-mobilisatie-2023"


def test_environment_overrides():
    s = load_settings(
        "prod",
        environ={
            "SENDER_EMAIL": "Partos <events@partos.nl>",
            "ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "AWS_REGION": "eu-central-1",
        },
    )
    assert s.sender_address == "events@partos.nl"
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert s.region == "eu-central-1"


def test_unknown_stage():
    with pytest.raises(KeyError, match="unknown stage 'staging'"):
        load_settings("staging", environ={})


def test_sender_without_address_is_rejected():
    with pytest.raises(ValueError):
        load_settings("prod", environ={"SENDER_EMAIL": "Partos Events"})


def test_sender_address_and_domain():
    s = load_settings("prod", environ={"SENDER_EMAIL": "Partos Events <events@example.org>"})
    assert (s.sender_address, s.sender_domain) == ("events@example.org", "example.org")


def test_dev_and_prod_chalice_stages_leave_roles_to_the_stack():
    import json

    from stage_settings import CHALICE_CONFIG

    config = json.loads(CHALICE_CONFIG.read_text())
    for stage in ("dev", "prod"):
        assert config["stages"][stage]["manage_iam_role"] is False


def test_stage_limits_are_checked_with_the_setting_name(tmp_path):
    import json

    from stage_settings import STAGES_FILE

    stages = json.loads(STAGES_FILE.read_text())
    for key, value, message in (
        ("waf_rate_limit", 5, "below AWS WAF's minimum of 10"),
        ("waf_rate_window_seconds", 90, "waf_rate_window_seconds 90 is not one of"),
        ("api_memory_mb", 64, "api_memory_mb 64 is outside Lambda's 128-10240 MB"),
        ("deliver_reserved_concurrency", 0, "must be at least 1, or null"),
        ("throttle_burst_limit", 10, "throttle_burst_limit is below throttle_rate_limit"),
        ("feedback_memory_mb", 20000, "feedback_memory_mb 20000 is outside Lambda's 128-10240 MB"),
        ("feedback_reserved_concurrency", 0, "must be at least 1, or null"),
        # the reputation alarms must go off before AWS's review (about 5% bounces, 0.1% complaints)
        (
            "bounce_rate_alarm",
            0.05,
            r"bounce_rate_alarm 0.05 must be above 0 and below AWS's review level of 0.05 \(5.0%\)",
        ),
        ("complaint_rate_alarm", 0.002, "complaint_rate_alarm 0.002 must be above 0 and below AWS's review level"),
        ("complaint_rate_alarm", 0, "complaint_rate_alarm 0 must be above 0"),
    ):
        path = tmp_path / f"{key}.json"
        path.write_text(json.dumps({"prod": {**stages["prod"], key: value}}))
        with pytest.raises(ValueError, match=message):
            load_settings("prod", environ={}, path=path)


def test_null_reserved_concurrency_reserves_nothing(tmp_path):
    import json

    from stage_settings import STAGES_FILE

    stages = json.loads(STAGES_FILE.read_text())
    path = tmp_path / "stages.json"
    path.write_text(json.dumps({"dev": {**stages["dev"], "api_reserved_concurrency": None}}))
    assert load_settings("dev", environ={}, path=path).api_reserved_concurrency is None


def test_alarm_email_required_for_prod_only():
    from stage_settings import alarm_email_problem

    assert "ALARM_EMAIL=" in alarm_email_problem(load_settings("prod", environ={}))
    assert alarm_email_problem(load_settings("prod", environ={"ALARM_EMAIL": "ops@example.org"})) is None
    assert alarm_email_problem(load_settings("dev", environ={})) is None
    with pytest.raises(ValueError, match="not an email address"):
        load_settings("prod", environ={"ALARM_EMAIL": "ops"})
