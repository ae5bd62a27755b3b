"""Event definitions: the Pydantic model of an event file and loading `events/*.yaml`.

An event file (PRODUCT.md, "Event files") holds one event. Times are local wall
times (no offset) in the event's IANA ``timezone``; the model turns them into
aware datetimes on demand. The same model validates files on the command line,
in the local service and in the staff tools, so a bad file is refused with the
file name, the field and the reason everywhere.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    PositiveInt,
    ValidationError,
    ValidationInfo,
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
    "email_state", "checked_in_at", "email_outcome",
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
Slug = Annotated[str, Field(pattern=r"^[a-z0-9-]{3,64}$")]
QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
OptionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError("write local wall time without an offset; the event's timezone applies")
    return value


LocalTime = Annotated[datetime, AfterValidator(_naive)]


class Text(BaseModel):
    """Text per language, e.g. ``{nl: "...", en: "..."}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    nl: str | None = Field(default=None, min_length=1)
    en: str | None = Field(default=None, min_length=1)

    def get(self, language: str, fallback: str) -> str:
        """The text in ``language``, else in ``fallback`` (the event's first language), else ``""``."""
        return getattr(self, language, None) or getattr(self, fallback, None) or ""


class Location(BaseModel):
    """Where the event takes place; ``country`` is ISO 3166-1 alpha-2."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    url: HttpUrl | None = None

    def one_line(self) -> str:
        """``"Partos, Ellermanstraat 18b, Amsterdam"`` (the ICS LOCATION and email line)."""
        return ", ".join([self.name, self.address, self.city])


class Organiser(BaseModel):
    """Who runs the event; ``email`` is the Reply-To of every email."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
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
    label: Text


class Question(BaseModel):
    """An event's own form field beyond the core ones.

    ``max_length`` (characters) applies to text answers; it defaults to 200, or 2000 for ``textarea``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: QuestionId
    type: Literal["text", "textarea", "choice", "multichoice", "boolean", "phone"]
    label: Text
    required: bool = False
    options: tuple[Option, ...] = ()
    max_length: PositiveInt | None = Field(default=None, le=10000)

    @model_validator(mode="after")
    def _options_fit_type(self) -> "Question":
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
    def _id_not_reserved(self, info: ValidationInfo) -> "Question":
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


class Event(BaseModel):
    """One event, as written in ``events/<id>.yaml`` (PRODUCT.md, "Event files").

    ``starts_at``/``ends_at`` and the registration window are naive local times in
    ``timezone``; use :meth:`local` and :meth:`utc` for aware values. The window
    closes at ``starts_at`` unless ``registration_closes_at`` says otherwise.
    ``branding`` gives the pages and emails the organiser's look (:class:`Branding`);
    ``show_seats`` (``exact``, ``few`` below ``few_threshold`` seats, or ``none``) what the
    public sees of the seats left (README, "Event files").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Slug
    title: Text
    description: Text
    audience: Text | None = None
    languages: tuple[Language, ...] = Field(min_length=1)
    timezone: str
    starts_at: LocalTime
    ends_at: LocalTime
    location: Location
    organiser: Organiser
    capacity: PositiveInt | None = None
    waitlist: bool = False
    registration_opens_at: LocalTime | None = None
    registration_closes_at: LocalTime | None = None
    questions: tuple[Question, ...] = ()
    privacy_url: HttpUrl
    branding: Branding | None = None
    show_seats: Literal["exact", "few", "none"] = "exact"
    few_threshold: PositiveInt = Field(default=5, le=1000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("languages must not repeat")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Event":
        first = self.languages[0]
        texts = {"title": self.title, "description": self.description, "audience": self.audience}
        for field, text in texts.items():
            if text is not None and not getattr(text, first):
                raise ValueError(f"{field} needs a text in the first language ({first})")
        for question in self.questions:
            if not getattr(question.label, first):
                raise ValueError(f"question {question.id!r} needs a label in {first}")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        for field in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            wall = getattr(self, field)
            if wall is not None and not self._exists(wall):
                raise ValueError(f"{field} {wall.isoformat()} does not exist in {self.timezone} "
                                 "(the clocks skip that hour when daylight saving time starts)")
        if self.registration_opens_at and self.registration_opens_at >= self.closes_at_local:
            raise ValueError("registration_opens_at must be before the registration closes")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique")
        return self

    def _exists(self, wall: datetime) -> bool:
        """Whether a naive local time occurs in the zone (not in a daylight-saving gap)."""
        there_and_back = wall.replace(tzinfo=self.zone).astimezone(timezone.utc).astimezone(self.zone)
        return there_and_back.replace(tzinfo=None) == wall

    @property
    def zone(self) -> ZoneInfo:
        """The event's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def default_language(self) -> str:
        """The first of ``languages``: forms and emails fall back to it."""
        return self.languages[0]

    @property
    def closes_at_local(self) -> datetime:
        """When registration closes, naive local time (default: ``starts_at``)."""
        return self.registration_closes_at or self.starts_at

    def local(self, wall_time: datetime) -> datetime:
        """Attach the event's zone to a naive local time (first occurrence in a DST fold)."""
        return wall_time.replace(tzinfo=self.zone)

    def utc(self, wall_time: datetime) -> datetime:
        """A naive local time of this event as an aware UTC datetime."""
        return self.local(wall_time).astimezone(timezone.utc)

    def window_state(self, instant: datetime) -> Literal["not_yet_open", "open", "closed"]:
        """Whether registration is open at ``instant`` (aware), judged in the event's zone."""
        if self.registration_opens_at and instant < self.utc(self.registration_opens_at):
            return "not_yet_open"
        if instant >= self.utc(self.closes_at_local):
            return "closed"
        return "open"

    def question(self, question_id: str) -> Question | None:
        """The question with this id, or ``None``."""
        return next((q for q in self.questions if q.id == question_id), None)

    def public_view(self, language: str | None = None) -> dict:
        """The event as the public JSON of ``GET /events/{id}`` (no personal data).

        ``capacity`` is left out unless ``show_seats`` is ``exact``: the pages do not show it then.
        """
        data = self.model_dump(mode="json", exclude={"organiser"} if self.show_seats == "exact" else {"organiser", "capacity"})
        data["organiser"] = {"name": self.organiser.name}
        data["starts_at_utc"] = self.utc(self.starts_at).isoformat().replace("+00:00", "Z")
        data["ends_at_utc"] = self.utc(self.ends_at).isoformat().replace("+00:00", "Z")
        return data


class EventFileError(ValueError):
    """An event file that cannot be used; ``str()`` names the file, each field and the reason."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {field}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


def parse_event(data: object, source: Path | str = "<event>", *, stored: bool = False) -> Event:
    """Validate a mapping (parsed YAML or JSON) as an :class:`Event`.

    ``stored=True`` is for a definition read back from the table: a question id that an earlier
    release accepted and :data:`EXPORT_COLUMNS` or :data:`RESERVED_QUESTION_PREFIX` now reserve
    is let through there (the event keeps working; the exports rename its column), while a file
    being published is refused. Raises :class:`EventFileError` with ``(field, reason)`` pairs,
    fields dotted like ``location.country`` or ``questions.1.options``.
    """
    try:
        return Event.model_validate(data, context={"stored": stored})
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in err["loc"]) or "(file)", err["msg"]) for err in exc.errors()]
        raise EventFileError(source, problems) from None


def load_event_file(path: Path | str) -> Event:
    """Read and validate one ``events/*.yaml`` file.

    Raises :class:`EventFileError` for unreadable YAML or an invalid event; a file
    whose ``id`` differs from its name (without ``.yaml``) is refused too, so URLs
    and file names agree.
    """
    # Imported here: only the staff tools and the local service read event files,
    # so the Lambda package ships without PyYAML (infrastructure/lambda_package.py).
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EventFileError(path, [("(file)", str(exc))]) from None
    event = parse_event(data, path)
    if path.stem != event.id:
        raise EventFileError(path, [("id", f"{event.id!r} differs from the file name {path.stem!r}")])
    logo_file = event.branding.logo_file if event.branding else None
    if logo_file:
        logo = path.parent / "assets" / logo_file
        if not logo.is_file():
            raise EventFileError(path, [("branding.logo", f"no file {logo}")])
        if logo.stat().st_size > LOGO_MAX_BYTES:
            raise EventFileError(path, [("branding.logo", f"{logo} is over {LOGO_MAX_BYTES // 1024} KiB")])
    return event


def load_event_dir(directory: Path | str) -> list[Event]:
    """Every ``*.yaml`` event in ``directory``, sorted by file name.

    Raises :class:`EventFileError` for the first bad file.
    """
    return [load_event_file(p) for p in sorted(Path(directory).glob("*.yaml"))]
