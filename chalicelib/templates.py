"""Jinja2 rendering of the pages and emails in ``chalicelib/templates/``.

``.html`` templates autoescape every value (user text shows as text, never as
markup); ``.txt`` templates do not. The environment is built on first use.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja2 environment (autoescape on for ``.html``, undefined names are errors)."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, context: dict[str, Any]) -> str:
    """Render template ``name`` with ``context``."""
    return environment().get_template(name).render(**context)
