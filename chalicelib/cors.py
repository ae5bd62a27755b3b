"""Cross-origin requests (CORS) from an allow-list of origins, per stage.

Chalice's own CORS support allows one origin per route, and an organiser may
have several sites (``www`` and a campaign site, a test site). So the service
answers CORS itself:

- every answer to a request whose ``Origin`` is in ``ALLOWED_ORIGINS``
  (:attr:`chalicelib.settings.Settings.allowed_origins`) carries
  ``Access-Control-Allow-Origin: <that origin>``, error answers
  (``application/problem+json``, 405) included, so a page on that site can read them;
- every answer carries ``Vary: Origin``, so caches keep the variants apart;
- a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from an
  allowed origin is answered with the methods and headers the route takes;
- an origin that is not allowed gets no CORS header at all: the browser then
  refuses to show the answer to the page, which is the point.

No credentials are involved (no cookies), so ``Access-Control-Allow-Credentials``
is never sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.settings import get_settings

#: Request headers a cross-origin page may send (besides the CORS-safelisted ones).
ALLOWED_REQUEST_HEADERS = ("Content-Type", "Accept", "Accept-Language")
#: Response headers a cross-origin page may read (besides the CORS-safelisted ones).
EXPOSED_HEADERS = ("Location", "Retry-After")
#: How long a browser may cache a preflight answer (seconds).
PREFLIGHT_MAX_AGE = "600"


def _get(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def allowed_origin(origin: str | None, allowed: Iterable[str] | None = None) -> str | None:
    """``origin`` if it is on the allow-list (exact match of scheme, host and port), else ``None``.

    ``allowed`` defaults to the settings' ``allowed_origins``; ``null`` and ``*`` are never allowed.
    """
    if not origin or origin == "null":
        return None
    origins = tuple(get_settings().allowed_origins if allowed is None else allowed)
    candidate = origin.strip().rstrip("/")
    return candidate if candidate in origins and candidate != "*" else None


def form_from_another_site(request_headers: Mapping[str, str] | None) -> bool:
    """Whether a post comes from a page of another site that is not on the allow-list (CSRF): a form,
    or a body a page sends without a CORS preflight (``fetch`` of a ``Blob`` without a type, read as
    JSON; ``navigator.sendBeacon``).

    A browser says where a request comes from in ``Sec-Fetch-Site`` (W3C Fetch Metadata): our own
    form (its page, or in an iframe) posts ``same-origin``. A post ``cross-site`` or ``same-site``
    is taken only from an origin in ``ALLOWED_ORIGINS`` (an organiser's own HTML form, README
    "Embedding the form"), so a page elsewhere cannot make its visitors' browsers register, each
    from another IP address, past the AWS WAF's per-address limit. ``Origin`` alone cannot tell:
    a page with ``Referrer-Policy: no-referrer`` (ours has it) posts ``Origin: null``. A browser
    that sends no ``Sec-Fetch-Site`` (before 2023) and any non-browser client are not refused.
    """
    site = (_get(request_headers, "sec-fetch-site") or "").strip().lower()
    if site not in ("cross-site", "same-site"):
        return False
    return allowed_origin(_get(request_headers, "origin")) is None


def response_headers(request_headers: Mapping[str, str] | None) -> dict[str, str]:
    """The CORS headers of an ordinary answer to a request with ``request_headers``.

    ``Vary: Origin`` always; ``Access-Control-Allow-Origin`` and
    ``Access-Control-Expose-Headers`` only for an allowed ``Origin``.
    """
    headers = {"Vary": "Origin"}
    origin = allowed_origin(_get(request_headers, "origin"))
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return headers


def preflight_headers(request_headers: Mapping[str, str] | None, methods: Iterable[str]) -> dict[str, str]:
    """The headers of the answer to a preflight for a route that takes ``methods``.

    ``Allow`` lists the route's methods for anyone; the ``Access-Control-*`` headers
    are added only for an allowed origin asking for one of those methods.
    """
    methods = [m.upper() for m in methods]
    if "OPTIONS" not in methods:
        methods.append("OPTIONS")
    headers = {
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        "Allow": ", ".join(methods),
    }
    origin = allowed_origin(_get(request_headers, "origin"))
    wanted = (_get(request_headers, "access-control-request-method") or "").upper()
    if origin and wanted in methods:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ", ".join(methods),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_REQUEST_HEADERS),
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
    return headers


def add_vary(headers: dict[str, Any], field: str) -> None:
    """Name ``field`` in the answer's ``Vary`` (RFC 9110 section 12.5.5), in place: added to a ``Vary``
    it already has (any case of the header name), once."""
    vary = next((k for k in headers if k.lower() == "vary"), None)
    if vary is None:
        headers["Vary"] = field
    elif field.lower() not in {part.strip().lower() for part in str(headers[vary]).split(",")}:
        headers[vary] = f"{headers[vary]}, {field}"


def add_to(headers: dict[str, Any], request_headers: Mapping[str, str] | None) -> None:
    """Add the CORS headers of :func:`response_headers` to an answer's ``headers`` in place.

    A ``Vary`` the answer already has is extended with ``Origin``; an answer that
    already carries ``Access-Control-Allow-Origin`` (a preflight) is otherwise left alone.
    """
    cors = response_headers(request_headers)
    add_vary(headers, "Origin")
    if any(k.lower() == "access-control-allow-origin" for k in headers):
        return
    headers.update({k: v for k, v in cors.items() if k != "Vary"})
