#!/usr/bin/env python3
"""A newcomer's first ``make run``, measured from a fresh clone (issue 14; README "Quick start").

1. ``git clone`` of this repository (its committed ``HEAD``) into a temporary folder;
2. ``make run`` on free ports: seconds from the command until the banner's last line
   (``Press Ctrl-C to stop.``), which includes creating ``.venv`` and installing
   ``requirements-local.txt`` and ``requirements-staff.txt`` (the goal: under 90 s
   with pip's cache warm);
3. register (JSON post), wait for the confirmation email in the clone's ``outbox/``;
4. stop with SIGTERM, ``make run`` again (seconds to the banner, warm ``.venv``);
   the banner must say it loaded the registration;
5. follow the email's view link (200, status ``confirmed``) and cancel link (the page,
   then the form's post), and wait for the cancellation email; stop with SIGTERM.

Prints each figure and exits 1 if a step fails. Standard library only: it runs
before any virtual environment exists (``python3 benchmarks/first_run.py``).
Options: ``--source PATH`` (a repository to clone, default this one),
``--banner-only`` (steps 1 and 2 only, e.g. to time an older commit side by side),
``--keep`` (leave the clone for a look).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANNER_END = "Press Ctrl-C to stop."
EVENT = "demo-small-workshop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    """``make run`` in its own process group, its output collected line by line with the time seen."""

    def __init__(self, clone: Path, port: int, aws_port: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("FRESH", "LOCAL_STATE")}
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}", f"AWS_PORT={aws_port}"], cwd=clone, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for(self, needle: str, timeout: float) -> float:
        """Seconds from the start until a line containing ``needle`` appeared."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for seen, line in list(self.lines):
                if needle in line:
                    return seen
            if not self._reader.is_alive():  # make and the service have both closed their output
                if any(needle in line for _, line in self.lines):
                    continue
                raise SystemExit(f"make run ended ({self.process.poll()}) before {needle!r}:\n{self.text()}")
            time.sleep(0.1)
        raise SystemExit(f"no {needle!r} within {timeout} s:\n{self.text()}")

    def stop(self) -> None:
        """SIGTERM to make and the service (the process group we started); wait for the save."""
        os.killpg(self.process.pid, signal.SIGTERM)
        self.wait_for("Saved the data to", 60)
        self._reader.join(timeout=30)  # the output ends when the service has exited (its ports are free)
        if self._reader.is_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            raise SystemExit(f"make run did not end after SIGTERM:\n{self.text()}")


def emails(outbox: Path, count: int, timeout: float = 60) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(outbox.glob("*.eml"))
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise SystemExit(f"expected {count} emails in {outbox}, found {len(list(outbox.glob('*.eml')))}")


def subject(path: Path) -> str:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(ROOT), help="repository to clone (default: this one)")
    parser.add_argument("--banner-only", action="store_true", help="only time the first make run's banner")
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="first-run-"))
    clone = work / "clone"
    try:
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", args.source, str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout.strip()
        print(f"fresh clone of {args.source} at {commit} in {clone}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
        port, aws_port = free_port(), free_port()

        first = Run(clone, port, aws_port)
        seconds = first.wait_for(BANNER_END, 600)
        print(f"first make run: banner after {seconds:.1f} s (from nothing: a new .venv and what make run installs)")
        steps = [(seen, line.split()[-1]) for seen, line in first.lines if line.startswith("touch ")]
        if steps:
            print("  steps (s from start, stamp): " + ", ".join(f"{seen:.1f} {stamp}" for seen, stamp in steps)
                  + f", {seconds:.1f} banner")
        if args.banner_only:
            os.killpg(first.process.pid, signal.SIGTERM)
            first._reader.join(timeout=60)
            return 0
        base = f"http://127.0.0.1:{port}"
        body = json.dumps({"name": "Nina Newcomer", "email": "nina@example.org", "consent": True}).encode()
        request = urllib.request.Request(f"{base}/events/{EVENT}/registrations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            registration = json.loads(answer.read())
            print(f"registered: {answer.status} {registration['status']}")
        [confirmation] = emails(clone / "outbox", 1)
        text = email.message_from_bytes(confirmation.read_bytes(), policy=email.policy.default) \
            .get_body(("plain",)).get_content()
        view_url = re.search(r"(http://\S+/registrations/[^/\s]+\?token=\S+)", text).group(1)
        cancel_url = re.search(r"(http://\S+/cancel\?token=\S+)", text).group(1)
        first.stop()

        second = Run(clone, port, aws_port)
        seconds = second.wait_for(BANNER_END, 300)
        [data_line] = [line for _, line in second.lines if "Data:" in line]
        print(f"second make run: banner after {seconds:.1f} s; {data_line.strip()}")
        if "loaded 1 registration" not in data_line:
            raise SystemExit("the restart did not load the registration")
        with urllib.request.urlopen(urllib.request.Request(view_url, headers={"Accept": "application/json"})) as answer:
            status = json.loads(answer.read())["status"]
            print(f"view link: {answer.status}, status {status}")
        with urllib.request.urlopen(urllib.request.Request(cancel_url, headers={"Accept": "text/html"})) as answer:
            page = answer.read().decode()
            print(f"cancel link: {answer.status} (confirmation page)")
        token = re.search(r'name="token" value="([^"]+)"', page).group(1)
        action = urllib.parse.urljoin(cancel_url, re.search(r'<form method="post" action="([^"]+)"', page)
                                      .group(1).replace("&amp;", "&"))
        form = urllib.parse.urlencode({"token": token}).encode()
        with urllib.request.urlopen(urllib.request.Request(
                action, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})) as answer:
            print(f"cancel: {answer.status}")
        subjects = [subject(p) for p in emails(clone / "outbox", 2)]
        print(f"outbox: {subjects}")
        second.stop()
        if subjects != ["Confirmed: Demo: small workshop", "Registration cancelled: Demo: small workshop"]:
            raise SystemExit("unexpected emails")
        print("ok")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
