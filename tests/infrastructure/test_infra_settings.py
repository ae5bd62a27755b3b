"""Per-stage settings and their environment overrides."""
from __future__ import annotations

import pytest

from stage_settings import available_stages, load_settings


def test_stages_defined():
    assert {"dev", "prod"} <= set(available_stages())


def test_prod_defaults():
    s = load_settings("prod", environ={})
    assert s.stack_name == "event-registration-prod"
    assert s.protect_data is True
    assert s.sender_address == "events@example.org"
    assert s.sender_domain == "example.org"
    assert s.retention_days > 0
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
