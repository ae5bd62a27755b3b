"""Shared fixtures: moto as AWS, the local stage's settings, the seed event, a Chalice test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
SEED_EVENT_ID = "partos-engagement-mobilisatie-2023"
CASES_FILE = ROOT.parent / "shared" / "cases" / "cases.yaml"


def local_stage_environment() -> dict[str, str]:
    """The environment variables of the ``local`` stage in ``.chalice/config.json``."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"]["local"]["environment_variables"]}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto for every AWS call, with the table and the SES sender of the local stage."""
    from chalicelib import aws as aws_clients
    from chalicelib import store
    from localservice.awsfake import create_configuration_set, create_table, serialize_dynamodb, verify_sender

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = local_stage_environment()
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_REGION="eu-west-1",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    serialize_dynamodb()
    with mock_aws():
        aws_clients.reset_clients()
        store.reset_caches()  # cached definitions and hints of an earlier test's tables
        create_table(aws_clients.client("dynamodb"), env["TABLE_NAME"])
        verify_sender(aws_clients.client("sesv2"), env["SENDER_EMAIL"])
        create_configuration_set(aws_clients.client("sesv2"), env.get("SES_CONFIGURATION_SET", ""))
        yield env
    aws_clients.reset_clients()


@pytest.fixture
def seed_event(aws: dict[str, str]):
    """The Partos workshop, stored as ``make run`` stores it."""
    from chalicelib import store
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    store.put_event(event)
    return event


@pytest.fixture
def client(aws: dict[str, str]) -> Iterator[Client]:
    """A Chalice test client on the ``local`` stage (its env vars, its pinned clock)."""
    from app import app

    with Client(app, stage_name="local", project_dir=str(ROOT)) as test_client:
        yield test_client


@pytest.fixture
def pump(aws: dict[str, str]):
    """The stream poller of the local service, feeding the real ``DeliverEmails`` function."""
    from app import deliver_emails
    from localservice.stream import StreamPump

    return StreamPump(aws["TABLE_NAME"], deliver_emails)


def sent_messages() -> list[Any]:
    """Every message moto's SES accepted, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages)


def partos_registration(**overrides: Any) -> dict[str, Any]:
    """A valid JSON registration for the seed event."""
    body = {
        "name": "Anna de Vries",
        "email": "anna@example.org",
        "language": "nl",
        "consent": True,
        "organisation": "Wilde Ganzen",
        "role": "campaigner",
        "partos_member": True,
        "needs": "Vegetarisch",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def post_json(client: Client, body: Any, event_id: str = SEED_EVENT_ID, headers: dict[str, str] | None = None):
    """POST a JSON registration through the API."""
    return client.http.post(
        f"/events/{event_id}/registrations",
        headers={"Content-Type": "application/json", **(headers or {})},
        body=json.dumps(body),
    )
