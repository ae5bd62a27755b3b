"""Browser tests: the real local service, a second site on another origin, headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``), driven by
Playwright for Python with ``executable_path`` (Playwright's own browser
download is not used). Every test here is skipped, with the reason, where
Chromium or Playwright is missing.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from tests.live import CLOSED_EVENT_YAML, LiveService, free_port, start_service

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SITE_DIR = Path(__file__).resolve().parent / "site"
#: The door page's event (test_door.py): four seats and a waitlist, an organisation question, no one else's tests in it.
DOOR_EVENT_YAML = """\
id: door-workshop
languages: [nl, en]
title: {nl: "Workshop aan de deur", en: "Workshop at the door"}
description: {nl: "Voor de tests van de ingang.", en: "For the door page's tests."}
timezone: Europe/Amsterdam
starts_at: 2023-06-05T14:00:00
ends_at: 2023-06-05T17:00:00
location: {name: Partos, address: Ellermanstraat 18b, city: Amsterdam, country: NL}
organiser: {name: Partos, email: events@partos.example.org}
capacity: 4
waitlist: true
privacy_url: https://www.partos.nl/privacy/
questions:
  - id: organisation
    type: text
    max_length: 200
    label: {nl: Organisatie, en: Organisation}
"""


def _chromium_or_skip() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if not path:
        pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM=)")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def other_site() -> Iterator[dict[str, str]]:
    """Two tiny http.servers on other ports serving tests/browser/site/: one origin allowed, one not."""

    def serve() -> tuple[http.server.ThreadingHTTPServer, str]:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", free_port()), lambda *a, **kw: _QuietHandler(*a, directory=str(SITE_DIR), **kw)
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    allowed, allowed_origin = serve()
    refused, refused_origin = serve()
    yield {"allowed": allowed_origin, "refused": refused_origin}
    for server in (allowed, refused):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def live(tmp_path_factory, other_site) -> Iterator[LiveService]:
    """The local service with the seed events, a closed event, the allowed site's origin, no minimum fill time."""
    _chromium_or_skip()
    service = start_service(
        tmp_path_factory.mktemp("live-browser"),
        extra_events={"closed-workshop.yaml": CLOSED_EVENT_YAML, "door-workshop.yaml": DOOR_EVENT_YAML},
        env={"ALLOWED_ORIGINS": other_site["allowed"], "MIN_FILL_SECONDS": "0"},
    )
    yield service
    service.stop()


@pytest.fixture(scope="session")
def playwright():
    """Playwright's driver, once per test process (its sync API cannot be started twice at a time)."""
    _chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests skipped: playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as driver:
        yield driver


def launch(playwright, *extra_args: str):
    """Headless Debian Chromium with :data:`CHROMIUM_ARGS` and ``extra_args`` (a fresh temporary profile)."""
    return playwright.chromium.launch(executable_path=_chromium_or_skip(), headless=True,
                                      args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture(scope="session")
def browser(playwright):
    """Headless Debian Chromium via Playwright (a fresh temporary profile per launch)."""
    browser = launch(playwright)
    yield browser
    browser.close()


def _context(browser, **options):
    return browser.new_context(locale="nl-NL", viewport={"width": 900, "height": 1000}, **options)


@pytest.fixture
def page(browser):
    """A page with JavaScript on, in a context of its own."""
    context = _context(browser)
    yield context.new_page()
    context.close()


@pytest.fixture
def page_without_js(browser):
    """A page with JavaScript off: the plain HTML form."""
    context = _context(browser, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def axe_page(browser):
    """A page for axe-core, whose script is injected; bypass_csp lets the injected script run (our CSP allows only ours)."""
    if not AXE.is_file():
        pytest.skip(f"accessibility check skipped: {AXE} missing (npm unavailable? `make axe` installs it)")
    context = _context(browser, bypass_csp=True)
    page = context.new_page()
    page.axe_source = AXE.read_text(encoding="utf-8")
    yield page
    context.close()


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ (gitignored), the whole page or (``full_page=False``)
    what the window shows; returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def staff_event_counts(live: LiveService, event_id: str) -> dict:
    """``python -m staff --local events show <event> --json`` against the live service's AWS stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_PORT"] = str(live.aws_port)
    done = subprocess.run(
        [sys.executable, "-m", "staff", "--local", "events", "show", event_id, "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
