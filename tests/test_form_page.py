"""The registration page as HTML: accessible markup, languages, states, re-render with errors."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from tests.conftest import SEED_EVENT_ID

PAGE = f"/events/{SEED_EVENT_ID}/register"


def _page(client, query: str = "", headers=None) -> str:
    response = client.http.get(PAGE + query, headers=headers or {})
    assert response.status_code == 200
    return response.body.decode()


def test_page_shows_date_time_zone_place_and_no_seat_figure(client, seed_event):
    html = _page(client)
    assert '<html lang="nl">' in html
    assert "maandag 5 juni 2023, 14:00-17:00 CEST" in html
    assert "Partos, Ellermanstraat 18b, Amsterdam" in html
    # show_seats: few (the 40 seats are an assumption): no figure while more than 5 are left
    assert 'id="seats-left"' not in html and ">40<" not in html


def test_english_page_by_query_and_by_accept_language(client, seed_event):
    for html in (_page(client, "?lang=en"), _page(client, headers={"Accept-Language": "en-GB,en;q=0.9"})):
        assert '<html lang="en">' in html
        assert "Monday, June 5, 2023, 14:00-17:00 CEST" in html
        assert ">Register</button>" in html


def test_language_switch_points_at_the_form_page(client, seed_event):
    html = _page(client, "?lang=en")
    assert f'href="../../events/{SEED_EVENT_ID}/register?lang=nl" lang="nl" hreflang="nl"' in html
    assert '<span aria-current="page" lang="en">English</span>' in html


def test_every_input_has_a_label_and_choices_sit_in_fieldsets(client, seed_event):
    html = _page(client, "?lang=en")
    for input_id in re.findall(r'<(?:input|textarea)[^>]* id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert re.search(r'<fieldset class="field" id="field-role"[^>]*>\s*<legend>Your role', html)
    assert re.search(r'<fieldset class="field" id="field-language"[^>]*>\s*<legend>', html)
    assert 'autocomplete="name"' in html and 'autocomplete="email"' in html and 'autocomplete="organization"' in html


def test_refused_form_post_ties_errors_to_fields_and_focuses_the_first(client, seed_event):
    body = urlencode({"name": "Anna", "email": "not-an-address", "language": "en", "organisation": "",
                      "form_started_at": str(int(time.time()) - 60)})
    response = client.http.post(
        f"/events/{SEED_EVENT_ID}/registrations?lang=en",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=body,
    )
    assert response.status_code == 422
    html = response.body.decode()
    assert 'id="error-email"' in html
    assert re.search(r'<input id="field-email"[^>]*aria-describedby="error-email" aria-invalid="true" autofocus>', html)
    assert html.count(" autofocus") == 1  # the first error in page order: email comes before consent
    assert re.search(r'<fieldset class="field" id="field-role" aria-describedby="error-role" aria-invalid="true"', html)
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    order = re.findall(r'href="#field-([a-z_]+)"', summary)
    assert order == ["email", "organisation", "role", "consent"]
    assert 'value="Anna"' in html  # what was typed is kept


def test_closed_event_shows_no_form(client, aws):
    from chalicelib import store
    from chalicelib.events import parse_event

    event = {
        "id": "closed-workshop", "languages": ["en", "nl"], "title": {"en": "Closed workshop"},
        "description": {"en": "Too late."}, "timezone": "Europe/Amsterdam",
        "starts_at": "2023-06-12T10:00:00", "ends_at": "2023-06-12T12:00:00",
        "registration_closes_at": "2023-05-01T00:00:00",
        "location": {"name": "Partos", "address": "Ellermanstraat 18b", "city": "Amsterdam", "country": "NL"},
        "organiser": {"name": "Partos", "email": "events@partos.example.org"},
        "privacy_url": "https://www.partos.nl/privacy/",
    }
    store.put_event(parse_event(event))
    html = client.http.get("/events/closed-workshop/register").body.decode()
    assert 'id="registration-state"' in html and "Registration for this event is closed." in html
    assert "<form" not in html


def test_static_files_are_served_with_types(client, aws):
    css = client.http.get("/static/form.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    js = client.http.get("/static/form.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert client.http.get("/static/..%2Fapp.py").status_code == 404
