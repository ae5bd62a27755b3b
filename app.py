"""HTTP routes and Lambda functions of the event-registration service.

Thin by design: each route parses the request, calls ``chalicelib`` and maps
the outcome to a response. The surface is README.md's "HTTP API".
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import Chalice, Rate, Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from chalicelib import (
    clock,
    cors,
    dates,
    jobs,
    pages,
    registrations,
    store,
    tokens,
)
from chalicelib.bodies import FORM_TYPE, parse_body, parse_email_body, parse_token_body
from chalicelib.errors import ServiceError
from chalicelib.events import Event
from chalicelib.i18n import RESEND_ANSWER, RESEND_OVER
from chalicelib.lambdalog import with_lambda_context
from chalicelib.problems import Problem
from chalicelib.routes import answers, door, static
from chalicelib.routes.answers import (
    PAGE_METHODS,
    SERVICE_LANGUAGES,
    ErrorAnswer,
    current_request,
    event_page,
    header,
    headers_only,
    html_answer,
    in_our_format,
    json_answer,
    preflight,
    query,
    raw_body,
    vary_on_accept,
    visitor_language,
)
from chalicelib.routes.static import STATIC_DIR, STATIC_TYPES
from chalicelib.settings import get_settings

# Chalice's own log handler stays off: the Powertools Logger below writes to the same logger
# ("event-registration"), and with both every line would be written twice (once not as JSON).
app = Chalice(app_name="event-registration", configure_logs=False)
# Structured JSON logs; chalicelib's modules log through child loggers of this one.
# Log ids only: never names, addresses or tokens.
logger = Logger(service="event-registration")


@app.middleware("http")
def cross_origin(request: Any, get_response: Any) -> Response:
    """CORS for every answer (errors too, ``chalicelib.cors``); Chalice's own 500 and 405 as problem+json;
    no body for ``HEAD``."""
    response = headers_only(request, vary_on_accept(request, in_our_format(request, get_response(request))))
    if getattr(request, "method", "") != "OPTIONS":  # preflights answer for themselves (answers.preflight)
        cors.add_to(response.headers, getattr(request, "headers", None))
    return response


# ------------------------------------------------------------------ routes


@app.route("/events/{event_id}", methods=PAGE_METHODS, cors=False, content_types=["*/*"])
def get_event(event_id: str) -> Response:
    """Public event details (JSON), or the event's page for browsers (``Accept: text/html``).

    Seats follow the event's ``show_seats``: ``seats_left`` is the exact figure only with ``exact``.
    """
    if _wants_html():
        response = event_page(event_id, lambda event, counters, language: pages.event_page(
            event, store.availability(event, counters, clock.now()), language, base_path=".."
        ), base_path="..")
        response.headers["Vary"] = "Accept"
        return response
    try:
        event, counters = store.get_event(event_id)
    except store.EventNotFound as error:
        return ErrorAnswer(visitor_language(SERVICE_LANGUAGES)).to(error)
    body = event.public_view()
    available = store.availability(event, counters, clock.now())
    language = visitor_language(event.languages)
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
    return json_answer(body, headers={"Vary": "Accept"})


@app.route("/events/{event_id}/register", methods=PAGE_METHODS, content_types=["*/*"])
def registration_page(event_id: str) -> Response:
    """The registration form (HTML); ``?lang=``, else ``Accept-Language``, else the event's default."""
    return event_page(event_id, lambda event, counters, language: pages.registration_form(
        event, store.availability(event, counters, clock.now()), language, form_started_at=int(time.time()),
        base_path="../..",
    ))


@app.route("/events/{event_id}/thanks", methods=["GET"], content_types=["*/*"])
def thanks_page(event_id: str) -> Response:
    """The thank-you page a form post redirects to (``?ref=<receipt>&lang=``).

    The receipt (``tokens.make_receipt``, valid an hour) names the registration: the page
    says seat or waitlist (and position) and the address the email goes to. Without a valid
    one the page thanks in general terms and shows nothing of any registration.
    """
    def render(event: Event, _: Any, language: str) -> str:
        registration_id = tokens.read_receipt(event.id, query("ref"), int(clock.now().timestamp()))
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

    return event_page(event_id, render, counters=False)


@app.route("/events/{event_id}/registrations", methods=["POST"], content_types=["*/*"])
def create_registration(event_id: str) -> Response:
    """Register: JSON (201 + Location) or an HTML form post (303 to the thank-you page, 422/409 re-render).

    Errors (``ErrorAnswer``): 404 before the event is known, in the visitor's language; the body's
    problems in the event's; after that in the answer's language (:func:`_answer_language`).
    """
    on_error = ErrorAnswer(visitor_language(SERVICE_LANGUAGES))
    try:
        event = store.event_definition(event_id)  # the write checks seats and window
        on_error.language = visitor_language(event.languages)
        body = parse_body(event, header("content-type"), raw_body(), on_error.language)
        on_error.language = _answer_language(event, body.data)
        body.data.setdefault("language", on_error.language)  # emails in the language the request asked for
        if body.is_form:
            on_error.form = (event, body.data)  # errors as pages from here on
        if cors.form_from_another_site(current_request().headers):  # any body: a Blob with no type is JSON
            raise Problem(403, "form-from-another-site", on_error.language)
        result = registrations.register(event_id, body.data, on_error.language, event=event)
    except (ServiceError, Problem, BotoCoreError, ClientError) as error:
        return on_error.to(error)
    if result.stored:
        logger.info("registered", extra={"event_id": event_id, "registration_id": result.registration_id,
                                         "status": result.status})
    else:
        logger.info("honeypot post ignored", extra={"event_id": event_id})
    return _registered(event_id, result, on_error.language, is_form=body.is_form)


@app.route("/events/{event_id}/resend", methods=["POST"], content_types=["*/*"])
def resend_registration_email(event_id: str) -> Response:
    """A registrant's "send my email again" (README, "HTTP API"): ``email`` as a form post or JSON.

    202 (JSON) or a page (form post) that says the same whether or not the address is registered
    (``registrations.resend_own``); 404 for an unknown event, 422 for no address, 403 for a form
    from a page of another site, as registering answers them.
    """
    on_error = ErrorAnswer(visitor_language(SERVICE_LANGUAGES))
    is_form = (header("content-type") or "").split(";")[0].strip().lower() == FORM_TYPE
    if is_form:
        on_error.page_base_path = "../.."
    try:
        event = store.event_definition(event_id)
        on_error.language = visitor_language(event.languages)
        email, is_form = parse_email_body(header("content-type"), raw_body(), on_error.language)
        if cors.form_from_another_site(current_request().headers):
            raise Problem(403, "form-from-another-site", on_error.language)
        asked = registrations.resend_own(event, email)
    except (ServiceError, Problem, BotoCoreError, ClientError) as error:
        return on_error.to(error)
    # After the event (public knowledge) it says so rather than promise an email.
    title, detail = (RESEND_ANSWER if asked else RESEND_OVER)[on_error.language]
    if is_form:
        return html_answer(pages.message(on_error.language, title, detail, "../.."), event=event)
    return json_answer({"detail": detail}, 202 if asked else 200)


def _answer_language(event: Event, data: dict[str, Any]) -> str:
    """The language of a registration's answer: the page the person used (``?lang=``), else the emails
    they chose (the body's ``language``), else ``Accept-Language``, else the event's default."""
    page_language = query("lang")
    chosen = data.get("language") if isinstance(data.get("language"), str) else None
    return visitor_language(event.languages, page_language if page_language in event.languages else chosen)


def _registered(event_id: str, result: registrations.Registered, language: str, *, is_form: bool) -> Response:
    """A form post: 303 to the thank-you page (its receipt in the link); JSON: 201, ``Location`` and ``thanks_url``."""
    receipt = quote(tokens.make_receipt(event_id, result.registration_id, int(clock.now().timestamp())), safe="")
    thanks = f"thanks?lang={language}&ref={receipt}"
    if is_form:
        return Response(body="", status_code=303,
                        headers={"Location": thanks, "Cache-Control": "no-store", "Content-Type": "text/plain"})
    base = get_settings().public_base_url
    answer = {**result.as_json(), "thanks_url": f"{base}/events/{event_id}/{thanks}"}
    return json_answer(answer, 201, {"Location": f"{base}/registrations/{result.registration_id}"})


def _wants_html() -> bool:
    """Whether the client prefers HTML to JSON (``Accept``, RFC 9110 section 12.5.1, parsed by Werkzeug)."""
    accepted = parse_accept_header(header("accept") or "", MIMEAccept)
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
    except (ServiceError, BotoCoreError, ClientError) as error:
        page_base_path = base_path if _wants_html() else None
        return ErrorAnswer(visitor_language(SERVICE_LANGUAGES), page_base_path).to(error)
    if not _wants_html() and not ask_cancel:
        return json_answer(view.as_json())
    language = visitor_language(view.event.languages, query("lang") or view.language)
    page = pages.registration_status(
        view.event, language, registration_id=registration_id, status=view.status, position=view.waitlist_position,
        token=token or "", ask_cancel=ask_cancel, base_path=base_path, now=clock.now(),
        # Only a first-release token (view and cancel in one) leads from the status page to the cancel page.
        can_cancel=ask_cancel or tokens.verify_token(registration_id, token, tokens.CANCEL),
    )
    return html_answer(page, event=view.event)


@app.route("/registrations/{registration_id}", methods=["GET"], content_types=["*/*"])
def get_registration(registration_id: str) -> Response:
    """The registrant's own registration (a ``view`` token): JSON, or HTML for browsers (``Accept: text/html``)."""
    return _registrant_answer(registration_id, query("token"), ask_cancel=False, base_path="..")


@app.route("/registrations/{registration_id}/cancel", methods=["GET"], content_types=["*/*"])
def cancel_page(registration_id: str) -> Response:
    """A page asking to confirm the cancellation (a ``cancel`` token); changes nothing (mail scanners open links).

    After the event has ended it says so and offers no cancellation."""
    return _registrant_answer(registration_id, query("token"), ask_cancel=True, base_path="../..")


@app.route("/registrations/{registration_id}/cancel", methods=["POST"], content_types=["*/*"])
def cancel_registration(registration_id: str) -> Response:
    """Cancel: a ``cancel`` token in a form or JSON body. Form posts get 303 to the registration page
    (with a view token made here), JSON 200.

    After the event has ended: 409 ``event-over`` (a page for browsers), nothing changed."""
    language = visitor_language(SERVICE_LANGUAGES)
    try:
        token, is_form = parse_token_body(header("content-type"), raw_body(), language)
        view = _registrant(registration_id, token, tokens.CANCEL, cancel=True)
    except (ServiceError, Problem, BotoCoreError, ClientError) as error:  # a browser's cancel form: a page
        return ErrorAnswer(language, page_base_path="../.." if _wants_html() else None).to(error)
    result = view.cancelled
    assert result is not None  # noqa: S101 - registrations.cancel_own sets it
    logger.info("cancelled", extra={"event_id": view.event.id, "registration_id": registration_id,
                                    "changed": result.changed, "promoted_registration_id": result.promoted_id})
    if is_form:
        page_language = visitor_language(view.event.languages, query("lang") or view.language)
        seen = quote(tokens.make_token(registration_id, tokens.VIEW), safe="")
        location = f"../{registration_id}?token={seen}&lang={page_language}"
        return Response(body="", status_code=303,
                        headers={"Location": location, "Cache-Control": "no-store", "Content-Type": "text/plain"})
    return json_answer({"registration_id": registration_id, "event_id": view.event.id, "status": "cancelled",
                  "changed": result.changed})


@app.route("/events/{event_id}", methods=["OPTIONS"], content_types=["*/*"])
def get_event_preflight(event_id: str) -> Response:
    """CORS preflight for the event details."""
    return preflight()


@app.route("/events/{event_id}/registrations", methods=["OPTIONS"], content_types=["*/*"])
def create_registration_preflight(event_id: str) -> Response:
    """CORS preflight for a JSON registration from another site."""
    return preflight()


@app.route("/events/{event_id}/resend", methods=["OPTIONS"], content_types=["*/*"])
def resend_registration_email_preflight(event_id: str) -> Response:
    """CORS preflight for "send my email again" from an organiser's own page (JSON)."""
    return preflight()


@app.route("/openapi.json", methods=PAGE_METHODS, content_types=["*/*"])
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API, with a registration schema per published event."""
    events = [store.event_from_item(item) for item in store.list_event_items()]
    static = sorted(p.name for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES)
    from chalicelib import openapi  # on first use: only this route needs it

    return json_answer(openapi.document(events, get_settings().public_base_url, static))


@app.route("/openapi.json", methods=["OPTIONS"], content_types=["*/*"])
def openapi_preflight() -> Response:
    """CORS preflight for the OpenAPI document."""
    return preflight()



# ------------------------------------------------------------------ blueprints


# The static files' and the door's routes (listed after the routes above),
# and the answers' helpers, which read the request being answered through their blueprint.
app.register_blueprint(answers.blueprint)
app.register_blueprint(static.blueprint)
app.register_blueprint(door.blueprint)


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
    from chalicelib import delivery  # on first use: deployed, DeliverEmails starts from chalicelib.entry_deliver

    return delivery.handle_batch(lambda_event, context)


@app.lambda_function(name="RecordEmailEvents")
@with_lambda_context(logger)


def record_email_events(lambda_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record one SES delivery, bounce, complaint, reject or delay event (EventBridge) on its notification."""
    from chalicelib import feedback  # on first use: no route needs it

    return feedback.handle_event(lambda_event)
