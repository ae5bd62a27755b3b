"""Error answers as ``application/problem+json`` (RFC 9457).

Every error the API gives a client is a :class:`Problem`: ``type`` (a relative
URI ``/problems/<code>``), ``title``, ``status``, ``detail`` and, for validation,
``errors: [{field, code, message}]``; title, detail and messages are in the
request's language (``chalicelib.i18n``). A problem may carry extension members
(RFC 9457 section 3.2), e.g. ``registration_opens_at_utc`` on a
``registration-closed`` answer before registration opens.
"""

from __future__ import annotations

from typing import Any

from chalicelib.i18n import problem_text
from chalicelib.validation import FieldError

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
