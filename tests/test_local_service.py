"""`make run`'s local service, started for real: form post, thank-you page, .eml in the outbox."""

import email
import email.policy
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_EVENT_ID
from tests.live import start_service


@pytest.fixture
def local_service(tmp_path):
    """``python -m localservice`` on free ports (``tests.live``): (API base URL, outbox, log file)."""
    service = start_service(tmp_path)
    yield service.url, service.outbox, service.log_path
    service.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_register_through_the_form_and_find_the_email(local_service):
    base, outbox, log = local_service
    banner = log.read_text()
    assert f"{base}/events/{SEED_EVENT_ID}/register" in banner
    assert "Clock: starts at 2023-05-22T09:0" in banner and "(APP_CLOCK) and runs on at real speed." in banner
    form_page = urllib.request.urlopen(f"{base}/events/{SEED_EVENT_ID}/register").read().decode()
    assert 'action="../../events/partos-engagement-mobilisatie-2023/registrations?lang=nl"' in form_page

    form = urllib.parse.urlencode(
        {"name": "Zoë Ødegård", "email": "zoe@example.org", "language": "nl", "organisation": "Partos",
         "role": "mobiliser", "partos_member": "true", "consent": "on", "website": "", "form_started_at": "0"}
    ).encode()
    request = urllib.request.Request(
        f"{base}/events/{SEED_EVENT_ID}/registrations", data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request)
    assert redirect.value.code == 303
    thanks_url = urllib.parse.urljoin(f"{base}/events/{SEED_EVENT_ID}/registrations", redirect.value.headers["Location"])
    assert thanks_url.startswith(f"{base}/events/{SEED_EVENT_ID}/thanks?lang=nl&ref=")
    thanks = urllib.request.urlopen(thanks_url).read().decode()
    assert "Je bent ingeschreven" in thanks and "zoe@example.org" in thanks

    [eml] = _wait_for_emails(outbox, 1)
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"].addresses[0].display_name == "Zoë Ødegård"
    [invite] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    assert "DTSTART;TZID=Europe/Amsterdam:20230605T140000" in invite.get_content()
    assert f"[outbox] {eml.name}" in log.read_text()


def _wait_for_emails(outbox: Path, count: int) -> list[Path]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(list(outbox.glob("*.eml"))) < count:
        time.sleep(0.2)
    return sorted(outbox.glob("*.eml"))


def test_full_small_event_cancel_from_eml_promotes_the_next(local_service):
    import json
    import re

    base, outbox, _ = local_service
    url = f"{base}/events/demo-small-workshop/registrations"
    statuses = []
    for who in ("ann", "bob", "cas"):
        body = json.dumps({"name": who.title(), "email": f"{who}@example.org", "consent": True}).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        statuses.append(json.loads(urllib.request.urlopen(request).read())["status"])
    assert statuses == ["confirmed", "confirmed", "waitlisted"]
    emls = _wait_for_emails(outbox, 3)
    to_ann = [e for e in emls if b"ann@example.org" in e.read_bytes()][0]
    text = email.message_from_bytes(to_ann.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
    cancel_url = re.search(r"(http://\S+/cancel\?\S+)", text).group(1)

    page = urllib.request.urlopen(urllib.request.Request(cancel_url, headers={"Accept": "text/html"})).read().decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    action = urllib.parse.urljoin(cancel_url, re.search(r'<form method="post" action="([^"]+)"', page).group(1).replace("&amp;", "&"))
    urllib.request.urlopen(urllib.request.Request(
        action, data=urllib.parse.urlencode({"token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ))
    emls = _wait_for_emails(outbox, 5)
    subjects = [email.message_from_bytes(e.read_bytes(), policy=email.policy.default)["Subject"] for e in emls]
    assert "A seat is yours: Demo: small workshop" in subjects
    assert "Registration cancelled: Demo: small workshop" in subjects


def test_sigterm_stops_cleanly_and_busy_port_is_refused(tmp_path):
    import signal

    service = start_service(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PORT=str(service.port), AWS_PORT=str(service.aws_port), OUTBOX=str(tmp_path / "second-outbox"))
    second = subprocess.run([sys.executable, "-m", "localservice"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 2
    assert f"port {service.port} (PORT) is in use" in second.stderr
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=20) == 0
    assert "Stopping." in service.log()


def test_unknown_path_is_404_problem_like_the_deployed_gateway(local_service):
    import json

    base, _, _ = local_service
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{base}/nope")
    assert caught.value.code == 404
    assert caught.value.headers["Content-Type"] == "application/problem+json"
    assert json.loads(caught.value.read())["type"] == "/problems/not-found"
