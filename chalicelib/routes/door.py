"""The door's routes (README, "Check-in at the door"): the door page and its JSON API, bearer: a door link.

The check-in code and the door page are imported by the route that needs them: the API function's
cold start does not load them for the registrants' routes (README, "Performance").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import Blueprint, Response
from pydantic import BaseModel, StrictStr

from chalicelib import clock, store
from chalicelib.bodies import parse_json_object
from chalicelib.errors import ServiceError
from chalicelib.events import Event
from chalicelib.i18n import field_error
from chalicelib.problems import Problem
from chalicelib.routes.answers import (
    SERVICE_LANGUAGES,
    ErrorAnswer,
    event_page,
    header,
    json_answer,
    raw_body,
    visitor_language,
)
from chalicelib.validation import FieldError, validate_fields

if TYPE_CHECKING:
    from chalicelib import checkin

blueprint = Blueprint(__name__)
# A child of app.py's logger: ids only, never names, addresses or tokens.
logger = Logger(service="event-registration", child=True)

#: RFC 6750 section 3: a door route's 401 says which scheme it wants, and whether the token given was bad.
DOOR_CHALLENGE = 'Bearer realm="door"'


def _door(event_id: str, token: str | None, on_error: ErrorAnswer) -> tuple[Event, checkin.DoorPass]:
    """``(event, door pass)`` of a door API call: the ``Authorization: Bearer`` door link, then the event.

    Raises ``checkin.DoorLinkInvalid``, ``checkin.DoorLinkExpired`` (with the event, for its zone)
    and ``store.EventNotFound``; ``on_error`` answers in the event's languages once it is known.
    """
    from chalicelib import checkin

    try:  # the signature first: a request without a genuine link costs no read
        door = checkin.read_door_token(event_id, token, clock.now())
    except checkin.DoorLinkExpired as expired:
        expired.event = store.event_definition(event_id)
        on_error.language = visitor_language(expired.event.languages)
        raise
    event = store.event_definition(event_id)
    on_error.language = visitor_language(event.languages)
    return event, door


def _door_answer(event_id: str, act: Callable[[Event, checkin.DoorPass, str], Any]) -> Response:
    """Run ``act(event, door, language)`` for a door API route; errors as problem+json (README, "Check-in at
    the door"), a 401 with ``WWW-Authenticate`` (RFC 6750 section 3.1: ``invalid_token`` when one was given)."""
    from chalicelib import checkin

    token = checkin.bearer_token(header("authorization"))
    on_error = ErrorAnswer(visitor_language(SERVICE_LANGUAGES))
    try:
        event, door = _door(event_id, token, on_error)
        return json_answer(act(event, door, on_error.language))
    except (ServiceError, Problem, BotoCoreError, ClientError) as error:
        answer = on_error.to(error)
    if answer.status_code == 401:
        answer.headers["WWW-Authenticate"] = f'{DOOR_CHALLENGE}, error="invalid_token"' if token else DOOR_CHALLENGE
    return answer


class CodeBody(BaseModel):
    """``{"code": "..."}`` of a check-in or undo: a JSON string (README, "HTTP API"); other members are ignored."""

    code: StrictStr


class SearchBody(BaseModel):
    """``{"query": "..."}`` of a door search: a JSON string (README, "HTTP API"); other members are ignored."""

    query: StrictStr


Body = TypeVar("Body", bound=BaseModel)


def _door_body(model: type[Body], language: str) -> Body:
    """The request's JSON object as ``model``. Raises ``Problem`` 413, 415 or 400 (``bodies.parse_json_object``)
    and ``validation.RegistrationInvalid`` (422 ``validation-failed``: a member missing, ``required``, or
    not a string, ``invalid_type``; messages in ``language``)."""
    body = validate_fields(model, parse_json_object(header("content-type"), raw_body(), language), language)
    assert isinstance(body, model)  # noqa: S101 - validate_fields returns an instance of the model it is given
    return body


@blueprint.route("/events/{event_id}/door", methods=["GET"], content_types=["*/*"])
def door_page(event_id: str) -> Response:
    """The door page (HTML): scans check-in codes, finds people; the link's token stays in its fragment."""
    from chalicelib import doorpage

    response = event_page(event_id, lambda event, _, lang: doorpage.page(event, lang, base_path="../.."),
                           counters=False)
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    return response


@blueprint.route("/events/{event_id}/door/summary", methods=["GET"], content_types=["*/*"])
def door_summary(event_id: str) -> Response:
    """Checked in and confirmed (the page polls it), and until when the link works."""
    from chalicelib import checkin, doorpage

    return _door_answer(event_id, lambda event, door, lang: doorpage.summary_json(
        event, checkin.summary(event.id), door, lang))


def _code_answer(event_id: str, message: str, write: Callable[[str, str], checkin.Result]) -> Response:
    """A door route that writes by a code: ``write(event id, code)`` on the body's ``{"code": "..."}`` (a code
    that is no code of ours is an ``unknown_code`` outcome; a ``code`` missing or not a JSON string is 422),
    logged as ``message`` with ids only (the event, the outcome, the door link's key, the registration),
    answered as ``doorpage.result_json``."""
    from chalicelib import doorpage

    def act(event: Event, door: checkin.DoorPass, language: str) -> Any:
        result = write(event.id, _door_body(CodeBody, language).code)
        person = result.person.registration_id if result.person else None
        logger.info(message, extra={"event_id": event.id, "outcome": result.outcome, "door_key": door.key_id,
                                    "registration_id": person})
        return doorpage.result_json(event, result, language)

    return _door_answer(event_id, act)


@blueprint.route("/events/{event_id}/door/checkins", methods=["POST"], content_types=["*/*"])
def door_check_in(event_id: str) -> Response:
    """Check in by code (scanned or typed): ``{"code": ...}`` -> the outcome (always 200 for a read code)."""
    from chalicelib import checkin

    return _code_answer(event_id, "door check-in",
                        lambda event_id, code: checkin.check_in_code(event_id, code, clock.now()))


@blueprint.route("/events/{event_id}/door/undo", methods=["POST"], content_types=["*/*"])
def door_undo(event_id: str) -> Response:
    """Take back a check-in by its code: ``{"code": ...}`` -> ``undone``, or ``not_checked_in``, ``cancelled``,
    ``erased`` (only a confirmed registration's check-in is on the door's count)."""
    from chalicelib import checkin

    return _code_answer(event_id, "door check-in undone", checkin.undo_code)


@blueprint.route("/events/{event_id}/door/search", methods=["POST"], content_types=["*/*"])
def door_search(event_id: str) -> Response:
    """Confirmed registrations by name or address: ``{"query": ...}`` -> ``{results, more}`` (no addresses)."""
    from chalicelib import checkin, doorpage

    def act(event: Event, door: checkin.DoorPass, lang: str) -> Any:
        query = _door_body(SearchBody, lang).query
        try:
            people, more = checkin.search(event.id, query)
        except ValueError:
            raise Problem(422, "validation-failed", lang, errors=[
                FieldError("query", "search_too_short", field_error("search_too_short", lang))]) from None
        return {"results": [doorpage.person_json(event, person, lang) for person in people], "more": more}

    return _door_answer(event_id, act)

