"""`make run`'s local service, started for real: form post, thank-you page, .eml in the outbox."""

import email
import email.policy
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_EVENT_ID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_service(tmp_path):
    port, aws_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "AWS_PORT": str(aws_port), "OUTBOX": str(tmp_path / "outbox")}
    for name in ("AWS_ENDPOINT_URL", "TABLE_NAME", "STAGE", "APP_CLOCK"):
        env.pop(name, None)
    log = open(tmp_path / "service.log", "w+")
    process = subprocess.Popen([sys.executable, "-m", "localservice"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/events/{SEED_EVENT_ID}", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, (tmp_path / "service.log").read_text()
            time.sleep(0.3)
    yield base, tmp_path / "outbox", tmp_path / "service.log"
    process.terminate()
    process.wait(timeout=15)
    log.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_register_through_the_form_and_find_the_email(local_service):
    base, outbox, log = local_service
    banner = log.read_text()
    assert f"{base}/events/{SEED_EVENT_ID}/register" in banner
    assert "Clock: pinned, started at 2023-05-22T07:00" in banner
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
    assert thanks_url == f"{base}/events/{SEED_EVENT_ID}/thanks?lang=nl&status=confirmed"
    assert "Bedankt voor je inschrijving" in urllib.request.urlopen(thanks_url).read().decode()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(outbox.glob("*.eml")):
        time.sleep(0.2)
    [eml] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"].addresses[0].display_name == "Zoë Ødegård"
    [invite] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    assert "DTSTART;TZID=Europe/Amsterdam:20230605T140000" in invite.get_content()
    assert f"[outbox] {eml.name}" in log.read_text()
