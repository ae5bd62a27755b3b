"""The paths of the OpenAPI document: events and registrations, registrants' links, pages and static files.

Part of :mod:`chalicelib.openapi`; the door's paths are in :mod:`chalicelib.openapi.door`
(README, "HTTP API").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.bodies import MAX_BODY_BYTES
from chalicelib.events import Event
from chalicelib.openapi.common import (
    CORS_HEADERS,
    FORM,
    HTML,
    JSON,
    LANG,
    html_response,
    preflight,
    problem_response,
    ref,
    schema_name,
    unavailable_response,
)


def _register_operation(
    body_schema: dict[str, Any], event_id_param: dict[str, Any], *, concrete_event: str | None
) -> dict[str, Any]:
    where = f"the event {concrete_event}" if concrete_event else "an event"
    parameters = [LANG] if concrete_event else [event_id_param, LANG]
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
                "headers": {**CORS_HEADERS, "Location": {"schema": {"type": "string"}, "required": True}},
                "content": {JSON: {"schema": ref("Registered")}},
            },
            "303": {
                "description": "Registered (form post): see the thank-you page.",
                "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
            },
            "400": problem_response("Malformed body."),
            "403": problem_response("A form post from a page of another site not in ALLOWED_ORIGINS "
                                    "(Sec-Fetch-Site cross-site or same-site).", HTML),
            "404": problem_response("No such event."),
            "409": problem_response("Already registered, registration closed, or full without waitlist.", HTML),
            "413": problem_response("Body too large."),
            "415": problem_response("Unsupported media type."),
            "422": problem_response("Invalid fields (JSON: problem+json with errors; form: the form again).", HTML),
            "503": unavailable_response(HTML),
        },
    }


def event_paths(
    events: Iterable[Event], event_id: dict[str, Any], registration_refs: list[dict[str, str]]
) -> dict[str, Any]:
    """``/events/{event_id}`` (details, form, thank-you page, registrations) and one concrete path per event.

    ``events`` sorted by id; ``registration_refs`` their registration schemas, in the same order.
    """
    paths: dict[str, Any] = {}
    paths["/events/{event_id}"] = {
        "get": {
            "summary": "Event details (JSON), or the event's page for browsers",
            "operationId": "get_event",
            "tags": ["events"],
            "parameters": [event_id, LANG, {"name": "Accept", "in": "header", "required": False,
                                            "schema": {"type": "string"},
                                            "description": "text/html for the event's page; JSON otherwise."}],
            "responses": {
                "200": {"description": "The event.", "headers": CORS_HEADERS,
                        "content": {JSON: {"schema": ref("PublicEvent")}, HTML: {"schema": {"type": "string"}}}},
                "404": problem_response("No such event.", HTML),
            },
        },
        "options": preflight("GET", [event_id]),
    }
    paths["/events/{event_id}/register"] = {
        "get": {
            "summary": "The registration form (HTML)",
            "operationId": "registration_page",
            "tags": ["pages"],
            "parameters": [event_id, LANG],
            "responses": {"200": html_response("The form, or the closed/full notice."),
                          "404": html_response("No such event.")},
        }
    }
    paths["/events/{event_id}/thanks"] = {
        "get": {
            "summary": "The thank-you page after a form post (HTML)",
            "operationId": "thanks_page",
            "tags": ["pages"],
            "parameters": [
                event_id, LANG,
                {"name": "ref", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "The signed, hour-long reference of the registration (from the 303 or thanks_url); "
                 "without a valid one the page thanks in general terms."},
            ],
            "responses": {"200": html_response("The page."), "404": html_response("No such event.")},
        }
    }
    any_registration = {"anyOf": registration_refs} if registration_refs else {"type": "object"}
    paths["/events/{event_id}/registrations"] = {
        "post": _register_operation(any_registration, event_id, concrete_event=None),
        "options": preflight("POST", [event_id]),
    }
    paths["/events/{event_id}/resend"] = {
        "post": {
            "summary": "Send the latest email of a registration again (\"lost the email?\")",
            "description": "The same answer whether or not the address is registered; at most one email per "
                           "address per 10 minutes, none after the event has ended.",
            "operationId": "resend_registration_email",
            "tags": ["registrants"],
            "parameters": [event_id, LANG],
            "requestBody": {
                "required": True,
                "content": {media: {"schema": ref("ResendRequest")} for media in (JSON, FORM)},
            },
            "responses": {
                "200": {"description": "A form post: the page that says so; JSON: the event has ended, nothing "
                                       "is sent.",
                        "content": {HTML: {"schema": {"type": "string"}}, JSON: {"schema": ref("ResendAccepted")}}},
                "202": {"description": "Asked (JSON).", "content": {JSON: {"schema": ref("ResendAccepted")}}},
                "400": problem_response("Malformed body."),
                "403": problem_response("A form post from a page of another site not in ALLOWED_ORIGINS.", HTML),
                "404": problem_response("No such event.", HTML),
                "413": problem_response("Body too large."),
                "415": problem_response("Unsupported media type."),
                "422": problem_response("No address, or one registering refuses.", HTML),
                "503": unavailable_response(HTML),
            },
        },
        "options": preflight("POST", [event_id]),
    }
    for event in events:
        paths[f"/events/{event.id}/registrations"] = {
            "post": _register_operation(ref(schema_name(event.id)), event_id, concrete_event=event.id),
        }
    return paths


def registrant_paths() -> dict[str, Any]:
    """``/registrations/{registration_id}`` and its ``/cancel``: the registrant's own links (README, "Emails")."""
    paths: dict[str, Any] = {}
    registration_id = {"name": "registration_id", "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "The id from the registration's answer or email."}
    def token(purpose: str, where: str) -> dict[str, Any]:
        return {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                "description": f"The {purpose} token of the registrant's {where}; a bad or missing one, or a token "
                               "made for another purpose, gets 403 (README, \"Emails\", personal links)."}

    accept = {"name": "Accept", "in": "header", "required": False, "schema": {"type": "string"},
              "description": "text/html for the page; JSON otherwise."}
    registrant_errors = {
        "403": problem_response("Bad or expired token.", HTML),
        "404": problem_response("No such registration.", HTML),
        "410": problem_response("The registration's data was erased (registration-erased).", HTML),
    }
    paths["/registrations/{registration_id}"] = {
        "get": {
            "summary": "The registrant's own registration (JSON, or HTML for browsers)",
            "operationId": "get_registration",
            "tags": ["registrants"],
            "parameters": [registration_id, token("view", "status link (in the email and the calendar entry)"), LANG,
                           accept],
            "responses": {
                "200": {"description": "Status, waitlist position and the event.", "headers": CORS_HEADERS,
                        "content": {JSON: {"schema": ref("RegistrantView")}, HTML: {"schema": {"type": "string"}}}},
                **registrant_errors,
            },
        }
    }
    paths["/registrations/{registration_id}/cancel"] = {
        "get": {
            "summary": "A page asking to confirm the cancellation (changes nothing)",
            "operationId": "cancel_page",
            "tags": ["registrants"],
            "parameters": [registration_id, token("cancel", "cancel link in the email"), LANG, accept],
            "responses": {"200": html_response("The confirmation page."), **registrant_errors},
        },
        "post": {
            "summary": "Cancel a registration",
            "description": "The cancel token in a JSON or form body. JSON answers 200; a form post 303 to the "
                           "registration page (with a view token).",
            "operationId": "cancel_registration",
            "tags": ["registrants"],
            "parameters": [registration_id, LANG],
            "requestBody": {
                "required": True,
                "content": {media: {"schema": ref("CancelRequest")} for media in (JSON, FORM)},
            },
            "responses": {
                "200": {"description": "Cancelled (or already cancelled: changed false).", "headers": CORS_HEADERS,
                        "content": {JSON: {"schema": ref("Cancelled")}}},
                "303": {"description": "Cancelled (form post): see the registration page.",
                        "headers": {"Location": {"schema": {"type": "string"}, "required": True}}},
                "400": problem_response("Malformed body."),
                "403": problem_response("Bad or expired token."),
                "404": problem_response("No such registration."),
                "409": problem_response("The event is over (event-over): nothing changed; a page for browsers.", HTML),
                "410": problem_response("The registration's data was erased (registration-erased).", HTML),
                "413": problem_response("Body too large."),
                "415": problem_response("Unsupported media type."),
                "503": unavailable_response(HTML),
            },
        },
    }
    return paths


def static_paths(static_files: Iterable[str]) -> dict[str, Any]:
    """``/static/...`` (``static_files``: the names ``/static/{name}`` serves) and ``/openapi.json`` itself."""
    paths: dict[str, Any] = {}
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
                "404": problem_response("No such file."),
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
                "404": problem_response("No such file."),
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
                "404": problem_response("Not a colour an event may use."),
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
                "404": problem_response("No such file (or not built: make vendored)."),
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "tags": ["meta"],
            "responses": {"200": {"description": "OpenAPI 3.1", "headers": CORS_HEADERS,
                                  "content": {JSON: {"schema": {"type": "object"}}}}},
        },
        "options": preflight("GET"),
    }
    return paths
