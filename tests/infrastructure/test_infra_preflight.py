"""The deploy preflight checks, against moto (no AWS account needed)."""
from __future__ import annotations

import boto3
import preflight
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sesv2.models import sesv2_backends
from stage_settings import load_settings

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    """Fake credentials and a moto backend for SES v2 and SSM."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def settings():
    """The prod settings, without deployment overrides, in the test region."""
    return load_settings(
        "prod",
        environ={"AWS_REGION": REGION, "SENDER_EMAIL": "Partos Events <events@example.org>"},
    )


def _ses():
    return boto3.client("sesv2", region_name=REGION)


def _verify(name: str) -> None:
    """What clicking the link in AWS's verification email does."""
    _ses().create_email_identity(EmailIdentity=name)
    identities = sesv2_backends[DEFAULT_ACCOUNT_ID][REGION].core_backend.email_identities
    identities[name].verified_for_sending_status = True


def test_unknown_sender_stops_with_the_verify_command(aws, settings):
    result = preflight.check_sender_identity(settings)
    assert not result.ok
    text = "\n".join(result.messages)
    assert (
        "aws sesv2 create-email-identity --email-identity events@example.org --region eu-west-1"
        in text
    )


def test_pending_verification_is_reported(aws, settings):
    _ses().create_email_identity(EmailIdentity="events@example.org")
    result = preflight.check_sender_identity(settings)
    assert not result.ok
    assert "not verified yet" in result.messages[0]


def test_verified_address_passes(aws, settings):
    _verify("events@example.org")
    result = preflight.check_sender_identity(settings)
    assert result.ok and result.identity == "events@example.org"


def test_verified_domain_passes(aws, settings):
    _verify("example.org")
    result = preflight.check_sender_identity(settings)
    assert result.ok and result.identity == "example.org"


def test_identity_in_another_region_does_not_count(aws, settings):
    other = boto3.client("sesv2", region_name="us-east-1")
    other.create_email_identity(EmailIdentity="events@example.org")
    sesv2_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].core_backend.email_identities[
        "events@example.org"
    ].verified_for_sending_status = True
    assert not preflight.check_sender_identity(settings).ok


def test_main_exit_codes(aws, monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("SENDER_EMAIL", "Partos Events <events@example.org>")
    assert preflight.main(["--stage", "prod", "ses"]) == 1
    assert "create-email-identity" in capsys.readouterr().err
    _verify("events@example.org")
    assert preflight.main(["--stage", "prod", "ses"]) == 0


def test_bootstrap_detection(aws, settings, monkeypatch):
    monkeypatch.setenv("AWS_REGION", REGION)
    assert preflight.bootstrap_version(settings) is None
    assert preflight.main(["--stage", "prod", "bootstrapped"]) == 1
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=preflight.BOOTSTRAP_VERSION_PARAMETER, Value="29", Type="String"
    )
    assert preflight.bootstrap_version(settings) == 29
    assert preflight.main(["--stage", "prod", "bootstrapped"]) == 0


def test_no_credentials_is_exit_code_2(monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # No instance metadata service here: fail fast instead of waiting for it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert preflight.main(["--stage", "prod", "ses"]) == 2
    assert "No AWS credentials" in capsys.readouterr().err


def test_prod_deploy_needs_an_alarm_email_and_says_how_to_set_it(monkeypatch, capsys):
    monkeypatch.delenv("ALARM_EMAIL", raising=False)
    assert preflight.main(["--stage", "prod", "alarm"]) == 1
    err = capsys.readouterr().err
    assert "ALARM_EMAIL=ops@example.org make deploy STAGE=prod" in err
    assert '"alarm_email" of "prod" in infrastructure/stages.json' in err
    monkeypatch.setenv("ALARM_EMAIL", "ops@partos.example.org")
    assert preflight.main(["--stage", "prod", "alarm"]) == 0
    assert "ops@partos.example.org" in capsys.readouterr().out


def test_dev_deploys_without_an_alarm_email(monkeypatch):
    monkeypatch.delenv("ALARM_EMAIL", raising=False)
    assert preflight.main(["--stage", "dev", "alarm"]) == 0


def test_make_deploy_checks_the_alarm_email_first():
    """The alarm check runs before anything slow or anything that touches AWS."""
    from pathlib import Path

    infra_mk = (Path(preflight.__file__).parent / "infra.mk").read_text()
    recipe = infra_mk.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    commands = [line.strip() for line in recipe.splitlines()[1:] if line.startswith("\t")]
    assert commands[0] == "$(PY) $(INFRA)/preflight.py --stage $(STAGE) alarm"
