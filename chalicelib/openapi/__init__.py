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
from collections.abc import Iterable
from typing import Any

from chalicelib.events import Event
from chalicelib.openapi.common import (
    API_VERSION,
    OPENAPI_VERSION,
    common_responses,
    event_id_parameter,
    head_of,
    hoist,
    ref,
    schema_name,
)
from chalicelib.openapi.door import door_paths, door_schemas
from chalicelib.openapi.paths import event_paths, registrant_paths, static_paths
from chalicelib.openapi.schemas import problem_schemas, public_event_schema, registration_schema

__all__ = ["API_VERSION", "OPENAPI_VERSION", "document", "registration_schema"]


#: The public pages and files that answer ``HEAD`` as well as ``GET`` (``app.py``, ``chalicelib/routes/static.py``:
#: ``methods=PAGE_METHODS``); ``tests/test_web_api.py`` holds the routes and this list to each other.
HEAD_PATHS = (
    "/events/{event_id}", "/events/{event_id}/register", "/openapi.json",
    "/static/{name}", "/static/assets/{name}", "/static/accent/{name}", "/static/vendor/{name}",
)


def document(events: Iterable[Event], server_url: str = "", static_files: Iterable[str] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the service with ``events`` published.

    ``server_url`` (the stage's ``PUBLIC_BASE_URL``) becomes ``servers[0]`` when given;
    ``static_files`` are the names ``/static/{name}`` serves.
    """
    events = sorted(events, key=lambda e: e.id)
    components: dict[str, Any] = {**problem_schemas()}
    event_schema = public_event_schema(components)
    components["PublicEvent"] = event_schema
    definition = copy.deepcopy(event_schema)
    definition["properties"].pop("registration")
    definition["required"] = [r for r in definition["required"] if r != "registration"]
    definition["title"] = "PublicEventDefinition"
    components["PublicEventDefinition"] = definition
    registration_refs: list[dict[str, str]] = []
    event_id = event_id_parameter([e.id for e in events])
    for event in events:
        name = schema_name(event.id)
        components[name] = hoist(registration_schema(event), components)
        registration_refs.append(ref(name))
    paths: dict[str, Any] = {
        **event_paths(events, event_id, registration_refs),
        **registrant_paths(),
        **door_paths(event_id),
        **static_paths(static_files),
    }
    common = common_responses()
    for operations in paths.values():
        for method, operation in operations.items():
            if method != "options":  # a preflight is answered by the app itself, never from the table
                operation["responses"] = {**common, **operation["responses"]}  # an operation's own win
    for path in HEAD_PATHS:
        paths[path]["head"] = head_of(paths[path]["get"])
    components.update(door_schemas())
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
