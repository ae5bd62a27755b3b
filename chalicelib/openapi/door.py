"""The door's part of the OpenAPI document: its schemas and paths (README, "Check-in at the door")."""

from __future__ import annotations

from typing import Any

from chalicelib import checkin
from chalicelib.openapi.common import (
    CORS_HEADERS,
    JSON,
    LANG,
    html_response,
    problem_response,
    ref,
    unavailable_response,
)


def door_schemas() -> dict[str, Any]:
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
                "person": {"anyOf": [ref("DoorPerson"), {"type": "null"}]},
                "early": {"type": "boolean",
                          "description": "The check-in shown was made before the event's day (allowed, and said)."},
                "note": {**nullable_text,
                         "description": "A line under the answer in the page's language: an early check-in "
                                        "with the event's start, or what to do about an unknown code."},
            },
            "required": ["outcome", "tone", "title", "changed", "person", "early", "note"],
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
            "properties": {"results": {"type": "array", "items": ref("DoorPerson"), "maxItems": checkin.SEARCH_LIMIT},
                           "more": {"type": "boolean"}},
            "required": ["results", "more"],
        },
        "DoorCode": {
            "type": "object",
            "properties": {"code": {
                "type": "string", "maxLength": 200,
                "description": "A check-in code as scanned or typed (spaces, hyphens and case ignored).",
            }},
            "required": ["code"],
        },
        "DoorSearch": {
            "type": "object",
            "properties": {"query": {"type": "string", "maxLength": 200,
                                     "description": "Words of a name or email address (at least 2 letters)."}},
            "required": ["query"],
        },
    }


def door_paths(event_id: dict[str, Any]) -> dict[str, Any]:
    """``/events/{event_id}/door`` and the JSON routes under it (bearer: the door link's token)."""
    refused = {
        "401": problem_response("No door link, or an invalid (door-link-invalid) or expired (door-link-expired) one; "
                                 "`WWW-Authenticate: Bearer realm=\"door\"` (RFC 6750)."),
        "404": problem_response("No such event."),
    }
    body_errors = {"400": problem_response("Malformed body."), "413": problem_response("Body too large."),
                   "415": problem_response("Not JSON.")}
    busy = {"503": unavailable_response()}  # also checkin-busy: too many check-ins of one code at once
    not_a_code = {"422": problem_response("No code, or one that is not a string.")}

    def post(
        summary: str, operation: str, body: str, answer: str, also: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "summary": summary,
            "operationId": operation,
            "tags": ["door"],
            "security": [{"doorLink": []}],
            "parameters": [event_id, LANG],
            "requestBody": {"required": True, "content": {JSON: {"schema": ref(body)}}},
            "responses": {"200": {"description": "The answer.", "headers": CORS_HEADERS,
                                  "content": {JSON: {"schema": ref(answer)}}},
                          **refused, **body_errors, **(also or {})},
        }

    return {
        "/events/{event_id}/door": {"get": {
            "summary": "The door page: scan check-in codes, type one, find people by name (HTML)",
            "description": "Holds no data; its script reads the door link's token from the URL fragment "
            "(python -m staff checkin-link) and calls the routes below with it.",
            "operationId": "door_page",
            "tags": ["door"],
            "parameters": [event_id, LANG],
            "responses": {"200": html_response("The page."), "404": html_response("No such event.")},
        }},
        "/events/{event_id}/door/summary": {"get": {
            "summary": "Checked in and confirmed, live",
            "operationId": "door_summary",
            "tags": ["door"],
            "security": [{"doorLink": []}],
            "parameters": [event_id, LANG],
            "responses": {"200": {"description": "The figures.", "headers": CORS_HEADERS,
                                  "content": {JSON: {"schema": ref("DoorSummary")}}}, **refused},
        }},
        "/events/{event_id}/door/checkins": {"post": post(
            "Check in by code (conditional: confirmed and not yet checked in)", "door_check_in", "DoorCode",
            "DoorResult", {**busy, **not_a_code})},
        "/events/{event_id}/door/undo": {"post": post(
            "Take back a check-in by code", "door_undo", "DoorCode", "DoorResult", {**busy, **not_a_code})},
        "/events/{event_id}/door/search": {"post": post(
            "Find confirmed registrations by name or email address (addresses are matched, never returned)",
            "door_search", "DoorSearch", "DoorSearchResults",
            {"422": problem_response("No query, one that is not a string, or fewer than 2 letters to search for.")})},
    }
