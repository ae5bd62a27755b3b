"""An event's branding as pages and emails use it: logo, link, accent colour (README, "Event files").

Kept apart from ``chalicelib.pages`` so the email path (``DeliverEmails``) can use it
without loading the page code. The accent colour reaches the pages as a stylesheet of
CSS custom properties (:func:`accent_stylesheet`, served by ``GET /static/accent/<rrggbb>.css``),
never as an inline style, so the pages' CSP keeps ``style-src 'self'``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.colours import normalise_hex, shade, tint
from chalicelib.events import Event

#: The neutral look's accent (``--accent`` in ``templates/static/form.css``).
NEUTRAL_ACCENT = "#0b5cad"


def look(event: Event | None, base: str) -> dict[str, Any]:
    """The event's branding as template values; ``base`` prefixes our own URLs.

    ``base`` is a page's relative ``base_path`` (``../..``) or, in emails, the absolute
    ``PUBLIC_BASE_URL``. Keys: ``accent`` (``#rrggbb`` or ``None``), ``accent_css`` (the
    stylesheet URL or ``None``), ``logo_src`` (an https URL, ``<base>/static/assets/<file>``
    or ``None``), ``website`` (https URL or ``None``) and ``name`` (the organiser's name).
    Without branding every value but ``name`` is ``None``: the neutral look.
    """
    branding = event.branding if event else None
    accent = branding.accent_colour if branding else None
    logo_src = None
    if branding and branding.logo_file:
        logo_src = f"{base}/static/assets/{branding.logo_file}"
    elif branding and branding.logo:
        logo_src = branding.logo
    return {
        "accent": accent,
        "accent_css": f"{base}/static/accent/{accent[1:]}.css" if accent else None,
        "logo_src": logo_src,
        "website": str(branding.website) if branding and branding.website else None,
        "name": event.organiser.name if event else "",
    }


def accent_stylesheet(colour: str) -> str:
    """The CSS that gives ``form.css`` an accent colour (``#rrggbb``): custom properties on ``:root``.

    ``--accent`` (links, buttons, focus of choices), ``--accent-dark`` (a pressed or busy button,
    25 % black), ``--accent-tint`` (notice backgrounds, 90 % white) and ``--heading`` (headings).
    Raises ``ValueError`` for a value that is not a hex colour.
    """
    colour = normalise_hex(colour)
    return (
        "/* Accent colour of an event's branding (README, \"Event files\"). */\n"
        f":root {{ --accent: {colour}; --accent-dark: {shade(colour, 0.25)}; "
        f"--accent-tint: {tint(colour, 0.9)}; --heading: {colour}; }}\n"
    )
