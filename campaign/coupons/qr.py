"""QR codes of coupon codes (segno): PNG for email, SVG for pages."""

from __future__ import annotations

import io

import segno

# The quiet zone ISO/IEC 18004 asks for around the symbol, in modules: with less,
# some phone cameras do not find the code on a busy screen.
QUIET_ZONE = 4
# Pixels a module in the email's PNG; shown at half that (EMAIL_QR_SIZE), every module
# is 6 CSS pixels, 12 on a 2x screen, never a blurred fraction of one.
PNG_SCALE = 12
CODE_MODULES = 21  # a 16-character code is a version 1 symbol (20 characters hold)
EMAIL_QR_SIZE = (CODE_MODULES + 2 * QUIET_ZONE) * PNG_SCALE // 2  # 174 CSS pixels


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(
        buffer, kind="png", scale=PNG_SCALE, border=QUIET_ZONE
    )
    return buffer.getvalue()


def qr_svg(text: str, title: str) -> str:
    return segno.make(text, error="m", micro=False).svg_inline(
        scale=8, border=QUIET_ZONE, title=title, omitsize=True
    )
