"""The local API server's HTTP handling, answered as the deployed API Gateway stage answers.

Chalice's development server (``chalice.local``, under ``http.server``) answers what API Gateway
never lets through its own way; :class:`GatewayRequestHandler` answers it as the deployed stack does
(README "HTTP API": every error is ``application/problem+json``):

- any method reaches the app (405 problem+json for one a route does not take), not a 501 page;
- a ``HEAD`` answer carries the GET answer's ``Content-Length`` the app gives it, once;
- an unknown path is 404 ``not-found``, as the stack's gateway responses give
  (infrastructure/stacks/registration.py, ``GATEWAY_PROBLEMS``), not ``403 Missing Authentication Token``;
- a body is read by its ``Content-Length`` only (RFC 9112, section 6): one that is not a whole number
  of bytes (``abc``, ``-1``), differing ones, or a body that ends before it is 400 ``malformed-body``;
  one over API Gateway's 10 MB payload limit is 413 ``body-too-large`` (nothing read); a
  ``Transfer-Encoding`` (chunked) body is 411 ``length-required``. Each of these answers closes the
  connection, so no byte of that body is read as the next request;
- a request line or headers the server cannot read (400), a URL too long (414), too many or too long
  header lines (431) and an HTTP version it does not serve (505) are problem+json
  (``/problems/bad-request``, as the stack's ``DEFAULT_4XX``), not Python's HTML error page;
- a client that drops the connection leaves one short line in the log, not a traceback.
"""

from __future__ import annotations

import functools
import json
import re
from http import HTTPStatus
from typing import Any

from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalDevServer, LocalGatewayException

PROBLEM_JSON = "application/problem+json"

#: API Gateway's payload limit, in bytes (10 MB: "API Gateway quotas", AWS documentation).
GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024

#: What the deployed API Gateway answers for a path or method no route takes
#: (infrastructure/stacks/registration.py, GATEWAY_PROBLEMS); the local server answers the same.
UNKNOWN_ROUTE_BODY = (
    b'{"type": "/problems/not-found", "title": "Not found", "status": 404, '
    b'"detail": "There is no page or endpoint here, or it does not accept this method."}'
)

#: The detail of each answer the HTTP server gives before the app sees a request (http.server's calls
#: of ``send_error``); the type and title are the deployed stage's ``DEFAULT_4XX`` gateway response's.
SERVER_ERROR_DETAILS = {
    HTTPStatus.BAD_REQUEST: "The request line or its headers could not be read.",
    HTTPStatus.REQUEST_URI_TOO_LONG: "The URL is too long.",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "The request has too many header lines, or one too long.",
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "Only HTTP/1.0 and HTTP/1.1 are served.",
}

# Content-Length = 1*DIGIT (RFC 9110, section 8.6); a list of one repeated value is the same length.
_DIGITS = re.compile(r"[0-9]+")


class Framing(Exception):
    """A request whose body cannot be delimited or is refused unread: the ``status`` and problem ``body``
    (a dict) to answer; the connection is closed after it."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(f"{status} {body['type']}")
        self.status = status
        self.body = body


def content_length(values: list[str]) -> int:
    """The body's length in bytes from the request's ``Content-Length`` header values (none: 0).

    Raises :class:`Framing`: 400 ``malformed-body`` for a value that is not a whole number of bytes
    (``abc``, ``-1``, ``1e3``) or values that differ (RFC 9112, section 6.3); 413 ``body-too-large``
    for more than :data:`GATEWAY_PAYLOAD_BYTES`.
    """
    lengths = {part.strip() for value in values for part in value.split(",")}
    if not lengths:
        return 0
    if len(lengths) != 1 or not all(_DIGITS.fullmatch(length) for length in lengths):
        raise Framing(400, _malformed("The Content-Length header must be one whole number of bytes "
                                      "(RFC 9110, section 8.6)."))
    length = int(lengths.pop())
    if length > GATEWAY_PAYLOAD_BYTES:
        from chalicelib.problems import Problem

        raise Framing(413, Problem(413, "body-too-large", "en", size=length, limit=GATEWAY_PAYLOAD_BYTES).body())
    return length


def _malformed(detail: str) -> dict[str, Any]:
    """The app's 400 ``malformed-body`` problem (its English title, chalicelib.i18n) with ``detail``."""
    from chalicelib.problems import Problem

    return {**Problem(400, "malformed-body", "en", expected="json").body(), "detail": detail}


LENGTH_REQUIRED = {
    "type": "/problems/length-required", "title": "Length required", "status": 411,
    "detail": "Send the body with a Content-Length header and no Transfer-Encoding: a chunked body is not read.",
}


class GatewayRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler, answering what it cannot serve as the deployed stage does (module docstring)."""

    _body: bytes | None = None
    request_version: str  # set by http.server for each request

    def __getattr__(self, name: str) -> Any:
        """``do_<METHOD>`` for every method (TRACE, QUERY, ...): the app answers it."""
        if name.startswith("do_") and name[3:].isalpha():
            return self._generic_handle
        raise AttributeError(name)

    def _generic_handle(self) -> None:
        try:
            self._body = self._read_body()
        except Framing as refused:
            self._send_problem(refused.status, refused.body, close=True)
            return
        super()._generic_handle()

    # ChaliceRequestHandler bound these to its own _generic_handle
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _read_body(self) -> bytes | None:
        """The body, read by its ``Content-Length`` (``None`` for none). Raises :class:`Framing`."""
        if self.headers.get_all("Transfer-Encoding"):
            raise Framing(411, LENGTH_REQUIRED)
        length = content_length(self.headers.get_all("Content-Length") or [])
        if not length:
            return None
        body: bytes = self.rfile.read(length)
        if len(body) < length:
            raise Framing(400, _malformed(f"The body ended after {len(body)} of the {length} bytes its "
                                          "Content-Length announced."))
        return body

    def _parse_payload(self) -> tuple[dict[str, Any], bytes | None]:
        return dict(self.headers), self._body

    def _send_error_response(self, error: LocalGatewayException) -> None:
        """404 problem+json for an unknown path, as the deployed stack's gateway responses give.

        Chalice's development server imitates API Gateway's defaults instead (``403 Missing
        Authentication Token``; with an ``Authorization`` header, 403 echoing it as a broken AWS
        signature), which the stack replaces.
        """
        body = (error.body or b"") if isinstance(error, ForbiddenError) else b""
        if b"Missing Authentication Token" in body or b"Authorization header requires" in body:
            # the deployed gateway response's headers; a HEAD gets the length and no body (it got the body,
            # which the client then read as the start of the next answer)
            headers = {"Content-Type": PROBLEM_JSON, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
            if self.command == "HEAD":
                headers["Content-Length"] = str(len(UNKNOWN_ROUTE_BODY))
                self._send_http_response_with_body(404, headers, b"")
                return
            self._send_http_response(404, headers, UNKNOWN_ROUTE_BODY)
            return
        super()._send_error_response(error)

    def _send_http_response_with_body(self, code: int, headers: dict[str, Any], body: str | bytes) -> None:
        """A ``HEAD`` answer keeps the ``Content-Length`` the app gives it (the GET answer's length,
        ``chalicelib.routes.answers.headers_only``); Chalice's development server would send its own
        ``0`` for the empty body as well, two differing lengths (RFC 9110 section 8.6)."""
        length = headers.pop("Content-Length", None) if self.command == "HEAD" else None
        if length is None:
            super()._send_http_response_with_body(code, headers, body)
            return
        self.send_response(code)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's error answer (400, 414, 431, 505 before the app sees the request) as problem+json.

        The log line stays http.server's (``code 431, message Too many headers``; what it quotes of
        the request is hidden by :mod:`localservice.redact`); the status line has the standard reason,
        and is sent also when the request line could not be read (http.server then takes it for HTTP/0.9,
        which has no status line).
        """
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message or status.phrase)
        if self.request_version == "HTTP/0.9":  # unread yet, or a line it could not read: answer with a status line
            self.request_version = self.protocol_version
        self._send_problem(code, {"type": "/problems/bad-request", "title": "Request refused", "status": code,
                                  "detail": SERVER_ERROR_DETAILS.get(status, status.description)}, close=True)

    def _send_problem(self, status: int, body: dict[str, Any], *, close: bool) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", PROBLEM_JSON)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")  # as every answer (README, "HTTP API")
        self.send_header("X-Content-Type-Options", "nosniff")
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def handle(self) -> None:
        """Serve the connection's requests; a client that drops it gets one log line, not a traceback."""
        try:
            super().handle()
        except ConnectionError as error:  # reset, broken pipe, aborted
            self.close_connection = True
            self.log_message("connection closed by the client (%s)", type(error).__name__)


def install(server: LocalDevServer, app: Any, config: Any) -> None:
    """Serve ``server``'s connections (made by ``chalice.local.create_local_server`` for ``app`` and its
    ``config``) with :class:`GatewayRequestHandler`."""
    server.server.RequestHandlerClass = functools.partial(GatewayRequestHandler, app_object=app, config=config)
