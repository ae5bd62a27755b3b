"""The API as browsers and other programs meet it: CORS, security and caching headers, 405s, OpenAPI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SEED_EVENT_ID, partos_registration, post_json

SITE = "https://www.partos.nl"
OTHER = "https://evil.example"


@pytest.fixture
def site_allowed(monkeypatch: pytest.MonkeyPatch, aws):
    """ALLOWED_ORIGINS with the organiser's site (the Client patches os.environ with the stage's vars)."""
    from chalicelib import settings

    original = settings.get_settings

    def patched():
        return settings.Settings(**{**original().__dict__, "allowed_origins": (SITE, "http://127.0.0.1:8000")})

    monkeypatch.setattr(settings, "get_settings", patched)
    monkeypatch.setattr("chalicelib.cors.get_settings", patched)


def _registrations_path(event_id: str = SEED_EVENT_ID) -> str:
    return f"/events/{event_id}/registrations"


# ------------------------------------------------------------------ CORS


def test_json_registration_from_allowed_origin_echoes_origin(client, seed_event, site_allowed):
    response = post_json(client, partos_registration(), headers={"Origin": SITE})
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in response.headers["Vary"]
    assert "Location" in response.headers["Access-Control-Expose-Headers"]


def test_problem_answers_carry_cors_headers_too(client, seed_event, site_allowed):
    response = post_json(client, partos_registration(email="not-an-address"), headers={"Origin": SITE})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    missing = client.http.get("/events/no-such-event", headers={"Origin": SITE})
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == SITE


def test_origin_not_on_the_list_gets_no_cors_headers(client, seed_event, site_allowed):
    response = post_json(client, partos_registration(), headers={"Origin": OTHER})
    assert response.status_code == 201  # the server answers; the browser hides it from the page
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"
    assert (
        "Access-Control-Allow-Origin"
        not in client.http.get(f"/events/{SEED_EVENT_ID}", headers={"Origin": "null"}).headers
    )


def test_local_stage_allow_list_comes_from_the_stage_config(client, seed_event):
    response = client.http.get(f"/events/{SEED_EVENT_ID}", headers={"Origin": "http://localhost:8000"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert "Access-Control-Allow-Origin" not in client.http.get(
        f"/events/{SEED_EVENT_ID}", headers={"Origin": SITE}
    ).headers


def test_preflight_from_allowed_origin(client, seed_event, site_allowed):
    response = client.http.request(
        "OPTIONS",
        _registrations_path(),
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_preflight_from_other_origin_or_for_other_method_is_refused(client, seed_event, site_allowed):
    for origin, method in ((OTHER, "POST"), (SITE, "DELETE")):
        response = client.http.request(
            "OPTIONS", _registrations_path(), headers={"Origin": origin, "Access-Control-Request-Method": method}
        )
        assert response.status_code == 204
        assert "Access-Control-Allow-Origin" not in response.headers
        assert response.headers["Allow"] == "POST, OPTIONS"


def test_allowed_origin_matches_exactly():
    from chalicelib.cors import allowed_origin

    allowed = ("https://www.partos.nl", "http://127.0.0.1:8000")
    assert allowed_origin("https://www.partos.nl", allowed) == "https://www.partos.nl"
    assert allowed_origin("https://www.partos.nl/", allowed) == "https://www.partos.nl"
    for origin in ("http://www.partos.nl", "https://www.partos.nl.evil.example", "https://partos.nl",
                   "http://127.0.0.1:8001", "null", "", None, "*"):
        assert allowed_origin(origin, allowed) is None
    assert allowed_origin("*", ("*",)) is None


def test_existing_vary_is_extended():
    from chalicelib import cors

    headers = {"Vary": "Accept-Language"}
    cors.add_to(headers, {})
    assert headers == {"Vary": "Accept-Language, Origin"}


# ------------------------------------------------------------------ methods and headers


def test_unsupported_method_is_a_problem_with_allow(client, seed_event):
    response = client.http.request("DELETE", _registrations_path())
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "POST" in response.headers["Allow"]
    body = json.loads(response.body)
    assert body["type"] == "/problems/method-not-allowed" and body["status"] == 405


def test_form_page_security_headers(client, seed_event):
    response = client.http.get(f"/events/{SEED_EVENT_ID}/register")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.body.decode()
    assert " style=" not in html and "<style" not in html
    assert "<script>" not in html and " on" + "submit=" not in html and " onclick=" not in html


def test_frame_ancestors_come_from_the_setting(client, seed_event, monkeypatch):
    from chalicelib import settings

    original = settings.get_settings
    monkeypatch.setattr(
        "chalicelib.routes.answers.get_settings",  # the security headers are made there (app.py before)
        lambda: settings.Settings(**{**original().__dict__, "frame_ancestors": "'self' https://www.partos.nl"}),
    )
    csp = client.http.get(f"/events/{SEED_EVENT_ID}/register").headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors 'self' https://www.partos.nl")


# ------------------------------------------------------------------ OpenAPI


def test_openapi_document_is_valid_openapi_31(client, seed_event):
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import OpenAPIV31SpecValidator

    from chalicelib import openapi

    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    doc = json.loads(response.body)
    OpenAPIV31SpecValidator(doc).validate()
    assert doc["openapi"] == openapi.OPENAPI_VERSION
    name = "Registration_partos_engagement_mobilisatie_2023"
    schema = doc["components"]["schemas"][name]
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "email", "consent", "organisation", "role"}
    assert schema["properties"]["role"]["enum"] == ["campaigner", "mobiliser", "lobbyist", "communications", "other"]
    concrete = doc["paths"][f"/events/{SEED_EVENT_ID}/registrations"]["post"]
    assert concrete["requestBody"]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
    assert "Problem" in doc["components"]["schemas"]
    assert doc["servers"] == [{"url": "http://127.0.0.1:8000"}]


def test_registration_schema_agrees_with_the_validator(seed_event):
    """Bodies the schema refuses are refused by the service, and a valid one passes both."""
    from jsonschema import Draft202012Validator

    from chalicelib import openapi
    from chalicelib.validation import RegistrationInvalid, validate_registration

    validator = Draft202012Validator(openapi.registration_schema(seed_event))
    good = partos_registration()
    assert validator.is_valid(good)
    validate_registration(seed_event, good, "en")
    for bad in (
        partos_registration(name="   "),
        partos_registration(name="x" * 201),
        partos_registration(name="a\u0007b"),
        partos_registration(consent=False),
        partos_registration(role="astronaut"),
        partos_registration(organisation=None),
        partos_registration(needs="x" * 1001),
        {**partos_registration(), "extra": 1},
    ):
        assert not validator.is_valid(bad), bad
        with pytest.raises(RegistrationInvalid):
            validate_registration(seed_event, bad, "en")


def test_every_route_is_documented(client, seed_event):
    from app import app

    doc = json.loads(client.http.get("/openapi.json").body)
    for path, methods in app.routes.items():
        assert path in doc["paths"], path
        for method in methods:
            assert method.lower() in doc["paths"][path], (method, path)
    for path, operations in doc["paths"].items():
        documented = {m.upper() for m in operations if m != "parameters"}
        routed = set(app.routes.get(path, {})) or set(app.routes.get("/events/{event_id}/registrations", {}))
        assert documented <= routed, (path, documented - routed)


def test_public_pages_and_files_answer_head_as_get_without_a_body(client, seed_event):
    """RFC 9110 section 9.3.2; README "HTTP API": uptime monitors and link checkers ask with HEAD."""
    for path, headers in (
        (f"/events/{SEED_EVENT_ID}/register", {}),
        (f"/events/{SEED_EVENT_ID}", {}),
        (f"/events/{SEED_EVENT_ID}", {"Accept": "text/html"}),
        ("/static/form.js", {}),
        ("/openapi.json", {}),
        ("/events/no-such-event/register", {}),
    ):
        get = client.http.get(path, headers=headers)
        head = client.http.request("HEAD", path, headers=headers)
        assert (head.status_code, head.body) == (get.status_code, b""), path
        assert get.body, path
        assert head.headers["Content-Length"] == str(len(get.body)), path  # RFC 9110 8.6: the GET's, not 0
        for name in ("Content-Type", "Cache-Control", "Content-Security-Policy", "Vary"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)
    assert client.http.request("HEAD", "/events/no-such-event/register").status_code == 404
    # Pages that show a registration, and the write routes, take no HEAD.
    for path in (f"/events/{SEED_EVENT_ID}/thanks", _registrations_path(), "/registrations/x/cancel"):
        refused = client.http.request("HEAD", path)
        assert (refused.status_code, refused.body) == (405, b""), path
        assert "HEAD" not in refused.headers["Allow"], path


def test_form_errors_come_in_the_page_language(client, seed_event):
    """An English page whose visitor chose Dutch emails still gets English messages."""
    response = client.http.post(
        _registrations_path() + "?lang=en",
        headers={"Content-Type": "application/json"},
        body=json.dumps(partos_registration(email="nope", language="nl")),
    )
    assert response.status_code == 422
    assert json.loads(response.body)["errors"][0]["message"].startswith("Enter a valid email address")


# ------------------------------------------------------------------ caching


def test_every_answer_that_shows_personal_data_is_no_store(client, seed_event):
    from chalicelib import tokens

    created = post_json(client, partos_registration())
    registration_id = json.loads(created.body)["registration_id"]
    token = tokens.make_token(registration_id, tokens.VIEW)
    cancel_token = tokens.make_token(registration_id, tokens.CANCEL)
    cancel_url = f"/registrations/{registration_id}/cancel"
    answers = {
        "201": created,
        "409 repeat": post_json(client, partos_registration()),
        "422": post_json(client, partos_registration(email="nope")),
        "registration JSON": client.http.get(f"/registrations/{registration_id}?token={token}"),
        "registration JSON, Accept": client.http.get(
            f"/registrations/{registration_id}?token={token}", headers={"Accept": "application/json"}
        ),
        "registration HTML": client.http.get(
            f"/registrations/{registration_id}?token={token}", headers={"Accept": "text/html"}
        ),
        "registration 403": client.http.get(f"/registrations/{registration_id}?token=k1.bad"),
        "registration 404": client.http.get(f"/registrations/nope?token={tokens.make_token('nope', tokens.VIEW)}"),
        "cancel page": client.http.get(f"{cancel_url}?token={cancel_token}"),
        "cancel 403": client.http.post(
            cancel_url, headers={"Content-Type": "application/json"}, body=b'{"token": "x"}'
        ),
        "cancel 400": client.http.post(cancel_url, headers={"Content-Type": "application/json"}, body=b"{"),
        "cancel JSON": client.http.post(
            cancel_url, headers={"Content-Type": "application/json"}, body=json.dumps({"token": cancel_token})
        ),
        "form 303": client.http.post(
            _registrations_path(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body="name=Bo&email=bo%40example.org&consent=on&organisation=X&role=campaigner",
        ),
        "event JSON": client.http.get(f"/events/{SEED_EVENT_ID}"),
        "405": client.http.request("DELETE", _registrations_path()),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "201": 201, "409 repeat": 409, "422": 422, "registration JSON": 200, "registration JSON, Accept": 200,
        "registration HTML": 200, "registration 403": 403, "registration 404": 404, "cancel page": 200,
        "cancel 403": 403, "cancel 400": 400, "cancel JSON": 200, "form 303": 303, "event JSON": 200, "405": 405,
    }
    assert answers["registration JSON"].headers["Content-Type"] == "application/json"
    assert {name: answer.headers.get("Cache-Control") for name, answer in answers.items()} == dict.fromkeys(
        answers, "no-store"
    )


def test_static_files_may_be_cached(client):
    answer = client.http.get("/static/form.js")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "public, max-age=300"


def test_reads_and_preflights_ignore_a_request_content_type(client, seed_event):
    """A GET, HEAD or OPTIONS with a Content-Type other than JSON got Chalice's raw 415
    (``{"Code": "UnsupportedMediaType"}``, no problem+json, no CORS on a preflight): a schema fuzzer's find.
    Only the write routes read a body, and they say which types they take (415 problem+json)."""
    odd = {"Content-Type": "text/plain"}
    for method, path in (("GET", f"/events/{SEED_EVENT_ID}"), ("HEAD", f"/events/{SEED_EVENT_ID}/register"),
                         ("GET", "/openapi.json"), ("GET", "/static/form.css")):
        answer = client.http.request(method, path, headers=odd)
        assert answer.status_code == 200, (method, path, answer.body[:200])
    preflight = client.http.request("OPTIONS", _registrations_path(), headers={
        **odd, "Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    refused = client.http.post(_registrations_path(), headers=odd, body="x")
    assert refused.status_code == 415 and refused.headers["Content-Type"] == "application/problem+json"


def test_answers_negotiated_on_accept_say_so_and_preflights_are_not_stored(client, seed_event):
    """RFC 9110 12.5.5: a cache must not give the JSON answer to a browser asking for the page; the errors
    of those routes too. README "HTTP API": every answer carries Cache-Control: no-store, preflights too."""
    for path in (f"/events/{SEED_EVENT_ID}", "/events/no-such-event", "/registrations/x?token=bad",
                 "/registrations/x/cancel?token=bad"):
        for accept in ("application/json", "text/html"):
            answer = client.http.get(path, headers={"Accept": accept})
            parts = [p.strip() for p in answer.headers["Vary"].split(",")]
            assert "Accept" in parts and "Origin" in parts, (path, accept, answer.headers["Vary"])
    assert "Accept" not in client.http.get("/openapi.json").headers["Vary"]
    preflight = client.http.request("OPTIONS", _registrations_path(), headers={
        "Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Cache-Control"] == "no-store"


def test_the_openapi_document_has_the_answers_every_route_may_give(client, seed_event):
    """A schema fuzzer found the document promising a JSON ``Busy`` 503 that never comes (the service
    answers problem+json, or a page to a form post), no 503 on reads, no 405 or 500 anywhere, and a
    textarea without the control-character rule the service enforces."""
    import re

    doc = json.loads(client.http.get("/openapi.json").body)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if method == "options":
                continue
            responses = operation["responses"]
            assert {"405", "500", "503"} <= set(responses), (path, method)
            assert responses["405"]["headers"]["Allow"]["required"] is True
            assert responses["503"]["headers"]["Retry-After"]["required"] is True, (path, method)
            if method != "head":
                assert "application/problem+json" in responses["503"]["content"], (path, method)
    register = doc["paths"]["/events/{event_id}/registrations"]["post"]["responses"]["503"]["content"]
    assert set(register) == {"application/problem+json", "text/html"}
    assert "Busy" not in doc["components"]["schemas"]
    needs = doc["components"]["schemas"][next(n for n in doc["components"]["schemas"] if "partos" in n.lower())]
    pattern = json.dumps(needs)  # the textarea question's rules, wherever they sit in the schema
    [multiline] = {p for p in re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', pattern) if "\\\\r\\\\n" in p}
    rule = re.compile(json.loads(f'"{multiline}"'))
    assert rule.match("line one\r\nline two\tend") and not rule.match("a\u0002") and not rule.match("a\u0090")


# ------------------------------------------------------------------ form posts from other sites (CSRF)

FORM_BODY = ("name=Anna+de+Vries&email=anna%40example.org&language=nl&consent=true&organisation=Cordaid"
             "&role=lobbyist")


def _form_post(client, headers):
    return client.http.post(f"{_registrations_path()}?lang=en", body=FORM_BODY.encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded", **headers})


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Origin": OTHER},
    {"Sec-Fetch-Site": "cross-site", "Origin": "null"},  # a page with Referrer-Policy: no-referrer
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://events.partos.nl"},  # a sister site not on the list
])
def test_a_form_post_from_a_page_of_another_site_is_refused_with_a_page(client, seed_event, site_allowed, headers):
    from chalicelib import store

    answer = _form_post(client, headers)
    page = answer.body.decode()
    assert answer.status_code == 403 and answer.headers["Content-Type"].startswith("text/html")
    assert "This form was sent from a site that may not register people for this event." in page
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert list(store.iter_registrations(SEED_EVENT_ID)) == []


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin", "Origin": "null"},  # our own form (no-referrer: Origin null)
    {"Sec-Fetch-Site": "cross-site", "Origin": SITE},  # the organiser's own HTML form, on the allow-list
    {"Sec-Fetch-Site": "none"},  # typed, a bookmark
    {},  # a browser before Fetch Metadata, curl, a server
])
def test_a_form_post_from_our_page_the_organisers_site_or_no_browser_registers(
    client, seed_event, site_allowed, headers
):
    answer = _form_post(client, headers)
    assert answer.status_code == 303, answer.body
    assert answer.headers["Location"].startswith("thanks?lang=en&ref=")


def test_a_json_post_from_an_allowed_site_registers_and_one_from_another_site_is_refused(
    client, seed_event, site_allowed
):
    """A JSON post with its type needs a CORS preflight; a Blob without a type (read as JSON) does not,
    so the check is on every post, whatever its body."""
    from chalicelib import store

    answer = post_json(client, partos_registration(), headers={"Sec-Fetch-Site": "cross-site", "Origin": SITE})
    assert answer.status_code == 201
    for content_type in ({}, {"Content-Type": "application/json"}):
        refused = client.http.post(_registrations_path(), body=json.dumps(partos_registration(
            email="b@example.org")).encode(), headers={"Sec-Fetch-Site": "cross-site", "Origin": OTHER, **content_type})
        assert refused.status_code == 403
        assert json.loads(refused.body)["type"] == "/problems/form-from-another-site"
    assert len(list(store.iter_registrations(SEED_EVENT_ID))) == 1
