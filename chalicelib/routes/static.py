"""The static routes (README, "HTTP API"): the form's files, event logos, accent stylesheets, vendored scripts."""

from __future__ import annotations

import os
import re
from pathlib import Path

from chalice.app import Blueprint, Response

from chalicelib import branding, colours
from chalicelib.problems import Problem
from chalicelib.routes.answers import PAGE_METHODS, problem_answer, security_headers

blueprint = Blueprint(__name__)

STATIC_DIR = Path(__file__).parents[1] / "templates" / "static"
#: Scripts copied from pinned npm packages by ``make vendored`` (README, "Check-in at the door").
VENDOR_DIR = STATIC_DIR / "vendor"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
#: Logo files an event file may name (``assets/<file>.svg``, ``chalicelib.events.LOGO_FILE``): text, not binary.
ASSET_TYPES = {".svg": "image/svg+xml; charset=utf-8"}
LOGO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.svg$")
ACCENT_FILE = re.compile(r"^([0-9a-f]{6})\.css$")


@blueprint.route("/static/{name}", methods=PAGE_METHODS, content_types=["*/*"])
def static_file(name: str) -> Response:
    """The form's stylesheet, script and icon (only files in ``chalicelib/templates/static``)."""
    path = STATIC_DIR / name
    if "/" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        return problem_answer(Problem(404, "not-found", "en", what="file"))
    headers = security_headers(STATIC_TYPES[path.suffix])
    headers["Cache-Control"] = "public, max-age=300"
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


def _event_assets_dir() -> Path:
    """``assets/`` beside the event files: ``$EVENTS_DIR/assets`` (local service), else the packaged
    ``events/assets``."""
    return Path(os.environ.get("EVENTS_DIR") or Path(__file__).parents[2] / "events") / "assets"


@blueprint.route("/static/assets/{name}", methods=PAGE_METHODS, content_types=["*/*"])
def event_asset(name: str) -> Response:
    """A logo shipped with the event files (``branding.logo: assets/<name>``), as an image.

    Its own CSP keeps an SVG opened directly from running script (``sandbox``, no sources).
    """
    path = _event_assets_dir() / name
    if not LOGO_NAME.match(name) or not path.is_file():
        return problem_answer(Problem(404, "not-found", "en", what="file"))
    headers = security_headers(ASSET_TYPES[path.suffix])
    headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    headers["Cache-Control"] = "public, max-age=3600"
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


@blueprint.route("/static/accent/{name}", methods=PAGE_METHODS, content_types=["*/*"])
def accent_stylesheet(name: str) -> Response:
    """The stylesheet of an accent colour, ``<rrggbb>.css``: its CSS custom properties for ``form.css``.

    The colour is the URL, so the answer never changes (cached for a year); colours below
    WCAG AA contrast against white are refused as an event file would be (404).
    """
    match = ACCENT_FILE.match(name)
    if not match or colours.contrast_ratio(f"#{match.group(1)}", "#ffffff") < colours.WCAG_AA_NORMAL_TEXT:
        return problem_answer(Problem(404, "not-found", "en", what="file"))
    headers = security_headers(STATIC_TYPES[".css"])
    headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return Response(body=branding.accent_stylesheet(f"#{match.group(1)}"), status_code=200, headers=headers)


@blueprint.route("/static/vendor/{name}", methods=PAGE_METHODS, content_types=["*/*"])
def vendored_file(name: str) -> Response:
    """A browser script the build copies from a pinned npm package (``make vendored``): the QR decoder."""
    path = VENDOR_DIR / name
    if "/" in name or path.suffix != ".js" or not path.is_file():
        return problem_answer(Problem(404, "not-found", "en", what="file"))
    headers = security_headers(STATIC_TYPES[".js"])
    headers["Cache-Control"] = "public, max-age=300"
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)
