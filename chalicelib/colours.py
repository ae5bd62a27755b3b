"""Colour arithmetic for an event's accent colour: WCAG contrast and a light tint.

The contrast ratio follows WCAG 2.2's definitions of "relative luminance" and
"contrast ratio" (W3C, Understanding SC 1.4.3): sRGB channels linearised with
the 0.04045 threshold, ``L = 0.2126 R + 0.7152 G + 0.0722 B``, ratio
``(L1 + 0.05) / (L2 + 0.05)``. Success criterion 1.4.3 (AA) asks for at least
4.5:1 for normal text. A few lines of the standard's arithmetic, rather than a
colour library: the event model runs this on every event read, and the one
well-kept library (coloraide) costs 0.2 s to import; ``tests/test_branding.py``
checks these figures against coloraide's ``wcag21`` contrast.
"""

from __future__ import annotations

import re

#: WCAG 2.2 SC 1.4.3 (contrast, minimum, level AA) for normal text.
WCAG_AA_NORMAL_TEXT = 4.5

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def normalise_hex(value: str) -> str:
    """``#RGB`` or ``#RRGGBB`` (any case) as lowercase ``#rrggbb``.

    Raises ``ValueError`` for anything else (names, ``rgb()``, alpha).
    """
    if not isinstance(value, str) or not HEX_COLOUR.match(value):
        raise ValueError(f"{value!r} is not a hex colour like #1f2a5c")
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def _channels(hex_colour: str) -> tuple[int, int, int]:
    digits = normalise_hex(hex_colour)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    """WCAG relative luminance of an sRGB colour: 0.0 (black) to 1.0 (white)."""
    r, g, b = (_linear(c) for c in _channels(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1.0 to 21.0 (order does not matter)."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def tint(hex_colour: str, white_share: float) -> str:
    """The colour mixed with white in sRGB: ``white_share`` 0.0 keeps it, 1.0 gives ``#ffffff``."""
    mixed = (round(c + (255 - c) * white_share) for c in _channels(hex_colour))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def shade(hex_colour: str, black_share: float) -> str:
    """The colour mixed with black in sRGB: ``black_share`` 0.0 keeps it, 1.0 gives ``#000000``."""
    mixed = (round(c * (1 - black_share)) for c in _channels(hex_colour))
    return "#" + "".join(f"{c:02x}" for c in mixed)
