"""The components of the OpenAPI document that describe bodies: registrations, events, problems and answers.

Part of :mod:`chalicelib.openapi`; the schemas come from the Pydantic models, plus the rules the
service checks in code (README, "HTTP API").
"""

from __future__ import annotations

from typing import Any

from chalicelib.events import Event
from chalicelib.i18n import FIELD_ERRORS
from chalicelib.openapi.common import REF, hoist, ref
from chalicelib.validation import EMAIL_MAX, NAME_MAX, PHONE_PATTERN, registration_model

#: A string with at least one character that is not white space (the service trims).
NOT_BLANK = r"\S"
#: A single-line text: no control characters (C0, DEL, C1) and no line or paragraph separators anywhere.
SINGLE_LINE = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"


#: Several lines: line breaks (LF, CRLF) and tabs; no other control characters (C0, DEL, C1) and no bidi
#: embeddings or isolates (chalicelib.validation: 422 control_characters).
MULTILINE = r"^(?:[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|\r\n)*$"


def _text_rules(limit: int, *, required: bool, multiline: bool) -> dict[str, Any]:
    rules: dict[str, Any] = {"type": "string", "maxLength": limit, "pattern": MULTILINE if multiline else SINGLE_LINE}
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
    schema = registration_model(event).model_json_schema(ref_template=REF)
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


def public_event_schema(components: dict[str, Any]) -> dict[str, Any]:
    """``GET /events/{id}``: the event model (serialised) without the organiser's address, plus state."""
    schema = hoist(Event.model_json_schema(mode="serialization", ref_template=REF), components)
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


def problem_schemas() -> dict[str, Any]:
    """The schemas of errors (``Problem``, ``FieldError``) and of the answers to registrations and registrants."""
    return {
        "Problem": {
            "type": "object",
            "description": "An error (RFC 9457); title, detail and messages in the request's language.",
            "properties": {
                "type": {"type": "string", "description": "/problems/<code>", "pattern": "^/problems/[a-z-]+$"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": ref("FieldError")},
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
        "RegistrantView": {
            "type": "object",
            "properties": {
                "registration_id": {"type": "string"},
                "event_id": {"type": "string"},
                "status": {"type": "string", "enum": ["confirmed", "waitlisted", "cancelled"]},
                "waitlist_position": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
                "language": {"type": "string", "enum": ["nl", "en"]},
                "event": ref("PublicEventDefinition"),
            },
            "required": ["registration_id", "event_id", "status", "waitlist_position", "language", "event"],
        },
        "ResendRequest": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email", "maxLength": EMAIL_MAX,
                          "description": "The address registered (any case)."},
            },
            "required": ["email"],
        },
        "ResendAccepted": {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
            "description": "The same whether or not the address is registered.",
        },
        "CancelRequest": {
            "type": "object",
            "properties": {
                "token": {"type": "string", "description": "The cancel token from the email's cancel link."},
            },
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
