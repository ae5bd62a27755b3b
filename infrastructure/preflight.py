#!/usr/bin/env python3
"""Checks ``make deploy`` runs before touching the stack.

``preflight.py --stage prod ses``
    The sender identity (the address of SENDER_EMAIL, or its domain) must be
    verified for sending in the stage's region; if not, print the exact
    command that verifies it and exit 1.  Also warns when the SES account is
    still in the sandbox.

``preflight.py --stage prod alarm``
    A stage with ``alarm_email_required`` (prod) must have an alarm email
    (``ALARM_EMAIL`` or ``alarm_email`` in ``stages.json``): the stack
    subscribes it to the alarm topic.  Without one, print how to set it and
    exit 1.  Needs no AWS access; ``make deploy`` runs it first.

``preflight.py --stage prod bootstrapped``
    Exit 0 if the account/region has a current CDK bootstrap stack, 1 if
    ``cdk bootstrap`` is needed.

Exit code 2 means the check could not be made (no credentials, no access).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from stage_settings import StageSettings, alarm_email_problem, load_settings

#: SSM parameter the default CDK bootstrap stack writes its version to.
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
#: Bootstrap version the synthesised templates require.
REQUIRED_BOOTSTRAP_VERSION = 6


class PreflightError(Exception):
    """The check could not be made (credentials, permissions, network)."""


@dataclass
class IdentityCheck:
    """Outcome of the SES sender-identity check."""

    ok: bool
    identity: str | None = None
    messages: list[str] = field(default_factory=list)


def verify_command(settings: StageSettings) -> str:
    """The AWS CLI command that starts verification of the sender address."""
    return (
        f"aws sesv2 create-email-identity --email-identity {settings.sender_address} "
        f"--region {settings.region}"
    )


def _get_identity(client, name: str) -> dict | None:
    try:
        return client.get_email_identity(EmailIdentity=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


def check_sender_identity(settings: StageSettings, client=None) -> IdentityCheck:
    """Check that SES may send as the stage's sender in its region.

    The address itself or its whole domain must be a verified identity.
    """
    client = client or boto3.client("sesv2", region_name=settings.region)
    address, domain = settings.sender_address, settings.sender_domain
    try:
        found = {name: _get_identity(client, name) for name in (address, domain)}
    except NoCredentialsError as error:
        raise PreflightError(
            "No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY (see docs/deploy.md)."
        ) from error
    except (ClientError, BotoCoreError) as error:
        raise PreflightError(f"Could not read SES identities in {settings.region}: {error}") from error

    for name, identity in found.items():
        if identity and identity.get("VerifiedForSendingStatus"):
            result = IdentityCheck(ok=True, identity=name)
            result.messages.append(
                f"SES: {name} is verified for sending in {settings.region}."
            )
            result.messages.extend(_sandbox_warning(client, settings))
            return result

    pending = [name for name, identity in found.items() if identity]
    result = IdentityCheck(ok=False)
    if pending:
        result.messages.append(
            f"SES: {' and '.join(pending)} exists in {settings.region} but is not verified yet. "
            "For an address, click the link in the verification email AWS sent to it; "
            "for a domain, publish the DKIM records shown by "
            f"`aws sesv2 get-email-identity --email-identity {pending[0]} --region {settings.region}`. "
            "Then run make deploy again."
        )
    else:
        result.messages.append(
            f"SES: the sender {address} (from SENDER_EMAIL {settings.sender_email!r}) is not a "
            f"verified identity in {settings.region}, and neither is {domain}. Verify it with:\n\n"
            f"    {verify_command(settings)}\n\n"
            f"then click the link in the email AWS sends to {address}, and run make deploy again."
        )
    return result


def _sandbox_warning(client, settings: StageSettings) -> list[str]:
    try:
        account = client.get_account()
    except (ClientError, BotoCoreError, AttributeError, NotImplementedError):
        return []
    if account.get("ProductionAccessEnabled") is False:
        return [
            f"SES warning: the account is in the SES sandbox in {settings.region}: mail is only "
            "delivered to verified addresses (200 a day). Request production access before "
            "opening registration (see docs/deploy.md)."
        ]
    return []


def bootstrap_version(settings: StageSettings, client=None) -> int | None:
    """The CDK bootstrap version of the stage's account/region, None if absent."""
    client = client or boto3.client("ssm", region_name=settings.region)
    try:
        value = client.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
    except NoCredentialsError as error:
        raise PreflightError("No AWS credentials found (see docs/deploy.md).") from error
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise PreflightError(f"Could not read {BOOTSTRAP_VERSION_PARAMETER}: {error}") from error
    except BotoCoreError as error:
        raise PreflightError(f"Could not read {BOOTSTRAP_VERSION_PARAMETER}: {error}") from error
    return int(value)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("check", choices=["alarm", "ses", "bootstrapped"])
    args = parser.parse_args(argv)
    settings = load_settings(args.stage)
    if args.check == "alarm":
        problem = alarm_email_problem(settings)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        if settings.alarm_email:
            print(f"Alarms will be emailed to {settings.alarm_email} (confirm the subscription "
                  "in the email AWS sends after the deploy).")
        return 0
    try:
        if args.check == "ses":
            result = check_sender_identity(settings)
            for message in result.messages:
                print(message, file=sys.stdout if result.ok else sys.stderr)
            return 0 if result.ok else 1
        version = bootstrap_version(settings)
    except PreflightError as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    if version is None or version < REQUIRED_BOOTSTRAP_VERSION:
        print(
            f"CDK bootstrap needed in {settings.region} "
            f"(found version {version}, need {REQUIRED_BOOTSTRAP_VERSION}).",
            file=sys.stderr,
        )
        return 1
    print(f"CDK bootstrap version {version} found in {settings.region}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
