"""The door page (README, "Check-in at the door") in headless Chromium, against the real local service.

The link is the one ``python -m staff --local checkin-link door-workshop --valid 2d`` prints; the codes
are the ones in the registrants' emails in the outbox. Chromium runs with a fake camera
(``--use-fake-device-for-media-stream``) whose picture is a video file of one registrant's QR code, so:

- the camera scan with jsQR (Linux Chromium has no ``BarcodeDetector``) decodes the QR code from the
  picture, as a phone does at the door;
- the other pages get a stand-in ``BarcodeDetector`` (an init script) that "sees" whatever code the
  test hands it: the code then travels the page's own path, camera on, ``chooseScanner``, the scan
  loop, ``handleCode``, exactly as a decoded code does.

Every wait is on a condition (an answer shown, a figure changed), never a sleep. Each state is checked
with axe-core and saved as a screenshot under test-artifacts/ (``door-<state>.png``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.browser.conftest import AXE, ROOT, launch, screenshot
from tests.browser.test_look import _post_json, _wait_for_email

pytestmark = pytest.mark.xdist_group("browser")

EVENT = "door-workshop"
CODE = re.compile(r"\b([A-Z2-7]{4}(?: [A-Z2-7]{4}){5})\b")
#: The door page's answers, as the page shows them (chalicelib/doorpage.py's HEADLINES and TONES).
TONE_COLOURS = {
    "ok": "rgb(15, 107, 47)",
    "warn": "rgb(138, 75, 0)",
    "stop": "rgb(179, 38, 30)",
    "info": "rgb(61, 74, 92)",
}
WAIT_MS = 60_000  # an upper bound for a busy machine; every wait ends as soon as its condition holds

#: A ``BarcodeDetector`` that sees the codes the test queues in ``window.__seen`` (one per detect call).
STAND_IN_DETECTOR = """
window.__seen = [];
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code"]); }
  constructor(options) { this.options = options; }
  detect(source) {
    const code = window.__seen.shift();
    return Promise.resolve(code ? [{rawValue: code, format: "qr_code"}] : []);
  }
};
"""
#: Leave the page to jsQR even in a Chromium that has a BarcodeDetector of its own.
NO_DETECTOR = "delete window.BarcodeDetector;"


def _staff(live, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m staff --local ARGS`` against the live service's AWS stand-in."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "APP_CLOCK"}
    child_env.update(AWS_PORT=str(live.aws_port), **env)
    done = subprocess.run([sys.executable, "-m", "staff", "--local", *args], cwd=ROOT, env=child_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _y4m(code: str, path: Path, size: int = 480) -> Path:
    """A one-frame Y4M video (4:2:0, full range) of ``code`` as a QR code, black on white, for Chromium's fake
    camera."""
    import segno

    qr = segno.make(code, error="q", micro=False)
    matrix = [list(row) for row in qr.matrix]
    width = len(matrix) + 8  # a quiet zone of 4 modules each side
    scale = size // width
    offset = (size - width * scale) // 2
    luma = bytearray(b"\xff" * size * size)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (offset + (y + 4) * scale + dy) * size + offset + (x + 4) * scale
                    luma[start:start + scale] = b"\x00" * scale
    chroma = b"\x80" * (size // 2) * (size // 2)
    path.write_bytes(
        f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + bytes(luma) + chroma + chroma
    )
    return path


@pytest.fixture(scope="module")
def people(live) -> dict[str, dict]:
    """The event's four confirmed registrants (one per test, so the tests may run in any order) and one on the
    waitlist, each with the check-in code of their email (the waitlist email has none: see :func:`_made_code`)."""
    who = {
        "zoe": ("Zoë van der Berg-Ødegård", "Wilde Ganzen"),
        "daan": ("Daan de Boer", "Partos"),
        "fatima": ("Fatima el Amrani", "Oxfam Novib"),
        "sanne": ("Sanne Ødegård-Visser", "Cordaid"),
        "wim": ("Wim Jansen", "Hivos"),
    }
    found = {}
    for key, (name, organisation) in who.items():  # in this order: the fifth is waitlisted
        address = f"door-{key}-{uuid.uuid4().hex[:8]}@example.org"
        answer = _post_json(live, EVENT, address, name=name, language="nl", organisation=organisation)
        found[key] = {"name": name, "organisation": organisation, "address": address, "status": answer["status"],
                      "id": answer["registration_id"]}
    assert [p["status"] for p in found.values()] == ["confirmed"] * 4 + ["waitlisted"]
    for person in found.values():
        text = _wait_for_email(live, person["address"]).get_body(("plain",)).get_content()
        spoken = CODE.findall(text)
        if person["status"] == "confirmed":
            assert len(spoken) == 1, text
            person["code"] = spoken[0].replace(" ", "")
            assert person["code"] == _made_code(person["id"])
        else:
            assert spoken == [], text
            person["code"] = _made_code(person["id"])
    return found


def _made_code(registration_id: str) -> str:
    """A registration's check-in code as the service makes it, with make run's key (the local stage's
    ``TOKEN_KEYS``)."""
    from unittest import mock

    from chalicelib import checkin
    from staff.config import stage_environment

    with mock.patch.dict(os.environ, {"TOKEN_KEYS": stage_environment("local")["TOKEN_KEYS"], "TOKEN_SECRET_ARN": ""}):
        return checkin.make_code(EVENT, registration_id)


@pytest.fixture(scope="module")
def door_link(live) -> str:
    """The link staff send to the door: ``staff checkin-link door-workshop --valid 2d``."""
    done = _staff(live, "checkin-link", EVENT, "--valid", "2d", "--lang", "nl", "--base-url", live.url)
    link = done.stdout.strip()
    assert re.fullmatch(
        rf"{re.escape(live.url)}/events/{EVENT}/door\?lang=nl#\d+\.local1\.[A-Za-z0-9_-]{{43}}", link
    ), link
    assert "valid until" in done.stderr
    return link


@pytest.fixture(scope="module")
def camera_browser(playwright, people, tmp_path_factory):
    """Chromium with a fake camera showing Zoë's QR code (the code of her email)."""
    video = _y4m(people["zoe"]["code"], tmp_path_factory.mktemp("camera") / "qr.y4m")
    browser = launch(playwright, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                     f"--use-file-for-fake-video-capture={video}")
    yield browser
    browser.close()


class Door:
    """One phone at the door: a page on the door link, in a context of its own."""

    def __init__(self, browser, link: str, *, detector: str | None = STAND_IN_DETECTOR, axe: bool = True,
                 figures: bool = True):
        # bypass_csp lets axe-core be injected; the camera test runs under the page's own CSP
        self.context = browser.new_context(locale="nl-NL", viewport={"width": 375, "height": 740}, is_mobile=True,
                                           has_touch=True, device_scale_factor=2, permissions=["camera"],
                                           bypass_csp=axe)
        if detector:
            self.context.add_init_script(detector)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(link)
        if figures:  # the page has asked the service for them, with the link
            self.page.locator("#door-count").filter(has_text=re.compile(r"ingecheckt")).wait_for(timeout=WAIT_MS)

    def close(self) -> None:
        self.context.close()

    def count(self) -> tuple[int, int]:
        """The live figures the page shows: ``(checked in, confirmed)``."""
        match = re.fullmatch(r"(\d+) van (\d+) ingecheckt", self.page.inner_text("#door-count"))
        assert match, self.page.inner_text("#door-count")
        return int(match.group(1)), int(match.group(2))

    def wait_for_count(self, checked_in: int, confirmed: int = 4) -> None:
        self.page.locator("#door-count").filter(
            has_text=re.compile(rf"^{checked_in} van {confirmed} ingecheckt$")).wait_for(timeout=WAIT_MS)

    def start_camera(self, scanner: str) -> None:
        self.page.wait_for_function("s => document.getElementById('door').dataset.scanner === s", arg=scanner,
                                    timeout=WAIT_MS)
        self.page.click("#door-camera")
        self.page.wait_for_function(
            "() => { const v = document.getElementById('door-video'); "
            "return !v.hidden && v.readyState >= 2 && v.videoWidth > 0; }",
            timeout=WAIT_MS,
        )
        assert self.page.get_attribute("#door-camera", "aria-pressed") == "true"

    def scan(self, code: str) -> None:
        """Hand ``code`` to the stand-in BarcodeDetector: the scan loop picks it up at its next frame."""
        self.page.evaluate("code => window.__seen.push(code)", code)

    def answer(self, outcome: str) -> dict:
        """Wait for the answer ``outcome`` and return what the page shows."""
        self.page.wait_for_function("o => document.getElementById('door-result').dataset.outcome === o", arg=outcome,
                                    timeout=WAIT_MS)
        return self.page.evaluate("""() => {
            const r = document.getElementById('door-result'), t = id => document.getElementById(id).textContent;
            return {hidden: r.hidden, tone: r.dataset.tone, title: t('door-result-title'), name: t('door-result-name'),
                    organisation: t('door-result-organisation'), detail: t('door-result-detail'),
                    note: document.getElementById('door-result-note').hidden ? null : t('door-result-note'),
                    undo: !document.getElementById('door-undo').hidden,
                    background: getComputedStyle(r).backgroundColor,
                    sizes: ['door-result-title', 'door-result-name', 'door-result-organisation'].map(
                        id => parseFloat(getComputedStyle(document.getElementById(id)).fontSize))};
        }""")

    def axe_clean(self) -> None:
        from tests.browser.test_browser import _serious_violations

        if not AXE.is_file():
            pytest.skip(f"accessibility check skipped: {AXE} missing (npm unavailable? `make axe` installs it)")
        self.page.axe_source = AXE.read_text(encoding="utf-8")
        assert _serious_violations(self.page) == []

    def no_sideways_scroll(self) -> None:
        widths = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


@pytest.fixture
def doors(camera_browser, door_link):
    """Open door pages (``open(**options)``); all are closed after the test."""
    opened: list[Door] = []

    def open_door(link: str = door_link, **options) -> Door:
        opened.append(Door(camera_browser, link, **options))
        return opened[-1]

    yield open_door
    for door in opened:
        door.close()


def _large_and_coloured(shown: dict, tone: str) -> None:
    """Unmistakable: the answer in large type (title 30 px or more, name 24 px or more) and the tone's colour."""
    assert not shown["hidden"]
    assert shown["tone"] == tone and shown["background"] == TONE_COLOURS[tone]
    title, name, organisation = shown["sizes"]
    assert title >= 30 and name >= 24 and organisation >= 20, shown["sizes"]


def test_the_camera_scans_the_qr_code_of_the_email_with_jsqr(doors, people):
    """The fake camera shows Zoë's QR code: jsQR decodes it and she is checked in, under the page's own CSP."""
    door = doors(detector=NO_DETECTOR, axe=False)
    assert door.page.locator("script[src$='/static/vendor/jsQR.js']").count() == 1
    before, confirmed = door.count()
    assert confirmed == 4
    door.start_camera("jsqr")
    shown = door.answer("checked_in")
    assert (shown["title"], shown["name"], shown["organisation"]) == (
        "Ingecheckt", "Zoë van der Berg-Ødegård", "Wilde Ganzen")
    assert re.fullmatch(r"ingecheckt om \d\d:\d\d", shown["detail"]) and shown["undo"]
    _large_and_coloured(shown, "ok")
    door.wait_for_count(before + 1)
    door.no_sideways_scroll()
    screenshot(door.page, "door-checked-in-camera.png")
    door.page.click("#door-camera")
    assert door.page.get_attribute("#door-camera", "aria-pressed") == "false"
    assert door.errors == []  # nothing refused by the CSP, no script error


def test_a_scanned_code_checks_in_with_name_and_organisation_in_large_type(doors, people):
    door = doors()
    door.axe_clean()  # the page as it opens
    screenshot(door.page, "door-open.png")
    before, _ = door.count()
    door.start_camera("barcode-detector")
    door.scan(people["fatima"]["code"])
    shown = door.answer("checked_in")
    assert (shown["title"], shown["name"], shown["organisation"]) == ("Ingecheckt", "Fatima el Amrani", "Oxfam Novib")
    # the service's clock reads 22 May, the event is on 5 June: checked in, and said to be early
    assert shown["note"] == "Dit evenement begint op maandag 5 juni 2023 14:00 CEST — vroeg ingecheckt."
    _large_and_coloured(shown, "ok")
    door.wait_for_count(before + 1)
    door.axe_clean()
    screenshot(door.page, "door-checked-in.png")
    # the waitlisted person's code is refused in red (Wim's code is made the way the service makes them)
    door.page.fill("#door-code", people["wim"]["code"])
    door.page.click("#door-code-form button[type=submit]")
    shown = door.answer("waitlisted")
    assert (shown["title"], shown["name"]) == ("Op de wachtlijst: geen plek", "Wim Jansen") and not shown["undo"]
    assert shown["note"] is None  # the last answer's note is gone
    _large_and_coloured(shown, "stop")
    door.axe_clean()
    screenshot(door.page, "door-waitlisted.png")
    assert door.count() == (before + 1, 4)  # nothing counted


def test_the_same_code_on_two_phones_at_once_checks_in_once_and_the_other_says_already(doors, people):
    first, second, watcher = doors(), doors(), doors()
    before, _ = watcher.count()
    for door in (first, second):
        door.start_camera("barcode-detector")
    code = people["daan"]["code"]
    first.scan(code)
    second.scan(code)
    outcomes = {}
    for door in (first, second):
        door.page.wait_for_function(
            "() => ['checked_in', 'already_checked_in']"
            ".includes(document.getElementById('door-result').dataset.outcome)",
            timeout=WAIT_MS,
        )
        outcome = door.page.evaluate("document.getElementById('door-result').dataset.outcome")
        outcomes[outcome] = (door, door.answer(outcome))
    assert sorted(outcomes) == ["already_checked_in", "checked_in"]
    done_door, done = outcomes["checked_in"]
    already_door, already = outcomes["already_checked_in"]
    time = re.fullmatch(r"ingecheckt om (\d\d:\d\d)", done["detail"]).group(1)
    assert already["title"] == f"Al ingecheckt om {time}"  # the first check-in's time, in the event's zone
    assert (already["name"], already["organisation"]) == ("Daan de Boer", "Partos")
    _large_and_coloured(already, "warn")
    already_door.axe_clean()
    screenshot(already_door.page, "door-already-checked-in.png")
    # live figures: one more checked in, on every phone, the idle one too (it polls)
    for door in (first, second, watcher):
        door.wait_for_count(before + 1)

    # undo a mistake: the figure goes back down everywhere
    done_door.page.click("#door-undo")
    undone = done_door.answer("undone")
    assert (undone["title"], undone["name"]) == ("Check-in ongedaan gemaakt", "Daan de Boer") and not undone["undo"]
    _large_and_coloured(undone, "info")
    done_door.axe_clean()
    screenshot(done_door.page, "door-undone.png")
    watcher.wait_for_count(before)
    # and typed in by hand (lower case, with spaces, as read aloud), the code checks him in again
    watcher.page.fill("#door-code", " ".join(code[i:i + 4] for i in range(0, 24, 4)).lower())
    watcher.page.click("#door-code-form button[type=submit]")
    again = watcher.answer("checked_in")
    assert again["name"] == "Daan de Boer"
    watcher.wait_for_count(before + 1)
    assert watcher.page.input_value("#door-code") == ""


def test_the_name_search_finds_a_registrant_and_checks_them_in(doors, people):
    door = doors()
    before, _ = door.count()
    door.page.fill("#door-search", "odegard VISSER")  # without the accents, any case, any order
    door.page.click("#door-search-form button[type=submit]")
    results = door.page.locator("#door-search-results li")
    results.first.wait_for(timeout=WAIT_MS)
    assert results.count() == 1
    assert door.page.inner_text(".door-person-name") == "Sanne Ødegård-Visser"
    assert door.page.inner_text(".door-person-organisation") == "Cordaid"
    assert door.page.locator(".door-person-state").count() == 0  # not checked in yet
    assert people["sanne"]["address"] not in door.page.content()  # addresses are matched, never shown
    door.axe_clean()
    screenshot(door.page, "door-search.png")
    results.first.get_by_role("button", name="Inchecken: Sanne Ødegård-Visser").click()
    shown = door.answer("checked_in")
    assert (shown["name"], shown["organisation"]) == ("Sanne Ødegård-Visser", "Cordaid")
    _large_and_coloured(shown, "ok")
    door.wait_for_count(before + 1)
    # by address too; the list then says when she was checked in
    door.page.fill("#door-search", people["sanne"]["address"])
    door.page.click("#door-search-form button[type=submit]")
    door.page.locator(".door-person-state").filter(has_text=re.compile(r"^ingecheckt om \d\d:\d\d$")).wait_for(
        timeout=WAIT_MS)
    # only confirmed registrations are found: not the waitlisted one
    door.page.fill("#door-search", "wim jansen")
    door.page.click("#door-search-form button[type=submit]")
    door.page.locator("#door-search-note").filter(
        has_text="Niemand gevonden onder de bevestigde inschrijvingen.").wait_for(timeout=WAIT_MS)
    assert results.count() == 0
    door.axe_clean()


def test_an_expired_link_says_so_and_stops(live, doors):
    # a link made two days before the service's clock (APP_CLOCK, as staff --local reads it) with one day to run
    link = _staff(live, "checkin-link", EVENT, "--valid", "1d", "--lang", "nl", "--base-url", live.url,
                  APP_CLOCK="2023-05-20T09:00:00+02:00").stdout.strip()
    door = doors(link, figures=False)
    shown = door.answer("door-link-expired")
    assert shown["title"] == "Link verlopen"
    assert re.fullmatch(r"Deze link voor de ingang is verlopen op 21 mei 2023 09:\d\d CEST\. "
                        r"Vraag de organisator om een nieuwe\.", shown["detail"]), shown["detail"]
    _large_and_coloured(shown, "stop")
    assert door.page.inner_text("#door-count") == ""
    assert door.page.evaluate("[...document.querySelectorAll('#door input, #door button')].every(c => c.disabled)")
    door.axe_clean()
    screenshot(door.page, "door-link-expired.png")
