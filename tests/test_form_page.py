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
        "id": "closed-workshop", "languages": ["en", "nl"],
        "title": {"en": "Closed workshop", "nl": "Gesloten workshop"},
        "description": {"en": "Too late.", "nl": "Te laat."}, "timezone": "Europe/Amsterdam",
        "starts_at": "2023-06-12T10:00:00", "ends_at": "2023-06-12T12:00:00",
        "registration_closes_at": "2023-05-01T00:00:00",
        "location": {"name": "Partos", "address": "Ellermanstraat 18b", "city": "Amsterdam", "country": "NL"},
        "organiser": {"name": "Partos", "email": "events@partos.example.org"},
        "privacy_url": "https://www.partos.nl/privacy/",
    }
    store.put_event(parse_event(event))
    html = client.http.get("/events/closed-workshop/register").body.decode()
    assert 'id="registration-state"' in html and "Registration for this event is closed." in html
    assert 'id="registration-form"' not in html and "/registrations?" not in html  # no way to register


def test_static_files_are_served_with_types(client, aws):
    css = client.http.get("/static/form.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    js = client.http.get("/static/form.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert client.http.get("/static/..%2Fapp.py").status_code == 404


def _post_form(client, body: str, event_id: str = SEED_EVENT_ID):
    return client.http.post(f"/events/{event_id}/registrations?lang=en",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body.encode("ascii"))


def _summary_items(html: str) -> list[str]:
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    return re.findall(r"<li>(.*?)</li>", summary, re.S)


VALID = "name=Anna&email=anna%40example.org&language=en&organisation=Cordaid&role=lobbyist&consent=true"


def test_unknown_fields_are_one_error_naming_a_few_and_how_many(client, seed_event):
    """A 16 KiB post of 2,000 made-up fields listed 2,000 errors (a page of over 100 KB), each linked to
    an anchor the page does not have (README, "HTTP API")."""
    body = VALID + "".join(f"&f{n}=1" for n in range(2000))
    assert len(body) <= 16 * 1024
    response = _post_form(client, body)
    html = response.body.decode()
    assert response.status_code == 422
    assert _summary_items(html) == [
        "These 2,000 fields are not part of the form: f0, f1, f2, f3, f4, and 1,995 more."]
    assert "<title>(1) " in html and 'href="#field-f' not in html
    assert len(html) < len(_page(client, "?lang=en")) + 2000


def test_the_error_summary_links_only_to_fields_the_page_has(client, aws):
    """``#field-needs`` on an event without that question, ``#field-%%%``, ``#field-language`` on a page
    whose language is a hidden field: links to nowhere. A field of the page is linked; others are listed."""
    from chalicelib import store
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR

    seed = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    event = seed.model_copy(update={"id": "one-language", "languages": ("en",), "default_language": "en",
                                    "questions": tuple(q for q in seed.questions if q.id != "needs")})
    store.put_event(event)
    body = VALID.replace("language=en", "language=nl").replace("email=anna%40example.org", "email=anna")
    response = _post_form(client, body + "&needs=veg&%25%25%25=1", event_id="one-language")
    html = response.body.decode()
    assert response.status_code == 422
    assert _summary_items(html) == [
        '<a href="#field-email">Email address: Enter a valid email address, like name@example.org.</a>',
        "Language: Choose one of the options.",
        "These 2 fields are not part of the form: needs and %%%.",
    ]
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{anchor}"' in html, anchor


def test_json_unknown_members_are_one_error_too(client, seed_event):
    import json

    from tests.conftest import partos_registration, post_json

    answer = post_json(client, {**partos_registration(language="nl"), **{f"m{n}": n for n in range(1000)}})
    assert answer.status_code == 422
    assert json.loads(answer.body)["errors"] == [{
        "field": "m0", "code": "unknown_field",
        "message": "Deze 1.000 velden horen niet bij het formulier: m0, m1, m2, m3, m4 en 995 andere."}]
    one = post_json(client, partos_registration(language="en", shoe_size=44))
    assert json.loads(one.body)["errors"] == [
        {"field": "shoe_size", "code": "unknown_field", "message": "This field is not part of the form."}]
