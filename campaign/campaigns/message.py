"""Newsletter messages as bytes: one skeleton per campaign, filled per reader.

The skeleton is a complete RFC 5322 message with placeholders. Both parts are
quoted-printable: whatever staff write (a paragraph of 2,000 characters, a long line of
code), the message is 7-bit clean for servers without 8BITMIME and its lines stay
within quoted-printable's 76 characters (RFC 2045 6.7), far under SMTP's 998 octets.
In the parts, each placeholder stands on a line of its own (soft line breaks around
it), and each reader's value is encoded as it is filled in, wrapped the same way:
however long a name or a link, no line grows. Filling stays a byte substitution.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.utils import formatdate, parseaddr
from html import escape

from flask import current_app

from campaign.campaigns.coupon_blocks import settle_coupon_parts
from campaign.campaigns.rendering import (
    FOOTER_MARKERS,
    Rendered,
    Template,
    compile_template,
    fill,
)
from campaign.emails import (
    AUTO_SUBMITTED,
    SMTP_POLICY,
    check_header,
    from_header,
    list_headers,
    mail_domain,
    reply_to_header,
)

CRLF = "\r\n"
QP_LINE = 76  # RFC 2045 6.7: encoded lines of at most 76 characters
_PLACEHOLDER = re.compile(r"XQ([A-Z0-9]+?)QX")
SOFT_BREAK = "=" + "\r\n"


@dataclass(frozen=True)
class Skeleton:
    first_name_defaults: tuple[str, ...]
    sender: str  # envelope sender
    # The message cut at its placeholders, for readers with and without a coupon.
    with_coupon: Template
    without_coupon: Template


def _qp_units(text: str) -> list[str]:
    """``text`` as quoted-printable units: a character, or the escapes of one byte."""
    units = []
    for char in text:
        if char in " \t" or ("!" <= char <= "~" and char != "="):
            units.append(char)
        else:
            units.extend(f"={byte:02X}" for byte in char.encode())
    return units


def quoted_printable(text: str) -> str:
    """RFC 2045 quoted-printable of ``text``, lines ended by CRLF.

    An ``XQ...QX`` placeholder stands alone between soft line breaks, so the value
    filled in (itself quoted-printable, at most 76 characters a line) starts and ends
    its own lines.
    """
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        units: list[str] = []
        for position, piece in enumerate(_PLACEHOLDER.split(line)):
            units.extend([f"XQ{piece}QX"] if position % 2 else _qp_units(piece))
        if units and units[-1] in (" ", "\t"):  # whitespace may not end a line (6.7 (3))
            units[-1] = f"={ord(units[-1]):02X}"
        encoded, column = [], 0
        for unit in units:
            if unit.startswith("XQ") and len(unit) > 4:  # a placeholder, on its own
                if column:
                    encoded.append(SOFT_BREAK)
                encoded.extend([unit, SOFT_BREAK])
                column = 0
                continue
            if column + len(unit) > QP_LINE - 1:  # room for the "=" of a soft break
                encoded.append(SOFT_BREAK)
                column = 0
            encoded.append(unit)
            column += len(unit)
        lines.append("".join(encoded))
    return CRLF.join(lines)


def quoted_printable_value(value: str) -> bytes:
    """A reader's value for a placeholder inside a quoted-printable part."""
    return quoted_printable(value).encode()


def _part(content_type: str, body: str) -> str:
    return (
        f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
        f"{quoted_printable(body.rstrip())}{CRLF}"
    )


def _header(name: str, value: str) -> str:
    """One header, folded, and RFC 2047-encoded where it is not ASCII."""
    return SMTP_POLICY.header_factory(name, check_header(value)).fold(policy=SMTP_POLICY)


def _text_part(rendered: Rendered, has_coupon: bool) -> str:
    if not has_coupon and rendered.text_without_coupon is not None:
        return rendered.text_without_coupon  # its numbered lists count what is left
    return settle_coupon_parts(rendered.text, has_coupon)


def build_skeleton(subject: str, rendered: Rendered) -> Skeleton:
    """Build the campaign's message once; ``personalize`` fills it per reader."""
    config = current_app.config
    domain = mail_domain()
    # The token has a placeholder of its own in the headers: there it goes in as it is.
    unsubscribe_url = config["BASE_URL"] + "/unsubscribe/XQUNSUBHQX"
    lists = list_headers(unsubscribe_url, "XQUNSUBHQX")
    reply_to = reply_to_header()
    # The message keeps its whole footer; only the web version changes parts of it.
    html = rendered.html
    for marker in (marker for pair in FOOTER_MARKERS.values() for marker in pair):
        html = html.replace(marker, "")
    head = (
        "To: XQTOQX" + CRLF
        + "Date: XQDATEQX" + CRLF
        + f"Message-ID: <XQMSGIDQX@{domain}>" + CRLF
        + f"Auto-Submitted: {AUTO_SUBMITTED}" + CRLF
        # The list headers verbatim; Subject and From folded within 78 (SMTP_POLICY).
        + "".join(_header(name, value) for name, value in lists.items())
        + _header("From", from_header())
        + (_header("Reply-To", reply_to) if reply_to else "")
        + _header("Subject", subject)
        + "MIME-Version: 1.0" + CRLF
    )  # fmt: skip

    def message(has_coupon: bool) -> bytes:
        boundary = "=_clinic_" + secrets.token_hex(12)  # "=_" never occurs in QP text
        body = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}'
            f"--{boundary}{CRLF}"
            f"{_part('text/plain', _text_part(rendered, has_coupon))}"
            f"--{boundary}{CRLF}"
            f"{_part('text/html', settle_coupon_parts(html, has_coupon))}"
            f"--{boundary}--{CRLF}"
        )
        return (head + body).encode("ascii")

    return Skeleton(
        first_name_defaults=tuple(rendered.first_name_defaults),
        sender=parseaddr(config["MAIL_DEFAULT_SENDER"])[1],
        with_coupon=compile_template(message(has_coupon=True)),
        without_coupon=compile_template(message(has_coupon=False)),
    )


@dataclass(frozen=True)
class Reader:
    """What differs per reader."""

    email: str
    first_name: str | None
    unsubscribe_token: str
    coupon_code: str | None = None
    coupon_url: str | None = None


def personalize(skeleton: Skeleton, reader: Reader, message_id: str) -> bytes:
    # The token, the code and the link are ASCII without "=": the same in a header
    # and in quoted-printable. Names are encoded for the part they go into.
    values: dict[bytes, bytes] = {
        # In the headers, as they are:
        b"TO": check_header(reader.email).encode(),
        b"DATE": formatdate(usegmt=True).encode(),
        b"MSGID": message_id.encode(),
        b"UNSUBH": reader.unsubscribe_token.encode(),
        # In the quoted-printable parts (the same in text and HTML: no character of a
        # token, a code or a link changes when HTML-escaped):
        b"UNSUB": quoted_printable_value(reader.unsubscribe_token),
        b"CCODE": quoted_printable_value(reader.coupon_code or ""),
        b"CURL": quoted_printable_value(escape(reader.coupon_url or "")),
    }
    for index, default in enumerate(skeleton.first_name_defaults):
        name = reader.first_name or default
        values[f"FNAMEH{index}".encode()] = quoted_printable_value(escape(name))
        values[f"FNAMET{index}".encode()] = quoted_printable_value(name)
    template = skeleton.without_coupon if reader.coupon_code is None else skeleton.with_coupon
    return fill(template, values)
