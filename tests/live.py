"""The real local service (``python -m localservice``) as a subprocess, for browser and fuzz tests.

Each test session that needs it starts its own: free ports for the API and the
AWS stand-in, a temporary outbox, a folder for the kept data (``LOCAL_STATE``)
and an events folder of its own (the project's ``events/*.yaml`` and ``events/assets/``,
plus any extra event files the caller writes), so runs never share state with ``make run`` or
with each other. :meth:`LiveService.restart` stops it and starts it again on the
same ports and folders, as a developer does with Ctrl-C and ``make run``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: A copy of an event whose registration closed before the local clock's start (APP_CLOCK 2023-05-22).
CLOSED_EVENT_YAML = """\
id: closed-workshop
languages: [en, nl]
title: {en: "A workshop that closed", nl: "Een gesloten workshop"}
description: {en: "Registration closed on 1 May 2023.", nl: "De inschrijving sloot op 1 mei 2023."}
timezone: Europe/Amsterdam
starts_at: 2023-06-12T10:00:00
ends_at: 2023-06-12T12:00:00
registration_closes_at: 2023-05-01T00:00:00
location: {name: Partos, address: Ellermanstraat 18b, city: Amsterdam, country: NL}
organiser: {name: Partos, email: events@partos.example.org}
privacy_url: https://www.partos.nl/privacy/
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: Seconds a clean stop may take before the service is killed (the wait ends as soon as it exits).
STOP_SECONDS = 120


@dataclass
class LiveService:
    """A running local service: ``url`` of the API, its folders, and the process."""

    url: str
    port: int
    aws_port: int
    outbox: Path
    events_dir: Path
    log_path: Path
    process: subprocess.Popen
    state_dir: Path
    env: dict[str, str]
    timeout: float = 90

    def log(self) -> str:
        """What the service printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, stop_signal: int = signal.SIGINT) -> int | None:
        """Ctrl-C (``SIGINT``, a clean stop) or another signal; kill if it does not end within
        :data:`STOP_SECONDS` (generous: a loaded machine slows the last save and the poller's stop).

        Returns the exit code (``None`` if it had to be killed).
        """
        if self.process.poll() is None:
            self.process.send_signal(stop_signal)
            try:
                return self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
                return None
        return self.process.returncode

    def restart(self, stop_signal: int = signal.SIGINT, env: dict[str, str] | None = None) -> LiveService:
        """Stop with ``stop_signal`` and start again on the same ports, outbox, events and data folder.

        ``env`` replaces variables for the new start (e.g. ``FRESH=1``). Raises
        ``RuntimeError`` if the stop was not clean (exit code other than 0, for
        ``SIGKILL`` any) or the new start fails.
        """
        code = self.stop(stop_signal)
        if stop_signal != signal.SIGKILL and code != 0:
            raise RuntimeError(f"the local service stopped with {code}:\n{self.log()}")
        number = len(list(self.log_path.parent.glob("service*.log"))) + 1
        return _launch(self.log_path.parent / f"service-{number}.log", self.port, self.aws_port, self.outbox,
                       self.events_dir, self.state_dir, {**self.env, **(env or {})}, self.timeout)


def start_service(workdir: Path, *, extra_events: dict[str, str] | None = None, env: dict[str, str] | None = None,
                  timeout: float = 90) -> LiveService:
    """Start ``python -m localservice`` in ``workdir`` and wait until its API answers.

    ``extra_events`` maps file names to YAML written beside the project's events;
    ``env`` adds environment variables (e.g. ``ALLOWED_ORIGINS``, ``MIN_FILL_SECONDS``).
    Raises ``RuntimeError`` with the service's output if it exits or does not answer in time.
    """
    events_dir = workdir / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "events").glob("*.yaml"):
        shutil.copy(path, events_dir / path.name)
    shutil.copytree(ROOT / "events" / "assets", events_dir / "assets", dirs_exist_ok=True)  # logos the event files name
    for name, text in (extra_events or {}).items():
        (events_dir / name).write_text(text, encoding="utf-8")
    outbox = workdir / "outbox"
    port, aws_port = free_port(), free_port()
    while aws_port == port:
        aws_port = free_port()
    return _launch(workdir / "service.log", port, aws_port, outbox, events_dir, workdir / "state", env or {}, timeout)


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child before ``exec``: SIGINT back to its default, as in a terminal where a developer presses Ctrl-C.

    A test run started as a background job of a non-interactive shell (``make test &`` in a script) has
    SIGINT ignored, and an ignored signal stays ignored across ``exec``: the service would then never
    see the test's Ctrl-C (it ignores SIGINT like any background job; the README says to stop it with SIGTERM there).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _launch(log_path: Path, port: int, aws_port: int, outbox: Path, events_dir: Path, state_dir: Path,
            env: dict[str, str], timeout: float) -> LiveService:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("FRESH", "LOCAL_STATE")}
    child_env.update(
        PORT=str(port), AWS_PORT=str(aws_port), OUTBOX=str(outbox), EVENTS_DIR=str(events_dir),
        LOCAL_STATE=str(state_dir), PYTHONUNBUFFERED="1", **env,
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localservice"], cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_ctrl_c_as_in_a_terminal,  # noqa: PLW1509 - resets one signal, takes no lock
        )
    service = LiveService(f"http://127.0.0.1:{port}", port, aws_port, outbox, events_dir, log_path, process,
                          state_dir, env, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local service exited with {process.returncode}:\n{service.log()}")
        if "Serving on" in service.log():
            try:
                with urllib.request.urlopen(f"{service.url}/openapi.json", timeout=5) as answer:
                    if answer.status == 200:
                        return service
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"the local service did not answer within {timeout} s:\n{service.log()}")
