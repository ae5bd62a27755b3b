"""HTTP routes and Lambda functions of the event-registration service.

Thin by design: each route parses the request, calls ``chalicelib`` and maps
the outcome to a response. The surface is README.md's "HTTP API".
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger
from chalice.app import Chalice, Rate, Request, Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from chalicelib import (
    branding,
    checkin,
    clock,
    colours,
    cors,
    dates,
    delivery,
    doorpage,
    feedback,
    jobs,
    openapi,
    pages,
    registrations,
    store,
    tokens,
)
from chalicelib.bodies import parse_body, parse_json_object, parse_token_body
from chalicelib.errors import ServiceError
from chalicelib.events import SUPPORTED_LANGUAGES, Event
from chalicelib.i18n import field_error, negotiate
from chalicelib.lambdalog import with_lambda_context
from chalicelib.problems import PROBLEM_CONTENT_TYPE, Problem, problem_for
from chalicelib.settings import get_settings
from chalicelib.validation import FieldError

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
#: Languages of an answer that is no event's (a 404, a bad token, a 405): the supported ones, English
#: first, the language when neither ``?lang=`` nor ``Accept-Language`` decides (``i18n.negotiate``).
SERVICE_LANGUAGES: tuple[str, ...] = ("en", *(language for language in SUPPORTED_LANGUAGES if language != "en"))
#: Logo files an event file may name (``assets/<file>.svg``, ``chalicelib.events.LOGO_FILE``): text, not binary.
ASSET_TYPES = {".svg": "image/svg+xml; charset=utf-8"}
LOGO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.svg$")
ACCENT_FILE = re.compile(r"^([0-9a-f]{6})\.css$")


# ------------------------------------------------------------------ helpers


#: Response headers as Chalice types them (a header may repeat: a list of values).
Headers = dict[str, str | list[str]]


def _request() -> Request:
    """The request being answered (Chalice sets it for every route call)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no current request: called outside a route")
    return request


def _query(name: str) -> str | None:
    params = _request().query_params
    value = params.get(name) if params else None
    return value if isinstance(value, str) else None


def _header(name: str) -> str | None:
    value = _request().headers.get(name)
    return value if isinstance(value, str) else None


def _raw_body() -> bytes | None:
    body = _request().raw_body
    return body.encode("utf-8") if isinstance(body, str) else body


def _language(candidates: tuple[str, ...], explicit: str | None = None) -> str:
    return negotiate(candidates, explicit or _query("lang"), _header("accept-language"))


def _security_headers(content_type: str, img_origin: str | None = None) -> Headers:
    """Headers of every answer. ``Cache-Control: no-store`` on all of them (pages, JSON, problems):
    many show personal data (a registration, its token in a link), so no cache keeps any; only
    ``/static`` files override it. HTML gets the CSP, whose ``img-src`` adds only ``img_origin``
    (the ``https://host`` of the event's logo URL, ``Branding.logo_origin``)."""
    headers: Headers = {"Content-Type": content_type, "X-Content-Type-Options": "nosniff",
                        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    if content_type.startswith("text/html"):
        ancestors = get_settings().frame_ancestors
        images = f"'self' {img_origin}" if img_origin else "'self'"
        headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
            f"form-action 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        )
    return headers


def _html(body: str, status: int = 200, event: Event | None = None) -> Response:
    """An HTML page; ``event`` (when the page is an event's) lets its logo host into the CSP."""
    origin = event.branding.logo_origin if event is not None and event.branding else None
    return Response(body=body, status_code=status, headers=_security_headers(HTML, origin))


def _json(body: Any, status: int = 200, headers: Headers | None = None) -> Response:
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


@dataclass
class ErrorAnswer:
    """How a route answers an error (``errors.ServiceError`` or a parser's ``Problem``), worded by
    ``problems.problem_for`` in ``language``.

    problem+json by default; with ``page_base_path``, a page for a browser (``pages.message``, its
    links relative to that path); with ``form``, a refused registration form post (422 invalid
    fields, 409 refused) gets the form again with what was typed, other errors problem+json.
    A route sets ``language`` and ``form`` as it learns them.
    """

    language: str
    page_base_path: str | None = None
    form: tuple[Event, dict[str, Any]] | None = None

    def to(self, error: ServiceError | Problem) -> Response:
        """The answer to ``error``."""
        problem = problem_for(error, self.language)
        if self.form is not None and problem.status in (409, 422):
            event, values = self.form
            return _form_again(event, values, self.language, error, problem)
        if self.page_base_path is not None:
            page = pages.message(self.language, problem.title, problem.detail, self.page_base_path)
            return _html(page, problem.status)
        return _problem(problem)


def _form_again(event: Event, values: dict[str, Any], language: str, error: ServiceError | Problem,
                problem: Problem) -> Response:
    """The registration form re-rendered after a refused post: what was typed, a message at each field
    (422), or the reason at the address (``already-registered``) and the state that refused it (409).

    Its ``form_started_at`` lies ``MIN_FILL_SECONDS`` back: the person has filled the form in once,
    so sending it again at once is not "too fast" (``chalicelib.antispam``). Form start times are
    real time (``time.time()``), as a browser's ``Date.now()`` is, never the ``local`` stage's pinned clock.
    """
    counters = store.get_counters(event.id)
    available = store.availability(event, counters, clock.now())
    errors = {e.field: e.message for e in problem.errors or []}
    state = available.state
    if problem.code == "already-registered":
        errors = {"email": problem.detail}
    elif isinstance(error, store.EventFull):
        state = "full"
    elif isinstance(error, store.WindowClosed):
        state = counters.window_state(clock.now())
    if problem.status == 409 and state == "open":  # closed at the write, open when read back: a window edge
        state = "closed"
    started = max(0, int(time.time() - get_settings().min_fill_seconds) - 1)
    page = pages.registration_form(
        event, replace(available, state=state), language, base_path="../..", form_started_at=started,
        values=values, errors=errors,
    )
    return _html(page, problem.status, event=event)


@app.middleware("http")
def cross_origin(request: Any, get_response: Any) -> Response:
    """CORS for every answer (errors too, ``chalicelib.cors``); Chalice's own 500 and 405 as problem+json."""
    response = _in_our_format(request, get_response(request))
    if getattr(request, "method", "") != "OPTIONS":  # preflights answer for themselves (_preflight)
        cors.add_to(response.headers, getattr(request, "headers", None))
    return response


def _in_our_format(request: Any, response: Response) -> Response:
    """Chalice's own error answers (``{"Code": ...}`` bodies) as problem+json: an uncaught exception
    (already logged by Chalice with its traceback) as 500 ``internal-error``, a method the route does
    not take as 405 ``method-not-allowed`` (its ``Allow`` header kept)."""
    if response.status_code not in (405, 500) or not isinstance(response.body, dict) or "Code" not in response.body:
        return response
    language = _language(SERVICE_LANGUAGES)
    if response.status_code == 500:
        return _problem(Problem(500, "internal-error", language))
    method = getattr(request, "method", "") or ""
    answer = _problem(Problem(405, "method-not-allowed", language, method=method[:20]))
    answer.headers.update({k: v for k, v in response.headers.items() if k.lower() == "allow"})
    return answer


def _preflight() -> Response:
    """Answer a CORS preflight for the current route (its methods from the route table)."""
    request = _request()
    path = (request.context or {}).get("resourcePath", "")
    methods = [m for m in app.routes.get(path, {}) if m != "OPTIONS"]
    headers: Headers = {**cors.preflight_headers(request.headers, methods)}
    return Response(body="", status_code=204, headers=headers)


# ------------------------------------------------------------------ routes


@app.route("/events/{event_id}", methods=["GET"], cors=False)
def get_event(event_id: str) -> Response:
    """Public event details (JSON), or the event's page for browsers (``Accept: text/html``).

    Seats follow the event's ``show_seats``: ``seats_left`` is the exact figure only with ``exact``.
    """
    if _wants_html():
        response = _event_page(event_id, lambda event, counters, language: pages.event_page(
            event, store.availability(event, counters, clock.now()), language, base_path=".."
        ), base_path="..")
        response.headers["Vary"] = "Accept"
        return response
    try:
        event, counters = store.get_event(event_id)
    except store.EventNotFound as error:
        return ErrorAnswer(_language(SERVICE_LANGUAGES)).to(error)
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


def _event_page(event_id: str, render: Callable[[Event, Any, str], str], base_path: str = "../..", *,
                counters: bool = True) -> Response:
    """An HTML page of an event: ``render(event, counters, language)``, or a 404 page in the visitor's language.

    ``counters=False`` for a page that shows no seats (``counters`` is then ``None``).
    """
    try:
        event, counts = store.get_event(event_id) if counters else (store.event_definition(event_id), None)
    except store.EventNotFound as error:
        return ErrorAnswer(_language(SERVICE_LANGUAGES), page_base_path=base_path).to(error)
    return _html(render(event, counts, _language(event.languages)), event=event)


@app.route("/events/{event_id}/register", methods=["GET"])
def registration_page(event_id: str) -> Response:
    """The registration form (HTML); ``?lang=``, else ``Accept-Language``, else the event's default."""
    return _event_page(event_id, lambda event, counters, language: pages.registration_form(
        event, store.availability(event, counters, clock.now()), language, form_started_at=int(time.time()),
        base_path="../..",
    ))


@app.route("/events/{event_id}/thanks", methods=["GET"])
def thanks_page(event_id: str) -> Response:
    """The thank-you page a form post redirects to (``?ref=<receipt>&lang=``).

    The receipt (``tokens.make_receipt``, valid an hour) names the registration: the page
    says seat or waitlist (and position) and the address the email goes to. Without a valid
    one the page thanks in general terms and shows nothing of any registration.
    """
    def render(event: Event, _: Any, language: str) -> str:
        registration_id = tokens.read_receipt(event.id, _query("ref"), int(clock.now().timestamp()))
        view = None
        if registration_id:
            try:
                view = registrations.registrant_view_in_event(event, registration_id)
            except store.RegistrationNotFound:
                view = None  # a post the anti-spam checks caught stores nothing
        if view is None:
            return pages.thanks(event, language, status=None, base_path="../..")
        return pages.thanks(event, language, status=view.status, position=view.waitlist_position, email=view.email,
                            base_path="../..")

    return _event_page(event_id, render, counters=False)


@app.route("/events/{event_id}/registrations", methods=["POST"], content_types=["*/*"])
def create_registration(event_id: str) -> Response:
    """Register: JSON (201 + Location) or an HTML form post (303 to the thank-you page, 422/409 re-render).

    Errors (``ErrorAnswer``): 404 before the event is known, in the visitor's language; the body's
    problems in the event's; after that in the answer's language (:func:`_answer_language`).
    """
    on_error = ErrorAnswer(_language(SERVICE_LANGUAGES))
    try:
        event = store.event_definition(event_id)  # the write checks seats and window
        on_error.language = _language(event.languages)
        body = parse_body(event, _header("content-type"), _raw_body(), on_error.language)
        on_error.language = _answer_language(event, body.data)
        body.data.setdefault("language", on_error.language)  # emails in the language the request asked for
        if body.is_form:
            on_error.form = (event, body.data)
        result = registrations.register(event_id, body.data, on_error.language, event=event)
    except (ServiceError, Problem) as error:
        return on_error.to(error)
    if result.stored:
        logger.info("registered", extra={"event_id": event_id, "registration_id": result.registration_id,
                                         "status": result.status})
    else:
        logger.info("honeypot post ignored", extra={"event_id": event_id})
    return _registered(event_id, result, on_error.language, is_form=body.is_form)


def _answer_language(event: Event, data: dict[str, Any]) -> str:
    """The language of a registration's answer: the page the person used (``?lang=``), else the emails
    they chose (the body's ``language``), else ``Accept-Language``, else the event's default."""
    page_language = _query("lang")
    chosen = data.get("language") if isinstance(data.get("language"), str) else None
    return _language(event.languages, page_language if page_language in event.languages else chosen)


def _registered(event_id: str, result: registrations.Registered, language: str, *, is_form: bool) -> Response:
    """A form post: 303 to the thank-you page (its receipt in the link); JSON: 201, ``Location`` and ``thanks_url``."""
    receipt = quote(tokens.make_receipt(event_id, result.registration_id, int(clock.now().timestamp())), safe="")
    thanks = f"thanks?lang={language}&ref={receipt}"
    if is_form:
        return Response(body="", status_code=303,
                        headers={"Location": thanks, "Cache-Control": "no-store", "Content-Type": "text/plain"})
    base = get_settings().public_base_url
    answer = {**result.as_json(), "thanks_url": f"{base}/events/{event_id}/{thanks}"}
    return _json(answer, 201, {"Location": f"{base}/registrations/{result.registration_id}"})


def _wants_html() -> bool:
    """Whether the client prefers HTML to JSON (``Accept``, RFC 9110 section 12.5.1, parsed by Werkzeug)."""
    accepted = parse_accept_header(_header("accept") or "", MIMEAccept)
    return accepted.best_match(["application/json", "text/html"]) == "text/html"


def _registrant(registration_id: str, token: str | None, purpose: str, *,
                cancel: bool = False) -> registrations.RegistrantView:
    """The registration behind a personal link whose token serves ``purpose``, cancelled first with ``cancel``.

    Raises ``tokens.InvalidToken`` for a token that is bad or made for another purpose (checked
    first, so it reveals nothing: README, "Emails", personal links), ``store.RegistrationNotFound``
    if gone, ``store.EventOver`` for a cancellation after the event has ended (nothing changes)
    and ``errors.Busy``.
    """
    tokens.require_token(registration_id, token, purpose)
    if cancel:
        return registrations.cancel_own(registration_id)
    return registrations.registrant_view(registration_id)


def _registrant_answer(registration_id: str, token: str | None, *, ask_cancel: bool, base_path: str) -> Response:
    """The status page (a ``view`` token) or the cancel page (a ``cancel`` token); JSON for the status
    to non-browsers."""
    purpose = tokens.CANCEL if ask_cancel else tokens.VIEW
    try:
        view = _registrant(registration_id, token, purpose)
    except ServiceError as error:
        page_base_path = base_path if _wants_html() else None
        return ErrorAnswer(_language(SERVICE_LANGUAGES), page_base_path).to(error)
    if not _wants_html() and not ask_cancel:
        return _json(view.as_json())
    language = _language(view.event.languages, _query("lang") or view.language)
    page = pages.registration_status(
        view.event, language, registration_id=registration_id, status=view.status, position=view.waitlist_position,
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
    language = _language(SERVICE_LANGUAGES)
    try:
        token, is_form = parse_token_body(_header("content-type"), _raw_body(), language)
        view = _registrant(registration_id, token, tokens.CANCEL, cancel=True)
    except (ServiceError, Problem) as error:  # a browser posting the cancel form: a page, not JSON
        return ErrorAnswer(language, page_base_path="../.." if _wants_html() else None).to(error)
    result = view.cancelled
    assert result is not None  # noqa: S101 - registrations.cancel_own sets it
    logger.info("cancelled", extra={"event_id": view.event.id, "registration_id": registration_id,
                                    "changed": result.changed, "promoted_registration_id": result.promoted_id})
    if is_form:
        page_language = _language(view.event.languages, _query("lang") or view.language)
        seen = quote(tokens.make_token(registration_id, tokens.VIEW), safe="")
        location = f"../{registration_id}?token={seen}&lang={page_language}"
        return Response(body="", status_code=303,
                        headers={"Location": location, "Cache-Control": "no-store", "Content-Type": "text/plain"})
    return _json({"registration_id": registration_id, "event_id": view.event.id, "status": "cancelled",
                  "changed": result.changed})


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
    """``assets/`` beside the event files: ``$EVENTS_DIR/assets`` (local service), else the packaged
    ``events/assets``."""
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


def _door(event_id: str, token: str | None, on_error: ErrorAnswer) -> tuple[Event, checkin.DoorPass]:
    """``(event, door pass)`` of a door API call: the ``Authorization: Bearer`` door link, then the event.

    Raises ``checkin.DoorLinkInvalid``, ``checkin.DoorLinkExpired`` (with the event, for its zone)
    and ``store.EventNotFound``; ``on_error`` answers in the event's languages once it is known.
    """
    try:  # the signature first: a request without a genuine link costs no read
        door = checkin.read_door_token(event_id, token, clock.now())
    except checkin.DoorLinkExpired as expired:
        expired.event = store.event_definition(event_id)
        on_error.language = _language(expired.event.languages)
        raise
    event = store.event_definition(event_id)
    on_error.language = _language(event.languages)
    return event, door


def _door_answer(event_id: str, act: Callable[[Event, checkin.DoorPass, str], Any]) -> Response:
    """Run ``act(event, door, language)`` for a door API route; errors as problem+json (README, "Check-in at
    the door"), a 401 with ``WWW-Authenticate`` (RFC 6750 section 3.1: ``invalid_token`` when one was given)."""
    token = checkin.bearer_token(_header("authorization"))
    on_error = ErrorAnswer(_language(SERVICE_LANGUAGES))
    try:
        event, door = _door(event_id, token, on_error)
        return _json(act(event, door, on_error.language))
    except (ServiceError, Problem) as error:
        answer = on_error.to(error)
    if answer.status_code == 401:
        answer.headers["WWW-Authenticate"] = f'{DOOR_CHALLENGE}, error="invalid_token"' if token else DOOR_CHALLENGE
    return answer


def _door_body(language: str) -> dict[str, Any]:
    body: dict[str, Any] = parse_json_object(_header("content-type"), _raw_body(), language)
    return body


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
    def act(event: Event, door: checkin.DoorPass, language: str) -> Any:
        code = _door_body(language).get("code")
        result = checkin.check_in_code(event.id, code if isinstance(code, str) else None, clock.now())
        person = result.person.registration_id if result.person else None
        logger.info("door check-in", extra={"event_id": event.id, "outcome": result.outcome, "door_key": door.key_id,
                                            "registration_id": person})
        return doorpage.result_json(event, result, language)

    return _door_answer(event_id, act)


@app.route("/events/{event_id}/door/undo", methods=["POST"], content_types=["*/*"])
def door_undo(event_id: str) -> Response:
    """Take back a check-in by its code: ``{"code": ...}`` -> ``undone`` or ``not_checked_in``."""
    def act(event: Event, door: checkin.DoorPass, language: str) -> Any:
        code = _door_body(language).get("code")
        result = checkin.undo_code(event.id, code if isinstance(code, str) else None)
        person = result.person.registration_id if result.person else None
        logger.info("door check-in undone", extra={"event_id": event.id, "outcome": result.outcome,
                                                   "registration_id": person})
        return doorpage.result_json(event, result, language)

    return _door_answer(event_id, act)


@app.route("/events/{event_id}/door/search", methods=["POST"], content_types=["*/*"])
def door_search(event_id: str) -> Response:
    """Confirmed registrations by name or address: ``{"query": ...}`` -> ``{results, more}`` (no addresses)."""
    def act(event: Event, door: checkin.DoorPass, lang: str) -> Any:
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
def run_due_jobs(scheduled: Any) -> dict[str, Any]:
    """Every few minutes: the due jobs of every event (``chalicelib.jobs``), e.g. the waitlist-closed emails.

    Deployed, the function starts from ``chalicelib.entry_jobs`` (the same call without Chalice, its
    log lines with the Lambda context); ``make run`` calls this one on its own clock.
    """
    return jobs.run_due(clock.now(), jobs.time_is_short(getattr(scheduled, "context", None))).as_json()


# ------------------------------------------------------------------ stream consumer and SES events


@app.lambda_function(name="DeliverEmails")
@with_lambda_context(logger)
def deliver_emails(lambda_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Consume DynamoDB stream records and send the registrants' emails (partial batch response)."""
    return delivery.handle_batch(lambda_event, context)


@app.lambda_function(name="RecordEmailEvents")
@with_lambda_context(logger)
def record_email_events(lambda_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record one SES delivery, bounce, complaint, reject or delay event (EventBridge) on its notification."""
    return feedback.handle_event(lambda_event)
