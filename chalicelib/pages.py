"""HTML pages for registrants: the registration form, the thank-you page, messages.

Rendered with Jinja2 (autoescaped) from ``chalicelib/templates``; every page is
a plain form that works without JavaScript, in the event's languages.
"""

from __future__ import annotations

from typing import Any

from chalicelib import templates
from chalicelib.dates import event_when
from chalicelib.events import Event


def seats_left(event: Event, item: dict[str, Any]) -> int | None:
    """Free seats from the event item's counter (``None`` for an unlimited event)."""
    if event.capacity is None:
        return None
    return max(0, event.capacity - int(item.get("seats_taken", 0)))


def _common(event: Event, lang: str, base_path: str) -> dict[str, Any]:
    return {
        "event": event,
        "lang": lang,
        "base_path": base_path,
        "title": event.title.get(lang, event.default_language),
        "description": event.description.get(lang, event.default_language),
        "audience": event.audience.get(lang, event.default_language) if event.audience else "",
        "when": event_when(event, lang),
    }


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


def registration_form(
    event: Event,
    item: dict[str, Any],
    lang: str,
    *,
    state: str,
    form_started_at: int,
    base_path: str = "",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    """The registration page.

    ``state`` is the window state (``open``, ``closed``, ``not_yet_open``) or
    ``full`` (no seat, no waitlist); only ``open`` shows the form. ``values`` and
    ``errors`` (field -> message) re-render a refused post with what was typed.
    ``form_started_at`` (epoch seconds) goes into a hidden field for the minimum fill time.
    Errors are listed in page order, and the first invalid field gets ``autofocus``,
    so focus lands on it even without JavaScript.
    """
    errors = errors or {}
    order = field_order(event)
    ordered_errors = {f: errors[f] for f in sorted(errors, key=lambda f: order.index(f) if f in order else len(order))}
    return templates.render(
        "register.html",
        {
            **_common(event, lang, base_path),
            "state": state,
            "seats_left": seats_left(event, item),
            "values": values or {},
            "errors": ordered_errors,
            "first_error": next(iter(ordered_errors), None),
            "labels": field_labels(event, lang),
            "form_started_at": form_started_at,
        },
    )


def thanks(event: Event, lang: str, status: str, base_path: str = "") -> str:
    """The thank-you page after a form post (``status`` ``confirmed`` or ``waitlisted``)."""
    return templates.render("thanks.html", {**_common(event, lang, base_path), "status": status})


def message(lang: str, title: str, detail: str, base_path: str = "") -> str:
    """A plain page with a heading and one paragraph (errors, not found)."""
    return templates.render("message.html", {"lang": lang, "title": title, "detail": detail, "base_path": base_path})


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
) -> str:
    """The registrant's own page: status and waitlist position; with ``ask_cancel``, the cancel confirmation form."""
    return templates.render(
        "registration.html",
        {
            **_common(event, lang, base_path),
            "registration_id": registration_id,
            "status": status,
            "position": position,
            "token": token,
            "ask_cancel": ask_cancel,
        },
    )
