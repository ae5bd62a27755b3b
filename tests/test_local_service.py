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
from datetime import datetime
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
    thanks_url = urllib.parse.urljoin(
        f"{base}/events/{SEED_EVENT_ID}/registrations", redirect.value.headers["Location"]
    )
    assert thanks_url.startswith(f"{base}/events/{SEED_EVENT_ID}/thanks?lang=nl&ref=")
    thanks = urllib.request.urlopen(thanks_url).read().decode()
    assert "Je bent ingeschreven" in thanks and "zoe@example.org" in thanks

    [eml] = _wait_for_emails(outbox, 1)
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"].addresses[0].display_name == "Zoë Ødegård"
    [invite] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    assert "DTSTART;TZID=Europe/Amsterdam:20230605T140000" in invite.get_content().decode("utf-8")  # application/ics
    # the service writes the file, then logs it: on a busy machine the line may come a moment later
    _wait_until(lambda: f"[outbox] {eml.name}" in log.read_text(), "the outbox line in the log", WAIT_SECONDS)


#: Seconds a condition may take to come true: generous, for a loaded machine (the waits end as soon as it holds).
WAIT_SECONDS = 120


def _wait_for_emails(outbox: Path, count: int) -> list[Path]:
    _wait_until(lambda: len(list(outbox.glob("*.eml"))) >= count, f"{count} email(s) in the outbox", WAIT_SECONDS)
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
    to_ann = next(e for e in emls if b"ann@example.org" in e.read_bytes())
    text = email.message_from_bytes(to_ann.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
    cancel_url = re.search(r"(http://\S+/cancel\?\S+)", text).group(1)

    page = urllib.request.urlopen(urllib.request.Request(cancel_url, headers={"Accept": "text/html"})).read().decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    action = urllib.parse.urljoin(
        cancel_url, re.search(r'<form method="post" action="([^"]+)"', page).group(1).replace("&amp;", "&")
    )
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
    env.update(PORT=str(service.port), AWS_PORT=str(service.aws_port), OUTBOX=str(tmp_path / "second-outbox"),
               LOCAL_STATE=str(tmp_path / "second-state"))
    second = subprocess.run([sys.executable, "-m", "localservice"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert second.returncode == 2
    assert f"port {service.port} (PORT) is in use" in second.stderr
    service.process.send_signal(signal.SIGTERM)
    service.process.send_signal(signal.SIGTERM)  # make passes one on too: the second must not cut the stop short
    assert service.process.wait(timeout=20) == 0
    assert "Stopping." in service.log() and "Traceback" not in service.log()


def _held_ports(count: int) -> tuple[int, list]:
    """``count`` consecutive ports from some ``base``, the first two held by listening sockets: ``(base, sockets)``."""
    import socket

    from tests.live import free_port

    for _ in range(50):
        base = free_port()
        held = []
        try:
            for number in range(base, base + 2):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", number))
                sock.listen()
            if all(not _taken(number) for number in range(base + 2, base + count)):
                return base, held
        except OSError:
            pass
        for sock in held:
            sock.close()
    raise AssertionError("no run of free ports found")


def _taken(number: int) -> bool:
    from localservice.__main__ import _port_taken

    return _port_taken(number)


def test_a_busy_port_is_refused_with_a_free_port_to_try(tmp_path):
    """With PORT and the port above it busy, the hint named the busy one (PORT=8872 while 8872 was in use);
    it names a free port, and never the other port given."""
    import re

    base, held = _held_ports(6)
    try:
        for port, aws_port, name in ((base, base + 2, "PORT"), (base + 2, base, "AWS_PORT")):
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(PORT=str(port), AWS_PORT=str(aws_port), LOCAL_STATE=str(tmp_path / "state"))
            refused = subprocess.run([sys.executable, "-m", "localservice"], cwd=ROOT, env=env, capture_output=True,
                                     text=True, timeout=60, check=False)
            assert refused.returncode == 2
            busy = base if name == "PORT" else aws_port
            # the other port as given, so the pasted command keeps it (a tester's find: AWS_PORT was left out)
            command = (rf"PORT=(\d+) AWS_PORT={aws_port}" if name == "PORT" else rf"PORT={port} AWS_PORT=(\d+)")
            hint = re.fullmatch(rf"Refusing to start: port {busy} \({name}\) is in use on 127\.0\.0\.1\. Stop what "
                                rf"uses it, or choose another, e\.g\. {command} make run\n", refused.stderr)
            assert hint, refused.stderr
            suggested = int(hint.group(1))
            assert suggested not in (base, base + 1, port, aws_port) and not _taken(suggested)
    finally:
        for sock in held:
            sock.close()


def test_the_service_stops_when_what_started_it_is_gone(tmp_path):
    """``kill <pid of make>`` ends make without passing the signal on: the service, orphaned, used to run
    on holding its ports. It now stops as on Ctrl-C (emails written, data saved) within seconds."""
    import signal
    import socket

    from tests.live import free_port

    port, aws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("FRESH", "LOCAL_STATE")}
    env.update(PORT=str(port), AWS_PORT=str(aws_port), OUTBOX=str(tmp_path / "outbox"),
               LOCAL_STATE=str(tmp_path / "state"), PYTHONUNBUFFERED="1")
    log = tmp_path / "service.log"
    starter = ("import subprocess, sys, time\n"
               f"subprocess.Popen([sys.executable, '-m', 'localservice'], stdout=open({str(log)!r}, 'wb'), "
               "stderr=subprocess.STDOUT)\n"
               "time.sleep(3600)\n")
    parent = subprocess.Popen([sys.executable, "-c", starter], cwd=ROOT, env=env)  # stands for make
    try:
        _wait_until(lambda: "Serving on" in log.read_text(errors="replace") if log.exists() else False,
                    "the service to start", seconds=90)
    finally:
        parent.send_signal(signal.SIGTERM)  # as make dies: the child is not signalled
        parent.wait(timeout=20)

    def port_closed() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) != 0

    _wait_until(lambda: "Stopping." in log.read_text(errors="replace") and port_closed(),
                "the orphaned service to stop", seconds=30)
    text = log.read_text(errors="replace")
    assert f"[local] the process that started this service ({parent.pid}) is gone: stopping." in text
    assert (tmp_path / "state").is_dir()  # saved on the way out


def test_head_answers_carry_the_get_length_once(local_service):
    """RFC 9110 8.6: a HEAD answer's Content-Length, if any, is the GET answer's (it was 0)."""
    import http.client

    base, _, _ = local_service
    port = int(base.rsplit(":", 1)[1])
    for path in ("/openapi.json", f"/events/{SEED_EVENT_ID}/register", "/static/form.css"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path)
        got = connection.getresponse()
        length = len(got.read())
        connection.request("HEAD", path)
        head = connection.getresponse()
        assert head.read() == b"" and head.status == got.status == 200, path
        assert head.headers.get_all("Content-Length") == [str(length)], path
        connection.close()


def test_unknown_path_is_404_problem_like_the_deployed_gateway(local_service):
    import json

    base, _, _ = local_service
    for headers in ({}, {"Authorization": "Bearer local1.door-link-token"}):  # the second was 403, header echoed
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(f"{base}/nope", headers=headers))
        assert caught.value.code == 404
        assert caught.value.headers["Content-Type"] == "application/problem+json"
        body = caught.value.read()
        assert json.loads(body)["type"] == "/problems/not-found" and b"door-link-token" not in body
        assert caught.value.headers["Cache-Control"] == "no-store"
    # HEAD: the length, no body (the body used to come, and was read as the start of the next answer)
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)
    connection.request("HEAD", "/nope")
    head = connection.getresponse()
    assert (head.status, head.read(), head.headers.get_all("Content-Length")) == (404, b"", [str(len(body))])
    connection.request("GET", "/openapi.json")  # the same connection still reads the next answer right
    assert connection.getresponse().status == 200
    connection.close()


def test_the_access_log_and_bad_framing_as_deployed(local_service):
    """The running service (``localservice.gateway``, ``localservice.redact``): no name or address typed
    into a URL reaches its log; a chunked body is 411 problem+json, and its chunks are never a request."""
    import json
    import socket

    base, _, log = local_service
    statuses = []
    for path, data in ((f"/events/{SEED_EVENT_ID}/registrations?name=Secret+Person&email=secret.person%40example.org",
                        None),
                       (f"/events/{SEED_EVENT_ID}/register?email=secret2@example.org&name=Secret2&lang=en", None),
                       ("/events/nonexistent-x@example.org/registrations", b"{}")):
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    base + path, data=data, headers={"Content-Type": "application/json"})) as answer:
                statuses.append(answer.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    assert statuses == [405, 200, 404]
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as client:
        client.sendall(f"POST /events/{SEED_EVENT_ID}/registrations HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                       '1c\r\n{"email": "cl@example.org"}\r\n0\r\n\r\n'.encode())
        answer = b""
        while chunk := client.recv(65536):  # the service closes the connection after its answer
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 411 ") and b"Content-Type: application/problem+json" in head
    assert json.loads(body)["type"] == "/problems/length-required"
    _wait_until(lambda: " 411 -" in log.read_text(), "the 411 in the log", WAIT_SECONDS)
    text = log.read_text()
    assert "Secret" not in text and "example.org" not in text and "Traceback" not in text
    assert f'"GET /events/{SEED_EVENT_ID}/registrations?name=[redacted]&email=[redacted] HTTP/1.1" 405 -' in text
    assert f'"GET /events/{SEED_EVENT_ID}/register?email=[redacted]&name=[redacted]&lang=en HTTP/1.1" 200 -' in text
    assert '"POST /events/[redacted]/registrations HTTP/1.1" 404 -' in text
    assert f'"POST /events/{SEED_EVENT_ID}/registrations HTTP/1.1" 411 -' in text and " 400 -" not in text


def test_the_services_own_origin_on_its_port_is_allowed(local_service):
    """make run on another PORT than 8000: a page served from it may call the API (CORS), 8000 no longer."""
    base, _, _ = local_service
    port = base.rsplit(":", 1)[1]
    for origin, allowed in ((f"http://localhost:{port}", True), ("http://127.0.0.1:8000", port == "8000")):
        answer = urllib.request.urlopen(urllib.request.Request(
            f"{base}/events/demo-small-workshop/registrations", method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"}))
        assert answer.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)


def _register(base: str, name: str, event_id: str = "demo-small-workshop") -> dict:
    import json

    body = json.dumps({"name": name, "email": f"{name.lower()}@example.org", "consent": True}).encode()
    request = urllib.request.Request(f"{base}/events/{event_id}/registrations", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201
        return json.loads(answer.read())


def _links(eml: Path) -> tuple[str, str]:
    """The view and cancel links of an email's text part."""
    import re

    text = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
    view = re.search(r"(http://\S+/registrations/[^/\s]+\?token=\S+)", text).group(1)
    cancel = re.search(r"(http://\S+/cancel\?token=\S+)", text).group(1)
    return view, cancel


def _subjects(outbox: Path) -> list[str]:
    return [email.message_from_bytes(e.read_bytes(), policy=email.policy.default)["Subject"]
            for e in sorted(outbox.glob("*.eml"))]


def _view(url: str) -> dict:
    import json

    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"})) as answer:
        return json.loads(answer.read())


def _saved_registration(state_dir: Path, registration_id: str) -> dict | None:
    """The registration item in ``state.json`` as plain values, or ``None``."""
    import json

    from chalicelib import store

    try:
        saved = json.loads((state_dir / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    for item in saved["items"]:
        if item.get("registration_id", {}).get("S") == registration_id and item["type"]["S"] == "registration":
            return store.deserialize(item)
    return None


def _wait_until(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}")


def test_registrations_and_email_links_survive_restarts(tmp_path):
    """Register, stop with SIGTERM / SIGINT / kill -9, start again: the email's view and cancel links work."""
    import re
    import shlex
    import signal

    service = start_service(tmp_path)
    try:
        banner = service.log()
        assert f"Data:         started empty (nothing saved in {service.state_dir}/ yet)" in banner
        # The banner's staff command, pasted as printed, reaches this service's port.
        [staff_line] = [line for line in banner.splitlines() if "Staff tools:" in line]
        command = staff_line.split("Staff tools:", 1)[1].strip()
        assert command.startswith(f"PORT={service.port} AWS_PORT={service.aws_port} ")
        assert command.endswith(" -m staff --local events list")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PORT"}
        words = shlex.split(command)
        staff = subprocess.run(words[2:], cwd=ROOT, env={**env, "PORT": str(service.port),
                                                         "AWS_PORT": str(service.aws_port)},
                               capture_output=True, text=True, timeout=120, check=False)
        assert staff.returncode == 0, staff.stderr
        assert "demo-small-workshop" in staff.stdout and SEED_EVENT_ID in staff.stdout
        # the same prefix in front of checkin-link: the door link points at this service's API
        door = subprocess.run([*words[2:-2], "checkin-link", "demo-small-workshop"], cwd=ROOT,
                              env={**env, "PORT": str(service.port), "AWS_PORT": str(service.aws_port)},
                              capture_output=True, text=True, timeout=120, check=False)
        assert door.returncode == 0, door.stderr
        assert door.stdout.startswith(f"{service.url}/events/demo-small-workshop/door")

        # the service's clock, published for its staff tools, reads on from the banner's 09:00
        from localservice import clockfile

        published = datetime.fromisoformat(clockfile.read(service.aws_port))
        assert datetime.fromisoformat("2023-05-22T09:00:00+02:00") <= published < datetime.fromisoformat(
            "2023-05-22T09:10:00+02:00")

        ann = _register(service.url, "Ann")
        [confirmation] = _wait_for_emails(service.outbox, 1)
        view_url, cancel_url = _links(confirmation)

        service = service.restart(signal.SIGTERM)
        assert "Saved the data to" in (tmp_path / "service.log").read_text()
        assert "Data:         loaded 1 registration, 2 events, 0 export files from" in service.log()
        assert "Clock: runs on from 2023-05-22T09:0" in service.log()
        assert _view(view_url)["status"] == "confirmed"
        page = urllib.request.urlopen(urllib.request.Request(view_url, headers={"Accept": "text/html"})).read().decode()
        assert "Demo: small workshop" in page

        service = service.restart(signal.SIGINT)
        assert "Data:         loaded 1 registration, 2 events" in service.log()
        page = (
            urllib.request.urlopen(urllib.request.Request(cancel_url, headers={"Accept": "text/html"})).read().decode()
        )
        token = re.search(r'name="token" value="([^"]+)"', page).group(1)
        action = urllib.parse.urljoin(cancel_url, re.search(r'<form method="post" action="([^"]+)"', page)
                                      .group(1).replace("&amp;", "&"))
        with urllib.request.urlopen(urllib.request.Request(
            action, data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
        )) as answer:
            assert answer.status == 200
        _wait_for_emails(service.outbox, 2)
        # The confirmation was not sent again by any restart; the cancellation went out once.
        assert _subjects(service.outbox) == ["Confirmed: Demo: small workshop",
                                             "Registration cancelled: Demo: small workshop"]
        assert _view(view_url)["status"] == "cancelled"

        # kill -9 once the periodic save holds the sent cancellation email: nothing is lost or sent twice.
        saved = _wait_until(lambda: (_saved_registration(service.state_dir, ann["registration_id"]) or {})
                            .get("notifications", {}).get("cancelled", {}).get("state") == "sent",
                            "the periodic save of the cancellation email's state")
        assert saved
        service = service.restart(signal.SIGKILL)
        assert "Data:         loaded 1 registration, 2 events" in service.log()
        assert _view(view_url)["status"] == "cancelled"
        bob = _register(service.url, "Bob")
        _wait_for_emails(service.outbox, 3)
        assert _subjects(service.outbox)[2:] == ["Confirmed: Demo: small workshop"]

        # FRESH=1 starts empty and keeps the last save aside.
        service = service.restart(signal.SIGINT, env={"FRESH": "1"})
        assert (
            f"Data:         started empty (FRESH=1); the last save is kept in {service.state_dir}/previous/"
            in service.log()
        )
        with pytest.raises(urllib.error.HTTPError) as gone:
            _view(view_url)
        assert gone.value.code == 404
        assert _saved_registration(service.state_dir / "previous", bob["registration_id"])["status"] == "confirmed"

        # No log line of any start holds a token; the access log shows the request with the token redacted.
        token_value = urllib.parse.parse_qs(urllib.parse.urlsplit(view_url).query)["token"][0]
        logs = "".join(path.read_text() for path in tmp_path.glob("service*.log"))
        assert token_value not in logs
        assert f"GET /registrations/{ann['registration_id']}?token=[redacted]&lang=en HTTP/1.1\" 200" in logs
        assert service.stop() == 0
        assert clockfile.read(service.aws_port) is None  # a stopped service's clock is withdrawn
    finally:
        service.stop()


def test_the_banner_shows_the_form_of_every_kept_event(tmp_path):
    """An event published with ``staff events put`` while the service ran is kept in its data; the next
    start's banner lists its form beside those of ``events/`` (it listed the files' events only)."""
    import signal

    from tests.live import CLOSED_EVENT_YAML

    service = start_service(tmp_path)
    try:
        published = tmp_path / "staff-published-workshop.yaml"
        published.write_text(CLOSED_EVENT_YAML.replace("id: closed-workshop", "id: staff-published-workshop"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        put = subprocess.run([sys.executable, "-m", "staff", "--local", "events", "put", str(published)], cwd=ROOT,
                             env={**env, "PORT": str(service.port), "AWS_PORT": str(service.aws_port)},
                             capture_output=True, text=True, timeout=120, check=False)
        assert put.returncode == 0, put.stderr
        service = service.restart(signal.SIGTERM)
        banner = service.log()
        forms = [line.split("Form:", 1)[1].strip() for line in banner.splitlines() if "Form:" in line]
        assert forms == [f"{service.url}/events/{event_id}/register"
                         for event_id in ("demo-small-workshop", SEED_EVENT_ID, "staff-published-workshop")]
        assert "Data:         loaded 0 registrations, 3 events" in banner
    finally:
        service.stop()


def test_an_event_file_changed_while_stopped_wins_and_keeps_the_counters(tmp_path):
    """Restart after raising the demo event's capacity and moving its start in its file: the waitlisted
    registrant gets the seat, and everyone is told the new time (README, "Emails", event changes)."""
    import signal

    service = start_service(tmp_path)
    try:
        outcomes = [_register(service.url, name)["status"] for name in ("Ann", "Bob", "Cas")]
        assert outcomes == ["confirmed", "confirmed", "waitlisted"]
        _wait_for_emails(service.outbox, 3)
        event_file = service.events_dir / "demo-small-workshop.yaml"
        text = event_file.read_text()
        assert "capacity: 2" in text and "starts_at: 2023-06-12T10:00:00" in text
        event_file.write_text(text.replace("capacity: 2", "capacity: 3")
                              .replace("starts_at: 2023-06-12T10:00:00", "starts_at: 2023-06-12T10:30:00"))
        service = service.restart(signal.SIGTERM)
        assert "Data:         loaded 3 registrations, 2 events" in service.log()
        _wait_for_emails(service.outbox, 7)
        assert sorted(_subjects(service.outbox)[3:]) == ["A seat is yours: Demo: small workshop"] + [
            "Changed: Demo: small workshop"] * 3
        changed = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                   for path in sorted(service.outbox.glob("*.eml"))[3:]]
        changed = [m for m in changed if m["Subject"].startswith("Changed")]
        assert all("Earlier time: Monday, June 12, 2023, 10:00-12:00 CEST" in m.get_body(("plain",)).get_content()
                   for m in changed)
        import json

        with urllib.request.urlopen(f"{service.url}/events/demo-small-workshop") as answer:
            details = json.loads(answer.read())
        assert details["capacity"] == 3 and details["registration"]["seats_left"] == 0  # 3 seats, all taken
    finally:
        service.stop()


def test_make_runs_aws_standin_refuses_a_web_page(tmp_path):
    """The stand-in `make run` starts is the guarded one (tests/test_local_standin_guard.py has the rules)."""
    service = start_service(tmp_path)
    try:
        url = f"http://127.0.0.1:{service.aws_port}/moto-api/data.json"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://evil.example"}), timeout=30)
        assert refused.value.code == 403 and "Access-Control-Allow-Origin" not in refused.value.headers
        with urllib.request.urlopen(url, timeout=30) as answer:  # the address bar
            assert answer.status == 200 and b'"ses"' in answer.read()
    finally:
        service.stop()


def test_the_real_clock_still_starts_with_the_2023_event_files(tmp_path):
    """``APP_CLOCK= make run`` (the real clock, years after the 2023 seed events) loads ``events/`` as it is, past
    events too: loading files at start is not staff's ``events put``, whose refusal of a move into the past needs
    a stored event that had not begun (README, "Event files"). The staff tools, on the same clock, may put the
    unchanged file again (it was over before and stays over), and a restart with the kept data starts too."""
    import json
    import signal

    service = start_service(tmp_path, env={"APP_CLOCK": ""})
    try:
        banner = service.log()
        assert "Clock: real time (APP_CLOCK is empty)." in banner
        assert f"{service.url}/events/{SEED_EVENT_ID}/register" in banner
        with urllib.request.urlopen(f"{service.url}/events/{SEED_EVENT_ID}", timeout=30) as answer:
            assert json.loads(answer.read())["registration"]["state"] == "closed"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "APP_CLOCK"}
        put = subprocess.run([sys.executable, "-m", "staff", "--local", "events", "put",
                              str(service.events_dir / f"{SEED_EVENT_ID}.yaml")], cwd=ROOT,
                             env={**env, "PORT": str(service.port), "AWS_PORT": str(service.aws_port)},
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
        assert put.returncode == 0, put.stderr
        service = service.restart(signal.SIGTERM)
        assert "Data:         loaded 0 registrations, 2 events" in service.log()
        assert f"{service.url}/events/{SEED_EVENT_ID}/register" in service.log()
    finally:
        service.stop()
