"""Service settings: environment variables validated by one Pydantic settings model, at call time.

`chalice.test.Client` patches `os.environ` for each call, and Lambda reuses a
process across invocations, so nothing here is read at import: call
:func:`get_settings` where a setting is needed. It validates the environment
(``pydantic-settings``) whenever the variables it reads differ from the last
call's, and otherwise returns the same frozen :class:`Settings`.

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
- ``AWS_MAX_ATTEMPTS``: tries of each AWS call, the first included (botocore's own variable, same
  meaning), 1 to 10, default 6; ``AWS_READ_TIMEOUT``: seconds to wait for each try's answer (and at
  most 5 for its connection), default 10. The deploy stack gives the API function 3 tries of 3 s, so
  that a call AWS does not answer ends in 503 ``unavailable`` before API Gateway's 29 s timeout
  (``chalicelib.aws``).
- ``AWS_REGION`` (Lambda sets it), else ``AWS_DEFAULT_REGION``, else ``eu-west-1``: the region of
  every AWS client (``chalicelib.aws``).

An empty variable counts as unset (its default applies).
"""

from __future__ import annotations

import os
import threading
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOCAL_STAGE = "local"


class Settings(BaseSettings):
    """A validated snapshot of the environment; see the module docstring for each variable.

    Raises ``pydantic.ValidationError`` (a ``ValueError``) when a variable does not parse, e.g.
    ``RETENTION_DAYS`` that is not a whole number or ``MIN_FILL_SECONDS`` that is not a number.
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", env_ignore_empty=True, case_sensitive=True, populate_by_name=True
    )

    stage: str = Field(LOCAL_STAGE, validation_alias="STAGE")
    table_name: str = Field("registrations", validation_alias="TABLE_NAME")
    sender_email: str = Field("Events <events@example.org>", validation_alias="SENDER_EMAIL")
    #: Days after an event's end before its registrations expire (DynamoDB TTL).
    retention_days: int = Field(90, validation_alias="RETENTION_DAYS")
    #: Base of the links in emails, without a trailing slash; "" = the request's host.
    public_base_url: str = Field("", validation_alias="PUBLIC_BASE_URL")
    #: Origins allowed to call the API from a browser, without trailing slashes.
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias="ALLOWED_ORIGINS")
    token_keys: str = Field("", validation_alias="TOKEN_KEYS")
    token_secret_arn: str = Field("", validation_alias="TOKEN_SECRET_ARN")
    app_clock: str = Field("", validation_alias="APP_CLOCK")
    frame_ancestors: str = Field("'self'", validation_alias="FRAME_ANCESTORS")
    aws_region: str = Field("eu-west-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    #: Seconds a form must have been open before it is sent (0: no check).
    min_fill_seconds: float = Field(3.0, validation_alias="MIN_FILL_SECONDS")
    ses_configuration_set: str = Field("", validation_alias="SES_CONFIGURATION_SET")
    #: Tries of each AWS call, the first included (botocore's ``total_max_attempts``).
    aws_max_attempts: int = Field(6, ge=1, le=10, validation_alias="AWS_MAX_ATTEMPTS")
    #: Seconds to wait for the answer of each try of an AWS call.
    aws_read_timeout: float = Field(10.0, gt=0, le=60, validation_alias="AWS_READ_TIMEOUT")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("public_base_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("ses_configuration_set", mode="after")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()


#: The environment variables :class:`Settings` reads (its aliases, in field order).
ENVIRONMENT_VARIABLES: tuple[str, ...] = tuple(
    name
    for field in Settings.model_fields.values()
    for name in (
        field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices) else [field.validation_alias]
    )
    if isinstance(name, str)
)

_lock = threading.Lock()
#: The last validated settings, by the values of :data:`ENVIRONMENT_VARIABLES` they were read from.
_last: dict[tuple[str | None, ...], Settings] = {}


def get_settings() -> Settings:
    """The settings of the environment as it is now (``os.environ``).

    Validated again whenever one of :data:`ENVIRONMENT_VARIABLES` changed since the
    previous call (each ``chalice.test.Client`` call, a test's ``monkeypatch``); a
    warm Lambda instance validates once. Raises ``pydantic.ValidationError`` (a
    ``ValueError``) for a variable that does not parse.
    """
    key = tuple(os.environ.get(name) for name in ENVIRONMENT_VARIABLES)
    found = _last.get(key)
    if found is not None:
        return found
    settings = Settings()
    with _lock:
        _last.clear()
        _last[key] = settings
    return settings
