"""Validation of a registration against its event.

The registration model of an event is built from the event's definition: the
core fields (``name``, ``email``, ``language``, ``consent``, the ``website``
honeypot, ``form_started_at``; README, "HTTP API") plus one field per question, typed by
the question's ``type``. Unknown fields are refused. Errors come out as
``FieldError`` with a stable ``code`` and a message in the request's language.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError

from chalicelib.errors import ServiceError
from chalicelib.events import Event, Question
from chalicelib.i18n import FIELD_ERRORS, field_error, joined, more_text, number

NAME_MAX = 200
EMAIL_MAX = 254  # RFC 5321 path limit, as email-validator applies it
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()./-]{4,30}$")


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``field`` (form name), ``code`` (stable, see ``chalicelib.i18n``), ``message``."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The ``{field, code, message}`` object of a problem+json ``errors`` list."""
        return {"field": self.field, "code": self.code, "message": self.message}


class RegistrationInvalid(ServiceError):
    """Raised by :func:`validate_registration` with the list of :class:`FieldError` (422 ``validation-failed``)."""

    STATUS = 422
    CODE = "validation-failed"

    def __init__(self, errors: list[FieldError]):
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


#: Bidirectional embedding, override and isolate controls (Unicode UAX #9): they can make a
#: name display as something else in an email client, so they are refused like control characters.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _has_control_characters(text: str, *, line_breaks: bool = False) -> bool:
    """Control characters (Cc: CR, LF, NEL, ...), lone surrogates (Cs, which no encoding can store)
    or bidi controls; unless ``line_breaks``, also the line and paragraph separators (Zl U+2028, Zp U+2029)."""
    refused = ("Cc", "Cs") if line_breaks else ("Cc", "Cs", "Zl", "Zp")
    return any(unicodedata.category(ch) in refused or ch in BIDI_CONTROLS for ch in text)


#: Invisible characters removed from typed text (README "Emails", names): the Default_Ignorable_Code_Point
#: characters of Unicode's DerivedCoreProperties.txt that no script needs to spell a name, e.g. the zero-width
#: space, the byte order mark, the soft hyphen, the Hangul fillers and the tag characters ("Ann\u200ba" looked
#: like "Anna" but was another name, and the door search missed it). Kept, as real names need them: the
#: zero-width (non-)joiners U+200C/U+200D, the variation selectors, the Mongolian variation selectors and vowel
#: separator, and the direction marks U+200E/U+200F/U+061C; tags only inside an emoji tag sequence (a flag such
#: as Scotland's: U+1F3F4, tags, U+E007F). Bidi embeddings and isolates are refused instead (BIDI_CONTROLS).
_INVISIBLE = re.compile(
    "(\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F)"  # an emoji tag sequence, kept whole
    "|[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u200b\u2060-\u2065\u206a-\u206f\u3164\ufeff\uffa0"
    "\ufff0-\ufff8\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E00FF\U000E01F0-\U000E0FFF]"
)
#: Characters that show as nothing though no Unicode property says so: the blank Braille pattern.
_BLANK_LOOKING = frozenset("\u2800")


def without_invisible(text: str) -> str:
    """``text`` without the invisible characters of :data:`_INVISIBLE` (emoji tag sequences kept whole)."""
    return _INVISIBLE.sub(lambda m: m.group(1) or "", text)


def _invisible_only(text: str) -> bool:
    """True when nothing visible remains: only format characters (Cf), spaces, separators, combining
    marks with nothing to combine with (Mn, Mc, Me) and blank-looking characters (U+2800)."""
    return all(unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp", "Mn", "Mc", "Me") or ch in _BLANK_LOOKING
               for ch in text)


def _text(limit: int, *, multiline: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        value = without_invisible(value).strip()
        if not value or _invisible_only(value):
            raise PydanticCustomError("too_short", "empty")
        if len(value) > limit:
            raise PydanticCustomError("too_long", "too long", {"limit": limit})
        checked = value.replace("\r\n", "\n").replace("\n", "").replace("\t", "") if multiline else value
        if _has_control_characters(checked, line_breaks=multiline):
            raise PydanticCustomError("control_characters", "control characters")
        return value

    return AfterValidator(check)


def _email(value: str) -> str:
    """Check an address with email-validator (RFC 5322 syntax, no DNS); keep it as typed.

    Internationalised domains are fine (sent in their IDNA form), but the part
    before the ``@`` must be ASCII and at most 64 characters (RFC 5321 section
    4.5.3.1.1): SES cannot deliver to SMTPUTF8 mailboxes, and we would promise an
    email that never arrives. It may not hold ``=?`` (an RFC 2047 encoded-word opener).
    """
    value = value.strip()
    if len(value) > EMAIL_MAX or _has_control_characters(value):
        raise PydanticCustomError("invalid_email", "invalid email")
    local_part = value.rpartition("@")[0]
    if not local_part.isascii():
        raise PydanticCustomError("non_ascii_email", "non-ASCII local part")
    if len(local_part) > 64 or "=?" in local_part:
        # "=?" opens an RFC 2047 encoded-word, which some parsers decode even inside an address
        # (into another address); no mailbox needs it, and our recipient check would never let it be sent.
        raise PydanticCustomError("invalid_email", "invalid email")
    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise PydanticCustomError("invalid_email", "invalid email") from None
    return value


def checked_email(value: str) -> str:
    """An address as registering accepts it (:func:`_email`: email-validator, ASCII before the ``@``,
    no ``=?``), trimmed; for staff corrections (``registrations set-email``).

    Raises ``ValueError`` saying why in English.
    """
    reasons = {"non_ascii_email": "the part before the @ must be plain ASCII (SES cannot deliver to it otherwise)"}
    try:
        return _email(value)
    except PydanticCustomError as error:
        raise ValueError(f"invalid address: {reasons.get(error.type, 'not a valid email address')}") from None


def _phone(value: str) -> str:
    value = value.strip()
    if not PHONE_PATTERN.match(value):
        raise PydanticCustomError("invalid_phone", "invalid phone")
    return value


#: Bounds of ``form_started_at``: epoch seconds or milliseconds, at most 13 digits (README, "The
#: registration page"). Above :data:`MILLISECONDS_FROM` a value is milliseconds.
FORM_STARTED_AT_MAX = 9_999_999_999_999
MILLISECONDS_FROM = 100_000_000_000  # 1e11: as seconds the year 5138, as milliseconds 1973


def _bounded_number(value: Any) -> Any:
    """Refuse a whole number beyond :data:`FORM_STARTED_AT_MAX` before it is turned into a float
    (``10**400`` cannot be one); other values go on to the float checks."""
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= FORM_STARTED_AT_MAX:
        raise PydanticCustomError("out_of_range", "out of range")
    return value


#: ``form_started_at``: a JSON number (whole or not) from 0 to :data:`FORM_STARTED_AT_MAX`.
EpochTime = Annotated[
    float,
    Field(strict=True, ge=0, le=FORM_STARTED_AT_MAX, allow_inf_nan=False),
    BeforeValidator(_bounded_number),  # last, so it runs first
]


def _accepted(value: bool) -> bool:
    if value is not True:
        raise PydanticCustomError("must_accept", "consent required")
    return value


def _choice(options: list[str]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in options:
            raise PydanticCustomError("invalid_choice", "not an option")
        return value

    return AfterValidator(check)


def _multichoice(options: list[str], required: bool) -> AfterValidator:
    def check(values: list[str]) -> list[str]:
        if any(v not in options for v in values):
            raise PydanticCustomError("invalid_choice", "not an option")
        if len(set(values)) != len(values):
            raise PydanticCustomError("repeated_choice", "an option twice")
        if required and not values:
            raise PydanticCustomError("too_short", "empty")
        return [o for o in options if o in values]  # the event's order

    return AfterValidator(check)


def _question_field(question: Question) -> tuple[Any, Any]:
    if question.type in ("text", "textarea"):
        kind: Any = Annotated[
            str, Field(strict=True), _text(question.text_limit, multiline=question.type == "textarea")
        ]
    elif question.type == "phone":
        kind = Annotated[str, Field(strict=True), AfterValidator(_phone)]
    elif question.type == "choice":
        kind = Annotated[str, Field(strict=True), _choice(question.option_ids())]
    elif question.type == "multichoice":
        kind = Annotated[
            list[Annotated[str, Field(strict=True)]], _multichoice(question.option_ids(), question.required)
        ]
    else:  # boolean
        kind = StrictBool
    if question.required and question.type != "boolean":
        return kind, ...
    if question.type == "multichoice":
        return kind, []
    if question.type == "boolean":
        return kind, False
    return Annotated[kind | None, BeforeValidator(_blank_is_unanswered)], None


def _blank_is_unanswered(value: Any) -> Any:
    """An optional question's text that shows nothing ("", spaces, invisible characters) as not answered
    (``None``): an organiser's JSON form sends "" for a field left empty, which was refused as required."""
    if isinstance(value, str):
        visible = without_invisible(value).strip()
        if not visible or _invisible_only(visible):
            return None
    return value


@lru_cache(maxsize=64)
def _model_for(event_json: str, event: Event) -> type[BaseModel]:
    # A Literal of the languages this event offers, built at run time (a value, hence Any, not a static type).
    languages: Any = Literal[event.languages]
    fields: dict[str, Any] = {
        "name": (Annotated[str, Field(strict=True), _text(NAME_MAX)], ...),
        "email": (Annotated[str, Field(strict=True), AfterValidator(_email)], ...),
        "language": (languages, event.default_language),
        "consent": (Annotated[StrictBool, AfterValidator(_accepted)], ...),
        "website": (Annotated[str, Field(strict=True, max_length=500)], ""),
        "form_started_at": (EpochTime | None, None),
    }
    for question in event.questions:
        fields[question.id] = _question_field(question)
    return create_model(
        f"Registration_{event.id.replace('-', '_')}",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


def registration_model(event: Event) -> type[BaseModel]:
    """The Pydantic model of a registration for ``event`` (cached per event definition)."""
    return _model_for(event.model_dump_json(), event)


_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "literal_error": "invalid_choice",
    "string_too_long": "too_long",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "finite_number": "out_of_range",
}


def validate_registration(event: Event, data: dict[str, Any], language: str) -> BaseModel:
    """Validate ``data`` (JSON object shape) against ``event``'s registration model.

    Returns the model instance (text trimmed, address as typed). Raises
    :class:`RegistrationInvalid` with one :class:`FieldError` per field (:func:`validate_fields`),
    messages in ``language``.
    """
    return validate_fields(registration_model(event), data, language)


#: Unknown fields named in the one ``unknown_field`` error (README, "HTTP API"), each cut to
#: :data:`UNKNOWN_NAME_MAX` characters: a 16 KiB body of 2,000 made-up fields gives one short error.
UNKNOWN_NAMED = 5
UNKNOWN_NAME_MAX = 40


def validate_fields(model: type[BaseModel], data: dict[str, Any], language: str) -> BaseModel:
    """Validate ``data`` against ``model``: the registration model, or a door API body (README,
    "HTTP API" and "Check-in at the door").

    Returns the model instance. Raises :class:`RegistrationInvalid` with one :class:`FieldError`
    per invalid field, its ``code`` one of ``chalicelib.i18n.FIELD_ERRORS`` (a member of the wrong
    JSON type is ``invalid_type``, a missing one ``required``) and its message in ``language``.
    Members the model does not have make one ``unknown_field`` error, last, on the first of them,
    naming the first :data:`UNKNOWN_NAMED` and how many there are.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[FieldError] = []
        seen: set[str] = set()
        unknown: list[str] = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "(body)"
            if err["type"] == "extra_forbidden":
                unknown.append(field)
                continue
            if field in seen:
                continue
            seen.add(field)
            code = _CODES.get(err["type"], err["type"])
            ctx = err.get("ctx") or {}
            if code not in FIELD_ERRORS:  # every code we give has a message; Pydantic's other types are types
                code = "invalid_type"
            limit = ctx.get("limit") or ctx.get("max_length") or ""
            errors.append(FieldError(field, code, field_error(code, language, limit=limit)))
        if unknown:
            errors.append(FieldError(unknown[0], "unknown_field", unknown_fields_message(unknown, language)))
        raise RegistrationInvalid(errors) from None


def unknown_fields_message(names: list[str], language: str) -> str:
    """The ``unknown_field`` message: ``This field is not part of the form.`` for one field; for more,
    the first :data:`UNKNOWN_NAMED` names (each at most :data:`UNKNOWN_NAME_MAX` characters, control
    characters shown as ``?``) and how many there are in all, e.g. ``These 2,000 fields are not part of
    the form: f0, f1, f2, f3, f4, and 1,995 more.``, in ``language`` (lists joined by Babel, as CLDR
    writes them)."""
    if len(names) == 1:
        return field_error("unknown_field", language)
    shown = [_shown_name(name) for name in names[:UNKNOWN_NAMED]]
    if len(names) > UNKNOWN_NAMED:
        shown.append(more_text(len(names) - UNKNOWN_NAMED, language))
    return field_error("unknown_fields", language, count=number(len(names), language),
                       names=joined(shown, language))


def _shown_name(name: str) -> str:
    """A field name as an error message quotes it: control characters as ``?``, cut to :data:`UNKNOWN_NAME_MAX`."""
    printable = "".join("?" if _has_control_characters(ch) else ch for ch in name)
    return printable if len(printable) <= UNKNOWN_NAME_MAX else printable[:UNKNOWN_NAME_MAX - 1] + "\u2026"


#: A form's checkbox (``consent``, a ``boolean`` question), any case (README, "HTTP API"): checked, browsers
#: send its ``value`` attribute (``true`` in our form; ``on`` when it has none); :data:`_FALSE` is what a hidden
#: field before it sends for "not checked" (``consent=off``); an absent checkbox is false too.
_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0", ""})
_DECIMAL = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,30})?")


def _form_number(text: str) -> Any:
    """A form's number field as JSON would carry it: ASCII digits (with a decimal point) become a
    number, longer digit runs ``inf`` (refused as out of range), anything else stays text (refused as
    the wrong type). Never calls ``int()`` on an unbounded string (Python refuses over 4300 digits)."""
    if _DECIMAL.fullmatch(text):
        return int(text) if "." not in text else float(text)
    if text.isascii() and text.isdigit():
        return float("inf")
    return text


def _form_boolean(text: str) -> bool | str:
    """A checkbox's last value: ``True`` for :data:`_TRUE`, ``False`` for :data:`_FALSE` (any case,
    spaces around ignored); any other text stays text, which the registration model refuses as
    ``invalid_type`` naming the field (``maybe`` was stored as false)."""
    folded = text.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    return text


def form_to_data(event: Event, body: bytes, charset: str = "utf-8") -> dict[str, Any]:
    """Turn an ``application/x-www-form-urlencoded`` body into the JSON shape.

    Checkboxes (``consent``, boolean questions) are true for ``on``/``true``/``yes``/``1``,
    false when absent or ``off``/``false``/``no``/``0``/empty, and any other value is
    kept as text for the model to refuse (:func:`_form_boolean`); ``multichoice``
    questions collect every value sent under their name; other fields take their
    last value; ``form_started_at`` becomes a number (empty: left out). ``charset``
    comes from the Content-Type (default UTF-8; HTML forms send UTF-8 when the page
    is UTF-8). Raises ``UnicodeDecodeError`` or ``LookupError`` for bytes or a
    charset that cannot be read.
    """
    codecs.lookup(charset)  # an unknown charset is refused even when no escape needs it
    text = body.decode("ascii")  # urlencoded bodies are ASCII; percent-escapes carry the rest
    pairs = parse_qs(text, keep_blank_values=True, strict_parsing=False, encoding=charset, errors="strict")
    types = {q.id: q.type for q in event.questions}
    data: dict[str, Any] = {}
    for key, values in pairs.items():
        kind = types.get(key)
        if kind == "multichoice":
            data[key] = [v for v in values if v]
        elif key == "consent" or kind == "boolean":
            data[key] = _form_boolean(values[-1])
        elif key == "form_started_at":
            if values[-1].strip():
                data[key] = _form_number(values[-1].strip())
        elif kind in ("choice", "phone", "text", "textarea") and values[-1] == "" and key in types:
            continue  # an untouched optional field
        else:
            data[key] = values[-1]
    data.setdefault("consent", False)
    for question in event.questions:
        if question.type == "boolean":
            data.setdefault(question.id, False)
    return data
