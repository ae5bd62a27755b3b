"""Shared pieces of the OpenAPI document: media types, references and the parameters and answers every area uses.

Part of :mod:`chalicelib.openapi` (README, "HTTP API": ``GET /openapi.json``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
PROBLEM = "application/problem+json"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"

#: Where Pydantic's ``model_json_schema(ref_template=...)`` points: the document's components.
REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    """A JSON Schema reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def schema_name(event_id: str) -> str:
    """The component name of ``event_id``'s registration schema: ``Registration_<id>``, other than [A-Za-z0-9_] as _."""
    return "Registration_" + re.sub(r"[^A-Za-z0-9_]", "_", event_id)


def hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move a Pydantic schema's ``$defs`` into ``components`` (refs already point there)."""
    schema = copy.deepcopy(schema)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def problem_response(description: str, *also: str) -> dict[str, Any]:
    """An error answer: ``application/problem+json`` (RFC 9457, schema ``Problem``), plus ``also`` media as text."""
    content: dict[str, Any] = {PROBLEM: {"schema": ref("Problem")}}
    for media in also:
        content[media] = {"schema": {"type": "string"}}
    return {"description": description, "headers": CORS_HEADERS, "content": content}


def unavailable_response(*also: str) -> dict[str, Any]:
    """503: ``busy`` (a write kept losing to others) or ``unavailable`` (AWS did not answer in time, or
    throttled, after botocore's retries), problem+json with ``Retry-After`` (README, "HTTP API")."""
    answer = problem_response("Busy (busy) or storage unreachable just now (unavailable): try again after "
                              "Retry-After seconds; a write's outcome is then unknown, and sending it again is safe.",
                              *also)
    answer["headers"] = {**answer["headers"], "Retry-After": {"schema": {"type": "string"}, "required": True}}
    return answer


#: What every operation may answer besides its own (README, "HTTP API"): a method the route does not take
#: (the app's 405 with ``Allow``; deployed, API Gateway answers a method no route has with 404 ``not-found``
#: itself), a bug of ours (500) and AWS out of reach (503).
def common_responses() -> dict[str, Any]:
    """``{"405": ..., "500": ..., "503": ...}`` for :func:`chalicelib.openapi.document` to add where missing."""
    not_allowed = problem_response("Method not allowed (method-not-allowed); Allow lists the route's methods.")
    not_allowed["headers"] = {**not_allowed["headers"], "Allow": {"schema": {"type": "string"}, "required": True}}
    return {"405": not_allowed, "500": problem_response("A bug of ours (internal-error)."),
            "503": unavailable_response()}


#: The CORS headers every JSON answer carries (README, "HTTP API", CORS).
CORS_HEADERS: dict[str, Any] = {
    "Access-Control-Allow-Origin": {
        "description": "The request's Origin, when it is in the stage's ALLOWED_ORIGINS; absent otherwise.",
        "schema": {"type": "string"},
    },
    "Vary": {"description": "Always includes Origin.", "schema": {"type": "string"}},
}

#: The ``?lang=`` query parameter of pages and messages.
LANG = {
    "name": "lang", "in": "query", "required": False, "schema": {"type": "string", "examples": ["nl", "en"]},
    "description": "Language of the page or messages (nl, en) when the event has it; any other value is "
    "ignored, and the language comes from Accept-Language, else the event's first language.",
}


def event_id_parameter(event_ids: list[str]) -> dict[str, Any]:
    """The ``event_id`` path parameter, with the published ``event_ids`` as its examples."""
    schema: dict[str, Any] = {"type": "string"}
    if event_ids:
        schema["examples"] = event_ids
    return {"name": "event_id", "in": "path", "required": True, "schema": schema,
            "description": "The event's id (its slug, [a-z0-9][a-z0-9-]{2,63}); unknown ids get 404."}


def head_of(get: dict[str, Any]) -> dict[str, Any]:
    """The ``HEAD`` twin of a ``GET`` operation: its parameters and answers' status and headers, no bodies.

    RFC 9110 section 9.3.2: the server answers HEAD as it would GET, without the content
    (uptime monitors and link checkers ask that way). Raises ``KeyError`` without ``responses``.
    """
    head = copy.deepcopy(get)
    head["operationId"] = f"{get['operationId']}_head"
    head["summary"] = f"{get.get('summary', get['operationId'])} (status and headers only)"
    head["responses"] = {status: {k: v for k, v in answer.items() if k != "content"}
                         for status, answer in head["responses"].items()}
    return head


def html_response(description: str) -> dict[str, Any]:
    """A page answer (``text/html``) with the CORS headers."""
    return {"description": description, "headers": CORS_HEADERS, "content": {HTML: {"schema": {"type": "string"}}}}


def preflight(methods: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``OPTIONS`` operation answering a CORS preflight for ``methods`` (e.g. ``"GET"``)."""
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
