"""Lazily created boto3 clients, one per service and settings, never at import.

Creating clients at import slows cold starts and escapes moto's mocks, so each
client is made on first use. ``AWS_ENDPOINT_URL`` (boto3's own variable) points
them at the local moto server; botocore's ``standard`` retry mode retries
throttling, timeouts and 5xx answers with exponential backoff and jitter.

How often and how long a call is tried comes from the settings (``AWS_MAX_ATTEMPTS``,
``AWS_READ_TIMEOUT``; :func:`retry_config`): the stream and scheduled functions keep
botocore's patient defaults of this module, the API function is given a budget that
ends inside API Gateway's 29 s integration timeout (README, "Deploying": AWS calls).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}

#: Seconds at most to wait for a connection, per try (the read timeout when that is shorter).
CONNECT_TIMEOUT = 5.0


def retry_config(max_attempts: int, read_timeout: float) -> Config:
    """botocore's ``Config`` for ``max_attempts`` tries of a call (the first included) and
    ``read_timeout`` seconds per answer (connection: at most :data:`CONNECT_TIMEOUT` seconds).

    The defaults (settings ``AWS_MAX_ATTEMPTS`` 6, ``AWS_READ_TIMEOUT`` 10) try each call up to 6
    times, botocore's backoff waiting rand(0, 1) x 1, 2, 4, 8, 16 s in between (about 15 s in all on
    average, 31 s at most). For SES this is what absorbs a send over the account's sending rate, well
    inside DeliverEmails' 60 s (README, "Emails": sending rate).
    """
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=min(CONNECT_TIMEOUT, read_timeout),
        read_timeout=read_timeout,
    )


def worst_case_seconds(max_attempts: int, read_timeout: float) -> float:
    """Seconds one call can take at most when every try times out: each try's connection and
    read timeouts plus botocore's largest backoff between tries (``standard`` mode: up to
    2**(n-1) s before try n+1, capped at 20 s).
    """
    tries = max_attempts * (min(CONNECT_TIMEOUT, read_timeout) + read_timeout)
    return tries + sum(min(2.0 ** n, 20.0) for n in range(max_attempts - 1))


def client(service: str, **config: Any) -> Any:
    """A boto3 client for ``service`` in the region of the settings (``chalicelib.settings``),
    trying each call as :func:`retry_config` says for the settings' ``aws_max_attempts`` and
    ``aws_read_timeout``.

    Clients are cached per (service, region, endpoint, tries, config) so a changed
    environment (tests, the local service) gets a fresh client. Extra keyword
    arguments are merged into the botocore ``Config`` (e.g. ``account_id_endpoint_mode``).
    """
    settings = get_settings()
    region = settings.aws_region
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    budget = (settings.aws_max_attempts, settings.aws_read_timeout)
    key = (service, region, endpoint, os.environ.get("AWS_ACCESS_KEY_ID", ""), budget, tuple(sorted(config.items())))
    with _lock:
        found = _clients.get(key)
        if found is None:
            cfg = retry_config(*budget)
            cfg = cfg.merge(Config(**config)) if config else cfg
            session: Any = boto3.session.Session()  # any service name: typed per service by its callers
            found = session.client(service, region_name=region, config=cfg)
            _clients[key] = found
        return found


def reset_clients() -> None:
    """Forget every cached client (tests start each moto backend afresh)."""
    with _lock:
        _clients.clear()
