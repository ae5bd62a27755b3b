"""The emails to registrants, built as MIME with the standard ``email`` package.

Each email is ``multipart/mixed``: a ``multipart/alternative`` text and HTML body
(Jinja2 templates ``email.txt``/``email.html``; the HTML one autoescapes user
text, the text one does not, so ``&`` stays ``&``), plus ``invite.ics``
(``text/calendar``) when the registrant holds or awaits a seat.

One recipient, whatever the name (README, "Emails"). The header fields that carry
text from people or files (``From``, ``To``, ``Reply-To``, ``Subject``) are written
here, not re-folded by ``email.headerregistry`` (which decodes an ASCII
``=?utf-8?b?...?=`` in a display name or subject and writes the decoded text back
raw, so a name can add recipients or a ``Bcc:`` line, as Python 3.11.7 does):

- line and paragraph separators (CR, LF, NEL, U+2028, U+2029, other control and
  space characters) become one space; lone surrogates become U+FFFD;
- a display name that contains ``@``, ``<``, ``>`` or ``=?`` is left out of the header (the
  address stands alone; the greeting too, :func:`greeting_name`): no decoder,
  however naive, can read an address or an encoded-word out of it;
- any other name that is not plain text (ASCII letters, digits, ``'``, ``-`` and
  single spaces) is written as RFC 2047 encoded-words by ``email.header.Header``
  (UTF-8, ``B`` or ``Q`` encoding, each word at most 75 characters, folded);
- the subject likewise, unless it is short printable ASCII without ``=?``.

After building, :func:`check_message` parses the bytes again with
``email.policy.default`` and checks that they name exactly one recipient (one
``To`` with one address, the registrant's, and no ``Cc``, ``Bcc``, ``Resent-*`` or
other header beyond :data:`TOP_LEVEL_HEADERS`). Only an :class:`OutgoingEmail`
can be sent (``chalicelib.delivery``), and one is made only from bytes that pass.
IDN domains are written in their ASCII (IDNA) form, as email-validator computes it.

Changes that send an email (README, "Emails"): ``registered`` (confirmed or
waitlisted), ``promoted``, ``cancelled``, ``updated`` (the event's time or place
changed), ``waitlist_closed`` (the scheduled function's notice that no seat came
free, ``chalicelib.jobs``) and each ``reminder_<offset>`` (kind ``reminder``: when and
where, the invite again, the links). :data:`SUBJECTS` is the table of email kinds:
``chalicelib.publishing`` renders every kind in it when an event is published.

Calendar (README, "Emails", calendar invites): a registrant who holds a seat gets
the entry as an iTIP ``REQUEST`` (``chalicelib.invites``) twice in the message, the
way calendar services send invitations: as a ``text/calendar; method=REQUEST`` part
inside the ``multipart/alternative`` (where Outlook, Gmail and Apple Mail look for a
scheduling message) and as the attachment ``invite.ics`` (``application/ics``, for
clients that only offer attachments and for saving the file; not ``text/calendar``,
so no client takes the same message twice). Giving up a seat sends a ``CANCEL`` the
same way. A waitlisted registrant holds no entry, so their emails (waitlisted,
``updated`` while waiting, ``waitlist_closed``, a cancellation while waiting) carry
no calendar part. A reminder carries the registration's entry again (the same UID).
``From`` and ``ORGANIZER`` are the sending identity with the organiser's name;
``Reply-To`` is the organiser's own address.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from chalicelib import checkin, schedules, templates
from chalicelib.branding import NEUTRAL_ACCENT, look
from chalicelib.calendar_links import calendar_links
from chalicelib.dates import event_when, short_start, span_when, starts_in
from chalicelib.events import REMINDER_PREFIX, Event
from chalicelib.invites import CANCEL, REQUEST, Party, build_invite

#: The header fields at the top of every message we send, each exactly once, in this order.
#: Nothing else may appear there (no ``Cc``, ``Bcc``, ``Resent-*``, ``X-*``).
TOP_LEVEL_HEADERS = (
    "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "Content-Language", "Auto-Submitted",
    "MIME-Version", "Content-Type",
)
#: Longest display name written into a header, in characters (the registration form's name limit).
DISPLAY_NAME_MAX = 200
#: RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters, excluding CRLF.
LINE_MAX = 78
#: RFC 2047 section 2: an encoded-word is at most 75 characters; folded after a space, lines of at most 76.
ENCODED_LINE_MAX = 76
#: The message's policy: SMTP's, with quoted-printable body lines of at most 76 characters (RFC 2045
#: section 6.7 requires it; Python's default of 78 tripped SpamAssassin's MIME_QP_LONG_LINE).
MESSAGE_POLICY = SMTP.clone(max_line_length=76)

#: Display names written as they are: ASCII words of letters, digits, ``'`` and ``-`` (RFC 5322 atext).
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)*")
#: Unstructured text (the subject) written as it is: printable ASCII words, single spaces.
_PLAIN_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
#: Bidirectional classes of the embedding, override and isolate controls (Unicode UAX #9): they can
#: make a header display as something else.
_BIDI_CONTROL_CLASSES = frozenset({"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"})
#: Characters that make a display name look like an address or an encoded-word to some decoder, and
#: the backslash, an escape in RFC 5322 quoted strings that calendar parsers also read in a ``CN``
#: parameter (a name ending in one swallowed the next parameter of the invite's ``ATTENDEE``).
_ADDRESS_LIKE = re.compile(r"[@<>\\]|=\?")
#: Longest name a greeting says, in characters; a longer one is text, not a name.
GREETING_NAME_MAX = 80
#: What keeps a name out of the greeting: what a mail client could make a link of (``@``, ``:``, ``www.``,
#: and :data:`_DOTTED`). The form is public: a greeting would carry a stranger's link into the organiser's
#: signed email to any address (README, "Emails"). Markup is no reason: the body escapes it.
_NOT_A_GREETING = re.compile(r"[@:]|(?i:www)[.。]")
#: A dot (``.`` or ``。``) between a word and two letters, as in ``pay.example``, ``bit.ly`` or ``Evil.Com``.
_DOTTED = re.compile(r"(\w+)[.。]([^\W\d_]{2})")
#: ... except initials and titles: one or two letters, a dot, a capital and a small letter
#: (``J.P.Balkenende``, ``M.Sc.``, ``Dr.Mo``, ``Mw.Drs.``, ``St.Ives``), with no path after them.
_INITIALS = re.compile(r"[^\W\d_]{1,2}")
#: A path after a dotted word (``Ev.Com/x``): a link whatever the letters.
_PATH = re.compile(r"\w[.。]\w+/")
#: Digits a name may hold and still be greeted: a number to call has more (``06 12 34 56 78``, spaced or not).
GREETING_DIGITS_MAX = 2


class UnsafeMessage(ValueError):
    """A built message that could reach someone other than its one recipient, or is malformed.

    The text says why, without names or addresses (it is stored as the email's ``reason``).
    """


SUBJECTS = {
    "confirmed": {"nl": "Bevestiging: {title}", "en": "Confirmed: {title}"},
    "waitlisted": {"nl": "Op de wachtlijst: {title}", "en": "On the waitlist: {title}"},
    "promoted": {"nl": "Er is een plek voor je: {title}", "en": "A seat is yours: {title}"},
    "cancelled": {"nl": "Inschrijving geannuleerd: {title}", "en": "Registration cancelled: {title}"},
    "waitlist_closed": {"nl": "Geen plek vrijgekomen: {title}", "en": "No seat came free: {title}"},
    "updated": {"nl": "Gewijzigd: {title}", "en": "Changed: {title}"},
    # {starts}: "ma 5 jun, 14:00 CEST" (dates.short_start); {city}: the location's city.
    "reminder": {"nl": "Herinnering: {title}, {starts} in {city}", "en": "Reminder: {title}, {starts} in {city}"},
}

#: Every (change, registration status at the change) that sends an email, one per kind and case
#: of calendar part: tests build each of them (every kind, both languages).
EMAIL_CASES = (
    ("registered", "confirmed"), ("registered", "waitlisted"), ("promoted", "confirmed"),
    ("cancelled", "cancelled"), ("updated", "confirmed"), ("updated", "waitlisted"),
    ("waitlist_closed", "waitlisted"), ("reminder_1d", "confirmed"),
)


def email_kind(change: str, status: str) -> str:
    """The kind of email for a change (a key of :data:`SUBJECTS`): ``registered`` gives ``confirmed`` or
    ``waitlisted`` by ``status``; every reminder (``reminder_<offset>``, ``chalicelib.jobs``) is ``reminder``;
    every other change is its own kind (``promoted``, ``cancelled``, ``updated``, ``waitlist_closed``)."""
    if change == "registered":
        return "waitlisted" if status == "waitlisted" else "confirmed"
    if change.startswith(REMINDER_PREFIX) or change == "reminder":
        return "reminder"
    return change


def calendar_method(change: str, registration: dict[str, Any]) -> str | None:
    """The iTIP method of the email's calendar part, or ``None`` for none (README, "Emails").

    ``REQUEST`` while the registrant holds a seat (confirmed, promoted, an update of a
    confirmed registration); ``CANCEL`` when one who held a seat cancels (``cancelled_from``
    on the item; absent on a cancellation of the first release, which held a seat or was
    sent a cancellation then too); nothing for a waitlisted registrant, who holds no entry.
    """
    status = registration.get("status")
    if change == "cancelled":
        return None if registration.get("cancelled_from") == "waitlisted" else CANCEL
    if change == "waitlist_closed":  # sent to those still waiting: no entry to make or remove
        return None
    return REQUEST if status == "confirmed" else None


def one_line(text: str) -> str:
    """``text`` as one line: every control, separator and space character (Unicode Cc, Zl, Zp,
    Zs: CR, LF, NEL, U+2028, U+2029, tabs, ...) and every bidi control becomes one space, runs
    of spaces one, lone surrogates (Cs, which no encoding can write) U+FFFD; trimmed."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp", "Zs") or unicodedata.bidirectional(ch) in _BIDI_CONTROL_CLASSES:
            out.append(" ")
        elif category == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def header_display_name(name: str) -> str:
    """The display name a header shows for ``name``: :func:`one_line`, at most
    :data:`DISPLAY_NAME_MAX` characters, and ``""`` (no display name) when it contains
    ``@``, ``<``, ``>`` or ``=?``, which some decoder could take for an address or an encoded-word,
    or a backslash (an escape to some decoders). The invite's ``CN`` names are these too (README, "Emails")."""
    text = one_line(name)[:DISPLAY_NAME_MAX].strip()
    return "" if _ADDRESS_LIKE.search(text) else text


def greeting_name(name: str) -> str:
    """The name the greeting of an email says ("Dear Anna,"), or ``""`` for none ("Hello,"); the
    ``To`` header and the invite's ``ATTENDEE`` ``CN`` show only this name too (:func:`header_display_name`).

    :func:`one_line`; none when longer than :data:`GREETING_NAME_MAX` characters or when it holds
    what :data:`_NOT_A_GREETING`, :data:`_DOTTED` (not initials) or :data:`_PATH` matches (a web or mail
    address), or more than :data:`GREETING_DIGITS_MAX` digits (a number to call), read after NFKC
    normalisation.
    The name itself is stored and exported as typed (README, "Emails": recipients).
    """
    text = one_line(name).strip()
    seen = unicodedata.normalize("NFKC", text)  # full-width letters, digits and dots as a mail client reads them
    if (len(text) > GREETING_NAME_MAX or _NOT_A_GREETING.search(seen) or _PATH.search(seen)
            or sum(c.isdigit() for c in seen) > GREETING_DIGITS_MAX):
        return ""
    for dotted in _DOTTED.finditer(seen):
        before, after = dotted.group(1), dotted.group(2)
        if not (_INITIALS.fullmatch(before) and after[0].isupper() and after[1].islower()):
            return ""
    return text


def _encoded(text: str, header: str) -> str:
    """``text`` as folded RFC 2047 encoded-words (UTF-8; ``email.header.Header`` picks ``B`` or ``Q``)."""
    return Header(text, "utf-8", maxlinelen=ENCODED_LINE_MAX, header_name=header).encode(linesep="\r\n")


def mailbox(header: str, display_name: str, addr_spec: str) -> str:
    """The value of an address header for one mailbox (RFC 5322 ``name-addr`` or ``addr-spec``).

    ``display_name`` is used as :func:`header_display_name` returns it: none, plain ASCII
    words as they are, anything else as encoded-words. ``addr_spec`` must be ASCII (see :func:`address`).
    """
    shown = header_display_name(display_name)
    if not shown:
        return addr_spec
    if _PLAIN_PHRASE.fullmatch(shown) and len(f"{header}: {shown} <{addr_spec}>") <= LINE_MAX:
        return f"{shown} <{addr_spec}>"
    words = _encoded(shown, header)
    # The line the address would end: the last folded line, or the first with the header's name.
    last_line = words.rpartition("\n")[2] if "\n" in words else f"{header}: {words}"
    separator = " " if len(last_line) + len(addr_spec) + 3 <= LINE_MAX else "\r\n "
    return f"{words}{separator}<{addr_spec}>"


def unstructured(header: str, text: str) -> str:
    """The value of a text header (the subject): :func:`one_line`, then as it is when it is short
    printable ASCII without ``=?``, else folded encoded-words."""
    line = one_line(text)
    if _PLAIN_TEXT.fullmatch(line) and "=?" not in line and len(f"{header}: {line}") <= LINE_MAX:
        return line
    return _encoded(line, header)


def address(email: str) -> str:
    """The ``addr-spec`` to send to for a stored address: the domain in IDNA form, ASCII only.

    Raises ``ValueError`` for an address email-validator refuses, or one whose part
    before the ``@`` is not ASCII (SES cannot deliver SMTPUTF8 mail).
    """
    try:
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return f"{checked.local_part}@{checked.ascii_domain}"


def _only_address(message: EmailMessage, name: str) -> Any:
    values = message.get_all(name) or []
    if len(values) != 1:
        raise UnsafeMessage(f"{name} appears {len(values)} times, not once")
    header = values[0]
    if len(header.addresses) != 1:
        raise UnsafeMessage(f"{name} holds {len(header.addresses)} addresses, not 1")
    if len(header.groups) != 1 or header.groups[0].display_name is not None:
        raise UnsafeMessage(f"{name} holds a group")
    if header.defects:
        raise UnsafeMessage(f"{name} has defects: {', '.join(sorted({type(d).__name__ for d in header.defects}))}")
    return header.addresses[0]


def check_message(raw: bytes, recipient: str, expected: dict[str, str] | None = None) -> EmailMessage:
    """Parse ``raw`` again (``email.policy.default``) and check it can reach ``recipient`` alone.

    Checks: the header section is ASCII with CRLF line ends only; its fields are exactly
    :data:`TOP_LEVEL_HEADERS`, each once, in any order (so no ``Cc``, ``Bcc``, ``Resent-*``, ``Apparently-To``);
    ``To``, ``From`` and ``Reply-To`` each hold one address, without parse defects; the ``To``
    address is ``recipient``. ``expected`` maps header names to the decoded value they must
    show (the display names and the subject as meant), compared without white space: CPython's parser
    keeps the folding space between two encoded-words in a display name, which RFC 2047
    section 6.2 says to drop. Returns the parsed message.
    Raises :class:`UnsafeMessage` naming the first failure.
    """
    head, blank, _ = raw.partition(b"\r\n\r\n")
    if not blank:
        raise UnsafeMessage("no blank line ends the header section")
    if not head.isascii():
        raise UnsafeMessage("the header section is not ASCII")
    if b"\r" in head.replace(b"\r\n", b"") or b"\n" in head.replace(b"\r\n", b""):
        raise UnsafeMessage("the header section has a bare CR or LF")
    try:
        message = message_from_bytes(raw, policy=default_policy)
        names = [name.lower() for name in message]
        if sorted(names) != sorted(name.lower() for name in TOP_LEVEL_HEADERS):
            unexpected = sorted(set(names) - {n.lower() for n in TOP_LEVEL_HEADERS})
            missing = sorted({n.lower() for n in TOP_LEVEL_HEADERS} - set(names))
            raise UnsafeMessage(
                f"header fields are not the expected ones (unexpected: {', '.join(unexpected) or 'none'}; "
                f"missing: {', '.join(missing) or 'none'}; {len(names)} in all)")
        to = _only_address(message, "To")
        _only_address(message, "From")
        _only_address(message, "Reply-To")
        if to.addr_spec != recipient:
            raise UnsafeMessage("To is not the registrant's address")
        for name, value in (expected or {}).items():
            header = message[name]
            shown = header.addresses[0].display_name if hasattr(header, "addresses") else str(header)
            # Spacing aside: CPython keeps the folding space between encoded-words in a phrase.
            if "".join(shown.split()) != "".join(value.split()):
                raise UnsafeMessage(f"{name} does not read back as written")
    except UnsafeMessage:
        raise
    except Exception as exc:
        raise UnsafeMessage(f"the message cannot be read back: {type(exc).__name__}") from None
    return message


@dataclass(frozen=True)
class OutgoingEmail:
    """A message ready for SES: ``raw`` (RFC 5322 bytes, CRLF) for ``recipient`` alone.

    ``recipient`` is the one ``addr-spec`` (ASCII, IDNA domain) that SES is told to
    deliver to (``Destination``); ``kind`` is a key of :data:`SUBJECTS`. Making one runs
    :func:`check_message`, so every instance has passed it; raises :class:`UnsafeMessage` otherwise.
    """

    recipient: str
    raw: bytes
    kind: str

    def __post_init__(self) -> None:
        check_message(self.raw, self.recipient)


def links(base_url: str, registration_id: str, view_token: str, cancel_token: str, language: str) -> dict[str, str]:
    """The registrant's personal links, tokens URL-encoded: the status page (``view`` token) and
    the cancel page (``cancel`` token; README, "Emails", personal links)."""
    def url(path: str, token: str) -> str:
        return f"{base_url}/registrations/{registration_id}{path}?token={quote(token, safe='')}&lang={language}"

    return {"status_url": url("", view_token), "cancel_url": url("/cancel", cancel_token)}


def _previous(update: dict[str, Any] | None, event: Event, language: str) -> dict[str, Any]:
    """What an ``updated`` email says changed: ``changes`` and the earlier time and place as people read them."""
    if not update:
        return {"changes": (), "previous_when": "", "previous_place": ""}
    previous = update.get("previous") or {}
    changes = tuple(c for c in update.get("changes") or () if c in (schedules.TIME, schedules.PLACE))
    when = ""
    if schedules.TIME in changes and previous.get("starts_at"):
        start, end = schedules.instants(previous, event.timezone)
        when = span_when(start, end, language)
    return {"changes": changes, "previous_when": when,
            "previous_place": previous.get("place", "") if schedules.PLACE in changes else ""}


def _intro(kind: str, registration: dict[str, Any], changes: tuple[str, ...], event: Event, now: datetime) -> str:
    """The phrase (``_email_phrases.j2``) that opens the email: the kind, or what changed, or a waitlist
    farewell (worded as the organiser's when staff cancelled); a reminder built once the event has
    started (a staff resend, a record that waited) says that it has started, or taken place, instead
    of "starts in 0 seconds"."""
    if kind == "reminder" and now >= event.utc(event.starts_at):
        return "reminder_over" if now >= event.utc(event.ends_at) else "reminder_started"
    if kind == "cancelled" and registration.get("cancelled_by") == "staff":
        # the organiser cancelled it (staff registrations cancel): not "we are sorry you cannot make it"
        return "cancelled_by_staff_waitlisted" if registration.get("cancelled_from") == "waitlisted" \
            else "cancelled_by_staff"
    if kind == "cancelled" and registration.get("cancelled_from") == "waitlisted":
        return "cancelled_waitlisted"
    if kind == "updated":
        return {(schedules.TIME,): "updated_time", (schedules.PLACE,): "updated_place",
                (schedules.TIME, schedules.PLACE): "updated_both"}.get(changes, "updated_details")
    return kind


def build_email(
    *,
    event: Event,
    registration: dict[str, Any],
    change: str,
    sender: str,
    base_url: str,
    view_token: str,
    cancel_token: str,
    now: datetime,
    waitlist_position: int | None = None,
    sequence: int = 0,
    update: dict[str, Any] | None = None,
    checkin_code: str | None = None,
) -> OutgoingEmail:
    """The complete, checked message for one change of one registration.

    ``registration`` is the stored item (``registration_id``, ``name``, ``email``,
    ``language``, ``status``, ``cancelled_from``); ``sender`` the configured sending
    identity (``"Name <addr>"``: its address is ``From`` and ``ORGANIZER``, shown with the
    organiser's name); ``base_url`` the public API base for links; ``view_token`` and
    ``cancel_token`` the registration's link tokens (``chalicelib.tokens``); ``now`` (aware
    UTC) the Date and DTSTAMP; ``sequence`` the calendar message's ``SEQUENCE``; ``update``
    the ``updated`` notification (``changes``, ``previous`` schedule) of an event change.
    ``checkin_code`` the registrant's check-in code (``checkin.code_for_delivery``), shown as an
    inline QR code and in groups for reading aloud (``checkin.email_context``), or ``None``.
    Raises ``ValueError`` when the registrant's or sender's address is invalid, and
    :class:`UnsafeMessage` (a ``ValueError``) when the result fails :func:`check_message`.
    """
    language = registration.get("language") or event.default_language
    if language not in event.languages:
        language = event.default_language
    kind = email_kind(change, registration["status"])
    method = calendar_method(change, registration)
    title = event.title.get(language, event.default_language)
    personal = links(base_url, registration["registration_id"], view_token, cancel_token, language)
    name = str(registration.get("name") or "")
    previous = _previous(update if kind == "updated" else None, event, language)
    context = {
        **previous,
        "intro": _intro(kind, registration, previous["changes"], event, now),
        "lang": language,
        "kind": kind,
        "status": registration["status"],
        "calendar": method,
        "name": greeting_name(name),
        "title": title,
        "when": event_when(event, language),
        "location": event.location,
        "organiser": event.organiser,
        "position": waitlist_position,
        "starts_in": starts_in(event, now, language),
        # "Cancel so someone else gets your seat" only while someone can (Event.seat_passes_on).
        "seat_passes_on": event.seat_passes_on(now),
        **personal,
        # The look (README, "Emails"): branding, buttons instead of raw links, calendar links.
        "look": look(event, base_url),
        "accent": (event.branding.accent_colour if event.branding else None) or NEUTRAL_ACCENT,
        **calendar_links(event, language),
    }
    _, sender_addr = parseaddr(sender)
    recipient = address(registration["email"])
    sender_addr = address(sender_addr)
    # README, "Check-in at the door"
    context.update(checkin.email_context(checkin_code, sender_addr.rpartition("@")[2]))
    organiser_addr = address(str(event.organiser.email))
    organiser_name = header_display_name(event.organiser.name)
    subject = SUBJECTS[kind][language].format(
        title=title, starts=short_start(event, language), city=event.location.city
    )
    # Written here, not by email.headerregistry (see the module docstring). From is the sending
    # identity (SES verifies it) with the organiser's name; replies go to the organiser.
    headers = {
        "From": mailbox("From", event.organiser.name, sender_addr),
        "To": mailbox("To", greeting_name(name), recipient),
        "Reply-To": mailbox("Reply-To", event.organiser.name, organiser_addr),
        "Subject": unstructured("Subject", subject),
    }
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender_addr.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(templates.render("email.txt", context), subtype="plain", charset="utf-8")
    message.add_alternative(templates.render("email.html", context), subtype="html", charset="utf-8")
    checkin.attach_code(message, context)  # the QR code beside the HTML (multipart/related)
    if method is not None:  # a seat held, or given up: the calendar entry; else none (waitlisted)
        invite = build_invite(
            event,
            registration["registration_id"],
            language,
            method=method,
            sequence=sequence,
            organizer=Party(organiser_name, sender_addr),
            attendee=Party(header_display_name(greeting_name(name)), recipient),
            stamp=now,
            url=personal["status_url"],
        )
        # Inside multipart/alternative, where clients look for a scheduling message (RFC 6047 section 2.4) ...
        message.add_alternative(
            invite.decode("utf-8"),
            subtype="calendar",
            charset="utf-8",
            cte="quoted-printable",
            params={"method": method},
        )
        # ... and as a file, for clients that only offer attachments (application/ics: not taken twice).
        message.add_attachment(invite, maintype="application", subtype="ics", filename="invite.ics")
    message["Content-Language"] = language  # after the parts: making a multipart moves Content-* headers into them
    raw = "".join(f"{field}: {value}\r\n" for field, value in headers.items()).encode("ascii") + message.as_bytes()
    check_message(
        raw,
        recipient,
        expected={
            "From": organiser_name,
            "To": header_display_name(greeting_name(name)),
            "Reply-To": organiser_name,
            "Subject": one_line(subject),
        },
    )
    return OutgoingEmail(recipient=recipient, raw=raw, kind=kind)
