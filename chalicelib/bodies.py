"""Reading registration request bodies: size, media type, charset, JSON or form.

Rules (README, "HTTP API"): bodies over 16 KiB get 413; only
``application/json`` and ``application/x-www-form-urlencoded`` (with or without
``; charset=...``) are read, anything else gets 415; a body that cannot be
parsed gets 400, and so does a JSON object naming a member twice. Content-Type
parameters are parsed by Werkzeug. Numbers of any size are read (:func:`_json_int`);
the registration model bounds them. A UTF-8 byte order mark at the start of a UTF-8
body is ignored, as RFC 8259 section 8.1 allows a JSON parser to (some Windows tools
write one), for forms too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from werkzeug.http import parse_options_header

from chalicelib.events import Event
from chalicelib.i18n import field_error, joined
from chalicelib.problems import Problem
from chalicelib.validation import FieldError, checked_email, form_to_data

MAX_BODY_BYTES = 16 * 1024
#: The UTF-8 byte order mark (U+FEFF encoded), ignored at the start of a UTF-8 body (RFC 8259 section 8.1).
UTF8_BOM = b"\xef\xbb\xbf"
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class ParsedBody:
    """A readable body: ``data`` in the JSON shape, ``is_form`` for HTML form posts."""

    data: dict[str, Any]
    is_form: bool


#: The media types a registration or cancel route reads; a 415's detail names them joined in the answer's
#: language ("Send application/json or ...", "Stuur application/json of ...": ``i18n.joined``).
JSON_OR_FORM = (JSON_TYPE, FORM_TYPE)


def _read_object(content_type: str | None, raw: bytes | None, language: str,
                 read_form: Callable[[bytes, str], dict[str, Any]], *, empty_json: bool,
                 read_as: tuple[str, ...] = JSON_OR_FORM) -> tuple[dict[str, Any], bool]:
    """``(data, is_form)`` of a JSON object or URL-encoded form body (``read_form(raw, charset)``).

    ``empty_json``: an empty JSON body reads as ``{}`` instead of 400. ``read_as``: the media types a 415
    names. Raises :class:`Problem` 413, 415 or 400 (texts in ``language``).
    """
    raw = raw or b""
    if len(raw) > MAX_BODY_BYTES:
        raise Problem(413, "body-too-large", language, size=len(raw), limit=MAX_BODY_BYTES)
    media_type, params = parse_options_header(content_type or "")
    media_type = media_type.lower()
    charset = (params.get("charset") or "utf-8").lower()
    if raw.startswith(UTF8_BOM) and charset.replace("_", "-") in ("utf-8", "utf8"):
        raw = raw[len(UTF8_BOM):]
    if media_type == FORM_TYPE:
        try:
            return read_form(raw, charset), True
        except (UnicodeError, LookupError, ValueError):
            raise Problem(400, "malformed-body", language, expected="form") from None
    if media_type in (JSON_TYPE, "") or media_type.endswith("+json"):
        if not raw and empty_json:
            return {}, False
        try:
            data = json.loads(raw.decode(charset), parse_int=_json_int, object_pairs_hook=_unique_members,
                              parse_constant=_not_json)
        except (UnicodeError, LookupError, ValueError, RecursionError):
            raise Problem(400, "malformed-body", language, expected="json") from None
        if not isinstance(data, dict):
            raise Problem(400, "malformed-body", language, expected="json")
        return data, False
    raise Problem(415, "unsupported-media-type", language, got=media_type[:100],
                  accepted=joined(list(read_as), language, style="or"))


def _not_json(constant: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``, which Python reads but RFC 8259 section 6 does not allow:
    ``ValueError`` (400 ``malformed-body``, as other parsers would refuse the body)."""
    raise ValueError(f"{constant} is not JSON")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose member names are unique, else ``ValueError`` (400 ``malformed-body``).

    RFC 8259 section 4: with a name twice, parsers disagree on which value counts (Python keeps the
    last, others the first), so a firewall and the service could read different registrations.
    """
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member name appears twice")
    return members


#: Longest integer literal read as an ``int``; Python refuses ``int()`` of over 4300 digits
#: (``sys.get_int_max_str_digits``), and no field takes a number this long.
JSON_INT_DIGITS = 100


def _json_int(literal: str) -> int | float:
    """A JSON integer literal: an ``int``, or ``±inf`` when longer than :data:`JSON_INT_DIGITS`
    digits, which the registration model refuses as out of range, naming the field (422, not 400)."""
    if len(literal.lstrip("-")) > JSON_INT_DIGITS:
        return float("-inf") if literal.startswith("-") else float("inf")
    return int(literal)


def parse_body(event: Event, content_type: str | None, raw: bytes | None, language: str) -> ParsedBody:
    """Read a registration body. Raises :class:`Problem` 413, 415 or 400 (texts in ``language``)."""
    data, is_form = _read_object(content_type, raw, language,
                                 lambda body, charset: form_to_data(event, body, charset), empty_json=False)
    return ParsedBody(data, is_form)


def _token_form(body: bytes, charset: str) -> dict[str, Any]:
    pairs = parse_qs(body.decode("ascii"), keep_blank_values=True, encoding=charset, errors="strict")
    return {"token": (pairs.get("token") or [""])[-1]}


def parse_token_body(content_type: str | None, raw: bytes | None, language: str) -> tuple[str, bool]:
    """The ``token`` of a cancel post (form or JSON) and whether it was a form post.

    Raises :class:`Problem` 413, 415 or 400 like :func:`parse_body`; a missing token gives 403 later, not here.
    """
    data, is_form = _read_object(content_type, raw, language, _token_form, empty_json=True)
    token = data.get("token")
    return (token if isinstance(token, str) else ""), is_form


def _email_form(body: bytes, charset: str) -> dict[str, Any]:
    pairs = parse_qs(body.decode("ascii"), keep_blank_values=True, encoding=charset, errors="strict")
    return {"email": (pairs.get("email") or [""])[-1]}


def parse_email_body(content_type: str | None, raw: bytes | None, language: str) -> tuple[str, bool]:
    """The ``email`` of a "send my email again" post (form or JSON; README, "HTTP API") and whether it
    was a form post. Raises :class:`Problem` 413, 415 or 400 like :func:`parse_body`, and 422
    ``validation-failed`` when ``email`` is missing, not a string, or no address registering accepts
    (for a form post its detail says why: the page shows no ``errors`` list).
    """
    data, is_form = _read_object(content_type, raw, language, _email_form, empty_json=False)
    email = data.get("email")
    code = "required" if email is None or (isinstance(email, str) and not email.strip()) else (
        "invalid_type" if not isinstance(email, str) else "")
    if not code:
        try:
            return checked_email(str(email)), is_form
        except ValueError:
            code = "invalid_email"
    reason = field_error(code, language)
    raise Problem(422, "validation-failed", language, errors=[FieldError("email", code, reason)],
                  more_detail=reason if is_form else "")


def parse_json_object(content_type: str | None, raw: bytes | None, language: str) -> dict[str, Any]:
    """A JSON object body (the door page's API, README "Check-in at the door"): ``application/json``
    (or no Content-Type) only. Raises :class:`Problem` 413, 415 (a form post too) or 400."""
    def refuse(_body: bytes, _charset: str) -> dict[str, Any]:
        raise _NotJson()

    try:
        data, _ = _read_object(content_type, raw, language, refuse, empty_json=False, read_as=(JSON_TYPE,))
    except _NotJson:
        raise Problem(415, "unsupported-media-type", language, got=FORM_TYPE, accepted=JSON_TYPE) from None
    return data


class _NotJson(Exception):
    """A form body where only JSON is read (escapes ``_read_object``'s handling of form errors)."""
