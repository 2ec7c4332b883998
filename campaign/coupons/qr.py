"""QR codes of coupon codes (segno): PNG for email, SVG for pages."""

from __future__ import annotations

import io

import segno


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


def qr_svg(text: str, title: str) -> str:
    return segno.make(text, error="m", micro=False).svg_inline(
        scale=8, border=2, title=title, omitsize=True
    )
