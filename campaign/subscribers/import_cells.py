"""Reading the cells of an imported CSV as other tools write them.

Column names in their usual spellings ("Email Address", "First Name", "Consent date"),
a source label cleaned to what a source may be ("paper form" is ``paper_form``), and
dates such as 14/03/2025 read as they can only be, or as the rest of their column
shows (``imports._DateOrders`` finds that out); what is ambiguous is refused, never
guessed.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Protocol

from campaign import clinic
from campaign.database import utcnow
from campaign.subscribers.services import SOURCE_PATTERN

COLUMNS = {"email", "first_name", "consented_at", "source"}
# Our own export's columns (``GET /api/v1/subscribers?format=csv``), read too, so a list
# moved from one installation to another arrives as it left: ``confirmed_at`` stands
# for the consent date, and people unsubscribed or bounced there are left out.
EXPORT_COLUMNS = {"id", "status", "created_at", "confirmed_at"}
# The names spreadsheets and mailing tools give these columns, as ``header_key`` makes
# them. A signup date ("Subscribed at") is not among them: in a tool with double opt-in
# people who never confirmed have one too, and imported as consent they would be mailed.
HEADER_NAMES = {
    **{name: name for name in COLUMNS | EXPORT_COLUMNS},
    **dict.fromkeys(
        [
            "e_mail",
            "email_address",
            "e_mail_address",
            "emailaddress",
            # German, French, Spanish, Italian, Dutch: clinics keep their lists in these.
            "e_mail_adresse",
            "emailadresse",
            "email_adresse",
            "adresse_e_mail",
            "adresse_email",
            "courriel",
            "adresse_electronique",
            "correo",
            "correo_electronico",
            "indirizzo_email",
            "indirizzo_e_mail",
            "e_mailadres",
            "emailadres",
        ],
        "email",
    ),
    **dict.fromkeys(
        [
            "firstname",
            "given_name",
            "givenname",
            "forename",
            "vorname",
            "prenom",
            "nombre",
            "nome",
            "voornaam",
        ],
        "first_name",
    ),
    **dict.fromkeys(
        [
            "consent_date",
            "consented_on",
            "consent_given_at",
            "consent_given_on",
            "date_of_consent",
            "opt_in_date",
            "optin_date",
            "opted_in_at",
            "opted_in_on",
            "einwilligungsdatum",
            "datum_der_einwilligung",
            "date_de_consentement",
            "date_du_consentement",
            "date_consentement",
            "fecha_de_consentimiento",
            "fecha_consentimiento",
            "data_del_consenso",
            "data_consenso",
            "datum_toestemming",
            "toestemmingsdatum",
        ],
        "consented_at",
    ),
    # CONFIRM_TIME: Mailchimp's export, when the person confirmed its double opt-in.
    **dict.fromkeys(
        [
            "confirmed_on",
            "confirmation_date",
            "date_confirmed",
            "confirm_time",
            "confirmed_time",
            "confirmation_time",
        ],
        "confirmed_at",
    ),  # fmt: skip
    **dict.fromkeys(["quelle", "origen", "fuente", "fonte", "origine", "bron"], "source"),
}
# An unread column with one of these in its name holds consent in some form: it is
# refused, as reading no consent from it would ask people who gave it to confirm again.
CONSENT_WORDS = ("consent", "consens", "einwillig", "zustimmung", "toestemming")
# Unread columns with these in their names may hold a consent date under another name.
SIGNUP_WORDS = ("subscri", "opt_in", "optin", "opted_in", "confirm", "sign_up", "signup")


_SOURCE_PARTS = re.compile(r"[A-Za-z0-9_.:-]+")


def clean_source(label: str) -> str:
    """A row's source label made a stored source (``SOURCE_PATTERN``): accents folded
    (é is e), any other character outside it a separator, each run of them one _, cut
    to 64. Empty when nothing is left: the import's own source applies."""
    if SOURCE_PATTERN.fullmatch(label):
        return label
    cleaned = "_".join(_SOURCE_PARTS.findall(_folded(label)))[:64]
    return cleaned if SOURCE_PATTERN.fullmatch(cleaned) else ""


def header_key(name: str) -> str:
    """A column's name as compared: case and accents folded, and spaces, underscores,
    hyphens (any punctuation) alike, so "E-mail", "Email Address", "first name" and
    "Prénom" are recognised."""
    return "_".join(re.findall(r"[^\W_]+", _folded(name.casefold())))


def _folded(text: str) -> str:
    """``text`` without its accents: é is e, ß (once case folded) is ss."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


DAY_MONTH_DATE = re.compile(
    r"(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<sec>\d{2}))?)?"
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip


def order_shown(match: re.Match) -> str | None:
    """``dmy`` or ``mdy`` when a 14/03/2025-style date can be read only one way."""
    first, second = int(match["first"]), int(match["second"])
    if first > 12 >= second:
        return "dmy"
    if second > 12 >= first:
        return "mdy"
    return None


class DateOrders(Protocol):
    def of(self, column: str) -> str | None:
        """``dmy``, ``mdy``, ``mixed`` or None: how the column's dates show their order."""


def _day_month(match: re.Match, orders: DateOrders, column: str) -> datetime:
    """14/03/2025 (or 14.03.2025, 14-03-2025, with a time or not), read as it can only
    be, or as the rest of its column shows; 03/04/2025 alone is refused."""
    value = match.group()
    first, second = int(match["first"]), int(match["second"])
    order = order_shown(match) or ("dmy" if first == second else orders.of(column))
    if order not in ("dmy", "mdy"):
        year = match["year"]
        mixed = " (its column has dates of both orders)" if order == "mixed" else ""
        raise ValueError(
            f"{value[:40]!r} could be {first} {MONTHS[second - 1]} or {second} "
            f"{MONTHS[first - 1]}{mixed}: write it as {year}-{second:02}-{first:02} or "
            f"{year}-{first:02}-{second:02}"
        )
    day, month = (first, second) if order == "dmy" else (second, first)
    try:
        return datetime(
            int(match["year"]),
            month,
            day,
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["sec"] or 0),
        )
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a date: write it as 2025-03-14") from None


def parse_date(value: str, orders: DateOrders, column: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    if match := DAY_MONTH_DATE.fullmatch(value):
        moment = _day_month(match, orders, column)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value[:40]!r} is not a date: write it as 2025-03-14") from None
    try:
        if moment.tzinfo is None:
            # A date (or a time without an offset) is the clinic's: 2025-06-01 is that
            # day from its midnight, and stays 1 June on the pages whatever the zone.
            moment = clinic.utc_time(moment)
        else:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("date out of range") from None
    if moment > utcnow():
        raise ValueError("consent date is in the future")
    return moment
