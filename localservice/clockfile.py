"""The running local service's clock, for the staff tools of the same ``make run`` (README, "Staff tools").

With ``APP_CLOCK`` the service's clock starts at a pinned instant and runs on at real
speed; a staff command is another process, whose own clock would start at ``APP_CLOCK``
again (cancelling after the event's end on the service's clock would then still change
data). The service therefore publishes its clock reading and the real time of that reading
in a small file named after its AWS stand-in's port (the port ``--local`` connects to),
and removes it when it stops; ``staff.config`` sets the staff command's ``APP_CLOCK`` to
the service's clock now.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path


def clock_path(aws_port: int) -> Path:
    """The file of the service whose AWS stand-in listens on ``aws_port`` (this user's, in the temp folder)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"event-registration-{uid}-clock-{int(aws_port)}.json"


def publish(aws_port: int, instant: datetime | None) -> None:
    """Record that the service's clock reads ``instant`` (aware) now, or with ``None`` that it runs on
    the real clock (``APP_CLOCK=``: the staff tools must not fall back to the ``local`` stage's
    pinned clock then); written whole or not at all."""
    path = clock_path(aws_port)
    partial = path.with_suffix(".tmp")
    reading = {"clock": instant.isoformat()} if instant is not None else {"clock": ""}
    partial.write_text(json.dumps({**reading, "real": time.time()}), encoding="utf-8")
    partial.replace(path)


def withdraw(aws_port: int) -> None:
    """Remove the file (the service stops)."""
    clock_path(aws_port).unlink(missing_ok=True)


def read(aws_port: int) -> str | None:
    """The clock of the service on ``aws_port`` now (ISO 8601, the offset it was given in), ``""`` when
    it runs on the real clock (an empty ``APP_CLOCK``), or ``None`` when no service published one (not
    running) or the file does not parse."""
    try:
        published = json.loads(clock_path(aws_port).read_text(encoding="utf-8"))
        if published["clock"] == "":
            return ""
        instant = datetime.fromisoformat(published["clock"])
        elapsed = time.time() - float(published["real"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if instant.tzinfo is None:
        return None
    return (instant + timedelta(seconds=max(0.0, elapsed))).isoformat()
