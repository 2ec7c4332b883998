"""The coupon's QR in the email: a full quiet zone, and whole pixels a module."""

import io

import segno
from PIL import Image

from campaign.coupons import codes
from campaign.coupons.qr import EMAIL_QR_SIZE, PNG_SCALE, qr_png


def test_every_code_is_a_symbol_of_the_size_the_email_shows():
    for _ in range(50):
        code = codes.code_for("k" * 32, codes.new_nonce()).value
        assert segno.make(code, error="m", micro=False).version == 1
        image = Image.open(io.BytesIO(qr_png(code)))
        # Shown at half its pixels: each module is whole pixels on 1x and 2x screens.
        assert image.size == (2 * EMAIL_QR_SIZE, 2 * EMAIL_QR_SIZE)


def test_the_symbol_has_the_quiet_zone_of_four_modules():
    """Two modules (as before) is half what ISO/IEC 18004 asks for."""
    image = Image.open(io.BytesIO(qr_png("N0C001HHN58FC10H"))).convert("L")
    margin = 4 * PNG_SCALE  # four modules, whatever QUIET_ZONE says
    width, _ = image.size
    pixels = image.load()
    first_dark = min((x, y) for y in range(width) for x in range(width) if pixels[x, y] < 128)
    assert first_dark == (margin, margin)  # the finder pattern's corner, after the zone
