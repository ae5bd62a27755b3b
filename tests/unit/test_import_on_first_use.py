"""What ``import app`` leaves for first use (README, "Performance": cold start).

The API function's cold start imports ``app``; the stream consumer, the SES event
recorder, the OpenAPI document and the door's check-in code are imported by the call that
needs them, so their modules (and icalendar, Powertools' batch processing) are not loaded by
``import app``.
Deterministic: it checks ``sys.modules`` in a fresh interpreter, not a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ON_FIRST_USE = ("chalicelib.delivery", "chalicelib.feedback", "chalicelib.openapi", "chalicelib.emails",
                "chalicelib.invites", "icalendar", "aws_lambda_powertools.utilities.batch",
                "chalicelib.checkin", "chalicelib.doorpage")


def _loaded_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    answer = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                            timeout=120)
    return json.loads(answer.stdout.splitlines()[-1])


def test_import_app_leaves_delivery_feedback_and_openapi_for_first_use():
    loaded = set(_loaded_after("import app"))
    assert [name for name in ON_FIRST_USE if name in loaded] == []
    assert "chalicelib.registrations" in loaded  # the registration path itself is loaded up front



def test_the_email_delivery_does_not_load_the_registration_validation():
    """DeliverEmails imports the check-in package for the codes in its emails; the door's name search
    there reads ``validation.without_invisible`` on first use, or every cold start of the email
    function paid for the registration models too (~35 ms; README, "Performance")."""
    loaded = set(_loaded_after("import chalicelib.entry_deliver"))
    assert "chalicelib.validation" not in loaded and "chalicelib.registrations" not in loaded
    assert "chalicelib.checkin.search" in loaded  # the package is loaded, its search's helper is not
