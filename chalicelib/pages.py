"""HTML pages for registrants: the event page, the registration form, the thank-you page, messages.

Rendered with Jinja2 (autoescaped) from ``chalicelib/templates``; every page is
a plain form that works without JavaScript, in the event's languages. An event
with ``branding`` (README, "Event files") gets its logo, link and accent colour;
the colour arrives as a stylesheet (``GET /static/accent/<rrggbb>.css``), so the
pages keep a CSP without inline styles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import templates
from chalicelib.branding import look
from chalicelib.dates import event_when, local_timestamp
from chalicelib.events import Event, utc_text
from chalicelib.store import Availability


def _common(event: Event, lang: str, base_path: str) -> dict[str, Any]:
    return {
        "event": event,
        "lang": lang,
        "base_path": base_path,
        "look": look(event, base_path),
        "title": event.title.get(lang, event.default_language),
        "description": event.description.get(lang, event.default_language),
        "audience": event.audience.get(lang, event.default_language) if event.audience else "",
        "when": event_when(event, lang),
        # When registration opens, in the event's zone with its abbreviation ("22 May 2023 09:00 CEST").
        "opens": opens_text(event, lang),
        "opens_utc": utc_text(event.utc(event.registration_opens_at)) if event.registration_opens_at else "",
    }


def opens_text(event: Event, lang: str) -> str:
    """When registration opens, e.g. ``"22 May 2023 09:00 CEST"`` (Babel, the event's zone); ``""`` without
    an opening time."""
    if event.registration_opens_at is None:
        return ""
    return local_timestamp(event, event.utc(event.registration_opens_at), lang)


def field_labels(event: Event, lang: str) -> dict[str, str]:
    """Field name -> label in ``lang``, for the error summary."""
    core = {
        "nl": {"name": "Naam", "email": "E-mailadres", "language": "Taal", "consent": "Privacyverklaring",
               "form_started_at": "Formulier"},
        "en": {"name": "Name", "email": "Email address", "language": "Language", "consent": "Privacy statement",
               "form_started_at": "Form"},
    }[lang]
    return {**core, **{q.id: q.label.get(lang, event.default_language) for q in event.questions}}


def field_order(event: Event) -> list[str]:
    """The form's fields in the order the page shows them (errors are listed and focused in this order)."""
    return ["name", "email", "language", *[q.id for q in event.questions], "consent"]


def field_anchors(event: Event) -> dict[str, str]:
    """Field name -> the id of the element on the form page that the error summary links to: each
    field the page shows (``field-<name>``; the language only when the event offers more than one,
    else it is a hidden field) and, for ``form_started_at``, the send button. Errors of other
    fields (unknown fields, the hidden honeypot) are listed without a link."""
    shown = [field for field in field_order(event) if field != "language" or len(event.languages) > 1]
    return {**{field: f"field-{field}" for field in shown}, "form_started_at": "form-submit"}


def registration_form(
    event: Event,
    available: Availability,
    lang: str,
    *,
    form_started_at: int,
    base_path: str = "",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    """The registration page.

    ``available`` (``store.availability``) gives the seats shown and the state: the window
    state (``open``, ``closed``, ``not_yet_open``) or ``full`` (no seat, no waitlist); only
    ``open`` shows the form. ``values`` and
    ``errors`` (field -> message) re-render a refused post with what was typed.
    ``form_started_at`` (epoch seconds) goes into a hidden field for the minimum fill time.
    Errors are listed in page order, each linked to its field when the page has it (:func:`field_anchors`),
    and the first invalid field gets ``autofocus``, so focus lands on it even without JavaScript.
    """
    errors = errors or {}
    order = field_order(event)
    ordered_errors = {f: errors[f] for f in sorted(errors, key=lambda f: order.index(f) if f in order else len(order))}
    return templates.render(
        "register.html",
        {
            **_common(event, lang, base_path),
            "state": available.state,
            "seats": available.seats,
            "seats_figure": available.seats_figure,
            "values": values or {},
            "errors": ordered_errors,
            "first_error": next(iter(ordered_errors), None),
            "labels": field_labels(event, lang),
            "anchors": field_anchors(event),
            "form_started_at": form_started_at,
        },
    )


def event_page(event: Event, available: Availability, lang: str, *, base_path: str) -> str:
    """The event's own page (``GET /events/{id}`` for browsers): what, when, where, seats, and a link to the form.

    ``available`` as for :func:`registration_form`; the link to the form shows only when its state is ``open``.
    The thank-you page's "back" leads here.
    """
    return templates.render("event.html", {**_common(event, lang, base_path), "state": available.state,
                                           "seats": available.seats, "seats_figure": available.seats_figure})


def thanks(
    event: Event,
    lang: str,
    *,
    status: str | None,
    position: int | None = None,
    email: str | None = None,
    base_path: str = "",
) -> str:
    """The thank-you page after a form post.

    ``status`` (``confirmed``, ``waitlisted``, ``cancelled``), ``position`` (waitlist, from 1) and
    ``email`` (the address the email goes to) come from the registration the page's signed
    reference names; with ``status=None`` (reference expired or unknown) the page thanks the
    person and points to the email, without saying anything about a registration.
    """
    context = {**_common(event, lang, base_path), "status": status, "position": position, "email": email}
    return templates.render("thanks.html", context)


def message(lang: str, title: str, detail: str, base_path: str = "") -> str:
    """A plain page with a heading and one paragraph (errors, not found)."""
    return templates.render(
        "message.html", {"lang": lang, "title": title, "detail": detail, "base_path": base_path, "look": look(None, "")}
    )


def registration_status(
    event: Event,
    lang: str,
    *,
    registration_id: str,
    status: str,
    position: int | None,
    token: str,
    ask_cancel: bool,
    base_path: str,
    now: datetime | None = None,
    can_cancel: bool = False,
) -> str:
    """The registrant's own page: status and waitlist position; with ``ask_cancel``, the cancel confirmation form.

    ``now`` (aware) decides what the page may offer: past the event's waitlist cutoff a
    waiting registrant reads that no seat came free; past ``ends_at`` the page says the
    event is over and offers no cancellation (the cancel route refuses one then).
    ``token`` is the link's own token; ``can_cancel`` says it may cancel too (a cancel token, or one
    of the first release). Without it the page links to no cancel page and says where the cancel
    link is: in the email (README, "Emails", personal links).
    """
    over = now is not None and event.over(now)
    return templates.render(
        "registration.html",
        {
            **_common(event, lang, base_path),
            "registration_id": registration_id,
            "status": status,
            "position": position,
            "token": token,
            "ask_cancel": ask_cancel,
            "over": over,
            "waitlist_closed": now is not None and event.promotions_closed(now),
            "seat_passes_on": now is None or event.seat_passes_on(now),
            "can_cancel": can_cancel,
        },
    )
