"""Each log call writes one line: JSON from the Powertools Logger, never a second copy from Chalice's handler."""

from __future__ import annotations

import io
import json
import logging

from tests.conftest import SEED_EVENT_ID, partos_registration, post_json

PYTEST_HANDLERS = ("LogCaptureHandler", "_LiveLoggingNullHandler", "_FileHandler", "_LiveLoggingStreamHandler")


def writing_handlers(name: str) -> list[logging.StreamHandler]:
    """Every stream handler a record of logger ``name`` reaches (pytest's own left out)."""
    found: list[logging.StreamHandler] = []
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        found += [h for h in logger.handlers
                  if isinstance(h, logging.StreamHandler) and type(h).__name__ not in PYTEST_HANDLERS]
        logger = logger.parent if logger.propagate else None
    return found


def test_one_json_line_per_log_call_with_ids_and_no_personal_data(client, seed_event):
    import app  # noqa: F401 - creates the app's loggers as Lambda would

    stream = io.StringIO()
    handlers = writing_handlers("event-registration.chalicelib.delivery") + writing_handlers("event-registration")
    previous = [(h, h.setStream(stream)) for h in {id(h): h for h in handlers}.values()]
    try:
        answer = post_json(client, partos_registration(name="Geheime Naam", email="geheim@example.org"))
    finally:
        for handler, old in previous:
            handler.setStream(old)
    registration_id = json.loads(answer.body)["registration_id"]
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines  # one logger.info("registered", ...) call
    line = json.loads(lines[0])
    assert (line["message"], line["event_id"], line["registration_id"]) == (
        "registered",
        SEED_EVENT_ID,
        registration_id,
    )
    assert "Geheime" not in lines[0] and "geheim@" not in lines[0]
