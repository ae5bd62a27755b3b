"""QR codes as PNG images, made with segno (ISO/IEC 18004), for the check-in code in emails.

PNG because email clients show neither SVG (Gmail, Outlook) nor ``data:`` URIs (blocked by
most): the image travels as an inline part of the message (``multipart/related``, referred to
by ``cid:``, RFC 2392). Black on white, a quiet zone of four modules as the standard asks,
error correction level Q at least (segno raises it when the version allows), so a scuffed
phone screen still scans. segno is imported on first use (cold starts of the API function
never need it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

#: Pixels per module in the PNG, and the size it is shown at in the email (CSS pixels per module):
#: drawn at twice the size shown, so it stays sharp on high-density screens.
PNG_SCALE = 12
SHOWN_SCALE = 6
#: Modules of quiet zone around the symbol (ISO/IEC 18004: at least 4).
QUIET_ZONE = 4


@dataclass(frozen=True)
class QrImage:
    """A QR code as a PNG: ``png`` (bytes), ``width`` (pixels, square) and ``shown`` (CSS pixels to show it at)."""

    png: bytes
    width: int
    shown: int


def qr_png(text: str) -> QrImage:
    """``text`` as a QR code (alphanumeric mode for ``A``-``Z``, ``0``-``9`` and space; version chosen
    by segno, error correction Q or better), PNG, black on white. Raises ``segno.DataOverflowError``
    for text too long for any version."""
    import segno

    code = segno.make(text, error="q", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=PNG_SCALE, border=QUIET_ZONE, dark="#000000", light="#ffffff")
    modules = code.symbol_size(scale=1, border=QUIET_ZONE)[0]
    return QrImage(png=buffer.getvalue(), width=modules * PNG_SCALE, shown=modules * SHOWN_SCALE)
