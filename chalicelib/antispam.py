"""Telling bots from people without bothering people: the honeypot and the minimum fill time.

Both are quiet: a post they catch gets the same answer a person gets (201 or
303 to the thank-you page) and nothing is stored, so a bot learns nothing.

- ``website`` is a honeypot field, hidden from people (and from screen
  readers); a bot that fills every field fills it.
- ``form_started_at`` (epoch seconds) is written into our form when the page is
  served. A post that carries it and comes back sooner than
  ``MIN_FILL_SECONDS`` (default 3) after it, or claims a time in the future, was
  not typed by a person. Posts without it (the JSON API, a site's own form) are
  not judged by time.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.settings import get_settings


def looks_automated(fields: dict[str, Any], now: float | None = None) -> bool:
    """Whether validated registration ``fields`` look sent by a bot (honeypot filled or filled too fast).

    ``now`` is epoch seconds (default: ``time.time()``); ``MIN_FILL_SECONDS`` is read at call time.
    """
    if fields.get("website"):
        return True
    started = fields.get("form_started_at")
    if started is None:
        return False
    minimum = get_settings().min_fill_seconds
    if minimum <= 0:
        return False
    elapsed = (time.time() if now is None else now) - started
    return elapsed < minimum  # a time in the future is negative, so caught too
