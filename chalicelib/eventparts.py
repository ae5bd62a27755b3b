"""The parts of an event file (README, "Event files"): the reserved field and question ids, the
checks on its texts, texts per language, the location, the organiser, the branding, the questions
and the reminder offsets. ``chalicelib.events`` builds the event model from them and re-exports
every name here, so ``from chalicelib.events import Question`` keeps working.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from chalicelib.colours import WCAG_AA_NORMAL_TEXT, contrast_ratio, normalise_hex

#: Languages the forms and emails are written in (see ``chalicelib.i18n``).
SUPPORTED_LANGUAGES = ("nl", "en")

#: Form fields every event has; a question may not reuse these ids.
CORE_FIELDS = ("name", "email", "language", "consent", "website", "form_started_at")

#: The columns of a staff export besides one per question (README, "Staff tools"), with those that
#: check-in and delivery feedback will add (``checked_in_at``, ``email_outcome``). A question may not
#: take one of these ids either: its column, and its key in the JSON export and in SQL, would clash.
#: ``staff.columns`` names its columns from this list (``chalicelib`` never imports ``staff``).
EXPORT_COLUMNS = (
    "registration_id", "status", "waitlist_position", "name", "email", "language", "registered_at",
    "email_state", "email_outcome", "checked_in_at",
)

#: Pydantic's own names on a model (``model_config``, ``model_dump``): each question is a field
#: of the registration form's model (``chalicelib.validation``), so no question id starts so.
MODEL_PREFIX = "model_"

#: Question ids an event file may not use (see :data:`CORE_FIELDS` and :data:`EXPORT_COLUMNS`).
RESERVED_QUESTION_IDS = frozenset(CORE_FIELDS + EXPORT_COLUMNS)

#: No question id may start with this: the exports name a clashing question of an event stored
#: before these rules ``answer_<id>``, and that name must stay free.
RESERVED_QUESTION_PREFIX = "answer_"


def reserved_question_id(question_id: str) -> str | None:
    """Why ``question_id`` may not be used (a sentence), or ``None`` if it may."""
    if question_id in CORE_FIELDS:
        return f"question id {question_id!r} is a core field of every form; choose another id"
    if question_id in EXPORT_COLUMNS:
        return (f"question id {question_id!r} is the name of an export column "
                f"({', '.join(EXPORT_COLUMNS)}); choose another id")
    if question_id.startswith(RESERVED_QUESTION_PREFIX):
        return (f"question id {question_id!r} starts with {RESERVED_QUESTION_PREFIX!r}, "
                "which the exports keep for their own column names; choose another id")
    if question_id.startswith(MODEL_PREFIX):
        return (f"question id {question_id!r} starts with {MODEL_PREFIX!r}, which Pydantic keeps for "
                "the registration form's model (model_config cannot be a field); choose another id")
    return None


Language = Literal["nl", "en"]


def _suggested_id(text: str, separator: str, limit: int) -> str:
    """``text`` as an id could be written: lower case, each run of other characters one ``separator``."""
    return re.sub(r"[^a-z0-9]+", separator, text.lower()).strip(separator)[:limit].strip(separator)


def _id_rule(what: str, rule: str, separator: str, limit: int) -> WrapValidator:
    """A validator for an id of an event file (``what``: ``"option id"``), around its pattern (kept in
    ``Field(pattern=...)`` for the JSON schema): a refusal says the ``rule`` in words with an id that
    would do (``grants-more`` for ``Grants & more``), and a YAML boolean or number (an unquoted
    ``yes``, ``2``) says to quote it, where Pydantic said "String should match pattern ..." and
    "Input should be a valid string"."""

    def check(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        if isinstance(value, bool):
            raise ValueError(f"{what} must be text, but YAML reads an unquoted yes, no, on, off, true or false as "
                             f"{str(value).lower()}: quote it, e.g. id: \"{'yes' if value else 'no'}\"")
        if isinstance(value, (int, float)):
            raise ValueError(f"{what} must be text, but YAML reads {value} as a number: quote it, id: \"{value}\"")
        try:
            return handler(value)
        except ValidationError:
            if not isinstance(value, str):
                raise ValueError(f"{what} must be text") from None
            example = _suggested_id(value, separator, limit)
            hint = f", e.g. {example}" if re.fullmatch(r"[a-z][a-z0-9_-]*", example) else ""
            raise ValueError(f"{what} {value!r}: {rule}{hint}") from None

    return WrapValidator(check)


#: An event id: 3-64 of a-z, digits and '-', not starting with '-' (the staff tools would read such an id
#: as options: ``registrations export -hh`` printed its help and exited 0).
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$"), _id_rule(
    "event id", "use 3 to 64 lower-case letters a-z, digits and -, starting with a letter or digit (it is the file "
    "name and part of every link)", "-", 64)]
QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$"), _id_rule(
    "question id", "use lower-case letters a-z, digits and _, starting with a letter, up to 40 characters (it names "
    "the form field and the export column)", "_", 40)]
OptionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$"), _id_rule(
    "option id", "use lower-case letters a-z, digits, - and _, starting with a letter or digit, up to 40 "
    "characters (it is what the form sends and the export shows)", "-", 40)]


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError("write local wall time without an offset; the event's timezone applies")
    return value


#: A date without a time of day, as a string (``2023-05-22``): YAML reads it unquoted as a ``date``.
_BARE_DATE = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*")


def _wall_time(value: object, info: ValidationInfo) -> object:
    """A date and time of day (a ``datetime``, or an ISO 8601 string with a time), as written.

    A bare date is refused (README, "Event files"): it would silently mean 00:00, the start of
    that day, where an organiser writing a closing date means its end. Numbers (which Pydantic
    would read as epoch seconds) are refused too: times are local wall time in the event's zone.
    """
    field = info.field_name or "this time"
    if isinstance(value, datetime):
        return value
    if isinstance(value, date) or (isinstance(value, str) and _BARE_DATE.fullmatch(value)):
        day = value.isoformat() if isinstance(value, date) else value.strip()
        raise ValueError(
            f"{field} {day} is a date without a time of day, which would mean {day}T00:00, the start of "
            f"that day; write the local time you mean, e.g. {day}T23:59 for the end of that day")
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromisoformat(text)
        except ValueError as unreadable:
            raise ValueError(_time_hint(field, text, unreadable)) from None
    raise ValueError(f"write {field} as a local date and time, e.g. 2023-06-05T14:00")


#: A date written day first, as people in the Netherlands do (``20-06-2023 14:00``, ``20/6/2023``).
_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T]+(\d{1,2})[:.h](\d{2}))?")
#: What ISO 8601 looks like (a date that may be out of range, ``2023-02-30T10:00``).
_ISO_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}([ T].*)?")


def _time_hint(field: str, text: str, unreadable: ValueError) -> str:
    """Why ``text`` is no time of an event file, and how to write it: ``20-06-2023 14:00`` gets
    ``write it as 2023-06-20T14:00`` (day first, unless the second number cannot be a month)."""
    shown = text[:40]
    rule = "year-month-day, T, then the local wall time in the event's timezone"
    day_first = _DAY_FIRST.fullmatch(text)
    if day_first:
        first, second, year = (int(day_first.group(n)) for n in (1, 2, 3))
        day, month = (second, first) if second > 12 >= first else (first, second)
        hour, minute = day_first.group(4, 5)
        if 1 <= month <= 12 and 1 <= day <= 31:
            wall = f"{int(hour):02}:{minute}" if hour else "HH:MM"
            return f"{field} {shown!r} is not a date and time as event files write them: write it as " \
                   f"{year:04}-{month:02}-{day:02}T{wall} ({rule})"
    if _ISO_SHAPE.fullmatch(text):
        return f"{field} {shown!r} is not a valid date and time ({unreadable}); write {rule}, e.g. 2023-06-05T14:00"
    return f"{field} {shown!r} is not a date and time as event files write them: write {rule}, e.g. 2023-06-05T14:00"


LocalTime = Annotated[datetime, BeforeValidator(_wall_time), AfterValidator(_naive)]

#: Unicode categories no event text may hold: control characters (C0, DEL, C1 such as NEL
#: U+0085) and lone surrogates; :data:`LINE_BREAKS` adds the line and paragraph separators.
_CONTROL_CATEGORIES = ("Cc", "Cs")
#: Bidirectional classes of the embedding, override and isolate controls (Unicode UAX #9),
#: refused like the registrants' names are (README, "Emails"): they make text display as other text.
_BIDI_CONTROLS = frozenset({"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"})
#: Line and paragraph separators (categories Zl, Zp: U+2028, U+2029).
_SEPARATOR_CATEGORIES = ("Zl", "Zp")
#: What a multi-line text (``description``, ``audience``) may hold besides printable text.
MULTI_LINE_ALLOWED = frozenset("\n\t")


def _character_name(ch: str) -> str:
    names = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB", "\x85": "NEXT LINE (NEL)",
             "\x0b": "LINE TABULATION", "\x0c": "FORM FEED", "\x00": "NUL"}
    return names.get(ch, unicodedata.name(ch, "control character"))


def unsafe_character(text: str, *, multi_line: bool) -> str | None:
    """Why ``text`` cannot be used in an event file (a sentence), or ``None``.

    Refused everywhere: control characters (Unicode Cc: C0 such as CR, C1 such as NEL), lone
    surrogates (Cs) and bidi embedding/override/isolate controls. A single-line text also
    refuses LF, tabs and the line and paragraph separators U+2028 and U+2029: titles, places,
    the organiser's name and labels go into email headers (Subject, Reply-To), calendar fields
    and one-line page elements. A multi-line text may hold LF and tabs.
    """
    for index, ch in enumerate(text):
        category = unicodedata.category(ch)
        if multi_line and ch in MULTI_LINE_ALLOWED:
            continue
        if (category in _CONTROL_CATEGORIES or category in _SEPARATOR_CATEGORIES
                or unicodedata.bidirectional(ch) in _BIDI_CONTROLS):
            what = f"{_character_name(ch)} (U+{ord(ch):04X}) at character {index + 1}"
            if multi_line:
                return f"holds a control character, {what}; only line breaks and tabs may be used here"
            if ch in ("\n", "\r", "\x85") or category in _SEPARATOR_CATEGORIES:
                return (f"must be one line: it holds a line break, {what}; write it on one line "
                        "(a YAML block such as | or > adds line breaks; only description and audience "
                        "may have several lines)")
            return f"must be one line of text: it holds {what}"
    return None


def _checked_text(value: str | None, info: ValidationInfo, *, multi_line: bool) -> str | None:
    if value is None or (info.context or {}).get("stored"):
        # A definition stored by an earlier release is read back as it is (its pages keep working).
        return value
    reason = unsafe_character(value, multi_line=multi_line)
    if reason:
        raise ValueError(reason)
    return value


def _one_line(value: str | None, info: ValidationInfo) -> str | None:
    return _checked_text(value, info, multi_line=False)


def _multi_line(value: str | None, info: ValidationInfo) -> str | None:
    return _checked_text(value, info, multi_line=True)


#: A single-line string of an event file (location fields, the organiser's name): see :func:`unsafe_character`.
OneLine = Annotated[str, AfterValidator(_one_line)]


class Text(BaseModel):
    """Text per language, e.g. ``{nl: "...", en: "..."}``, which may have several lines.

    Used for ``description`` and ``audience``: line breaks and tabs are kept, other control
    characters refused (:func:`unsafe_character`). :class:`LineText` is the single-line kind.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    nl: str | None = Field(default=None, min_length=1)
    en: str | None = Field(default=None, min_length=1)

    @field_validator("nl", "en")
    @classmethod
    def _safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _multi_line(value, info)

    def get(self, language: str, fallback: str) -> str:
        """The text in ``language``, else in ``fallback`` (the event's first language), else ``""``."""
        return getattr(self, language, None) or getattr(self, fallback, None) or ""


class LineText(Text):
    """Single-line text per language: ``title``, question and option labels.

    These go into email subjects, calendar summaries and one-line page elements, so
    line breaks (LF, CR, NEL, U+2028, U+2029), tabs and other control characters are
    refused with the reason (:func:`unsafe_character`).
    """

    @field_validator("nl", "en")
    @classmethod
    def _safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _one_line(value, info)


class Location(BaseModel):
    """Where the event takes place; ``country`` is ISO 3166-1 alpha-2."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: OneLine = Field(min_length=1, max_length=200)
    address: OneLine = Field(min_length=1, max_length=200)
    city: OneLine = Field(min_length=1, max_length=100)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    url: HttpUrl | None = None

    def one_line(self) -> str:
        """``"Partos, Ellermanstraat 18b, Amsterdam"`` (the ICS LOCATION and email line)."""
        return ", ".join([self.name, self.address, self.city])


class Organiser(BaseModel):
    """Who runs the event; ``email`` is the Reply-To of every email, ``name`` its display name (one line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: OneLine = Field(min_length=1, max_length=200)
    email: EmailStr


#: A logo shipped with the event files: ``assets/<file>.svg`` beside them (``events/assets/``), packaged
#: into the Lambda function and served as text by ``GET /static/assets/{file}``. SVG only: a raster image
#: through API Gateway needs binary media types matched on the browser's first ``Accept`` type, so
#: PNG or JPEG logos are given as https URLs instead.
LOGO_FILE = re.compile(r"^assets/([A-Za-z0-9][A-Za-z0-9_-]{0,99}\.svg)$")

#: Largest logo file accepted, in bytes (a logo is shown at 48 px high).
LOGO_MAX_BYTES = 256 * 1024


def _https(value: HttpUrl, what: str) -> HttpUrl:
    if value.scheme != "https":
        raise ValueError(f"{what} must be an https URL")
    if value.username or value.password:
        raise ValueError(f"{what} must not carry a user name or password")
    return value


class Branding(BaseModel):
    """The organiser's look on the pages and emails of one event (README, "Event files").

    ``logo``: an https image URL, or ``assets/<file>`` for a file in the
    ``assets`` folder beside the event files (shipped with the service, served
    by ``GET /static/assets/<file>``). ``accent_colour``: ``#rrggbb``, refused
    below 4.5:1 contrast against white (WCAG 2.2 AA for normal text), since
    it colours links and white button text. ``website``: the organiser's https
    site, linked from the logo.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    logo: str | None = Field(default=None, max_length=2000)
    accent_colour: str | None = None
    website: HttpUrl | None = None

    @field_validator("logo")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is None or LOGO_FILE.match(value):
            return value
        if "://" not in value:
            raise ValueError("logo must be an https image URL, or assets/<file>.svg for an SVG beside the event files")
        try:
            url = HttpUrl(value)
        except ValidationError:
            raise ValueError(f"logo {value!r} is not a valid URL") from None
        return str(_https(url, "logo"))

    @field_validator("accent_colour")
    @classmethod
    def _accent(cls, value: str | None) -> str | None:
        if value is None:
            return None
        colour = normalise_hex(value)
        ratio = contrast_ratio(colour, "#ffffff")
        if ratio < WCAG_AA_NORMAL_TEXT:
            shown = math.floor(ratio * 100) / 100  # never round up to a passing figure
            raise ValueError(
                f"accent_colour {colour} has a contrast ratio of {shown:.2f}:1 against white; "
                f"WCAG 2.2 AA asks for at least {WCAG_AA_NORMAL_TEXT}:1 for text (choose a darker shade)"
            )
        return colour

    @field_validator("website")
    @classmethod
    def _website(cls, value: HttpUrl | None) -> HttpUrl | None:
        return None if value is None else _https(value, "website")

    @property
    def logo_file(self) -> str | None:
        """The file name of a logo shipped in ``assets/``, else ``None``."""
        match = LOGO_FILE.match(self.logo or "")
        return match.group(1) if match else None

    @property
    def logo_origin(self) -> str | None:
        """``https://host[:port]`` of a logo URL (for the CSP's ``img-src``), else ``None``."""
        if not self.logo or self.logo_file:
            return None
        url = HttpUrl(self.logo)
        port = f":{url.port}" if url.port not in (None, 443) else ""
        return f"https://{url.host}{port}"


class Option(BaseModel):
    """One answer of a ``choice`` or ``multichoice`` question."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: OptionId
    label: LineText


class Question(BaseModel):
    """An event's own form field beyond the core ones.

    ``max_length`` (characters) applies to text answers; it defaults to 200, or 2000 for ``textarea``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: QuestionId
    type: Literal["text", "textarea", "choice", "multichoice", "boolean", "phone"]
    label: LineText
    required: bool = False
    options: tuple[Option, ...] = ()
    max_length: PositiveInt | None = Field(default=None, le=10000)

    @model_validator(mode="after")
    def _options_fit_type(self) -> Question:
        if self.type in ("choice", "multichoice"):
            if not self.options:
                raise ValueError(f"a {self.type} question needs options")
            ids = [o.id for o in self.options]
            if len(set(ids)) != len(ids):
                raise ValueError("option ids must be unique")
        elif self.options:
            raise ValueError(f"a {self.type} question takes no options")
        return self

    @model_validator(mode="after")
    def _id_not_reserved(self, info: ValidationInfo) -> Question:
        reason = reserved_question_id(self.id)
        if reason is None:
            return self
        if (info.context or {}).get("stored") and self.id not in CORE_FIELDS:
            # Stored by an earlier release that allowed it: its registrations keep working and
            # the exports give the answers a column of their own (README, "Staff tools").
            return self
        raise ValueError(reason)

    @property
    def text_limit(self) -> int:
        """Maximum answer length in characters."""
        return self.max_length or (2000 if self.type == "textarea" else 200)

    def option_ids(self) -> list[str]:
        """The ids of the options, in file order."""
        return [o.id for o in self.options]


#: A duration as event files (reminders) and the staff tools (``checkin-link --valid``) write it: days,
#: hours and minutes, each at most once, in that order, ASCII digits only (``24h``, ``2d``, ``90m``,
#: ``1d12h``; spaces between parts allowed).
_OFFSET = re.compile(r"(?:([0-9]{1,6})d)?\s*(?:([0-9]{1,6})h)?\s*(?:([0-9]{1,6})m)?", re.ASCII)
#: Bounds of a reminder offset (README, "Event files"): at least 15 minutes, so the scheduled function
#: (every 5 minutes) can send it before the start; at most 28 days before the event.
REMINDER_MIN = timedelta(minutes=15)
REMINDER_MAX = timedelta(days=28)
#: At most this many reminders per event.
REMINDERS_MAX = 5
#: The default: one reminder, 24 hours before ``starts_at`` (issue 12; what pretix and Eventbrite do).
DEFAULT_REMINDERS = ("1d",)


def offset_text(offset: timedelta) -> str:
    """The canonical text of a reminder offset: ``1d``, ``1d12h``, ``1h30m`` (whole minutes)."""
    minutes = int(offset.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n) or "0m"


def parse_duration(text: str) -> timedelta:
    """A duration written as days, hours and minutes, each at most once and in that order (``24h``,
    ``2d``, ``90m``, ``1d12h``; README "Event files", reminders, and "Check-in at the door"), as a
    ``timedelta``; spaces around it are ignored, zero is read (callers set their bounds).

    Raises ``ValueError`` (``'<text>' is not a duration: ...``) for anything else: no unit, another
    unit, a unit twice (``1d1d``) or out of order (``1m1h``), non-ASCII digits, more than 40 characters.
    """
    stripped = text.strip()
    match = _OFFSET.fullmatch(stripped) if 0 < len(stripped) <= 40 else None
    if match is None or not any(match.groups()):
        raise ValueError(f"{stripped[:40]!r} is not a duration: write days, hours and/or minutes "
                         "such as \"24h\", \"2d\", \"90m\" or \"1d12h\"")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def parse_offset(value: object) -> timedelta:
    """A reminder offset (``24h``, ``2d``, ``90m``, ``1d12h``) as a ``timedelta``.

    Raises ``ValueError`` with the reason for anything else: not a string, no unit, another
    unit or order, non-ASCII digits, zero, below :data:`REMINDER_MIN` or above :data:`REMINDER_MAX`.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        shown = repr(value)[:40]
        raise ValueError(f"a reminder is a time before starts_at with its unit, e.g. \"24h\", \"2d\" or \"90m\", "
                         f"not {shown}")
    text = value.strip()
    try:
        offset = parse_duration(text)
    except ValueError as not_duration:
        raise ValueError(f"reminder {not_duration}") from None
    if offset < REMINDER_MIN:
        raise ValueError(f"reminder {text!r} is too close to the start: at least "
                         f"{offset_text(REMINDER_MIN)} before starts_at (the scheduled function runs every 5 minutes)")
    if offset > REMINDER_MAX:
        raise ValueError(f"reminder {text!r} is too early: at most {REMINDER_MAX.days}d before starts_at")
    return offset


def _reminders(value: object) -> object:
    """``reminders`` as canonical offset texts (:func:`offset_text`), checked by :func:`parse_offset`."""
    if value is None:
        raise ValueError("reminders is a list such as [\"24h\"], or [] for no reminder")
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError("reminders is a list such as [\"24h\"] or [\"2d\", \"2h\"], or [] for no reminder")
    if len(value) > REMINDERS_MAX:
        raise ValueError(f"at most {REMINDERS_MAX} reminders per event, not {len(value)}")
    seen: dict[str, str] = {}
    texts = []
    for item in value:
        text = offset_text(parse_offset(item))
        if text in seen:
            raise ValueError(f"reminders {seen[text]!r} and {item!r} are the same time before the event")
        seen[text] = str(item)
        texts.append(text)
    # Earliest first (the longest offset): the order they are sent in.
    return tuple(sorted(texts, key=parse_offset, reverse=True))


#: ``reminders`` of an event: offsets before ``starts_at``, as canonical texts (``("2d", "2h")``).
Reminders = Annotated[tuple[str, ...], BeforeValidator(_reminders)]

#: Prefix of a reminder's due job and notification: ``reminder_<offset text>`` (``reminder_1d``).
REMINDER_PREFIX = "reminder_"
