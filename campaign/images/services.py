"""Taking an uploaded image in: checked, turned upright, scaled for email, re-encoded.

Re-encoding is the point, not a side effect: the stored file is one we wrote, so it
carries no metadata from the camera (a phone's photo holds where it was taken), no
trailing bytes and nothing a decoder other than Pillow's would read differently.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import unicodedata
import warnings
from functools import cache

from flask import current_app
from PIL import ExifTags, ImageCms, ImageOps
from PIL import Image as Pillow
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from campaign import audit
from campaign.extensions import db
from campaign.images.models import Image
from campaign.staff.models import Staff

ACCEPTED = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP"}
# Twice the email's 600 px column, so pictures stay sharp on phones' dense screens.
MAX_WIDTH = 1200
MAX_HEIGHT = 3600
# Above this many pixels decoding alone takes hundreds of MB: no camera needs more.
MAX_PIXELS = 60_000_000
# PNG, GIF and WebP decode whole (JPEG to a fraction): 24 MP of RGBA is about 100 MB.
MAX_PIXELS_DECODED_WHOLE = 24_000_000
ORIENTATION = ExifTags.Base.Orientation
_DECODING = threading.BoundedSemaphore(1)
ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/gif,image/webp"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
ALT_PLACEHOLDER = "Describe the image"
# Sizes of 1 or more: a width of 0 in a pasted address would be a division by zero.
NAME = re.compile(
    r"[0-9a-f]{24}-(?P<width>[1-9][0-9]{0,4})x(?P<height>[1-9][0-9]{0,4})\.(?:jpg|png)"
)


class ImageRefused(ValueError):
    """The upload is not an image we take; the message says why, in the user's words."""


class ImageInUse(ValueError):
    """A newsletter shows the image: deleting it would break the picture in its mail."""


def store_image(upload: bytes, filename: str, staff: Staff) -> Image:
    """Keep an uploaded image and return it (the one already kept, if the same).

    Photos become JPEG; PNG and GIF (logos, drawings, transparency) become PNG.
    Nothing is written for an upload that is refused.
    """
    if not upload:
        raise ImageRefused("Choose an image file to upload.")
    if len(upload) > current_app.config["IMAGE_MAX_BYTES"]:
        raise ImageRefused(f"The file is larger than the {allowed_size()} allowed.")
    data, content_type, width, height = _reencode(upload)
    digest = hashlib.sha256(data).hexdigest()[:24]
    name = f"{digest}-{width}x{height}.{EXTENSIONS[content_type]}"
    existing = db.session.scalar(select(Image).filter_by(name=name))
    if existing is not None:
        return existing
    image = Image(
        name=name,
        content_type=content_type,
        width=width,
        height=height,
        byte_size=len(data),
        data=data,
        original_name=_display_name(filename),
        created_by_id=staff.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(image)
    except IntegrityError:  # the same image, uploaded twice at once: one row
        return db.session.scalar(select(Image).filter_by(name=name))
    audit.record("image.uploaded", staff_id=staff.id, target=f"image:{image.id}", name=name)
    return image


def recent_images(limit: int) -> list[Image]:
    """The images uploaded last, newest first, with who uploaded them (their bytes not
    loaded): the Images page and the editor's picker."""
    return list(
        db.session.scalars(
            select(Image)
            .options(selectinload(Image.created_by))
            .order_by(Image.id.desc())
            .limit(limit)
        )
    )


def newsletters_using(images: list[Image]) -> dict[int, list]:
    """The newsletters whose message shows each image (by its name, whatever address
    the writer pasted it under), newest first: one query for the whole list."""
    from campaign.campaigns.models import Campaign

    writing = db.session.execute(
        select(Campaign.id, Campaign.subject, Campaign.status, Campaign.body_markdown)
        .where(Campaign.body_markdown.contains("/images/"))
        .order_by(Campaign.id.desc())
    ).all()
    return {
        image.id: [row for row in writing if f"/images/{image.name}" in row.body_markdown]
        for image in images
    }


def as_logo(image: Image) -> str | None:
    """Whether every email shows the image atop it, now or in mail already sent."""
    from campaign import clinic

    found = clinic.details()
    if image.name == found.logo:
        return "the clinic's logo"
    return "a former logo of the clinic" if image.name in found.former_logos else None


def delete_image(image: Image, staff: Staff) -> None:
    """Delete an image no email shows (flushed; the caller commits).

    One shown by a newsletter stays, sent or not: mail already delivered loads its
    picture from here for as long as readers keep it, and a draft would lose it. So
    does a logo, now or before: every email sent meanwhile shows it.
    """
    label = image.original_name or "This image"
    if logo := as_logo(image):
        raise ImageInUse(f"{label} is {logo}: mail already sent loads it from here, so it stays.")
    using = newsletters_using([image])[image.id]
    if using:
        subjects = ", ".join(f"\u201c{row.subject}\u201d" for row in using[:3])
        more = f" and {len(using) - 3} more" if len(using) > 3 else ""
        raise ImageInUse(
            f"{label} is in {subjects}{more}: mail already "
            "sent loads it from here, so it stays. Take it out of a draft to delete it."
        )
    audit.record("image.deleted", staff_id=staff.id, target=f"image:{image.id}", name=image.name)
    db.session.delete(image)
    db.session.flush()


def _reencode(upload: bytes) -> tuple[bytes, str, int, int]:
    try:
        # One decode at a time per process: each can take a few hundred MB.
        with _DECODING, warnings.catch_warnings():
            # Pillow warns, then raises, on huge images; we refuse them ourselves below.
            warnings.simplefilter("ignore", Pillow.DecompressionBombWarning)
            try:
                picture = Pillow.open(io.BytesIO(upload))
            except Pillow.DecompressionBombError as exc:
                # Over twice Pillow's limit it does not open at all; its message holds
                # the count: "Image size (900000000 pixels) exceeds limit ..."
                found = re.search(r"\((\d+) pixels\)", str(exc))
                size = f"{int(found.group(1)) // 1_000_000} megapixels" if found else "too large"
                raise ImageRefused(_too_large(size)) from None
            kind = picture.format
            if kind not in ACCEPTED:
                raise ImageRefused(_not_accepted(kind))
            _refuse_too_many_pixels(picture, kind)
            if getattr(picture, "n_frames", 1) > 1:
                raise ImageRefused("Animated images are not supported: upload a still image.")
            # Scaled before it is turned upright, so no full-size copy is made: the box
            # is turned with the picture (EXIF orientations 5 to 8 swap the sides).
            turned = picture.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)
            box = (MAX_HEIGHT, MAX_WIDTH) if turned else (MAX_WIDTH, MAX_HEIGHT)
            # JPEG decodes straight to a fraction of its size: a 48 MP photo needs a
            # few MB of memory instead of 150.
            picture.draft("RGB", box)
            picture.thumbnail(box, Pillow.Resampling.LANCZOS)
            picture = ImageOps.exif_transpose(picture)
            return _encode(picture, kind)
    except ImageRefused:
        raise
    except Exception:
        # Truncated or corrupt files raise IndexError, OSError, SyntaxError, ... from
        # deep in a decoder: each is a file we cannot read, never a 500.
        raise ImageRefused(
            "This file could not be read as an image: " + _not_accepted(None)
        ) from None


def _too_large(size: str) -> str:
    return f"The image is {size}: please make it smaller than 60 megapixels first."


def _refuse_too_many_pixels(picture: Pillow.Image, kind: str) -> None:
    pixels = picture.width * picture.height
    if pixels > MAX_PIXELS:
        raise ImageRefused(_too_large(f"{picture.width} x {picture.height} pixels"))
    if kind != "JPEG" and pixels > MAX_PIXELS_DECODED_WHOLE:
        raise ImageRefused(
            f"The image is {picture.width} x {picture.height} pixels: a {ACCEPTED[kind]} "
            "image must be under 24 megapixels (a JPEG photo may have 60)."
        )


def _encode(picture: Pillow.Image, kind: str) -> tuple[bytes, str, int, int]:
    picture = _in_srgb(_eight_bit(picture))
    # Nothing of the file's own is written back (comments, XMP, text chunks): only the
    # pixels, and which colour is see-through.
    picture.info = {k: v for k, v in picture.info.items() if k == "transparency"}
    out = io.BytesIO()
    if kind in ("PNG", "GIF") or _has_transparency(picture):
        picture = picture.convert("RGBA" if _has_transparency(picture) else "RGB")
        picture.save(out, "PNG", optimize=True)
        content_type = "image/png"
    else:
        picture = picture.convert("RGB")
        picture.save(out, "JPEG", quality=85, optimize=True, progressive=True)
        content_type = "image/jpeg"
    return out.getvalue(), content_type, picture.width, picture.height


def _eight_bit(picture: Pillow.Image) -> Pillow.Image:
    """16-bit greys as 8-bit: Pillow's convert clips them (all but black turns white)."""
    if picture.mode.startswith("I;16") or picture.mode == "I":
        return picture.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return picture


def _in_srgb(picture: Pillow.Image) -> Pillow.Image:
    """The pixels in sRGB, the colours every mail app assumes, and no profile kept: a
    profile is the file's own bytes (any size, any content) that readers would load."""
    icc = picture.info.pop("icc_profile", None)
    if not icc or picture.mode not in ("RGB", "RGBA", "CMYK"):
        return picture
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if picture.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(picture, source, _srgb(), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return picture  # a profile that cannot be read: the pixels as they are


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _has_transparency(picture: Pillow.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info


def _not_accepted(kind: str | None) -> str:
    lead = f"{kind} files are not taken: " if kind else ""
    return lead + "upload a JPEG, PNG, GIF or WebP image."


def allowed_size() -> str:
    """``IMAGE_MAX_BYTES`` as people read it: "20 MB" (or "9 KB" for a small limit)."""
    from campaign.errors import readable_size

    return readable_size(current_app.config["IMAGE_MAX_BYTES"])


def _display_name(filename: str) -> str:
    """The file's own name, for the list of images: no folders, no control characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return name.strip()[:200]


def image_url(image: Image) -> str:
    """The address readers' mail apps load the image from."""
    return f"{current_app.config['BASE_URL']}/images/{image.name}"


def markdown_for(image: Image) -> str:
    return f"![{ALT_PLACEHOLDER}]({image_url(image)})"


def fitted(name: str, box: tuple[int, int]) -> tuple[int, int]:
    """The size an image of ours is shown at inside ``box``, kept in proportion and never
    enlarged, read from its name (no query)."""
    found = NAME.fullmatch(name)
    if not found:
        return box
    width, height = int(found["width"]), int(found["height"])
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def size_in_name(address: str) -> tuple[int, int] | None:
    """Width and height of one of our images, read from its address (no query)."""
    base = current_app.config["BASE_URL"] + "/images/"
    if not address.startswith(base):
        return None
    found = NAME.fullmatch(address[len(base) :])
    return (int(found["width"]), int(found["height"])) if found else None
