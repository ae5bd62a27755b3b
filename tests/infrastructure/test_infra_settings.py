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
