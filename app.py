"""HTTP routes and Lambda functions of the event-registration service.

Thin by design: each route parses the request, calls ``chalicelib`` and maps
the outcome to a response. The surface is PRODUCT.md's "HTTP API".
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote
from typing import Any

from aws_lambda_powertools import Logger
from chalice import Chalice, Rate, Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from chalicelib import (branding, checkin, clock, colours, cors, dates, delivery, doorpage, feedback, jobs, openapi, pages,
                        registrations, store, tokens)
from chalicelib.i18n import field_error, negotiate, opens_on
from chalicelib.problems import PROBLEM_CONTENT_TYPE, Problem
from chalicelib.requests import parse_body, parse_json_object, parse_token_body
from chalicelib.settings import get_settings
from chalicelib.validation import FieldError, RegistrationInvalid

# Chalice's own log handler stays off: the Powertools Logger below writes to the same logger
# ("event-registration"), and with both every line would be written twice (once not as JSON).
app = Chalice(app_name="event-registration", configure_logs=False)
# Structured JSON logs; chalicelib's modules log through child loggers of this one.
# Log ids only: never names, addresses or tokens.
logger = Logger(service="event-registration")

STATIC_DIR = Path(__file__).parent / "chalicelib" / "templates" / "static"
#: Scripts copied from pinned npm packages by ``make vendored`` (README, "Check-in at the door").
VENDOR_DIR = STATIC_DIR / "vendor"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
HTML = "text/html; charset=utf-8"
#: Logo files an event file may name (``assets/<file>.svg``, ``chalicelib.events.LOGO_FILE``): text, not binary.
ASSET_TYPES = {".svg": "image/svg+xml; charset=utf-8"}
LOGO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.svg$")
ACCENT_FILE = re.compile(r"^([0-9a-f]{6})\.css$")


# ------------------------------------------------------------------ helpers


def _query(name: str) -> str | None:
    params = app.current_request.query_params or {}
    return params.get(name)


def _header(name: str) -> str | None:
    return app.current_request.headers.get(name)


def _language(candidates: tuple[str, ...], explicit: str | None = None) -> str:
    return negotiate(candidates, explicit or _query("lang"), _header("accept-language"))


def _security_headers(content_type: str, img_origin: str | None = None) -> dict[str, str]:
    """Headers of every answer. ``Cache-Control: no-store`` on all of them (pages, JSON, problems):
    many show personal data (a registration, its token in a link), so no cache keeps any; only
    ``/static`` files override it. HTML gets the CSP, whose ``img-src`` adds only ``img_origin``
    (the ``https://host`` of the event's logo URL, ``Branding.logo_origin``)."""
    headers = {"Content-Type": content_type, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
               "Cache-Control": "no-store"}
    if content_type.startswith("text/html"):
        ancestors = get_settings().frame_ancestors
        images = f"'self' {img_origin}" if img_origin else "'self'"
        headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
            f"form-action 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        )
    return headers


def _html(body: str, status: int = 200, event=None) -> Response:
    """An HTML page; ``event`` (when the page is an event's) lets its logo host into the CSP."""
    origin = event.branding.logo_origin if event is not None and event.branding else None
    return Response(body=body, status_code=status, headers=_security_headers(HTML, origin))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={**_security_headers("application/json"), **(headers or {})},
    )


def _problem(problem: Problem) -> Response:
    return Response(
        body=json.dumps(problem.body(), ensure_ascii=False),
        status_code=problem.status,
        headers={**_security_headers(PROBLEM_CONTENT_TYPE), **problem.headers},
    )


def _event_or_404(event_id: str, language: str, *, counters: bool = True):
    """``(event, counters)`` (``counters`` ``None`` when not asked for); 404 ``not-found`` for an unknown event."""
    try:
        if counters:
            return store.get_event(event_id)
        return store.event_definition(event_id), None
    except store.EventNotFound:
        raise Problem(404, "not-found", language, what="event") from None


def _closed_problem(event, state: str, language: str) -> Problem:
    """409 ``registration-closed``; before registration opens, the detail says when it opens (in the
    event's zone with its abbreviation) and the body carries ``registration_opens_at`` (local) and
    ``registration_opens_at_utc``."""
    if state != "not_yet_open" or event.registration_opens_at is None:
        return Problem(409, "registration-closed", language, state=state)
    view = event.public_view()
    return Problem(409, "registration-closed", language, state=state,
                   more_detail=opens_on(language, pages.opens_text(event, language)),
                   extensions={name: view[name] for name in ("registration_opens_at", "registration_opens_at_utc")})


@app.middleware("http")
def cross_origin(event, get_response):
    """CORS for every answer (errors too, ``chalicelib.cors``); Chalice's own 405 as problem+json."""
    response = get_response(event)
    if response.status_code == 500 and isinstance(response.body, dict) and "Code" in response.body:
        # An uncaught exception (already logged by Chalice with its traceback): answer in our format.
        response = _problem(Problem(500, "internal-error", _language(("en", "nl"))))
    if response.status_code == 405 and isinstance(response.body, dict) and "Code" in response.body:
        method = getattr(event, "method", "") or ""
        problem = Problem(405, "method-not-allowed", _language(("en", "nl")), method=method[:20])
        allow = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
        response = _problem(problem)
        response.headers.update(allow)
    if getattr(event, "method", "") != "OPTIONS":  # preflights answer for themselves (_preflight)
        cors.add_to(response.headers, getattr(event, "headers", None))
    return response


def _preflight() -> Response:
    """Answer a CORS preflight for the current route (its methods from the route table)."""
    request = app.current_request
    path = (request.context or {}).get("resourcePath", "")
    methods = [m for m in app.routes.get(path, {}) if m != "OPTIONS"]
    return Response(body="", status_code=204, headers=cors.preflight_headers(request.headers, methods))


# ------------------------------------------------------------------ routes


@app.route("/events/{event_id}", methods=["GET"], cors=False)
def get_event(event_id: str) -> Response:
    """Public event details (JSON), or the event's page for browsers (``Accept: text/html``).

    Seats follow the event's ``show_seats``: ``seats_left`` is the exact figure only with ``exact``.
    """
    if _wants_html():
        response = _event_page(event_id, lambda event, counters, lang: pages.event_page(
            event, store.availability(event, counters, clock.now()), lang, base_path=".."
        ), base_path="..")
        response.headers["Vary"] = "Accept"
        return response
    try:
        event, counters = _event_or_404(event_id, _language(("en", "nl")))
    except Problem as problem:
        return _problem(problem)
    body = event.public_view()
    available = store.availability(event, counters, clock.now())
    language = _language(event.languages)
    body["registration"] = {
        "open": available.state == "open",
        "state": available.state,
        "seats_left": available.seats_figure,
        "seats": available.seats,
        "waitlist": event.waitlist,
        "waitlist_open": available.waitlist_open,
        # When registration opens and closes, as people read it: the event's zone and its abbreviation.
        "opens_text": pages.opens_text(event, language) or None,
        "closes_text": dates.local_timestamp(event, event.utc(event.closes_at_local), language),
    }
    return _json(body, headers={"Vary": "Accept"})


def _event_page(event_id: str, render, base_path: str = "../..", *, counters: bool = True) -> Response:
    """An HTML page of an event: ``render(event, counters, lang)``, or a 404 page in the visitor's language.

    ``counters=False`` for a page that shows no seats (``counters`` is then ``None``).
    """
    try:
        event, counts = _event_or_404(event_id, "en", counters=counters)
    except Problem:
        lang = _language(("en", "nl"))
        problem = Problem(404, "not-found", lang, what="event")
        return _html(pages.message(lang, problem.title, problem.detail, base_path=base_path), 404)
    return _html(render(event, counts, _language(event.languages)), event=event)


def _form_again(event, available: store.Availability, lang: str, values: dict[str, Any], errors: dict[str, str],
                status: int) -> Response:
    """The registration form re-rendered after a refused post: what was typed, a message at each field.

    Its ``form_started_at`` lies ``MIN_FILL_SECONDS`` back: the person has filled the form in once,
    so sending it again at once is not "too fast" (``chalicelib.antispam``).
    """
    started = max(0, int(time.time() - get_settings().min_fill_seconds) - 1)
    page = pages.registration_form(
        event, available, lang, base_path="../..", form_started_at=started, values=values, errors=errors,
    )
    return _html(page, status, event=event)


@app.route("/events/{event_id}/register", methods=["GET"])
def registration_page(event_id: str) -> Response:
    """The registration form (HTML); ``?lang=``, else ``Accept-Language``, else the event's default."""
    return _event_page(event_id, lambda event, counters, lang: pages.registration_form(
        event, store.availability(event, counters, clock.now()), lang, form_started_at=int(time.time()),
        base_path="../.."
    ))


@app.route("/events/{event_id}/thanks", methods=["GET"])
def thanks_page(event_id: str) -> Response:
    """The thank-you page a form post redirects to (``?ref=<receipt>&lang=``).

    The receipt (``tokens.make_receipt``, valid an hour) names the registration: the page
    says seat or waitlist (and position) and the address the email goes to. Without a valid
    one the page thanks in general terms and shows nothing of any registration.
    """
    def render(event, _, lang):
        registration_id = tokens.read_receipt(event.id, _query("ref"), int(clock.now().timestamp()))
        view = None
        if registration_id:
            try:
                view = registrations.registrant_view_in_event(event, registration_id)
            except store.RegistrationNotFound:
                view = None  # a post the anti-spam checks caught stores nothing
        if view is None:
            return pages.thanks(event, lang, status=None, base_path="../..")
        return pages.thanks(event, lang, status=view.status, position=view.waitlist_position, email=view.email,
                            base_path="../..")

    return _event_page(event_id, render, counters=False)


@app.route("/events/{event_id}/registrations", methods=["POST"], content_types=["*/*"])
def create_registration(event_id: str) -> Response:
    """Register: JSON (201 + Location) or an HTML form post (303 to the thank-you page, 422 re-render)."""
    request = app.current_request
    language = _language(("en", "nl"))
    try:
        event, _ = _event_or_404(event_id, language, counters=False)  # the write checks seats and window
        language = _language(event.languages)
        body = parse_body(event, _header("content-type"), request.raw_body, language)
        # Messages in the language of the page the person used (?lang=), else of the emails they chose.
        page_lang = _query("lang")
        chosen = body.data.get("language") if isinstance(body.data.get("language"), str) else None
        answer_language = _language(event.languages, page_lang if page_lang in event.languages else chosen)
        if "language" not in body.data:  # emails in the language the request asked for
            body.data["language"] = answer_language
    except Problem as problem:
        return _problem(problem)
    try:
        result = registrations.register(event_id, body.data, answer_language, event=event)
    except RegistrationInvalid as invalid:
        if body.is_form:
            errors = {e.field: e.message for e in invalid.errors}
            available = store.availability(event, store.get_counters(event_id), clock.now())
            return _form_again(event, available, answer_language, body.data, errors, 422)
        return _problem(Problem(422, "validation-failed", answer_language, errors=invalid.errors))
    except store.AlreadyRegistered:
        problem = Problem(409, "already-registered", answer_language)
    except registrations.RegistrationClosed as closed:
        problem = _closed_problem(event, closed.state, answer_language)
    except store.EventFull:
        problem = Problem(409, "event-full", answer_language)
    except store.EventNotFound:
        problem = Problem(404, "not-found", answer_language, what="event")
    except registrations.Busy:
        return _problem(Problem(503, "busy", language, headers={"Retry-After": "1"}))
    else:
        if result.stored:
            logger.info("registered", extra={"event_id": event_id, "registration_id": result.registration_id, "status": result.status})
        else:
            logger.info("honeypot post ignored", extra={"event_id": event_id})
        receipt = quote(tokens.make_receipt(event_id, result.registration_id, int(clock.now().timestamp())), safe="")
        thanks = f"thanks?lang={answer_language}&ref={receipt}"
        if body.is_form:
            return Response(body="", status_code=303, headers={"Location": thanks, "Cache-Control": "no-store", "Content-Type": "text/plain"})
        base = get_settings().public_base_url
        answer = {**result.as_json(), "thanks_url": f"{base}/events/{event_id}/{thanks}"}
        return _json(answer, 201, {"Location": f"{base}/registrations/{result.registration_id}"})
    if body.is_form and problem.status == 409:
        errors = {"email": problem.detail} if problem.code == "already-registered" else {}
        available = store.availability(event, store.get_counters(event_id), clock.now())
        state = available.state if problem.code == "already-registered" else (
            "full" if problem.code == "event-full" else "closed" if available.state == "full" else available.state)
        if state == "open":  # closed at the write, open when read back: a window edge; say closed
            state = "closed"
        return _form_again(event, replace(available, state=state), answer_language, body.data, errors, 409)
    return _problem(problem)


def _wants_html() -> bool:
    """Whether the client prefers HTML to JSON (``Accept``, RFC 9110 section 12.5.1, parsed by Werkzeug)."""
    accepted = parse_accept_header(_header("accept") or "", MIMEAccept)
    return accepted.best_match(["application/json", "text/html"]) == "text/html"


def _registrant(registration_id: str, token: str | None, purpose: str, *, cancel: bool = False) -> registrations.RegistrantView:
    """The registration behind a personal link whose token serves ``purpose``, cancelled first with ``cancel``.

    403 for a token that is bad or made for another purpose (checked first, so it reveals
    nothing: README, "Emails", personal links), 404 if gone, 409 ``event-over`` for a
    cancellation after the event has ended (nothing changes).
    """
    language = _language(("en", "nl"))
    if not tokens.verify_token(registration_id, token, purpose):
        raise Problem(403, "invalid-token", language)
    try:
        if cancel:
            return registrations.cancel_own(registration_id)
        return registrations.registrant_view(registration_id)
    except (store.RegistrationNotFound, store.EventNotFound):
        raise Problem(404, "not-found", language, what="registration") from None
    except store.EventOver:
        raise Problem(409, "event-over", language) from None


def _registrant_answer(registration_id: str, token: str | None, *, ask_cancel: bool, base_path: str) -> Response:
    """The status page (a ``view`` token) or the cancel page (a ``cancel`` token), JSON for the status to non-browsers."""
    purpose = tokens.CANCEL if ask_cancel else tokens.VIEW
    try:
        view = _registrant(registration_id, token, purpose)
    except Problem as problem:
        if _wants_html():
            return _html(pages.message(_language(("en", "nl")), problem.title, problem.detail, base_path), problem.status)
        return _problem(problem)
    if not _wants_html() and not ask_cancel:
        return _json(view.as_json())
    lang = _language(view.event.languages, _query("lang") or view.language)
    page = pages.registration_status(
        view.event, lang, registration_id=registration_id, status=view.status, position=view.waitlist_position,
        token=token or "", ask_cancel=ask_cancel, base_path=base_path, now=clock.now(),
        # Only a first-release token (view and cancel in one) leads from the status page to the cancel page.
        can_cancel=ask_cancel or tokens.verify_token(registration_id, token, tokens.CANCEL),
    )
    return _html(page, event=view.event)


@app.route("/registrations/{registration_id}", methods=["GET"])
def get_registration(registration_id: str) -> Response:
    """The registrant's own registration (a ``view`` token): JSON, or HTML for browsers (``Accept: text/html``)."""
    return _registrant_answer(registration_id, _query("token"), ask_cancel=False, base_path="..")


@app.route("/registrations/{registration_id}/cancel", methods=["GET"])
def cancel_page(registration_id: str) -> Response:
    """A page asking to confirm the cancellation (a ``cancel`` token); changes nothing (mail scanners open links).

    After the event has ended it says so and offers no cancellation."""
    return _registrant_answer(registration_id, _query("token"), ask_cancel=True, base_path="../..")


@app.route("/registrations/{registration_id}/cancel", methods=["POST"], content_types=["*/*"])
def cancel_registration(registration_id: str) -> Response:
    """Cancel: a ``cancel`` token in a form or JSON body. Form posts get 303 to the registration page
    (with a view token made here), JSON 200.

    After the event has ended: 409 ``event-over`` (a page for browsers), nothing changed."""
    request = app.current_request
    language = _language(("en", "nl"))
    try:
        token, is_form = parse_token_body(_header("content-type"), request.raw_body, language)
        view = _registrant(registration_id, token, tokens.CANCEL, cancel=True)
    except Problem as problem:
        if _wants_html():  # a browser posting the cancel form: a page, not JSON
            return _html(pages.message(language, problem.title, problem.detail, "../.."), problem.status)
        return _problem(problem)
    except store.RegistrationNotFound:
        return _problem(Problem(404, "not-found", language, what="registration"))
    except store.Conflict:
        return _problem(Problem(503, "busy", language, headers={"Retry-After": "1"}))
    result = view.cancelled
    logger.info("cancelled", extra={"event_id": view.event.id, "registration_id": registration_id,
                                    "changed": result.changed, "promoted_registration_id": result.promoted_id})
    if is_form:
        lang = _language(view.event.languages, _query("lang") or view.language)
        seen = quote(tokens.make_token(registration_id, tokens.VIEW), safe="")
        location = f"../{registration_id}?token={seen}&lang={lang}"
        return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store", "Content-Type": "text/plain"})
    return _json({"registration_id": registration_id, "event_id": view.event.id, "status": "cancelled", "changed": result.changed})


@app.route("/events/{event_id}", methods=["OPTIONS"])
def get_event_preflight(event_id: str) -> Response:
    """CORS preflight for the event details."""
    return _preflight()


@app.route("/events/{event_id}/registrations", methods=["OPTIONS"])
def create_registration_preflight(event_id: str) -> Response:
    """CORS preflight for a JSON registration from another site."""
    return _preflight()


@app.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API, with a registration schema per published event."""
    events = [store.event_from_item(item) for item in store.list_event_items()]
    static = sorted(p.name for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES)
    return _json(openapi.document(events, get_settings().public_base_url, static))


@app.route("/openapi.json", methods=["OPTIONS"])
def openapi_preflight() -> Response:
    """CORS preflight for the OpenAPI document."""
    return _preflight()


@app.route("/static/{name}", methods=["GET"])
def static_file(name: str) -> Response:
    """The form's stylesheet, script and icon (only files in ``chalicelib/templates/static``)."""
    path = STATIC_DIR / name
    if "/" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        return _problem(Problem(404, "not-found", "en", what="file"))
    headers = _security_headers(STATIC_TYPES[path.suffix])
    headers["Cache-Control"] = "public, max-age=300"
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


def _event_assets_dir() -> Path:
    """``assets/`` beside the event files: ``$EVENTS_DIR/assets`` (local service), else the packaged ``events/assets``."""
    return Path(os.environ.get("EVENTS_DIR") or Path(__file__).parent / "events") / "assets"


@app.route("/static/assets/{name}", methods=["GET"])
def event_asset(name: str) -> Response:
    """A logo shipped with the event files (``branding.logo: assets/<name>``), as an image.

    Its own CSP keeps an SVG opened directly from running script (``sandbox``, no sources).
    """
    path = _event_assets_dir() / name
    if not LOGO_NAME.match(name) or not path.is_file():
        return _problem(Problem(404, "not-found", "en", what="file"))
    headers = _security_headers(ASSET_TYPES[path.suffix])
    headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    headers["Cache-Control"] = "public, max-age=3600"
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


@app.route("/static/accent/{name}", methods=["GET"])
def accent_stylesheet(name: str) -> Response:
    """The stylesheet of an accent colour, ``<rrggbb>.css``: its CSS custom properties for ``form.css``.

    The colour is the URL, so the answer never changes (cached for a year); colours below
    WCAG AA contrast against white are refused as an event file would be (404).
    """
    match = ACCENT_FILE.match(name)
    if not match or colours.contrast_ratio(f"#{match.group(1)}", "#ffffff") < colours.WCAG_AA_NORMAL_TEXT:
        return _problem(Problem(404, "not-found", "en", what="file"))
    headers = _security_headers(STATIC_TYPES[".css"])
    headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return Response(body=branding.accent_stylesheet(f"#{match.group(1)}"), status_code=200, headers=headers)


# ------------------------------------------------------------------ check-in at the door


#: RFC 6750 section 3: a door route's 401 says which scheme it wants, and whether the token given was bad.
DOOR_CHALLENGE = 'Bearer realm="door"'


def _door(event_id: str) -> tuple[Any, checkin.DoorPass, str]:
    """``(event, door pass, language)`` of a door API call: the ``Authorization: Bearer`` door link
    (401 ``door-link-invalid`` / ``door-link-expired`` with ``WWW-Authenticate``, RFC 6750 section 3.1),
    then the event (404)."""
    language = _language(("en", "nl"))
    token = checkin.bearer_token(_header("authorization"))
    refused = {"WWW-Authenticate": f'{DOOR_CHALLENGE}, error="invalid_token"' if token else DOOR_CHALLENGE}
    try:  # the signature first: a request without a genuine link costs no read
        door = checkin.read_door_token(event_id, token, clock.now())
    except checkin.DoorLinkExpired as expired:
        event, _ = _event_or_404(event_id, language, counters=False)
        language = _language(event.languages)
        raise Problem(401, "door-link-expired", language, headers=refused,
                      expired=doorpage.expired_text(event, expired, language)) from None
    except checkin.DoorLinkInvalid:
        raise Problem(401, "door-link-invalid", language, headers=refused) from None
    event, _ = _event_or_404(event_id, language, counters=False)
    return event, door, _language(event.languages)


def _door_answer(event_id: str, act) -> Response:
    """Run ``act(event, door, language)`` for a door API route; problems as problem+json (README, "Check-in at the door")."""
    try:
        event, door, language = _door(event_id)
        return _json(act(event, door, language))
    except Problem as problem:
        return _problem(problem)
    except checkin.Busy:
        return _problem(Problem(503, "checkin-busy", _language(("en", "nl")), headers={"Retry-After": "1"}))


def _door_body(language: str) -> dict[str, Any]:
    return parse_json_object(_header("content-type"), app.current_request.raw_body, language)


@app.route("/events/{event_id}/door", methods=["GET"])
def door_page(event_id: str) -> Response:
    """The door page (HTML): scans check-in codes, finds people; the link's token stays in its fragment."""
    response = _event_page(event_id, lambda event, _, lang: doorpage.page(event, lang, base_path="../.."),
                           counters=False)
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    return response


@app.route("/events/{event_id}/door/summary", methods=["GET"])
def door_summary(event_id: str) -> Response:
    """Checked in and confirmed (the page polls it), and until when the link works."""
    return _door_answer(event_id, lambda event, door, lang: doorpage.summary_json(
        event, checkin.summary(event.id), door, lang))


@app.route("/events/{event_id}/door/checkins", methods=["POST"], content_types=["*/*"])
def door_check_in(event_id: str) -> Response:
    """Check in by code (scanned or typed): ``{"code": ...}`` -> the outcome (always 200 for a read code)."""
    def act(event, door, lang):
        code = _door_body(lang).get("code")
        result = checkin.check_in_code(event.id, code if isinstance(code, str) else None, clock.now())
        logger.info("door check-in", extra={"event_id": event.id, "outcome": result.outcome, "door_key": door.key_id,
                                            "registration_id": result.person.registration_id if result.person else None})
        return doorpage.result_json(event, result, lang)

    return _door_answer(event_id, act)


@app.route("/events/{event_id}/door/undo", methods=["POST"], content_types=["*/*"])
def door_undo(event_id: str) -> Response:
    """Take back a check-in by its code: ``{"code": ...}`` -> ``undone`` or ``not_checked_in``."""
    def act(event, door, lang):
        code = _door_body(lang).get("code")
        result = checkin.undo_code(event.id, code if isinstance(code, str) else None)
        logger.info("door check-in undone", extra={"event_id": event.id, "outcome": result.outcome,
                                                   "registration_id": result.person.registration_id if result.person else None})
        return doorpage.result_json(event, result, lang)

    return _door_answer(event_id, act)


@app.route("/events/{event_id}/door/search", methods=["POST"], content_types=["*/*"])
def door_search(event_id: str) -> Response:
    """Confirmed registrations by name or address: ``{"query": ...}`` -> ``{results, more}`` (no addresses)."""
    def act(event, door, lang):
        query = _door_body(lang).get("query")
        try:
            people, more = checkin.search(event.id, query if isinstance(query, str) else "")
        except ValueError:
            raise Problem(422, "validation-failed", lang, errors=[
                FieldError("query", "search_too_short", field_error("search_too_short", lang))]) from None
        return {"results": [doorpage.person_json(event, person, lang) for person in people], "more": more}

    return _door_answer(event_id, act)


@app.route("/static/vendor/{name}", methods=["GET"])
def vendored_file(name: str) -> Response:
    """A browser script the build copies from a pinned npm package (``make vendored``): the QR decoder."""
    path = VENDOR_DIR / name
    if "/" in name or path.suffix != ".js" or not path.is_file():
        return _problem(Problem(404, "not-found", "en", what="file"))
    headers = _security_headers(STATIC_TYPES[".js"])
    headers["Cache-Control"] = "public, max-age=300"
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


# ------------------------------------------------------------------ scheduled jobs


@app.schedule(Rate(jobs.RATE_MINUTES, unit=Rate.MINUTES), name="RunDueJobs")
def run_due_jobs(event: Any) -> dict[str, Any]:
    """Every few minutes: the due jobs of every event (``chalicelib.jobs``), e.g. the waitlist-closed emails.

    Deployed, the function starts from ``chalicelib.entry_jobs`` (the same call without Chalice);
    ``make run`` calls this one on its own clock.
    """
    return jobs.run_due(clock.now(), jobs.time_is_short(getattr(event, "context", None))).as_json()


# ------------------------------------------------------------------ stream consumer and SES events


@app.lambda_function(name="DeliverEmails")
def deliver_emails(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Consume DynamoDB stream records and send the registrants' emails (partial batch response)."""
    return delivery.handle_batch(event.get("Records", []))


@app.lambda_function(name="RecordEmailEvents")
def record_email_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record one SES delivery, bounce, complaint, reject or delay event (EventBridge) on its notification."""
    return feedback.handle_event(event)
