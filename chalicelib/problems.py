"""Error answers as ``application/problem+json`` (RFC 9457).

Every error the API gives a client is a :class:`Problem`: ``type`` (a relative
URI ``/problems/<code>``), ``title``, ``status``, ``detail`` and, for validation,
``errors: [{field, code, message}]``; title, detail and messages are in the
request's language (``chalicelib.i18n``). A problem may carry extension members
(RFC 9457 section 3.2), e.g. ``registration_opens_at_utc`` on a
``registration-closed`` answer before registration opens.

:func:`problem_for` is the one table from the service's errors to their answers:
each ``chalicelib.errors.ServiceError`` carries its ``STATUS`` and ``CODE``, and the
table adds what some of them say beyond their detail text.
"""

from __future__ import annotations

from typing import Any

from chalicelib.dates import local_timestamp
from chalicelib.errors import ServiceError
from chalicelib.i18n import opens_on, problem_text
from chalicelib.registrations import RegistrationClosed
from chalicelib.validation import FieldError, RegistrationInvalid

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error answer: ``status`` (HTTP), ``code`` (the type's last segment), texts in ``language``.

    ``params`` fill the detail text (e.g. ``what="event"``); ``errors`` lists field errors;
    ``extensions`` are more members of the body (names other than the standard ones);
    ``more_detail`` is a sentence appended to the detail.
    """

    def __init__(
        self,
        status: int,
        code: str,
        language: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
        more_detail: str = "",
        **params: Any,
    ):
        self.status = status
        self.code = code
        self.title, self.detail = problem_text(code, language, **params)
        if more_detail:
            self.detail = f"{self.detail} {more_detail}"
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}
        super().__init__(f"{status} {code}")

    def body(self) -> dict[str, Any]:
        """The JSON object of the answer."""
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = [e.as_dict() for e in self.errors]
        for name, value in self.extensions.items():
            body.setdefault(name, value)
        return body


def problem_for(error: ServiceError | Problem, language: str) -> Problem:
    """The answer to ``error``, worded in ``language`` (README, "HTTP API"); a :class:`Problem` as it is.

    ``validation.RegistrationInvalid`` lists its field errors (422 ``validation-failed``);
    ``registrations.RegistrationClosed`` before registration opens says when it opens (in the
    event's zone, with its abbreviation) and carries ``registration_opens_at`` (local) and
    ``registration_opens_at_utc``; ``checkin.DoorLinkExpired`` says when, in the event's zone (its
    ``problem_params``, as every other error's values for its detail text);
    ``errors.Busy`` asks to retry after a second
    (``Retry-After: 1``). Every other error is its ``STATUS``, ``CODE`` and detail text.
    """
    if isinstance(error, Problem):
        return error
    if isinstance(error, RegistrationInvalid):
        return Problem(error.STATUS, error.CODE, language, errors=error.errors)
    if isinstance(error, RegistrationClosed) and error.state == "not_yet_open":
        event = error.event
        if event.registration_opens_at is not None:
            view = event.public_view()
            opens = local_timestamp(event, event.utc(event.registration_opens_at), language)
            extensions = {name: view[name] for name in ("registration_opens_at", "registration_opens_at_utc")}
            return Problem(error.STATUS, error.CODE, language, state=error.state, more_detail=opens_on(language, opens),
                           extensions=extensions)
    return Problem(error.STATUS, error.CODE, language, headers=dict(error.HEADERS), **error.problem_params(language))
