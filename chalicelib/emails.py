"""The emails to registrants, built as MIME with the standard ``email`` package.

Each email is ``multipart/mixed``: a ``multipart/alternative`` text and HTML body
(Jinja2 templates ``email.txt``/``email.html``; the HTML one autoescapes user
text, the text one does not, so ``&`` stays ``&``), plus ``invite.ics``
(``text/calendar``) when the registrant holds or awaits a seat. Headers use
``email.headerregistry.Address``, which encodes display names per RFC 2047 and
quotes them, so ``Zoë Ødegård, MSc`` stays one recipient; IDN domains are
written in their ASCII (IDNA) form, as email-validator computes it.

Changes that send an email (PRODUCT.md, "Emails"): ``registered`` (confirmed or
waitlisted), ``promoted``, ``cancelled``.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from chalicelib import templates
from chalicelib.branding import NEUTRAL_ACCENT, look
from chalicelib.calendar_links import calendar_links
from chalicelib.dates import event_when
from chalicelib.events import Event
from chalicelib.invites import build_invite

SUBJECTS = {
    "confirmed": {"nl": "Bevestiging: {title}", "en": "Confirmed: {title}"},
    "waitlisted": {"nl": "Op de wachtlijst: {title}", "en": "On the waitlist: {title}"},
    "promoted": {"nl": "Er is een plek voor je: {title}", "en": "A seat is yours: {title}"},
    "cancelled": {"nl": "Inschrijving geannuleerd: {title}", "en": "Registration cancelled: {title}"},
}


def email_kind(change: str, status: str) -> str:
    """The kind of email for a change: ``confirmed``, ``waitlisted``, ``promoted`` or ``cancelled``."""
    if change == "registered":
        return "waitlisted" if status == "waitlisted" else "confirmed"
    return change


def address(display_name: str, email: str) -> Address:
    """An ``Address`` with the domain in IDNA form and the display name kept as typed.

    Raises ``ValueError`` for an address email-validator refuses.
    """
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return Address(display_name=display_name, username=checked.local_part, domain=checked.ascii_domain)


def links(base_url: str, registration_id: str, token: str, language: str) -> dict[str, str]:
    """The registrant's personal links (status page and cancel page), token URL-encoded."""
    query = f"token={quote(token, safe='')}&lang={language}"
    return {
        "status_url": f"{base_url}/registrations/{registration_id}?{query}",
        "cancel_url": f"{base_url}/registrations/{registration_id}/cancel?{query}",
    }


def build_email(
    *,
    event: Event,
    registration: dict[str, Any],
    change: str,
    sender: str,
    base_url: str,
    token: str,
    now: datetime,
    waitlist_position: int | None = None,
) -> EmailMessage:
    """The complete message for one change of one registration.

    ``registration`` is the stored item (``registration_id``, ``name``, ``email``,
    ``language``, ``status``); ``sender`` the configured From (``"Name <addr>"``);
    ``base_url`` the public API base for links; ``now`` (aware UTC) the Date and DTSTAMP.
    Raises ``ValueError`` when the registrant's or sender's address is invalid.
    """
    language = registration.get("language") or event.default_language
    if language not in event.languages:
        language = event.default_language
    kind = email_kind(change, registration["status"])
    title = event.title.get(language, event.default_language)
    personal = links(base_url, registration["registration_id"], token, language)
    context = {
        "lang": language,
        "kind": kind,
        "name": registration["name"],
        "title": title,
        "when": event_when(event, language),
        "location": event.location,
        "organiser": event.organiser,
        "position": waitlist_position,
        **personal,
        # The look (README, "Emails"): branding, buttons instead of raw links, calendar links.
        "look": look(event, base_url),
        "accent": (event.branding.accent_colour if event.branding else None) or NEUTRAL_ACCENT,
        **calendar_links(event, language),
    }
    message = EmailMessage(policy=SMTP)
    sender_name, sender_addr = parseaddr(sender)
    message["From"] = address(sender_name, sender_addr)
    message["To"] = address(registration["name"], registration["email"])
    message["Reply-To"] = address(event.organiser.name, str(event.organiser.email))
    message["Subject"] = SUBJECTS[kind][language].format(title=title)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender_addr.rpartition("@")[2] or None)
    message["Content-Language"] = language
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(templates.render("email.txt", context), subtype="plain", charset="utf-8")
    message.add_alternative(templates.render("email.html", context), subtype="html", charset="utf-8")
    if kind != "waitlisted":  # a waitlisted registrant holds no seat yet: no calendar entry
        invite = build_invite(
            event,
            registration["registration_id"],
            language,
            stamp=now,
            url=personal["status_url"],
            cancelled=kind == "cancelled",
        )
        message.add_attachment(
            invite,
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "CANCEL" if kind == "cancelled" else "PUBLISH", "charset": "UTF-8"},
        )
    return message
