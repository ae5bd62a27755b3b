"""Branding per event (logo, accent colour, site link) and what the pages say about seats.

The model refuses what it must (low-contrast accents, with the ratio; non-https links), the pages
carry the look without inline styles and with a CSP that admits only the logo's host, and the
JSON of ``GET /events/{id}`` hides what the page hides.
"""

from __future__ import annotations

import json
import re

import pytest
from coloraide import Color
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import colours, store
from chalicelib.events import EventFileError, load_event_file, parse_event
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID

SEED = EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"


def _event(**overrides) -> dict:
    event = {
        "id": "branded-workshop", "languages": ["en", "nl"],
        "title": {"en": "Branded workshop", "nl": "Workshop met huisstijl"},
        "description": {"en": "A workshop.", "nl": "Een workshop."}, "timezone": "Europe/Amsterdam",
        "starts_at": "2023-06-12T10:00:00", "ends_at": "2023-06-12T12:00:00",
        "location": {"name": "Partos", "address": "Ellermanstraat 18b", "city": "Amsterdam", "country": "NL"},
        "organiser": {"name": "Partos", "email": "events@partos.example.org"},
        "privacy_url": "https://www.partos.nl/privacy/", "capacity": 10, "waitlist": True,
    }
    event.update(overrides)
    return event


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize(
    ("colour", "ratio"), [("#ffffff", 1.0), ("#000000", 21.0), ("#767676", 4.54), ("#777777", 4.48)]
)
def test_contrast_ratio_matches_wcag_figures(colour, ratio):
    assert colours.contrast_ratio(colour, "#fff") == pytest.approx(ratio, abs=0.005)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFFFF))
def test_contrast_ratio_agrees_with_coloraide(value):
    colour = f"#{value:06x}"
    assert colours.contrast_ratio(colour, "#ffffff") == pytest.approx(
        Color(colour).contrast(Color("white"), method="wcag21"), rel=1e-3)


def test_seed_has_a_partos_style_accent_logo_and_site():
    event = load_event_file(SEED)
    assert event.branding.accent_colour == "#24306b"
    assert colours.contrast_ratio("#24306b", "#ffffff") > 12
    assert event.branding.logo_file == "partos-placeholder.svg"
    assert str(event.branding.website) == "https://www.partos.nl/"
    assert event.show_seats == "few" and event.few_threshold == 5


@pytest.mark.parametrize(
    ("colour", "shown"), [("#f9b233", "1.83"), ("#777777", "4.47"), ("#0b5cad", None), ("#767676", None)]
)
def test_accent_below_aa_contrast_is_refused_with_the_ratio(colour, shown):
    data = _event(branding={"accent_colour": colour})
    if shown is None:
        assert parse_event(data).branding.accent_colour == colour
        return
    with pytest.raises(EventFileError) as refused:
        parse_event(data, "events/branded-workshop.yaml")
    assert str(refused.value) == (
        f"events/branded-workshop.yaml: branding.accent_colour: Value error, accent_colour {colour} has a contrast "
        f"ratio of {shown}:1 against white; WCAG 2.2 AA asks for at least 4.5:1 for text (choose a darker shade)"
    )


@pytest.mark.parametrize("colour", ["navy", "#12345", "#1234567", "rgb(0,0,0)", "#24306b;}", "#GGGGGG", "#24306b80"])
def test_accent_that_is_not_a_hex_colour_is_refused(colour):
    with pytest.raises(EventFileError, match=r"branding.accent_colour: .*is not a hex colour"):
        parse_event(_event(branding={"accent_colour": colour}))


def test_short_hex_is_normalised():
    assert parse_event(_event(branding={"accent_colour": "#03A"})).branding.accent_colour == "#0033aa"


@pytest.mark.parametrize("logo", [
    "http://www.partos.nl/logo.png", "https://user:pw@www.partos.nl/logo.png", "javascript:alert(1)",
    "assets/../app.py", "assets/logo.png", "/etc/passwd", "data:image/svg+xml,<svg/>", "https://",
])
def test_logo_must_be_https_or_a_shipped_svg(logo):
    with pytest.raises(EventFileError, match=r"branding.logo"):
        parse_event(_event(branding={"logo": logo}))


def test_logo_url_names_its_origin_for_the_csp():
    branding = parse_event(_event(branding={"logo": "https://cdn.partos.nl:8443/img/logo.png"})).branding
    assert branding.logo_origin == "https://cdn.partos.nl:8443"
    assert parse_event(_event(branding={"logo": "https://www.partos.nl/logo.png"})).branding.logo_origin == "https://www.partos.nl"


def test_website_must_be_https():
    with pytest.raises(EventFileError, match=r"branding.website: Value error, website must be an https URL"):
        parse_event(_event(branding={"website": "http://www.partos.nl/"}))


def test_a_shipped_logo_must_exist_beside_the_event_file(tmp_path):
    (tmp_path / "branded-workshop.yaml").write_text(json.dumps(_event(branding={"logo": "assets/missing.svg"})))
    with pytest.raises(EventFileError, match=r"branding.logo: no file .*assets/missing.svg"):
        load_event_file(tmp_path / "branded-workshop.yaml")


def test_show_seats_takes_three_values():
    with pytest.raises(EventFileError, match="show_seats"):
        parse_event(_event(show_seats="some"))


# ------------------------------------------------------------------ pages and routes


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


def test_branded_form_links_the_accent_stylesheet_and_logo_without_inline_style(client, seed_event):
    response = client.http.get(f"/events/{SEED_EVENT_ID}/register")
    html = response.body.decode()
    assert '<link rel="stylesheet" href="../../static/accent/24306b.css">' in html
    assert re.search(r'<a class="brand-link" href="https://www.partos.nl/">\s*<img class="brand-logo" '
                     r'src="../../static/assets/partos-placeholder.svg" alt="Partos, naar de website">', html)
    assert " style=" not in html and "<style" not in html
    assert _csp(response)["img-src"] == "'self'" and _csp(response)["style-src"] == "'self'"


def test_logo_url_host_and_nothing_else_joins_img_src(client, aws):
    store.put_event(
        parse_event(_event(branding={"logo": "https://cdn.partos.nl/logo.png", "accent_colour": "#24306b"}))
    )
    for path in ("/events/branded-workshop/register", "/events/branded-workshop/thanks"):
        response = client.http.get(path)
        assert _csp(response)["img-src"] == "'self' https://cdn.partos.nl", path
        assert 'src="https://cdn.partos.nl/logo.png"' in response.body.decode()
    page = client.http.get("/events/branded-workshop", headers={"Accept": "text/html"})
    assert _csp(page)["img-src"] == "'self' https://cdn.partos.nl"


def test_event_without_branding_keeps_the_neutral_look(client, aws):
    store.put_event(parse_event(_event()))
    response = client.http.get("/events/branded-workshop/register")
    html = response.body.decode()
    assert "<header" not in html and "/static/accent/" not in html
    assert _csp(response)["img-src"] == "'self'"


def test_accent_stylesheet_route(client, aws):
    css = client.http.get("/static/accent/24306b.css")
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "--accent: #24306b;" in css.body.decode() and "--accent-tint: #e9eaf0;" in css.body.decode()
    assert "immutable" in css.headers["Cache-Control"]
    for bad in ("f9b233.css", "24306B.css", "24306b.js", "24306b", "red.css"):
        assert client.http.get(f"/static/accent/{bad}").status_code == 404, bad


def test_shipped_logo_is_served_as_a_sandboxed_svg(client, aws):
    logo = client.http.get("/static/assets/partos-placeholder.svg")
    assert logo.status_code == 200 and logo.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert logo.body.decode().startswith("<svg")
    assert logo.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    for bad in ("..%2Fpartos-engagement-mobilisatie-2023.yaml", "missing.svg", ".hidden.svg", "partos-placeholder.SVG"):
        assert client.http.get(f"/static/assets/{bad}").status_code == 404, bad


# ------------------------------------------------------------------ seats


def _fill_seats(event_id: str, taken: int) -> None:
    from chalicelib import registrations

    for i in range(taken):
        registrations.register(event_id, {"name": f"Person {i}", "email": f"p{i}@example.org", "language": "en",
                                          "consent": True}, "en")


@pytest.mark.parametrize(("show", "taken", "page_text", "json_seats"), [
    ("exact", 3, '<dd id="seats-left">7</dd>', {"seats_left": 7, "seats": "available"}),
    ("few", 3, None, {"seats_left": None, "seats": "available"}),
    ("few", 5, '<dd id="seats-left">Only a few seats left</dd>', {"seats_left": None, "seats": "few"}),
    ("none", 9, None, {"seats_left": None, "seats": "available"}),
    ("none", 10, "The event is full; you will join the waitlist.", {"seats_left": None, "seats": "full"}),
    ("exact", 10, '<dd id="seats-left">0</dd>', {"seats_left": 0, "seats": "full"}),
])
def test_seats_shown_per_setting_on_the_page_and_in_json(client, aws, show, taken, page_text, json_seats):
    store.put_event(parse_event(_event(show_seats=show, few_threshold=5)))
    _fill_seats("branded-workshop", taken)
    html = client.http.get("/events/branded-workshop/register?lang=en").body.decode()
    if page_text:
        assert page_text in html
    if show != "exact":
        assert 'id="seats-left">' + str(10 - taken) not in html
    body = json.loads(client.http.get("/events/branded-workshop").body)
    assert {k: body["registration"][k] for k in ("seats_left", "seats")} == json_seats
    assert ("capacity" in body) == (show == "exact")


# ------------------------------------------------------------------ the event page


def test_event_page_for_browsers_json_for_others(client, seed_event):
    page = client.http.get(
        f"/events/{SEED_EVENT_ID}?lang=en", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    assert "<form" not in html
    assert f'href="../events/{SEED_EVENT_ID}/register?lang=en">Register now</a>' in html
    assert '<a href="https://www.partos.nl/">Partos website</a>' in html
    assert "Accept" in page.headers["Vary"]
    for accept in ("application/json", "*/*", None):
        answer = client.http.get(f"/events/{SEED_EVENT_ID}", headers={"Accept": accept} if accept else {})
        assert answer.headers["Content-Type"] == "application/json", accept
        assert "Accept" in answer.headers["Vary"]
