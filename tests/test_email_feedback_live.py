"""Issue 17's "done when", on the real local service (``tests.live``, as ``make run``).

Register with a mistyped address, simulate its bounce, see it in ``registrations list`` and the
CSV export, correct the address, resend, and find the new email in ``outbox/``; then the same
with SES's mailbox simulator address, whose events the local service feeds itself.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_EVENT_ID
from tests.live import start_service

pytestmark = pytest.mark.xdist_group("ses-feedback-live")


@pytest.fixture
def service(tmp_path):
    running = start_service(tmp_path)
    yield running
    running.stop()


def staff(service, *args: str) -> subprocess.CompletedProcess:
    """``python -m staff --local ARGS`` against this service's AWS stand-in, as the banner prints it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_PORT"] = str(service.aws_port)
    return subprocess.run([sys.executable, "-m", "staff", "--local", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def register(service, address: str) -> str:
    body = json.dumps({"name": "Anna de Vries", "email": address, "language": "nl", "consent": True,
                       "organisation": "Wilde Ganzen", "role": "campaigner", "partos_member": True}).encode()
    request = urllib.request.Request(f"{service.url}/events/{SEED_EVENT_ID}/registrations", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201
        return json.loads(answer.read())["registration_id"]


def emails_to(outbox: Path, address: str, count: int = 1) -> list[email.message.EmailMessage]:
    """The outbox's emails to ``address``, waiting (in attempts of the poller, not a deadline) for ``count``."""
    found: list = []
    for _ in range(150):  # the poller writes every half second; a busy machine may take many rounds
        found = []
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"].addresses[0].addr_spec == address:
                found.append(message)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    return found


def until(check, rounds: int = 150):
    """``check()``'s first true answer, asked again after each poller round; the last answer otherwise."""
    answer = None
    for _ in range(rounds):
        answer = check()
        if answer:
            return answer
        time.sleep(0.2)
    return answer


def test_bounce_correct_resend_on_the_local_service(service, tmp_path):
    # register with a typo in the domain; the confirmation goes out
    registration_id = register(service, "anna@wildeganzen.nll")
    [first] = emails_to(service.outbox, "anna@wildeganzen.nll")
    assert first["Subject"].startswith("Bevestiging:")

    # simulate its bounce
    simulated = staff(service, "registrations", "simulate", SEED_EVENT_ID, registration_id, "bounce")
    assert simulated.returncode == 0, simulated.stderr
    assert "bounced, recorded" in simulated.stdout

    # see it in registrations list and in the CSV export
    listed = staff(service, "registrations", "list", SEED_EVENT_ID)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if registration_id in line)
    assert row.split()[-3:] == ["sent", "bounced", registration_id]
    assert "bounced permanently" in listed.stderr and "550 5.1.1 user unknown" in listed.stderr
    export = tmp_path / "registrations.csv"
    assert staff(service, "registrations", "export", SEED_EVENT_ID, "-o", str(export)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8-sig"))))
    assert [(r["email"], r["email_state"], r["email_outcome"]) for r in rows] == [
        ("anna@wildeganzen.nll", "sent", "bounced")]

    # correct the address and send again; the new email is in outbox/
    corrected = staff(service, "registrations", "set-email", SEED_EVENT_ID, registration_id, "anna@wildeganzen.nl",
                      "--yes")
    assert corrected.returncode == 0, corrected.stderr
    resent = staff(service, "registrations", "resend", SEED_EVENT_ID, registration_id)
    assert resent.returncode == 0, resent.stderr
    [second] = emails_to(service.outbox, "anna@wildeganzen.nl")
    assert second["Subject"] == first["Subject"]
    assert len(emails_to(service.outbox, "anna@wildeganzen.nll")) == 1  # nothing more to the bounced address

    # the list shows the new address, sent, and no outcome yet for the new email
    listed = staff(service, "registrations", "list", SEED_EVENT_ID)
    row = next(line for line in listed.stdout.splitlines() if registration_id in line)
    assert "anna@wildeganzen.nl " in row and row.split()[-2:] == ["sent", registration_id]


def test_the_mailbox_simulator_address_bounces_by_itself(service):
    registration_id = register(service, "bounce+demo@simulator.amazonses.com")
    assert emails_to(service.outbox, "bounce+demo@simulator.amazonses.com")

    def bounced():
        out = staff(service, "registrations", "list", SEED_EVENT_ID).stdout
        return any(line.split()[-3:] == ["sent", "bounced", registration_id] for line in out.splitlines())

    assert until(bounced)
    shown = json.loads(staff(service, "events", "show", SEED_EVENT_ID, "--json").stdout)
    assert shown["emails_bounced"] == 1
