"""Service settings, read from environment variables at call time.

`chalice.test.Client` patches `os.environ` for each call, and Lambda reuses a
process across invocations, so nothing here is cached at import: call
:func:`get_settings` where a setting is needed.

Variables (set per stage in `.chalice/config.json` or by the deploy stack):

- ``STAGE``: ``local``, ``dev`` or ``prod``.
- ``TABLE_NAME``: the DynamoDB table.
- ``SENDER_EMAIL``: the ``From`` of every email, e.g. ``Partos Events <events@example.org>``;
  must be a verified SES identity.
- ``RETENTION_DAYS``: days after an event's end before its registrations expire (DynamoDB TTL).
- ``PUBLIC_BASE_URL``: base of the links in emails, e.g. ``https://api.example.org/api``;
  empty means "the host of the request" (API routes) and is an error for emails.
- ``ALLOWED_ORIGINS``: comma-separated origins allowed to call the API from a browser.
- ``TOKEN_KEYS``: comma-separated signing keys ``kid:secret``, newest first (local and tests);
  ``TOKEN_SECRET_ARN``: a Secrets Manager secret holding the same (deployed stages).
- ``APP_CLOCK``: ISO 8601 instant the clock starts at (``local`` stage only).
- ``FRAME_ANCESTORS``: CSP ``frame-ancestors`` sources for the form page (default ``'self'``),
  e.g. ``'self' https://www.partos.nl`` to let the organiser's site show the form in an iframe.
- ``MIN_FILL_SECONDS``: a form whose ``form_started_at`` is less than this many seconds ago is
  refused with 422 ``too_fast`` ("check and send again"; ``chalicelib.antispam``), never dropped
  (default 3; 0 turns it off).
- ``SES_CONFIGURATION_SET``: the SES configuration set every send names (``ConfigurationSetName``),
  whose event destination reports delivery, bounce and complaint events (README, "Emails"); the
  deploy stack sets it to the stage's set. Empty: sends name none (and no events come back).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

LOCAL_STAGE = "local"


@dataclass(frozen=True)
class Settings:
    """A snapshot of the environment; see the module docstring for each field."""

    stage: str
    table_name: str
    sender_email: str
    retention_days: int
    public_base_url: str
    allowed_origins: tuple[str, ...]
    token_keys: str
    token_secret_arn: str
    app_clock: str
    frame_ancestors: str
    aws_region: str
    min_fill_seconds: float = 3.0
    ses_configuration_set: str = ""


def get_settings() -> Settings:
    """Read the settings from ``os.environ`` now.

    Raises ``ValueError`` when ``RETENTION_DAYS`` is not a whole number or
    ``MIN_FILL_SECONDS`` is not a number.
    """
    env = os.environ
    origins = tuple(o.strip().rstrip("/") for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
    return Settings(
        stage=env.get("STAGE", LOCAL_STAGE),
        table_name=env.get("TABLE_NAME", "registrations"),
        sender_email=env.get("SENDER_EMAIL", "Events <events@example.org>"),
        retention_days=int(env.get("RETENTION_DAYS", "90")),
        public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
        allowed_origins=origins,
        token_keys=env.get("TOKEN_KEYS", ""),
        token_secret_arn=env.get("TOKEN_SECRET_ARN", ""),
        app_clock=env.get("APP_CLOCK", ""),
        frame_ancestors=env.get("FRAME_ANCESTORS", "'self'"),
        aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-1",
        min_fill_seconds=float(env.get("MIN_FILL_SECONDS") or "3"),
        ses_configuration_set=env.get("SES_CONFIGURATION_SET", "").strip(),
    )
