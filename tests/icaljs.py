"""Mozilla's ical.js (the iCalendar parser of Thunderbird) from Python: ``tests/browser/parse_ics.mjs`` run by Node.

ical.js is pinned in ``tests/browser/package.json`` and installed by ``make axe`` (``make test``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "tests" / "browser" / "parse_ics.mjs"
PACKAGE = ROOT / "tests" / "browser" / "node_modules" / "ical.js" / "package.json"


def require_icaljs() -> None:
    """Skip the calling test, saying why, where Node or ical.js is missing."""
    if shutil.which("node") is None:
        pytest.skip("ical.js check skipped: Node.js is not installed (.ci/run installs it)")
    if not PACKAGE.is_file():
        pytest.skip(f"ical.js check skipped: {PACKAGE.parent} missing (npm unavailable? `make axe` installs it)")


def parse(texts: list[str]) -> list[dict[str, Any]]:
    """What ical.js reads from each iCalendar text: ``{method, timezones, events: [{uid, sequence, status,
    start_utc, end_utc, start_tzid, organizer: {value, params}, attendees: [...], url, ...}]}``."""
    require_icaljs()
    run = subprocess.run(["node", str(SCRIPT)], input=json.dumps(texts), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"ical.js could not read a calendar: {run.stderr[-2000:]}"
    return json.loads(run.stdout)
