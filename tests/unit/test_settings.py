"""chalicelib.settings: one validated model of the environment, read at call time (README, "Configuration")."""

import pytest

from chalicelib import settings


@pytest.fixture
def env(monkeypatch):
    for name in settings.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_and_empty_variables_count_as_unset(env):
    # GIVEN no variables, and two set to the empty string
    env.setenv("MIN_FILL_SECONDS", "")
    env.setenv("FRAME_ANCESTORS", "")
    # WHEN the settings are read
    got = settings.get_settings()
    # THEN every field has its documented default
    assert (got.stage, got.table_name, got.retention_days, got.min_fill_seconds, got.frame_ancestors) == (
        "local", "registrations", 90, 3.0, "'self'")
    assert (got.aws_region, got.allowed_origins, got.public_base_url) == ("eu-west-1", (), "")


def test_values_are_parsed(env):
    env.setenv("ALLOWED_ORIGINS", " https://www.partos.nl/ ,,https://partos.nl")
    env.setenv("PUBLIC_BASE_URL", "https://api.example.org/api/")
    env.setenv("RETENTION_DAYS", "30")
    env.setenv("MIN_FILL_SECONDS", "0.5")
    env.setenv("SES_CONFIGURATION_SET", " event-registration-prod ")
    got = settings.get_settings()
    assert got.allowed_origins == ("https://www.partos.nl", "https://partos.nl")
    assert got.public_base_url == "https://api.example.org/api"
    assert (got.retention_days, got.min_fill_seconds, got.ses_configuration_set) == (30, 0.5, "event-registration-prod")


def test_the_region_comes_from_aws_region_then_the_default_region(env):
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert settings.get_settings().aws_region == "us-east-1"
    env.setenv("AWS_REGION", "eu-central-1")  # what Lambda sets
    assert settings.get_settings().aws_region == "eu-central-1"


def test_read_again_when_the_environment_changes_and_kept_while_it_does_not(env):
    first = settings.get_settings()
    assert settings.get_settings() is first
    env.setenv("STAGE", "prod")
    second = settings.get_settings()
    assert (first.stage, second.stage) == ("local", "prod")


@pytest.mark.parametrize(("name", "value"), [("RETENTION_DAYS", "ninety"), ("MIN_FILL_SECONDS", "soon")])
def test_a_variable_that_does_not_parse_is_a_value_error_naming_it(env, name, value):
    env.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        settings.get_settings()
