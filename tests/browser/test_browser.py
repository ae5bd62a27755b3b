"""The registration form and the API in headless Chromium, against the real local service.

Covered: the Partos form with JavaScript on (JSON by fetch) and off (a plain form
post, 303), an invalid email shown inline and focused, the English page, the
closed page, a page on another origin posting JSON with CORS, and axe-core's
accessibility check. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.browser.conftest import screenshot, staff_event_counts
from tests.conftest import SEED_EVENT_ID

pytestmark = pytest.mark.xdist_group("browser")

FORM = f"/events/{SEED_EVENT_ID}/register"


def _address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.org"


def _fill(page, email: str, name: str = "Anna de Vries") -> None:
    page.fill("#field-name", name)
    page.fill("#field-email", email)
    page.fill("#field-organisation", "Wilde Ganzen")
    page.check("input[name=role][value=campaigner]")
    page.check("#field-partos_member")
    page.fill("#field-needs", "Vegetarisch")
    page.check("#field-consent")


def _registration_ids(live) -> int:
    """How many registrations the service holds for the seed event, as the staff tool counts them.

    Not from ``GET /events/{id}``: the seed shows no seat figure (``show_seats: few``).
    """
    counts = staff_event_counts(live, SEED_EVENT_ID)
    return counts["confirmed"] + counts["waitlisted"]


def test_form_with_javascript_posts_json_and_lands_on_thanks(live, page):
    page.goto(live.url + FORM)
    assert page.locator("html").get_attribute("lang") == "nl"
    assert "maandag 5 juni 2023, 14:00-17:00 CEST" in page.inner_text("#event-when")
    _fill(page, _address("js"))
    screenshot(page, "form-nl.png")
    # Record the button's disabled state across the navigation (sessionStorage survives it).
    page.evaluate(
        """() => {
            const button = document.querySelector('#registration-form button[type=submit]');
            new MutationObserver(() => sessionStorage.setItem('disabledSeen',
                (sessionStorage.getItem('disabledSeen') || '') + (button.disabled ? 'D' : 'e')))
              .observe(button, {attributes: true});
        }"""
    )
    before = _registration_ids(live)
    with page.expect_request(lambda r: r.method == "POST" and "/registrations" in r.url) as posted:
        page.click("#form-submit")
    request = posted.value
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.post_data)
    assert body["consent"] is True and body["partos_member"] is True and isinstance(body["form_started_at"], int)
    assert "website" not in body  # the empty honeypot is left out
    page.wait_for_url(re.compile(r"/thanks\?lang=nl&ref=[A-Za-z0-9_-]{22}\.[0-9]+\.[^&]+$"))
    assert page.inner_text("h1") == "Je bent ingeschreven"
    assert "D" in page.evaluate("sessionStorage.getItem('disabledSeen') || ''")
    screenshot(page, "thanks-nl.png")
    assert _registration_ids(live) == before + 1


def test_form_without_javascript_posts_the_form_and_gets_303(live, page_without_js):
    page = page_without_js
    page.goto(live.url + FORM)
    _fill(page, _address("nojs"))
    before = _registration_ids(live)
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.click("#form-submit")
    response = answered.value
    assert response.status == 303
    assert response.request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    page.wait_for_url(re.compile(r"/thanks\?lang=nl&ref=[A-Za-z0-9_-]{22}\.[0-9]+\.[^&]+$"))
    assert page.inner_text("h1") == "Je bent ingeschreven"
    assert _registration_ids(live) == before + 1


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_invalid_email_is_shown_at_the_field_and_focused(live, page, page_without_js, javascript):
    page = page if javascript else page_without_js
    page.goto(live.url + FORM)
    _fill(page, "anna@")
    page.click("#form-submit")
    error = page.locator("#error-email")
    error.wait_for()
    assert error.inner_text() == "Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl."
    email = page.locator("#field-email")
    assert email.get_attribute("aria-describedby") == "error-email"
    assert email.get_attribute("aria-invalid") == "true"
    page.wait_for_function("document.activeElement && document.activeElement.id === 'field-email'")
    assert page.locator("#error-summary").is_visible()
    assert email.input_value() == "anna@"  # what was typed is kept
    if javascript:
        assert page.locator("#form-submit").is_enabled()  # usable again after the answer
        screenshot(page, "form-error-nl.png")


def test_a_refused_start_time_is_shown_and_the_next_click_registers(live, page):
    """A start time the service refuses (here out of range; "too fast" alike) is named in the summary,
    and the script leaves it out of the next post, so the person's second click registers them."""
    page.goto(live.url + FORM)
    _fill(page, _address("start"))
    page.evaluate("document.querySelector('input[name=form_started_at]').value = '99999999999999'")
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.click("#form-submit")
    assert answered.value.status == 422
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "Dit getal valt buiten het toegestane bereik." in summary.inner_text()
    assert page.locator("input[name=form_started_at]").input_value() == ""
    before = _registration_ids(live)
    with page.expect_request(lambda r: r.method == "POST" and "/registrations" in r.url) as posted:
        page.click("#form-submit")
    assert "form_started_at" not in json.loads(posted.value.post_data)
    page.wait_for_url(re.compile(r"/thanks\?lang=nl&ref=[A-Za-z0-9_-]{22}\.[0-9]+\.[^&]+$"))
    assert _registration_ids(live) == before + 1


def test_english_page(live, page):
    page.goto(live.url + FORM + "?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("h1") == "Workshop Best Practices ‘Engagement and mobilisation’"
    assert "Monday, June 5, 2023, 14:00-17:00 CEST" in page.inner_text("#event-when")
    assert page.inner_text("#form-submit") == "Register"
    assert page.locator("label[for=field-email]").inner_text().startswith("Email address")
    screenshot(page, "form-en.png")
    page.click("nav.lang-switch a[hreflang=nl]")
    page.wait_for_url(re.compile(r"lang=nl$"))
    assert page.locator("html").get_attribute("lang") == "nl"


def test_english_page_by_browser_language(live, browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(live.url + FORM)
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()


def test_closed_event_page(live, page):
    page.goto(live.url + "/events/closed-workshop/register?lang=en")
    assert page.inner_text("#registration-state") == "Registration for this event is closed."
    assert page.locator("#registration-form").count() == 0
    assert page.locator("#lost-email summary").inner_text() == "Already registered and lost the email?"
    screenshot(page, "closed-en.png")


def test_page_on_another_origin_posts_json_with_cors(live, page, other_site):
    email = _address("site")
    page.goto(f"{other_site['allowed']}/index.html?api={live.url}&event={SEED_EVENT_ID}&email={email}")
    page.wait_for_function("document.getElementById('result').textContent !== 'waiting'")
    result = json.loads(page.inner_text("#result"))
    assert result["good"]["status"] == 201, result
    assert result["good"]["answer"]["status"] == "confirmed"
    assert result["good"]["location"].startswith(f"{live.url}/registrations/")  # exposed to the page
    assert result["bad"]["status"] == 422  # error answers carry the CORS headers too
    assert result["bad"]["answer"]["errors"][0]["message"].startswith("Enter a valid email address")


def test_page_on_an_origin_not_allowed_cannot_read_the_answer(live, page, other_site):
    page.goto(f"{other_site['refused']}/index.html?api={live.url}&event={SEED_EVENT_ID}&email={_address('refused')}")
    page.wait_for_function("document.getElementById('result').textContent !== 'waiting'")
    result = json.loads(page.inner_text("#result"))
    assert result["good"]["status"] == 0 and "Failed to fetch" in result["good"]["error"]


def _serious_violations(page) -> list[dict]:
    page.evaluate(page.axe_source)
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_form_page_has_no_serious_accessibility_violations(live, axe_page, lang):
    axe_page.goto(f"{live.url}{FORM}?lang={lang}")
    assert _serious_violations(axe_page) == []
    # and with errors shown inline
    axe_page.fill("#field-email", "anna@")
    axe_page.click("#form-submit")
    axe_page.locator("#error-email").wait_for()
    assert _serious_violations(axe_page) == []


def test_other_pages_have_no_serious_accessibility_violations(live, axe_page):
    for path in (
        f"/events/{SEED_EVENT_ID}/thanks?lang=nl",
        f"/events/{SEED_EVENT_ID}?lang=en",
        "/events/closed-workshop/register",
        "/events/demo-small-workshop",
    ):
        axe_page.goto(live.url + path)
        assert _serious_violations(axe_page) == [], path
