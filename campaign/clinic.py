"""The clinic's own details, shown in every page's and every email's footer.

The environment gives the defaults (``CLINIC_NAME``, ``CLINIC_POSTAL_ADDRESS``,
``MAIL_REPLY_TO``); an admin can change them on the staff page ``/staff/clinic``,
stored as a clinic setting.
Read once per app context (a request, a task), so an edit shows on the next page or
email without a restart, at the cost of one small query per rendered page.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, g
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from campaign import audit
from campaign.extensions import db
from campaign.subscribers.addresses import (
    InvalidAddress,
    has_control_characters,
    normalize_address,
)
from config import ConfigError

SETTING_KEY = "clinic_details"
MAX_NAME = 100
MAX_ADDRESS = 200
DEFAULT_COLOUR = "#2f6b57"
_HEX_COLOUR = re.compile(r"#[0-9a-f]{6}")
# Buttons carry white text on the colour: WCAG's contrast for body text (AA).
MIN_CONTRAST = 4.5


class DetailsInvalid(ValueError):
    """Details that cannot go into a footer or a header; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ClinicDetails:
    name: str
    postal_address: str
    # Where a reader's reply lands (the front desk's inbox); empty: the sender's address.
    reply_to: str = ""
    # The name of one of the clinic's images (campaign.images), shown atop every email.
    logo: str = ""
    # The headings, buttons and coupon border of every email.
    colour: str = DEFAULT_COLOUR
    # Every logo the emails have shown: mail already sent loads them, so they stay.
    former_logos: tuple[str, ...] = ()


def details() -> ClinicDetails:
    """The clinic's details as they are now (the setting, else the environment's)."""
    found = g.get("clinic_details")
    if found is None:
        from campaign.campaigns.models import ClinicSetting

        try:
            row = db.session.get(ClinicSetting, SETTING_KEY)
        except SQLAlchemyError:
            # The error page of a database outage still needs a footer.
            db.session.rollback()
            row = None
        stored = json.loads(row.value) if row else {}
        found = g.clinic_details = ClinicDetails(
            name=stored.get("name") or current_app.config["CLINIC_NAME"],
            postal_address=stored.get("postal_address")
            or current_app.config["CLINIC_POSTAL_ADDRESS"],
            # An admin's empty answer is kept: it means "replies go to the sender".
            reply_to=stored["reply_to"]
            if "reply_to" in stored
            else current_app.config["MAIL_REPLY_TO"] or "",
            logo=stored.get("logo", ""),
            colour=stored.get("colour") or DEFAULT_COLOUR,
            former_logos=tuple(stored.get("former_logos", ())),
        )
    return found


def _line(value: object, field: str, limit: int, label: str) -> str:
    # emails and rendering read these details: imported here, no cycle at import time
    from campaign.campaigns.rendering import RESERVED
    from campaign.emails import header_safe

    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text:
        raise DetailsInvalid(field, f"Please enter the {label}.")
    if len(text) > limit:
        raise DetailsInvalid(field, f"Please keep the {label} under {limit} characters.")
    if has_control_characters(text) or not header_safe(text) or RESERVED.search(text):
        # The name goes into email headers (List-Id, subjects), both into every
        # newsletter, where text of the mailer's placeholder form would be filled.
        raise DetailsInvalid(field, f"The {label} contains characters that are not allowed.")
    return text


def _reply_address(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return ""
    try:
        return normalize_address(text)
    except InvalidAddress as exc:
        raise DetailsInvalid("reply_to", f"The reply address is not usable: {exc}") from None


def _logo(value: object) -> str:
    from campaign.images.models import Image

    name = value.strip() if isinstance(value, str) else ""
    if name and db.session.scalar(select(Image.id).filter_by(name=name)) is None:
        raise DetailsInvalid("logo", "That image is no longer there: choose another.")
    return name


def contrast_with_white(colour: str) -> float:
    """WCAG 2 contrast ratio of white text on ``#rrggbb``."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def _colour(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text:
        return DEFAULT_COLOUR
    if not _HEX_COLOUR.fullmatch(text):
        raise DetailsInvalid("colour", "Please choose the colour as #rrggbb, e.g. #2f6b57.")
    if (ratio := contrast_with_white(text)) < MIN_CONTRAST:
        raise DetailsInvalid(
            "colour",
            # Rounded down: 4.48 shown as "4.5" would read as if it passed.
            f"This colour is too light for the white text on buttons (contrast "
            f"{math.floor(ratio * 100) / 100:.2f}:1, readable needs {MIN_CONTRAST}:1): please "
            "choose a darker shade.",
        )
    return text


def save_details(
    staff_id: int | None,
    name: object,
    postal_address: object,
    reply_to: object = "",
    logo: object = "",
    colour: object = "",
) -> ClinicDetails:
    """Check and store new details (flushed; the caller commits)."""
    from campaign.campaigns.models import ClinicSetting

    before = details()
    new_logo = _logo(logo)
    former = before.former_logos
    if before.logo and before.logo != new_logo and before.logo not in former:
        former = (*former, before.logo)
    new = ClinicDetails(
        name=_line(name, "name", MAX_NAME, "clinic's name"),
        postal_address=_line(postal_address, "postal_address", MAX_ADDRESS, "postal address"),
        reply_to=_reply_address(reply_to),
        logo=new_logo,
        colour=_colour(colour),
        former_logos=former,
    )
    db.session.merge(ClinicSetting(key=SETTING_KEY, value=json.dumps(asdict(new))))
    db.session.flush()
    changed = {key: value for key, value in asdict(new).items() if key != "former_logos"}
    audit.record("clinic.details_changed", staff_id=staff_id, **changed)
    g.clinic_details = new
    return new


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def local_time(moment: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as the clinic's wall-clock time: what staff and
    subscribers read, whatever time zone the server keeps."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(zone()).replace(tzinfo=None)


def utc_time(local: datetime) -> datetime:
    """A wall-clock time of the clinic's as a stored (naive UTC) time. Of a time the
    clocks pass twice (when they go back), the first; a time they skip (when they go
    forward) is read with the offset before the change, so a midnight skipped is the
    day's first moment. ``local_time`` of the answer differs from ``local`` only then."""
    return local.replace(tzinfo=zone()).astimezone(UTC).replace(tzinfo=None)


def start_of_today() -> datetime:
    """The clinic's last midnight, as a stored (naive UTC) time."""
    return utc_time(datetime.combine(datetime.now(zone()).date(), time()))


def end_of_day(day: date) -> datetime:
    """The last microsecond of a day of the clinic's, as a stored (naive UTC) time: one
    before the next day's first moment, so a day of 23 or 25 hours ends where it ends,
    and its ``local_time`` (a date, a desk's time) is still ``day``."""
    return utc_time(datetime.combine(day + timedelta(days=1), time())) - timedelta(microseconds=1)


def _format_local(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    local = local_time(moment)
    return local.strftime(pattern) if local else ""


def install(app: Flask) -> None:
    """Every template (pages and emails) gets ``clinic`` and the ``clinic_time``
    filter, which writes a stored time in the clinic's time zone."""
    name = app.config["CLINIC_TIMEZONE"]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Every page writes times in it: refuse to start rather than fail each page.
        raise ConfigError(
            f"CLINIC_TIMEZONE={name!r} is not a time zone name, e.g. Europe/London."
        ) from None
    # The defaults of the details go where the saved ones do (headers, every email):
    # checked as Clinic details checks them, or each email failed to build.
    for setting, limit, label in (
        ("CLINIC_NAME", MAX_NAME, "clinic's name"),
        ("CLINIC_POSTAL_ADDRESS", MAX_ADDRESS, "postal address"),
    ):
        if not app.config[setting].strip():
            continue  # as before: the saved details, which the staff page asks for
        try:
            app.config[setting] = _line(app.config[setting], setting, limit, label)
        except DetailsInvalid as exc:
            raise ConfigError(f"{setting}={app.config[setting]!r}: {exc}") from None
    if reply_to := app.config.get("MAIL_REPLY_TO"):
        try:
            app.config["MAIL_REPLY_TO"] = normalize_address(reply_to)
        except InvalidAddress as exc:
            # It goes into the header of every email: a typo would fail each send.
            raise ConfigError(f"MAIL_REPLY_TO={reply_to!r} is not an address: {exc}") from None
    app.context_processor(lambda: {"clinic": details()})
    app.add_template_filter(_format_local, "clinic_time")
