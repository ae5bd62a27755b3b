"""How the HTTP routes answer (README, "HTTP API"): the request's parts, pages, JSON and problem+json with
the security headers, the one error-to-answer mapping, CORS preflights and Chalice's own errors in our format.

The routes of ``app.py`` and of the blueprints in :mod:`chalicelib.routes` use these helpers.
:data:`blueprint` has no routes of its own: ``app.py`` registers it so the helpers can read the
request being answered (``Blueprint.current_request``) and the route table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import Blueprint, Request, Response

from chalicelib import clock, cors, pages, store
from chalicelib.errors import ServiceError, unavailable
from chalicelib.events import SUPPORTED_LANGUAGES, Event
from chalicelib.i18n import negotiate
from chalicelib.problems import PROBLEM_CONTENT_TYPE, Problem, problem_for
from chalicelib.settings import get_settings

#: Registered by ``app.py``: the helpers' way to the request being answered and the route table.
blueprint = Blueprint(__name__)

HTML = "text/html; charset=utf-8"
#: Languages of an answer that is no event's (a 404, a bad token, a 405): the supported ones, English
#: first, the language when neither ``?lang=`` nor ``Accept-Language`` decides (``i18n.negotiate``).
SERVICE_LANGUAGES: tuple[str, ...] = ("en", *(language for language in SUPPORTED_LANGUAGES if language != "en"))

#: Response headers as Chalice types them (a header may repeat: a list of values).
Headers = dict[str, str | list[str]]


def current_request() -> Request:
    """The request being answered (Chalice sets it for every route call); ``RuntimeError`` outside a route."""
    request: Request = blueprint.current_request
    return request


def query(name: str) -> str | None:
    """The query parameter ``name`` of the request being answered, or ``None``."""
    params = current_request().query_params
    value = params.get(name) if params else None
    return value if isinstance(value, str) else None


def header(name: str) -> str | None:
    """The request header ``name`` (any case), or ``None``."""
    value = current_request().headers.get(name)
    return value if isinstance(value, str) else None


def raw_body() -> bytes | None:
    """The request body as bytes (``None`` without one)."""
    body = current_request().raw_body
    return body.encode("utf-8") if isinstance(body, str) else body


def visitor_language(candidates: tuple[str, ...], explicit: str | None = None) -> str:
    """The answer's language among ``candidates``: ``explicit``, else ``?lang=``, else ``Accept-Language``."""
    return negotiate(candidates, explicit or query("lang"), header("accept-language"))


def security_headers(content_type: str, img_origin: str | None = None) -> Headers:
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


def html_answer(body: str, status: int = 200, event: Event | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
    """An HTML page; ``event`` (when the page is an event's) lets its logo host into the CSP; ``headers`` added."""
    origin = event.branding.logo_origin if event is not None and event.branding else None
    return Response(body=body, status_code=status, headers={**security_headers(HTML, origin), **(headers or {})})


def json_answer(body: Any, status: int = 200, headers: Headers | None = None) -> Response:
    """A JSON answer (``application/json``, UTF-8 as is) with the security headers and ``headers``."""
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={**security_headers("application/json"), **(headers or {})},
    )


def problem_answer(problem: Problem) -> Response:
    """A problem+json answer (RFC 9457) with its status and headers (e.g. ``Retry-After``)."""
    return Response(
        body=json.dumps(problem.body(), ensure_ascii=False),
        status_code=problem.status,
        headers={**security_headers(PROBLEM_CONTENT_TYPE), **problem.headers},
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

    def to(self, error: ServiceError | Problem | Exception) -> Response:
        """The answer to ``error``: a service error or problem, or a passing AWS failure (botocore's
        ``BotoCoreError``/``ClientError`` that ``errors.unavailable`` recognises: 503 ``unavailable``); any
        other exception is raised again (a bug: 500)."""
        if not isinstance(error, (ServiceError, Problem)):
            transient = unavailable(error)
            if transient is None:
                raise error
            error = transient
        problem = problem_for(error, self.language)
        if self.form is not None and problem.status in (409, 422):
            event, values = self.form
            return form_again(event, values, self.language, error, problem)
        page_base_path = "../.." if self.form is not None else self.page_base_path  # a form post: a page
        if page_base_path is not None:
            page = pages.message(self.language, problem.title, problem.detail, page_base_path)
            return html_answer(page, problem.status, headers=dict(problem.headers))
        return problem_answer(problem)


def form_again(event: Event, values: dict[str, Any], language: str, error: ServiceError | Problem,
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
    if problem.status == 409 and state == "open" and problem.code != "already-registered":
        # closed at the write, open when read back: a window edge (a repeat is refused while open)
        state = "closed"
    started = max(0, int(time.time() - get_settings().min_fill_seconds) - 1)
    page = pages.registration_form(
        event, replace(available, state=state), language, base_path="../..", form_started_at=started,
        values=values, errors=errors,
    )
    return html_answer(page, problem.status, event=event)


#: The methods of the public pages and files: ``HEAD`` as well (README "HTTP API"; RFC 9110 section 9.3.2),
#: answered as ``GET`` without the body (:func:`headers_only`); uptime monitors and link checkers ask that way.
PAGE_METHODS = ["GET", "HEAD"]


def headers_only(request: Any, response: Response) -> Response:
    """The answer to a ``HEAD`` request: ``response``'s status and headers with no body (others unchanged).

    Its ``Content-Length`` is the GET answer's length in bytes, as serialised for API Gateway (RFC 9110
    section 8.6: a HEAD answer may carry it only with that value; a server's own ``0`` would be wrong).
    """
    if getattr(request, "method", "") == "HEAD":
        serialised = response.to_dict()["body"]
        response.headers["Content-Length"] = str(len(serialised.encode("utf-8") if isinstance(serialised, str)
                                                     else serialised))
        response.body = ""
    return response


#: Routes whose answer depends on ``Accept`` (JSON, or a page for ``text/html``): every answer of theirs,
#: errors too, says ``Vary: Accept`` (RFC 9110 section 12.5.5), besides CORS's ``Origin``.
NEGOTIATED_ROUTES = frozenset({"/events/{event_id}", "/registrations/{registration_id}",
                               "/registrations/{registration_id}/cancel"})


def vary_on_accept(request: Any, response: Response) -> Response:
    """``response`` with ``Accept`` in its ``Vary`` if the request's route is one of :data:`NEGOTIATED_ROUTES`."""
    if (getattr(request, "context", None) or {}).get("resourcePath") in NEGOTIATED_ROUTES:
        cors.add_vary(response.headers, "Accept")
    return response


def in_our_format(request: Any, response: Response) -> Response:
    """Chalice's own error answers (``{"Code": ...}`` bodies) as problem+json: an uncaught exception
    (already logged by Chalice with its traceback) as 500 ``internal-error``, a method the route does
    not take as 405 ``method-not-allowed`` (its ``Allow`` header kept)."""
    if response.status_code not in (405, 500) or not isinstance(response.body, dict) or "Code" not in response.body:
        return response
    language = visitor_language(SERVICE_LANGUAGES)
    if response.status_code == 500:
        return problem_answer(Problem(500, "internal-error", language))
    method = getattr(request, "method", "") or ""
    answer = problem_answer(Problem(405, "method-not-allowed", language, method=method[:20]))
    answer.headers.update({k: v for k, v in response.headers.items() if k.lower() == "allow"})
    return answer


def preflight() -> Response:
    """Answer a CORS preflight for the current route (its methods from the route table)."""
    request = current_request()
    path = (request.context or {}).get("resourcePath", "")
    methods = [m for m in blueprint.current_app.routes.get(path, {}) if m != "OPTIONS"]
    headers: Headers = {**cors.preflight_headers(request.headers, methods), "Cache-Control": "no-store"}
    return Response(body="", status_code=204, headers=headers)


def event_page(event_id: str, render: Callable[[Event, Any, str], str], base_path: str = "../..", *,
               counters: bool = True) -> Response:
    """An HTML page of an event: ``render(event, counters, language)``, or a 404 page in the visitor's language.

    ``counters=False`` for a page that shows no seats (``counters`` is then ``None``).
    """
    try:
        event, counts = store.get_event(event_id) if counters else (store.event_definition(event_id), None)
    except (store.EventNotFound, BotoCoreError, ClientError) as error:
        return ErrorAnswer(visitor_language(SERVICE_LANGUAGES), page_base_path=base_path).to(error)
    return html_answer(render(event, counts, visitor_language(event.languages)), event=event)
