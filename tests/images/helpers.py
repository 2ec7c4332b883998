"""Pictures as a phone or a design tool would hand them over."""

from __future__ import annotations

import io
import os

from PIL import ExifTags, Image

CAMERA = "SecretPhone 12"


def phone_photo(width: int = 3000, height: int = 2000) -> bytes:
    """A JPEG a phone took held sideways: EXIF says "turn 90 degrees", and it
    records the camera and where the photo was taken."""
    picture = Image.new("RGB", (width, height), (200, 30, 30))
    picture.paste((20, 200, 20), (0, 0, width // 3, height))  # the left third is green
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = CAMERA
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (50.0, 48.0, 0.0), 3: "W", 4: (1.0, 5.0, 0.0)}
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def logo_png(width: int = 400, height: int = 200) -> bytes:
    """A PNG with a transparent background."""
    picture = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    picture.paste((47, 107, 87, 255), (50, 50, 350, 150))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def encoded(kind: str, size: tuple[int, int] = (64, 48), **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, kind, **options)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def huge_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """100 megapixels in a few kilobytes: decoding it would take hundreds of MB."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG")
    return out.getvalue()


def png_of_size(width: int, height: int) -> bytes:
    """A PNG that says it is ``width`` x ``height`` (black and white) with no pixels in it:
    what a decompression bomb looks like to the first look at it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def noisy_photo(width: int, height: int) -> bytes:
    """Noise compresses badly: a JPEG of a few MB, as a phone's photo is."""
    picture = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95)
    return out.getvalue()
