"""Every email scores 0 or below in SpamAssassin (README, "Emails"; issue 16).

SpamAssassin 4 with Debian's rules (package ``spamassassin``, installed by ``.ci/run``), local tests
only (``-L``: no DNS or network rules, no ``sa-update``), Bayes off, on every kind of email in both
languages, for the branded seed workshop and the unbranded demo event, as ``emails.build_email`` makes
them (before SES adds its own headers). One run over an mbox of all of them. A canary, a confirmation
as the first release built it (``tests/data/first-release-confirmation.eml``: its footer's
``font-size: 0.85rem`` scored +1.0 as ``FONT_INVIS_MSGID``), shows the rules are live, so the test can fail.
"""

from __future__ import annotations

import mailbox
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chalicelib import emails
from chalicelib.events import load_event_file
from tests.conftest import EVENTS_DIR, ROOT, SEED_EVENT_ID

CANARY = ROOT / "tests" / "data" / "first-release-confirmation.eml"

NOW = datetime(2023, 5, 22, 7, 0, tzinfo=timezone.utc)
UPDATE = {"changes": ["time", "place"], "previous": {
    "starts_at": "2023-06-05T11:00:00Z", "ends_at": "2023-06-05T14:00:00Z", "timezone": "Europe/Amsterdam",
    "place": "Partos, Keizersgracht 1, Amsterdam", "country": "NL"}}
EVENT_IDS = (SEED_EVENT_ID, "demo-small-workshop")
#: Bayes off (no training data here), nothing learnt, each rule's score in a header of the output.
SETTINGS = ("use_bayes 0", "bayes_auto_learn 0", "add_header all Score _SCORE_",
            "add_header all Rules _TESTSSCORES(,)_")


def every_email() -> list[tuple[str, bytes]]:
    """``(label, raw message)`` of every kind of email, both languages, both events."""
    found = []
    for event_id in EVENT_IDS:
        event = load_event_file(EVENTS_DIR / f"{event_id}.yaml")
        for change, status in emails.EMAIL_CASES:
            variants = [{}, {"cancelled_from": "waitlisted"}] if change == "cancelled" else [{}]
            for extra in variants:
                for language in ("nl", "en"):
                    registration = {"registration_id": "Zq3kB0xW7mYhV1cN2pLr4A", "name": "Anna de Vries",
                                    "email": "anna.devries@example.org", "language": language, "status": status,
                                    **extra}
                    outgoing = emails.build_email(
                        event=event, registration=registration, change=change,
                        sender="Partos Events <events@partos.example.org>", base_url="https://api.example.org",
                        view_token="k1.Vb2mX9qR4tLw8zYc1nJ5hG7dK3sF0aE6pU2iO9yT4rW",
                        cancel_token="k1.Cx7nB2vM5kL9qW3eR8tY1uI6oP4aS0dF2gH7jK5lZ3x",
                        now=NOW, waitlist_position=2, sequence=1, update=UPDATE if change == "updated" else None)
                    label = f"{event_id} {outgoing.kind}{' (from the waitlist)' if extra else ''} {language}"
                    found.append((label, outgoing.raw))
    return found


def spamassassin(messages: list[bytes], home: Path) -> list[tuple[float, dict[str, float]]]:
    """``(score, {rule: points})`` of each message, from one offline ``spamassassin -L --mbox`` run.

    SpamAssassin sorts an mbox's messages by date, so results are matched by ``Message-ID``.
    """
    source = home / "in.mbox"
    box = mailbox.mbox(source)
    ids = []
    for raw in messages:
        message = mailbox.mboxMessage(raw.replace(b"\r\n", b"\n"))  # mbox lines end in LF (a CR would stay in)
        ids.append(message["Message-ID"])
        box.add(message)
    box.flush()
    box.close()
    assert len(set(ids)) == len(ids)
    command = ["spamassassin", "-L", "--mbox", *(f"--cf={line}" for line in SETTINGS)]
    with source.open("rb") as stdin:
        run = subprocess.run(command, stdin=stdin, capture_output=True, timeout=600,
                             env={"HOME": str(home), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"})
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    (home / "out.mbox").write_bytes(run.stdout)
    results = {}
    for checked in mailbox.mbox(home / "out.mbox"):
        score = float(re.sub(r"\s+", "", checked["X-Spam-Score"]))
        rules = re.sub(r"\s+", "", checked["X-Spam-Rules"] or "")
        results[checked["Message-ID"]] = (score, {name: float(points) for name, points in
                                                  (pair.split("=") for pair in rules.split(",") if pair and pair != "none")})
    assert sorted(results) == sorted(ids), "spamassassin returned other messages than it was given"
    return [results[message_id] for message_id in ids]


def test_every_email_scores_zero_or_below(tmp_path):
    if shutil.which("spamassassin") is None:
        pytest.skip("spam score check skipped: spamassassin is not installed "
                    "(Debian: apt-get install spamassassin; .ci/run installs it)")
    messages = every_email()
    assert len(messages) == len(EVENT_IDS) * (len(emails.EMAIL_CASES) + 1) * 2
    canary = CANARY.read_bytes()
    *scores, (canary_score, canary_rules) = spamassassin([raw for _, raw in messages] + [canary], tmp_path)
    # the rules are live: the first release's confirmation still scores as the issue found it
    assert canary_rules.get("FONT_INVIS_MSGID", 0) >= 1.0 and canary_score >= 1.0, canary_rules
    failures = {label: (score, {rule: points for rule, points in rules.items() if points > 0})
                for (label, _), (score, rules) in zip(messages, scores) if score > 0}
    assert not failures, "emails scoring above 0 (score, rules with points):\n" + "\n".join(
        f"  {label}: {score} {rules}" for label, (score, rules) in failures.items())
