"""How the pages and emails look, at a laptop's 1366 px and a phone's 375 px, in headless Chromium.

Each test saves a screenshot to test-artifacts/ (``<what>-<width>.png``) for a person to judge, and
asserts what a person would otherwise catch: nothing scrolls sideways
(``document.documentElement.scrollWidth <= innerWidth``), the seed event's branding (accent colour,
logo linked to the organiser's site) is applied, the error summary is in view above the first
invalid field, and the thank-you page says seat or waitlist and where the email went. The emails
are the real ``.eml`` files of the local service's outbox, their HTML part rendered in Chromium.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.browser.conftest import screenshot
from tests.conftest import SEED_EVENT_ID

pytestmark = pytest.mark.xdist_group("browser")

WIDTHS = [1366, 375]
FORM = f"/events/{SEED_EVENT_ID}/register"
SEED_ACCENT = "rgb(36, 48, 107)"  # #24306b, the seed's branding.accent_colour
DEMO = "demo-small-workshop"  # two seats and a waitlist, no branding: the neutral look


def _context(browser, width: int, **options):
    if width < 600:  # a phone: the page's meta viewport applies
        return browser.new_context(locale="nl-NL", viewport={"width": width, "height": 740}, is_mobile=True,
                                   has_touch=True, device_scale_factor=2, **options)
    return browser.new_context(locale="nl-NL", viewport={"width": width, "height": 860}, **options)


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def sized(request, browser):
    """``(page, width)``: a page with JavaScript at each of the two widths."""
    context = _context(browser, request.param)
    yield context.new_page(), request.param
    context.close()


def _address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.org"


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def _in_view(page, selector: str) -> dict:
    return page.evaluate(
        """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, height: innerHeight}; }""",
        selector,
    )


def _fill(page, email_address: str) -> None:
    page.fill("#field-name", "Anna de Vries")
    page.fill("#field-email", email_address)
    page.fill("#field-organisation", "Wilde Ganzen")
    page.check("input[name=role][value=campaigner]")
    page.check("#field-consent")


def test_form(live, sized):
    page, width = sized
    page.goto(live.url + FORM)
    # the seed's branding: logo linked to the organiser's site, accent on the button and heading
    logo = page.locator("header.brand a.brand-link img.brand-logo")
    assert page.locator("header.brand a.brand-link").get_attribute("href") == "https://www.partos.nl/"
    assert logo.get_attribute("alt") == "Partos, naar de website"
    page.wait_for_function("document.querySelector('.brand-logo').complete")
    assert page.evaluate("document.querySelector('.brand-logo').naturalWidth") > 0  # the SVG loaded under the CSP
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#form-submit')).backgroundColor") == SEED_ACCENT
    )
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == SEED_ACCENT
    # show_seats: few, and 40 seats are far from "a few": no figure at all
    assert page.locator("#seats-left").count() == 0
    _no_sideways_scroll(page)
    screenshot(page, f"form-{width}.png")


def test_error_summary_scrolls_into_view_above_the_first_invalid_field(live, sized):
    page, width = sized
    page.goto(live.url + FORM)
    _fill(page, "anna@")
    page.locator("#form-submit").scroll_into_view_if_needed()
    page.click("#form-submit")
    page.locator("#error-email").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'field-email'")
    summary, field = _in_view(page, "#error-summary"), _in_view(page, "#field-email")
    assert summary["top"] >= 0 and summary["bottom"] <= summary["height"], summary  # the whole summary shows
    assert summary["bottom"] <= field["top"] and field["bottom"] <= field["height"], (summary, field)
    _no_sideways_scroll(page)
    screenshot(page, f"form-error-{width}.png", full_page=False)  # what the person sees after the answer


def test_thank_you_page_says_seat_and_address_and_leads_back_to_the_event(live, sized):
    page, width = sized
    address = _address(f"thanks{width}")
    page.goto(live.url + FORM)
    _fill(page, address)
    page.click("#form-submit")
    page.wait_for_url(re.compile(r"/thanks\?"))
    assert address not in page.url and "anna" not in page.url.lower()  # no personal data in the URL
    assert page.inner_text("h1") == "Je bent ingeschreven"
    assert page.inner_text("#thanks-status") == "Je inschrijving is bevestigd: je hebt een plek."
    assert (
        page.inner_text("#thanks-email")
        == f"We hebben een bevestiging met een agenda-uitnodiging gestuurd naar {address}."
    )
    assert "Geen e-mail ontvangen?" in page.inner_text("main")
    assert page.locator("main a[href='mailto:events@partos.example.org']").count() == 1
    _no_sideways_scroll(page)
    screenshot(page, f"thanks-{width}.png")
    # "back" is the event's page (with a way to the form), not a fresh form
    page.click("#back-to-event")
    page.wait_for_url(re.compile(rf"/events/{SEED_EVENT_ID}\?lang=nl$"))
    assert page.locator("form#registration-form").count() == 0
    assert page.inner_text("h1") == "Workshop Best Practices ‘Engagement en mobilisatie’"
    assert page.locator("#register-link").get_attribute("href").endswith(f"/events/{SEED_EVENT_ID}/register?lang=nl")
    _no_sideways_scroll(page)
    screenshot(page, f"event-{width}.png")


def test_waitlist_thank_you_page_gives_the_position(live, sized):
    page, width = sized
    for _ in range(2):  # fill the demo's two seats (once per test session; later ones only add to the waitlist)
        _post_json(live, DEMO, _address("filler"))
    page.goto(f"{live.url}/events/{DEMO}/register?lang=en")
    page.fill("#field-name", "Ben Jansen")
    address = _address(f"waiting{width}")
    page.fill("#field-email", address)
    page.check("#field-consent")
    page.click("#form-submit")
    page.wait_for_url(re.compile(r"/thanks\?"))
    assert page.inner_text("h1") == "You are on the waitlist"
    status = page.inner_text("#thanks-status")
    assert re.fullmatch(
        r"The event is full, so you do not have a seat yet\. You are on the waitlist, at position [0-9]+\.", status
    )
    assert address in page.inner_text("#thanks-email")
    _no_sideways_scroll(page)
    screenshot(page, f"thanks-waitlist-{width}.png")


# ------------------------------------------------------------------ emails


def _post_json(live, event_id: str, address: str, **fields) -> dict:
    body = {"name": fields.pop("name", "Anna de Vries"), "email": address, "consent": True, **fields}
    request = urllib.request.Request(
        f"{live.url}/events/{event_id}/registrations", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def _wait_for_email(live, address: str, timeout: float = 60) -> email.message.EmailMessage:
    """The outbox's email to ``address`` (the local service writes it within a second or so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(Path(live.outbox).glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in str(message["To"]):
                return message
        time.sleep(0.2)
    raise AssertionError(f"no email to {address} in {live.outbox} after {timeout} s:\n{live.log()[-3000:]}")


@pytest.fixture(scope="module")
def emails(live) -> dict[str, email.message.EmailMessage]:
    """One email of each kind: the seed's confirmation (branded, Dutch) and a waitlist email (neutral, English)."""
    confirmed = _address("mail-confirmed")
    _post_json(live, SEED_EVENT_ID, confirmed, name="Anna de Vries", language="nl", organisation="Wilde Ganzen",
               role="campaigner")
    for _ in range(2):
        _post_json(live, DEMO, _address("mail-filler"), language="en")
    waitlisted = _address("mail-waitlisted")
    answer = _post_json(live, DEMO, waitlisted, name="Ben Jansen", language="en")
    assert answer["status"] == "waitlisted"
    return {"confirmed": _wait_for_email(live, confirmed), "waitlisted": _wait_for_email(live, waitlisted)}


@pytest.mark.parametrize("kind", ["confirmed", "waitlisted"])
def test_email(live, browser, emails, kind):
    message = emails[kind]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    # links are buttons or short texts in HTML; the text part keeps them whole
    assert not re.search(r">\s*https?://", html), "a raw URL shown as link text"
    assert re.search(r"/registrations/[A-Za-z0-9_-]{22}\?token=", text)
    for width in WIDTHS:
        context = _context(browser, width)
        page = context.new_page()
        page.set_content(html, wait_until="load")
        _no_sideways_scroll(page)
        screenshot(page, f"email-{kind}-{width}.png")
        if kind == "confirmed":
            assert page.locator("a[href='https://www.partos.nl/'] img").get_attribute("alt") == "Partos"
            assert page.evaluate("document.querySelector('img').naturalWidth") > 0  # the logo loads from the service
            assert page.inner_text("body").count("Toevoegen aan") == 2
        context.close()


# ------------------------------------------------------------------ accessibility


def test_thank_you_page_and_emails_have_no_serious_accessibility_violations(live, axe_page, emails):
    from tests.browser.test_browser import _serious_violations

    answer = _post_json(live, SEED_EVENT_ID, _address("axe"), organisation="Wilde Ganzen", role="lobbyist")
    axe_page.goto(answer["thanks_url"])
    assert axe_page.inner_text("h1") == "Je bent ingeschreven"
    assert _serious_violations(axe_page) == []
    for kind, message in emails.items():
        axe_page.set_content(message.get_body(("html",)).get_content(), wait_until="load")
        assert _serious_violations(axe_page) == [], kind
