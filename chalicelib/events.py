"""Event definitions: the Pydantic model of an event file and loading `events/*.yaml`.

An event file (README, "Event files") holds one event. Times are local wall
times (no offset) in the event's IANA ``timezone``; the model turns them into
aware datetimes on demand. The same model validates files on the command line,
in the local service and in the staff tools, so a bad file is refused with the
file name, the field and the reason everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.eventparts import (
    CORE_FIELDS,
    DEFAULT_REMINDERS,
    EXPORT_COLUMNS,
    LOGO_FILE,
    LOGO_MAX_BYTES,
    MODEL_PREFIX,
    MULTI_LINE_ALLOWED,
    REMINDER_MAX,
    REMINDER_MIN,
    REMINDER_PREFIX,
    REMINDERS_MAX,
    RESERVED_QUESTION_IDS,
    RESERVED_QUESTION_PREFIX,
    SUPPORTED_LANGUAGES,
    Branding,
    Language,
    LineText,
    LocalTime,
    Location,
    OneLine,
    Option,
    OptionId,
    Organiser,
    Question,
    QuestionId,
    Reminders,
    Slug,
    Text,
    offset_text,
    parse_duration,
    parse_offset,
    reserved_question_id,
    unsafe_character,
)

#: The most seats an event file may give (README "Event files"): far above any real event, and a number
#: DynamoDB keeps exactly (it holds 38 significant digits; a 39-digit capacity broke every write).
MAX_CAPACITY = 1_000_000

#: What ``chalicelib.events`` offers: its own model and loading, and the parts it re-exports
#: from ``chalicelib.eventparts`` (callers import them from here).
__all__ = [
    "CORE_FIELDS",
    "DEFAULT_REMINDERS",
    "EXPORT_COLUMNS",
    "LOGO_FILE",
    "LOGO_MAX_BYTES",
    "MODEL_PREFIX",
    "MULTI_LINE_ALLOWED",
    "REMINDERS_MAX",
    "REMINDER_MAX",
    "REMINDER_MIN",
    "REMINDER_PREFIX",
    "RESERVED_QUESTION_IDS",
    "RESERVED_QUESTION_PREFIX",
    "SUPPORTED_LANGUAGES",
    "Branding",
    "Event",
    "EventFileError",
    "FieldProblems",
    "Language",
    "LineText",
    "LocalTime",
    "Location",
    "OneLine",
    "Option",
    "OptionId",
    "Organiser",
    "Question",
    "QuestionId",
    "Reminders",
    "Slug",
    "Text",
    "load_event_dir",
    "load_event_file",
    "offset_text",
    "parse_duration",
    "parse_event",
    "parse_offset",
    "reserved_question_id",
    "unsafe_character",
    "utc_text",
]


#: Abbreviations people write for a zone, the zone they most likely mean (an IANA name, Region/City): a clock
#: shows CEST or CET by the season, and the event's zone gives both (README, "Event files").
_ZONE_ABBREVIATIONS = {
    "CET": "Europe/Amsterdam", "CEST": "Europe/Amsterdam", "MEZ": "Europe/Berlin", "MESZ": "Europe/Berlin",
    "BST": "Europe/London", "WEST": "Europe/Lisbon", "EEST": "Europe/Athens", "IST": "Asia/Kolkata",
    "EDT": "America/New_York", "CDT": "America/Chicago", "MDT": "America/Denver", "PDT": "America/Los_Angeles",
    "PST": "America/Los_Angeles", "CST": "America/Chicago", "AEST": "Australia/Sydney",
}


def _zone_hint(value: str) -> str:
    """How to write the zone ``value`` meant: the zone an abbreviation stands for (``CEST``), the name in its
    right case (``europe/amsterdam``) or a close spelling (``Europe/Amsterdamm``), else an example."""
    import difflib
    from zoneinfo import available_timezones

    abbreviation = _ZONE_ABBREVIATIONS.get(value.strip().upper())
    if abbreviation:
        return (f"{value.strip()} is what a clock shows, not a zone; write the zone's name, e.g. {abbreviation} "
                "(the event's city or the nearest one listed in the tz database)")
    zones = sorted(available_timezones())
    same = [zone for zone in zones if zone.lower() == value.strip().lower()]
    close = same or difflib.get_close_matches(value.strip(), zones, n=1, cutoff=0.8)
    if close:
        return f"did you mean {close[0]}?"
    return "write the zone's name from the tz database, Region/City, e.g. Europe/Amsterdam"


#: A place in an event file as Pydantic gives it: field names and list indexes counted from 0.
Where = tuple[str | int, ...]


class FieldProblems(ValueError):
    """Problems a check across an event's fields found, each with the field it is about: ``problems`` is
    ``[(where, reason)]``, ``where`` a path in the file from the model the check runs on
    (``("questions", 1, "label", "en")``). :func:`parse_event` reports each at its field, not at the file."""

    def __init__(self, problems: list[tuple[Where, str]]):
        self.problems = problems
        super().__init__("; ".join(reason for _, reason in problems))


class Event(BaseModel):
    """One event, as written in ``events/<id>.yaml`` (README, "Event files").

    ``starts_at``/``ends_at``, the registration window and ``waitlist_closes_at`` are naive
    local times in ``timezone`` (a bare date is refused: ``chalicelib.eventparts._wall_time``); use
    :meth:`local` and :meth:`utc` for aware values. The window closes at ``starts_at``
    unless ``registration_closes_at`` says otherwise. Promotions from the waitlist stop at
    ``waitlist_closes_at`` (default ``starts_at``, at most ``ends_at``): after it a freed seat
    goes to nobody and those still waiting get one ``waitlist_closed`` email (README, "Seats,
    waitlist and cancellation").
    ``branding`` gives the pages and emails the organiser's look (:class:`Branding`);
    ``show_seats`` (``exact``, ``few`` below ``few_threshold`` seats, or ``none``) what the
    public sees of the seats left (README, "Event files"). ``reminders``: offsets before
    ``starts_at`` (``24h``, ``2d``, ``90m``; default one day; ``[]`` for none), kept as canonical
    texts, longest first; each is a due job ``reminder_<offset>`` (:meth:`scheduled_times`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Slug
    title: LineText
    description: Text
    audience: Text | None = None
    languages: tuple[Language, ...] = Field(min_length=1)
    timezone: str
    starts_at: LocalTime
    ends_at: LocalTime
    location: Location
    organiser: Organiser
    capacity: PositiveInt | None = Field(default=None, le=MAX_CAPACITY)
    waitlist: bool = False
    registration_opens_at: LocalTime | None = None
    registration_closes_at: LocalTime | None = None
    waitlist_closes_at: LocalTime | None = None
    questions: tuple[Question, ...] = ()
    privacy_url: HttpUrl
    branding: Branding | None = None
    show_seats: Literal["exact", "few", "none"] = "exact"
    few_threshold: PositiveInt = Field(default=5, le=1000)
    reminders: Reminders = DEFAULT_REMINDERS

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}: {_zone_hint(value)}") from None
        return value

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("languages must not repeat")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Event:
        stored = bool((info.context or {}).get("stored"))
        missing = self._missing_texts(self.languages[:1] if stored else self.languages, options=not stored)
        if missing:
            raise FieldProblems(missing)
        if self.ends_at <= self.starts_at:
            raise FieldProblems([(("ends_at",), "ends_at must be after starts_at")])
        for field in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at", "waitlist_closes_at"):
            wall = getattr(self, field)
            if wall is not None and not self._exists(wall):
                raise FieldProblems([((field,), f"{field} {wall.isoformat()} does not exist in {self.timezone} "
                                     "(the clocks skip that hour when daylight saving time starts)")])
        if self.registration_opens_at and self.registration_opens_at >= self.closes_at_local:
            raise FieldProblems([(("registration_opens_at",),
                                  "registration_opens_at must be before the registration closes")])
        if not stored and self.registration_closes_at is not None and self.registration_closes_at > self.ends_at:
            # A stored definition from before this rule keeps working (its registrations are closed by then).
            raise FieldProblems([(("registration_closes_at",),
                                  "registration_closes_at must not be after ends_at: nobody can register for an "
                                  "event that has ended")])
        if self.waitlist_closes_at is not None:
            if self.waitlist_closes_at > self.ends_at:
                raise FieldProblems([(("waitlist_closes_at",), "waitlist_closes_at must not be after ends_at: "
                                                               "nobody can take a seat after the event")])
            if self.registration_opens_at and self.waitlist_closes_at <= self.registration_opens_at:
                raise FieldProblems([(("waitlist_closes_at",),
                                      "waitlist_closes_at must be after registration_opens_at")])
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise FieldProblems([(("questions",), "question ids must be unique")])
        return self

    def _missing_texts(self, languages: tuple[str, ...], *, options: bool) -> list[tuple[Where, str]]:
        """``(where, reason)`` for each shown text lacking one of ``languages``: ``title``, ``description``,
        ``audience`` (when given), each question's label and (``options``) each option's label. A form or
        email in that language would show another language's text (README, "Event files")."""
        texts: list[tuple[Where, Text]] = [(("title",), self.title), (("description",), self.description)]
        if self.audience is not None:
            texts.append((("audience",), self.audience))
        for n, question in enumerate(self.questions):
            texts.append((("questions", n, "label"), question.label))
            if options:
                texts.extend((("questions", n, "options", m, "label"), option.label)
                             for m, option in enumerate(question.options))
        return [((*where, language), f"no {_language_name(language)} text ({language}), while languages lists "
                                     f"{language}: the {_language_name(language)} form and emails would show "
                                     "another language's text; add it, or take the language out of languages")
                for where, text in texts for language in languages if not getattr(text, language)]

    def _exists(self, wall: datetime) -> bool:
        """Whether a naive local time occurs in the zone (not in a daylight-saving gap)."""
        there_and_back = wall.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)
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

    @property
    def waitlist_closes_local(self) -> datetime:
        """When promotions from the waitlist stop, naive local time (default: ``starts_at``)."""
        return self.waitlist_closes_at or self.starts_at

    def promotions_closed(self, instant: datetime) -> bool:
        """Whether ``instant`` (aware) is at or past the waitlist cutoff: no seat is handed on any more."""
        return instant >= self.utc(self.waitlist_closes_local)

    def retention_until(self, retention_days: int) -> int:
        """When the event's stored registrations expire: its end plus ``retention_days``, epoch
        seconds (UTC; the table's TTL ``expires_at``, README "Storage")."""
        return int((self.utc(self.ends_at) + timedelta(days=retention_days)).timestamp())

    def seat_passes_on(self, instant: datetime) -> bool:
        """Whether a seat given up at ``instant`` (aware) can go to someone else: the event has a
        capacity, and it has a waitlist whose cutoff has not passed (a promotion) or registration is
        still open (a newcomer). Emails and the cancel page ask to cancel "so someone else gets your seat" only
        then; otherwise "so we know not to expect you" (README, "Seats, waitlist and cancellation")."""
        if self.capacity is None:
            return False
        promotion = self.waitlist and not self.promotions_closed(instant)
        return promotion or instant < self.utc(self.closes_at_local)

    def over(self, instant: datetime) -> bool:
        """Whether the event has ended at ``instant`` (aware): a cancellation changes nothing any more."""
        return instant >= self.utc(self.ends_at)

    def started(self, instant: datetime) -> bool:
        """Whether the event has begun at ``instant`` (aware)."""
        return instant >= self.utc(self.starts_at)

    def moves_into_the_past(self, stored: Event | None, instant: datetime) -> list[tuple[str, str]]:
        """``(field, reason)`` for each time of this definition that has passed at ``instant`` (aware, the
        service's clock) where the ``stored`` definition's had not: publishing it would move the event
        into the past (README, "Event files", times in the past). ``stored`` ``None`` (a new event):
        only an event that has already ended is named. Empty when nothing moves into the past.

        ``starts_at`` is named when the event would have begun (then not ``ends_at`` too), else
        ``ends_at`` when it would have ended, and ``waitlist_closes_at`` when the waitlist cutoff
        would have passed while the start has not (the scheduled function would tell everyone still
        waiting at once that no seat came free, which no later publish takes back).
        """
        now_text = f"{instant.astimezone(self.zone):%Y-%m-%dT%H:%M} {self.timezone}"

        def passed(field: str, wall: datetime, before: str) -> tuple[str, str]:
            return field, (f"{wall:%Y-%m-%dT%H:%M} has passed by the service's clock (now {now_text}), {before}. "
                           "Check the date, the year above all")

        if stored is None:
            if self.over(instant):
                return [passed("ends_at", self.ends_at, "so the event would be over before it is published")]
            return []
        problems = []
        if self.started(instant) and not stored.started(instant):
            problems.append(passed("starts_at", self.starts_at,
                                   f"while the stored event starts {stored.starts_at:%Y-%m-%dT%H:%M}: publishing "
                                   "would move it into the past and tell its registrants so"))
        elif self.over(instant) and not stored.over(instant):
            problems.append(passed("ends_at", self.ends_at,
                                   f"while the stored event ends {stored.ends_at:%Y-%m-%dT%H:%M}: publishing "
                                   "would end it now and tell its registrants so"))
        if (self.waitlist and stored.waitlist and self.promotions_closed(instant)
                and not stored.promotions_closed(instant) and not self.started(instant)):
            cutoff = stored.waitlist_closes_local
            problems.append(passed("waitlist_closes_at", self.waitlist_closes_local,
                                   f"while the stored waitlist cutoff is {cutoff:%Y-%m-%dT%H:%M}: "
                                   "everyone still waiting would be told at once that no seat came free, "
                                   "which cannot be taken back"))
        return problems

    def scheduled_times(self) -> dict[str, datetime | None]:
        """When the scheduled function has work for this event: ``{job: aware UTC instant or None}``.

        ``waitlist_closed`` (``chalicelib.jobs``): at the waitlist cutoff, for an event with a
        waitlist. ``reminder_<offset>`` (:meth:`reminder_times`): each reminder's time.
        """
        return {"waitlist_closed": self.utc(self.waitlist_closes_local) if self.waitlist else None,
                **self.reminder_times()}

    def reminder_times(self) -> dict[str, datetime]:
        """``{"reminder_<offset>": aware UTC instant}``: ``starts_at`` minus each of :attr:`reminders`."""
        start = self.utc(self.starts_at)
        return {f"{REMINDER_PREFIX}{text}": start - parse_offset(text) for text in self.reminders}

    def local(self, wall_time: datetime) -> datetime:
        """Attach the event's zone to a naive local time (first occurrence in a DST fold)."""
        return wall_time.replace(tzinfo=self.zone)

    def utc(self, wall_time: datetime) -> datetime:
        """A naive local time of this event as an aware UTC datetime."""
        return self.local(wall_time).astimezone(UTC)

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

    def public_view(self, language: str | None = None) -> dict[str, Any]:
        """The event as the public JSON of ``GET /events/{id}`` (no personal data).

        ``capacity`` is left out unless ``show_seats`` is ``exact``: the pages do not show it then.
        """
        hidden = {"organiser"} if self.show_seats == "exact" else {"organiser", "capacity"}
        data = self.model_dump(mode="json", exclude=hidden)
        data["organiser"] = {"name": self.organiser.name}
        # Each local time with its UTC twin; the defaults written out (closing and the waitlist cutoff
        # at starts_at), so a client needs no rule of ours. The waitlist cutoff only with a waitlist.
        times = {
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "registration_opens_at": self.registration_opens_at,
            "registration_closes_at": self.closes_at_local,
            "waitlist_closes_at": self.waitlist_closes_local if self.waitlist else None,
        }
        for field, wall in times.items():
            data[field] = None if wall is None else wall.isoformat()
            data[f"{field}_utc"] = None if wall is None else utc_text(self.utc(wall))
        return data


def utc_text(instant: datetime) -> str:
    """An aware UTC instant as ISO 8601 with ``Z``: ``2023-06-05T12:00:00Z``."""
    return instant.isoformat().replace("+00:00", "Z")


def _language_name(language: str) -> str:
    """``en`` -> ``English``, ``nl`` -> ``Dutch`` (Babel's English name of the language)."""
    from babel import Locale

    return str(Locale.parse(language).english_name)


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
    fields as YAML paths with positions counted from 1 and the ids on the way (:func:`_where`):
    ``location.country``, ``questions[2].options (question role)``.
    """
    try:
        return Event.model_validate(data, context={"stored": stored})
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            found = (err.get("ctx") or {}).get("error")
            if isinstance(found, FieldProblems):
                problems.extend((_where((*err["loc"], *where), data), f"Value error, {reason}")
                                for where, reason in found.problems)
            else:
                problems.append((_where(err["loc"], data), err["msg"]))
        raise EventFileError(source, problems) from None


#: What an item of a list of the file is called when an error names it by its id.
_ITEM_KINDS = {"questions": "question", "options": "option"}


def _where(loc: Where, data: object) -> str:
    """A place in the file (Pydantic's ``loc`` into ``data``, the file as read) as the error names it, its
    YAML path with positions counted from 1 for people, then the ids of the questions and options on the
    way (not the id the error is about): ``location.country``, ``questions[6].max_length (question needs)``,
    ``questions[2].options[1].label.en (question role, option campaigner)``; ``(file)`` for the whole file."""
    path, names, node = "", [], data
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part + 1}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            item_id = node.get("id") if isinstance(node, dict) else None
            if isinstance(item_id, str) and loc[index + 1:index + 2] != ("id",):
                names.append(f"{_ITEM_KINDS.get(str(loc[index - 1]) if index else '', 'item')} {item_id}")
        else:
            path += f".{part}" if path else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return (path or "(file)") + (f" ({', '.join(names)})" if names else "")


def load_event_file(path: Path | str) -> Event:
    """Read and validate one ``events/*.yaml`` file.

    Raises :class:`EventFileError` for unreadable YAML or an invalid event; a file
    whose ``id`` differs from its name (without ``.yaml``) is refused too, so URLs
    and file names agree, and so is one the service cannot turn into every email,
    invite and page (``chalicelib.publishing.check_renders``).
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
    from chalicelib.publishing import check_renders  # imports the emails and pages, which import this module

    check_renders(event, path)
    return event


def load_event_dir(directory: Path | str) -> list[Event]:
    """Every ``*.yaml`` event in ``directory``, sorted by file name.

    Raises :class:`EventFileError` for the first bad file.
    """
    return [load_event_file(p) for p in sorted(Path(directory).glob("*.yaml"))]
