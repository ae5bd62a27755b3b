"""Lazily created boto3 clients, one per service and settings, never at import.

Creating clients at import slows cold starts and escapes moto's mocks, so each
client is made on first use. ``AWS_ENDPOINT_URL`` (boto3's own variable) points
them at the local moto server; botocore's ``standard`` retry mode retries
throttling, timeouts and 5xx answers with exponential backoff and jitter.
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

#: ``max_attempts`` counts retries: each call is tried up to 6 times, botocore's backoff waiting
#: rand(0, 1) x 1, 2, 4, 8, 16 s in between (about 15 s in all on average, 31 s at most). For SES this
#: is what absorbs a send over the account's sending rate, well inside DeliverEmails' 60 s (README,
#: "Emails": sending rate).
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=10,
)


def client(service: str, **config: Any) -> Any:
    """A boto3 client for ``service`` in the region of the settings (``chalicelib.settings``).

    Clients are cached per (service, region, endpoint, config) so a changed
    environment (tests, the local service) gets a fresh client. Extra keyword
    arguments are merged into the botocore ``Config`` (e.g. ``account_id_endpoint_mode``).
    """
    region = get_settings().aws_region
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    key = (service, region, endpoint, os.environ.get("AWS_ACCESS_KEY_ID", ""), tuple(sorted(config.items())))
    with _lock:
        found = _clients.get(key)
        if found is None:
            cfg = RETRY_CONFIG.merge(Config(**config)) if config else RETRY_CONFIG
            session: Any = boto3.session.Session()  # any service name: typed per service by its callers
            found = session.client(service, region_name=region, config=cfg)
            _clients[key] = found
        return found


def reset_clients() -> None:
    """Forget every cached client (tests start each moto backend afresh)."""
    with _lock:
        _clients.clear()
