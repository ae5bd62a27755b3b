"""The OpenAPI 3.1 description of the HTTP API (``GET /openapi.json``).

Generated, not hand-written: the schemas come from the Pydantic models
(``model_json_schema``) and the registration model of each event
(:func:`chalicelib.validation.registration_model`), so the document cannot
drift from what the service validates.

Each event has its own registration form (its ``questions``), so the body of a
registration differs per event. The approach:

- ``components.schemas.Registration_<event>`` holds each published event's
  registration model, with the rules the service applies that JSON Schema can
  state (lengths, options, the consent that must be ``true``, the phone pattern);
- every published event gets a concrete path
  ``/events/<event id>/registrations`` whose body is exactly its schema (OpenAPI
  matches concrete paths before templated ones), so client generators and
  fuzzers get the precise form of each event;
- the templated ``/events/{event_id}/registrations`` documents the general case
  (any ``event_id``, body ``anyOf`` the events' schemas), including the 404 for
  an unknown event.

Errors are ``application/problem+json`` (RFC 9457) with the ``Problem`` schema;
422 answers to JSON add ``errors: [{field, code, message}]``. HTML form posts
(``application/x-www-form-urlencoded``) answer 303 to the thank-you page, or a
re-rendered form (``text/html``) with 409/422.

What follows a registration happens by email, outside this API: a confirmation (or
waitlist place) with a calendar invite, a promotion, a cancellation, and the
reminders before the event that ``GET /events/{event_id}`` lists in ``reminders``
(times before the start, such as ``1d``), each with the registrant's personal links.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from chalicelib import checkin
from chalicelib.bodies import MAX_BODY_BYTES
from chalicelib.events import Event
from chalicelib.i18n import FIELD_ERRORS
from chalicelib.validation import EMAIL_MAX, NAME_MAX, PHONE_PATTERN, registration_model

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
PROBLEM = "application/problem+json"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"

#: A string with at least one character that is not white space (the service trims).
NOT_BLANK = r"\S"
#: A single-line text: no control characters (C0, DEL, C1) and no line or paragraph separators anywhere.
SINGLE_LINE = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"

_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema_name(event_id: str) -> str:
    return "Registration_" + re.sub(r"[^A-Za-z0-9_]", "_", event_id)


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move a Pydantic schema's ``$defs`` into ``components`` (refs already point there)."""
    schema = copy.deepcopy(schema)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def _text_rules(limit: int, *, required: bool, multiline: bool) -> dict[str, Any]:
    rules: dict[str, Any] = {"type": "string", "maxLength": limit}
    if not multiline:
        rules["pattern"] = SINGLE_LINE
    if required:
        rules = {"allOf": [rules, {"pattern": NOT_BLANK}]}
    return rules


def registration_schema(event: Event) -> dict[str, Any]:
    """The JSON Schema of a registration for ``event``: the Pydantic model plus the rules it checks in code.

    Pydantic states the field names, types, required fields, the languages and
    ``additionalProperties: false``; the custom validators (trimmed text, email,
    phone, choices, consent) are added here as ``maxLength``, ``pattern``,
    ``enum``, ``format`` and ``const`` so the schema says what the service accepts.
    """
    schema = registration_model(event).model_json_schema(ref_template=_REF)
    props = schema["properties"]
    props["name"] = {"title": "Name", **_text_rules(NAME_MAX, required=True, multiline=False)}
    props["email"] = {"title": "Email", "type": "string", "format": "email", "maxLength": EMAIL_MAX}
    props["consent"] = {"title": "Consent", "type": "boolean", "const": True,
                        "description": "Agreement to the privacy statement; must be true."}
    props["website"] = {**props["website"], "description": "Honeypot: leave empty. A filled one gets the answer a "
                        "person's post would get and stores nothing."}
    props["form_started_at"] = {
        **props["form_started_at"],
        "description": "When the form was shown (our form fills it in): epoch seconds, or epoch milliseconds "
        "(JavaScript's Date.now()) for values above 1e11. A registration sent sooner than MIN_FILL_SECONDS after it "
        "is refused with 422 (code too_fast: check and send again); a time in the future is not judged.",
    }
    for question in event.questions:
        title = props[question.id].get("title", question.id)
        if question.type in ("text", "textarea"):
            rule = _text_rules(question.text_limit, required=question.required, multiline=question.type == "textarea")
        elif question.type == "phone":
            rule = {"type": "string", "pattern": PHONE_PATTERN.pattern}
        elif question.type == "choice":
            rule = {"type": "string", "enum": question.option_ids()}
        elif question.type == "multichoice":
            rule = {"type": "array", "items": {"type": "string", "enum": question.option_ids()}, "uniqueItems": True}
            if question.required:
                rule["minItems"] = 1
        else:
            rule = {"type": "boolean"}
        if not question.required and question.type in ("text", "textarea", "phone", "choice"):
            rule = {"anyOf": [rule, {"type": "null"}], "default": None}
        props[question.id] = {"title": title, "description": question.label.get("en", event.default_language), **rule}
    schema["description"] = f"A registration for the event {event.id}."
    return schema


def _event_schema(components: dict[str, Any]) -> dict[str, Any]:
    """``GET /events/{id}``: the event model (serialised) without the organiser's address, plus state."""
    schema = _hoist(Event.model_json_schema(mode="serialization", ref_template=_REF), components)
    local = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$",
             "description": "Local wall time in the event's timezone, no offset."}
    for field in ("starts_at", "ends_at"):
        schema["properties"][field] = {**local, "title": schema["properties"][field].get("title", field)}
    for field in ("registration_opens_at", "registration_closes_at", "waitlist_closes_at"):
        schema["properties"][field] = {"anyOf": [local, {"type": "null"}], "default": None}
    schema["properties"]["organiser"] = {
        "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
        "additionalProperties": False,
    }
    schema["properties"]["reminders"] = {
        "type": "array", "maxItems": 5, "uniqueItems": True,
        "items": {"type": "string", "pattern": r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?$"},
        "description": ("Reminder emails to every confirmed registrant, as times before starts_at (days, hours, "
                        "minutes: 1d, 2h, 1h30m), earliest first; [] for none (README, \"Event files\")."),
    }
    utc = {"type": "string", "format": "date-time", "description": "UTC, e.g. 2023-06-05T12:00:00Z"}
    schema["properties"]["starts_at_utc"] = utc
    schema["properties"]["ends_at_utc"] = utc
    for field in ("registration_opens_at_utc", "registration_closes_at_utc", "waitlist_closes_at_utc"):
        schema["properties"][field] = {"anyOf": [utc, {"type": "null"}]}
    schema["properties"]["registration"] = {
        "type": "object",
        "properties": {
            "open": {"type": "boolean"},
            "state": {"type": "string", "enum": ["open", "closed", "not_yet_open", "full"]},
            "seats_left": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                           "description": "The exact number of free seats, only when the event's show_seats is exact."},
            "seats": {"type": "string", "enum": ["available", "few", "full", "unlimited"],
                      "description": "few: at most few_threshold left (show_seats: few)."},
            "waitlist": {"type": "boolean"},
            "waitlist_open": {"type": "boolean", "description": "False past the waitlist cutoff (waitlist_closes_at)."},
            "opens_text": {"anyOf": [{"type": "string"}, {"type": "null"}],
                           "description": "When registration opens, in the event's zone with its abbreviation."},
            "closes_text": {"type": "string",
                            "description": "When registration closes, in the event's zone with its abbreviation."},
        },
        "required": ["open", "state", "seats_left", "seats", "waitlist", "waitlist_open", "opens_text", "closes_text"],
    }
    schema["required"] = sorted({*schema.get("required", []), "starts_at_utc", "ends_at_utc", "registration",
                                 "registration_opens_at_utc", "registration_closes_at_utc", "waitlist_closes_at_utc"})
    schema["title"] = "PublicEvent"
    schema["additionalProperties"] = True
    return schema


def _problem_schemas() -> dict[str, Any]:
    return {
        "Problem": {
            "type": "object",
            "description": "An error (RFC 9457); title, detail and messages in the request's language.",
            "properties": {
                "type": {"type": "string", "description": "/problems/<code>", "pattern": "^/problems/[a-z-]+$"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": _ref("FieldError")},
            },
            "required": ["type", "title", "status", "detail"],
        },
        "FieldError": {
            "type": "object",
            "properties": {
                "field": {"type": "string"},
                "code": {
                    "type": "string",
                    "enum": sorted(FIELD_ERRORS),  # every code has a message in chalicelib.i18n
                },
                "message": {"type": "string"},
            },
            "required": ["field", "code", "message"],
        },
        "Registered": {
            "type": "object",
            "properties": {
                "registration_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"},
                "event_id": {"type": "string"},
                "status": {"type": "string", "enum": ["confirmed", "waitlisted"]},
                "waitlist_position": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
                "thanks_url": {"type": "string", "description": "This registration's thank-you page (valid one hour)."},
            },
            "required": ["registration_id", "event_id", "status", "waitlist_position", "thanks_url"],
        },
        "Busy": {"type": "object", "properties": {"title": {"type": "string"}}},
        "RegistrantView": {
            "type": "object",
            "properties": {
                "registration_id": {"type": "string"},
                "event_id": {"type": "string"},
                "status": {"type": "string", "enum": ["confirmed", "waitlisted", "cancelled"]},
                "waitlist_position": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
                "language": {"type": "string", "enum": ["nl", "en"]},
                "event": _ref("PublicEventDefinition"),
            },
            "required": ["registration_id", "event_id", "status", "waitlist_position", "language", "event"],
        },
        "CancelRequest": {
            "type": "object",
            "properties": {"token": {"type": "string",
                                     "description": "The cancel token from the email's cancel link."}},
            "required": ["token"],
        },
        "Cancelled": {
            "type": "object",
            "properties": {
                "registration_id": {"type": "string"},
                "event_id": {"type": "string"},
                "status": {"const": "cancelled"},
                "changed": {"type": "boolean", "description": "false when it was cancelled before"},
            },
            "required": ["registration_id", "event_id", "status", "changed"],
        },
    }


def _problem_response(description: str, *also: str) -> dict[str, Any]:
    content: dict[str, Any] = {PROBLEM: {"schema": _ref("Problem")}}
    for media in also:
        content[media] = {"schema": {"type": "string"}}
    return {"description": description, "headers": _CORS_HEADERS, "content": content}


_CORS_HEADERS: dict[str, Any] = {
    "Access-Control-Allow-Origin": {
        "description": "The request's Origin, when it is in the stage's ALLOWED_ORIGINS; absent otherwise.",
        "schema": {"type": "string"},
    },
    "Vary": {"description": "Always includes Origin.", "schema": {"type": "string"}},
}

_LANG = {
    "name": "lang", "in": "query", "required": False, "schema": {"type": "string", "examples": ["nl", "en"]},
    "description": "Language of the page or messages (nl, en) when the event has it; any other value is "
    "ignored, and the language comes from Accept-Language, else the event's first language.",
}


def _event_id(event_ids: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if event_ids:
        schema["examples"] = event_ids
    return {"name": "event_id", "in": "path", "required": True, "schema": schema,
            "description": "The event's id (its slug, [a-z0-9-]{3,64}); unknown ids get 404."}


def _html_response(description: str) -> dict[str, Any]:
    return {"description": description, "headers": _CORS_HEADERS, "content": {HTML: {"schema": {"type": "string"}}}}


def _preflight(methods: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "summary": "CORS preflight",
        "description": "Answers a browser's preflight. Access-Control-Allow-* headers only for an allowed Origin "
        f"asking for one of: {methods}.",
        "tags": ["cors"],
        "parameters": [
            *(parameters or []),
            {"name": "Origin", "in": "header", "required": False, "schema": {"type": "string"}},
            {"name": "Access-Control-Request-Method", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "204": {
                "description": "Preflight answer (no body).",
                "headers": {
                    "Allow": {"schema": {"type": "string"}},
                    "Access-Control-Allow-Origin": {"schema": {"type": "string"}},
                    "Access-Control-Allow-Methods": {"schema": {"type": "string"}},
                    "Access-Control-Allow-Headers": {"schema": {"type": "string"}},
                    "Access-Control-Max-Age": {"schema": {"type": "string"}},
                },
            }
        },
    }


def _register_operation(
    body_schema: dict[str, Any], event_id_param: dict[str, Any], *, concrete_event: str | None
) -> dict[str, Any]:
    where = f"the event {concrete_event}" if concrete_event else "an event"
    parameters = [_LANG] if concrete_event else [event_id_param, _LANG]
    return {
        "summary": f"Register for {where}",
        "description": "JSON answers 201 with Location; a plain HTML form post (urlencoded) answers 303 to the "
        "thank-you page, or re-renders the form (text/html) with 409/422. Bodies over "
        f"{MAX_BODY_BYTES} bytes get 413, other media types 415.",
        "operationId": f"register_{concrete_event.replace('-', '_')}" if concrete_event else "register",
        "tags": ["registrations"],
        "parameters": parameters,
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": body_schema}, FORM: {"schema": body_schema}},
        },
        "responses": {
            "201": {
                "description": "Registered (JSON).",
                "headers": {**_CORS_HEADERS, "Location": {"schema": {"type": "string"}, "required": True}},
                "content": {JSON: {"schema": _ref("Registered")}},
            },
            "303": {
                "description": "Registered (form post): see the thank-you page.",
                "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
            },
            "400": _problem_response("Malformed body."),
            "404": _problem_response("No such event."),
            "409": _problem_response("Already registered, registration closed, or full without waitlist.", HTML),
            "413": _problem_response("Body too large."),
            "415": _problem_response("Unsupported media type."),
            "422": _problem_response("Invalid fields (JSON: problem+json with errors; form: the form again).", HTML),
            "503": {"description": "Busy; try again.", "headers": {"Retry-After": {"schema": {"type": "string"}}},
                    "content": {JSON: {"schema": _ref("Busy")}}},
        },
    }


def _door_schemas() -> dict[str, Any]:
    """The door page's API (README, "Check-in at the door"): only what the door needs of a person."""
    nullable_text = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    return {
        "DoorPerson": {
            "type": "object",
            "description": "What the door sees of a registration: never more.",
            "properties": {
                "name": {"type": "string"},
                "organisation": {**nullable_text, "description": "The answer to the event's organisation question."},
                "status": {"type": "string", "enum": ["confirmed", "waitlisted", "cancelled", "erased"]},
                "checked_in_at": {**nullable_text,
                                  "description": "ISO 8601 in the event's zone; null until checked in."},
                "time": {**nullable_text, "description": "The check-in time of day in the event's zone, e.g. 14:03."},
                "code": {"type": "string", "pattern": "^[A-Z2-7]{24}$",
                         "description": "The registration's check-in code: the handle to check in or undo."},
            },
            "required": ["name", "organisation", "status", "checked_in_at", "time", "code"],
        },
        "DoorResult": {
            "type": "object",
            "properties": {
                "outcome": {"type": "string", "enum": list(checkin.OUTCOMES)},
                "tone": {"type": "string", "enum": ["ok", "warn", "stop", "info"]},
                "title": {"type": "string", "description": "The headline in the page's language."},
                "changed": {"type": "boolean", "description": "Whether this request wrote the change."},
                "person": {"anyOf": [_ref("DoorPerson"), {"type": "null"}]},
            },
            "required": ["outcome", "tone", "title", "changed", "person"],
        },
        "DoorSummary": {
            "type": "object",
            "properties": {
                "event_id": {"type": "string"},
                "title": {"type": "string"},
                "checked_in": {"type": "integer", "minimum": 0},
                "confirmed": {"type": "integer", "minimum": 0},
                "count_text": {"type": "string"},
                "link_expires_at": {"type": "string", "format": "date-time"},
                "link_valid_text": {"type": "string"},
            },
            "required": ["event_id", "title", "checked_in", "confirmed", "count_text", "link_expires_at",
                         "link_valid_text"],
        },
        "DoorSearchResults": {
            "type": "object",
            "properties": {"results": {"type": "array", "items": _ref("DoorPerson"), "maxItems": checkin.SEARCH_LIMIT},
                           "more": {"type": "boolean"}},
            "required": ["results", "more"],
        },
        "DoorCode": {
            "type": "object",
            "properties": {"code": {
                "type": "string", "maxLength": 200,
                "description": "A check-in code as scanned or typed (spaces, hyphens and case ignored)."}},
            "required": ["code"],
        },
        "DoorSearch": {
            "type": "object",
            "properties": {"query": {"type": "string", "maxLength": 200,
                                     "description": "Words of a name or email address (at least 2 letters)."}},
            "required": ["query"],
        },
    }


def _door_paths(event_id: dict[str, Any]) -> dict[str, Any]:
    """``/events/{event_id}/door`` and the JSON routes under it (bearer: the door link's token)."""
    refused = {
        "401": _problem_response("No door link, or an invalid (door-link-invalid) or expired (door-link-expired) one; "
                                 "`WWW-Authenticate: Bearer realm=\"door\"` (RFC 6750)."),
        "404": _problem_response("No such event."),
    }
    body_errors = {"400": _problem_response("Malformed body."), "413": _problem_response("Body too large."),
                   "415": _problem_response("Not JSON.")}
    busy = {"503": _problem_response("Too many check-ins at once; try again.")}

    def post(summary: str, operation: str, body: str, answer: str,
             also: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "summary": summary,
            "operationId": operation,
            "tags": ["door"],
            "security": [{"doorLink": []}],
            "parameters": [event_id, _LANG],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref(body)}}},
            "responses": {"200": {"description": "The answer.", "headers": _CORS_HEADERS,
                                  "content": {JSON: {"schema": _ref(answer)}}},
                          **refused, **body_errors, **(also or {})},
        }

    return {
        "/events/{event_id}/door": {"get": {
            "summary": "The door page: scan check-in codes, type one, find people by name (HTML)",
            "description": "Holds no data; its script reads the door link's token from the URL fragment "
            "(python -m staff checkin-link) and calls the routes below with it.",
            "operationId": "door_page",
            "tags": ["door"],
            "parameters": [event_id, _LANG],
            "responses": {"200": _html_response("The page."), "404": _html_response("No such event.")},
        }},
        "/events/{event_id}/door/summary": {"get": {
            "summary": "Checked in and confirmed, live",
            "operationId": "door_summary",
            "tags": ["door"],
            "security": [{"doorLink": []}],
            "parameters": [event_id, _LANG],
            "responses": {"200": {"description": "The figures.", "headers": _CORS_HEADERS,
                                  "content": {JSON: {"schema": _ref("DoorSummary")}}}, **refused},
        }},
        "/events/{event_id}/door/checkins": {"post": post(
            "Check in by code (conditional: confirmed and not yet checked in)", "door_check_in", "DoorCode",
            "DoorResult", busy)},
        "/events/{event_id}/door/undo": {"post": post(
            "Take back a check-in by code", "door_undo", "DoorCode", "DoorResult", busy)},
        "/events/{event_id}/door/search": {"post": post(
            "Find confirmed registrations by name or email address (addresses are matched, never returned)",
            "door_search", "DoorSearch", "DoorSearchResults",
            {"422": _problem_response("Fewer than 2 letters to search for.")})},
    }


def document(events: Iterable[Event], server_url: str = "", static_files: Iterable[str] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the service with ``events`` published.

    ``server_url`` (the stage's ``PUBLIC_BASE_URL``) becomes ``servers[0]`` when given;
    ``static_files`` are the names ``/static/{name}`` serves.
    """
    events = sorted(events, key=lambda e: e.id)
    components: dict[str, Any] = {**_problem_schemas()}
    event_schema = _event_schema(components)
    components["PublicEvent"] = event_schema
    definition = copy.deepcopy(event_schema)
    definition["properties"].pop("registration")
    definition["required"] = [r for r in definition["required"] if r != "registration"]
    definition["title"] = "PublicEventDefinition"
    components["PublicEventDefinition"] = definition
    registration_refs = []
    paths: dict[str, Any] = {}
    event_id = _event_id([e.id for e in events])
    for event in events:
        name = _schema_name(event.id)
        components[name] = _hoist(registration_schema(event), components)
        registration_refs.append(_ref(name))
    paths["/events/{event_id}"] = {
        "get": {
            "summary": "Event details (JSON), or the event's page for browsers",
            "operationId": "get_event",
            "tags": ["events"],
            "parameters": [event_id, _LANG, {"name": "Accept", "in": "header", "required": False,
                                             "schema": {"type": "string"},
                                             "description": "text/html for the event's page; JSON otherwise."}],
            "responses": {
                "200": {"description": "The event.", "headers": _CORS_HEADERS,
                        "content": {JSON: {"schema": _ref("PublicEvent")}, HTML: {"schema": {"type": "string"}}}},
                "404": _problem_response("No such event.", HTML),
            },
        },
        "options": _preflight("GET", [event_id]),
    }
    paths["/events/{event_id}/register"] = {
        "get": {
            "summary": "The registration form (HTML)",
            "operationId": "registration_page",
            "tags": ["pages"],
            "parameters": [event_id, _LANG],
            "responses": {"200": _html_response("The form, or the closed/full notice."),
                          "404": _html_response("No such event.")},
        }
    }
    paths["/events/{event_id}/thanks"] = {
        "get": {
            "summary": "The thank-you page after a form post (HTML)",
            "operationId": "thanks_page",
            "tags": ["pages"],
            "parameters": [
                event_id, _LANG,
                {"name": "ref", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "The signed, hour-long reference of the registration (from the 303 or thanks_url); "
                 "without a valid one the page thanks in general terms."},
            ],
            "responses": {"200": _html_response("The page."), "404": _html_response("No such event.")},
        }
    }
    any_registration = {"anyOf": registration_refs} if registration_refs else {"type": "object"}
    paths["/events/{event_id}/registrations"] = {
        "post": _register_operation(any_registration, event_id, concrete_event=None),
        "options": _preflight("POST", [event_id]),
    }
    for event in events:
        paths[f"/events/{event.id}/registrations"] = {
            "post": _register_operation(_ref(_schema_name(event.id)), event_id, concrete_event=event.id),
        }
    registration_id = {"name": "registration_id", "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "The id from the registration's answer or email."}
    def token(purpose: str, where: str) -> dict[str, Any]:
        return {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                "description": f"The {purpose} token of the registrant's {where}; a bad or missing one, or a token "
                               "made for another purpose, gets 403 (README, \"Emails\", personal links)."}

    accept = {"name": "Accept", "in": "header", "required": False, "schema": {"type": "string"},
              "description": "text/html for the page; JSON otherwise."}
    registrant_errors = {
        "403": _problem_response("Bad or expired token.", HTML),
        "404": _problem_response("No such registration.", HTML),
    }
    paths["/registrations/{registration_id}"] = {
        "get": {
            "summary": "The registrant's own registration (JSON, or HTML for browsers)",
            "operationId": "get_registration",
            "tags": ["registrants"],
            "parameters": [registration_id, token("view", "status link (in the email and the calendar entry)"), _LANG,
                           accept],
            "responses": {
                "200": {"description": "Status, waitlist position and the event.", "headers": _CORS_HEADERS,
                        "content": {JSON: {"schema": _ref("RegistrantView")}, HTML: {"schema": {"type": "string"}}}},
                **registrant_errors,
            },
        }
    }
    paths["/registrations/{registration_id}/cancel"] = {
        "get": {
            "summary": "A page asking to confirm the cancellation (changes nothing)",
            "operationId": "cancel_page",
            "tags": ["registrants"],
            "parameters": [registration_id, token("cancel", "cancel link in the email"), _LANG, accept],
            "responses": {"200": _html_response("The confirmation page."), **registrant_errors},
        },
        "post": {
            "summary": "Cancel a registration",
            "description": "The cancel token in a JSON or form body. JSON answers 200; a form post 303 to the "
                           "registration page (with a view token).",
            "operationId": "cancel_registration",
            "tags": ["registrants"],
            "parameters": [registration_id, _LANG],
            "requestBody": {
                "required": True,
                "content": {media: {"schema": _ref("CancelRequest")} for media in (JSON, FORM)},
            },
            "responses": {
                "200": {"description": "Cancelled (or already cancelled: changed false).", "headers": _CORS_HEADERS,
                        "content": {JSON: {"schema": _ref("Cancelled")}}},
                "303": {"description": "Cancelled (form post): see the registration page.",
                        "headers": {"Location": {"schema": {"type": "string"}, "required": True}}},
                "400": _problem_response("Malformed body."),
                "403": _problem_response("Bad or expired token."),
                "404": _problem_response("No such registration."),
                "409": _problem_response("The event is over (event-over): nothing changed; a page for browsers.", HTML),
                "413": _problem_response("Body too large."),
                "415": _problem_response("Unsupported media type."),
                "503": {"description": "Busy; try again.", "headers": {"Retry-After": {"schema": {"type": "string"}}},
                        "content": {JSON: {"schema": _ref("Busy")}}},
            },
        },
    }
    paths.update(_door_paths(event_id))
    components.update(_door_schemas())
    paths["/static/{name}"] = {
        "get": {
            "summary": "The form's stylesheet, script and icon",
            "operationId": "static_file",
            "tags": ["pages"],
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": list(static_files)}}],
            "responses": {
                "200": {"description": "The file.", "content": {"text/css": {"schema": {"type": "string"}},
                                                               "text/javascript": {"schema": {"type": "string"}},
                                                               "image/svg+xml": {"schema": {"type": "string"}}}},
                "404": _problem_response("No such file."),
            },
        }
    }
    paths["/static/assets/{name}"] = {
        "get": {
            "summary": "A logo shipped with the event files (SVG)",
            "operationId": "event_asset",
            "tags": ["pages"],
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.svg$"}}],
            "responses": {
                "200": {"description": "The image.", "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                "404": _problem_response("No such file."),
            },
        }
    }
    paths["/static/accent/{name}"] = {
        "get": {
            "summary": "The stylesheet of an event's accent colour",
            "operationId": "accent_stylesheet",
            "tags": ["pages"],
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{6}\\.css$"},
                            "description": "<rrggbb>.css; colours under 4.5:1 contrast against white get 404."}],
            "responses": {
                "200": {"description": "The stylesheet.", "content": {"text/css": {"schema": {"type": "string"}}}},
                "404": _problem_response("Not a colour an event may use."),
            },
        }
    }
    paths["/static/vendor/{name}"] = {
        "get": {
            "summary": "A browser script from a pinned npm package (the door page's QR decoder, jsQR)",
            "operationId": "vendored_file",
            "tags": ["pages"],
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+\.js$"}}],
            "responses": {
                "200": {"description": "The script.", "content": {"text/javascript": {"schema": {"type": "string"}}}},
                "404": _problem_response("No such file (or not built: make vendored)."),
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "tags": ["meta"],
            "responses": {"200": {"description": "OpenAPI 3.1", "headers": _CORS_HEADERS,
                                  "content": {JSON: {"schema": {"type": "object"}}}}},
        },
        "options": _preflight("GET"),
    }
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Event registration",
            "version": API_VERSION,
            "description": (__doc__ or "").strip(),
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"doorLink": {
            "type": "http", "scheme": "bearer",
            "description": "The token of a door link (python -m staff checkin-link): the part after # in the link.",
        }}},
        "tags": [{"name": n} for n in ("events", "registrations", "registrants", "door", "pages", "cors", "meta")],
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
