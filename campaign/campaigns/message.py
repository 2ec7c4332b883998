"""Newsletter messages as bytes: one skeleton per campaign, filled per reader.

The skeleton is a complete RFC 5322 message with placeholders. Both parts are sent
as 8bit UTF-8 (lines kept under 998 octets), so a placeholder is never split by
quoted-printable soft breaks and filling it is a plain byte substitution.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from html import escape

from flask import current_app

from campaign.campaigns.rendering import Rendered, Template, compile_template, fill
from campaign.emails import check_header, list_headers, mail_domain

CRLF = "\r\n"


@dataclass(frozen=True)
class Skeleton:
    data: bytes
    first_name_defaults: tuple[str, ...]
    sender: str  # envelope sender
    # The message cut at its placeholders, for readers with and without a coupon.
    with_coupon: Template
    without_coupon: Template


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", CRLF)


def _part(content_type: str, body: str) -> str:
    encoding = "7bit" if body.isascii() else "8bit"
    return (
        f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}"
        f"{_crlf(body).rstrip()}{CRLF}"
    )


def build_skeleton(subject: str, rendered: Rendered) -> Skeleton:
    """Build the campaign's message once; ``personalize`` fills it per reader."""
    config = current_app.config
    domain = mail_domain()
    boundary = "=_clinic_" + secrets.token_hex(12)
    headers = "".join(
        SMTP.fold(name, value)
        for name, value in [
            ("From", check_header(config["MAIL_DEFAULT_SENDER"])),
            ("Subject", check_header(subject)),
            ("MIME-Version", "1.0"),
        ]
    )
    unsubscribe_url = config["BASE_URL"] + "/unsubscribe/XQUNSUBQX"
    lists = list_headers(unsubscribe_url, "XQUNSUBQX")
    head = (
        "To: XQTOQX" + CRLF
        + "Date: XQDATEQX" + CRLF
        + f"Message-ID: <XQMSGIDQX@{domain}>" + CRLF
        + "".join(f"{name}: {value}{CRLF}" for name, value in lists.items())
        + headers
        + f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}'
    )  # fmt: skip
    body = (
        f"--{boundary}{CRLF}{_part('text/plain', rendered.text)}"
        f"--{boundary}{CRLF}{_part('text/html', rendered.html)}"
        f"--{boundary}--{CRLF}"
    )
    data = (head + body).encode("utf-8")
    return Skeleton(
        data=data,
        first_name_defaults=tuple(rendered.first_name_defaults),
        sender=parseaddr(config["MAIL_DEFAULT_SENDER"])[1],
        with_coupon=compile_template(data, has_coupon=True),
        without_coupon=compile_template(data, has_coupon=False),
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
    values: dict[bytes, bytes] = {
        b"TO": check_header(reader.email).encode(),
        b"DATE": formatdate(usegmt=True).encode(),
        b"MSGID": message_id.encode(),
        b"UNSUB": reader.unsubscribe_token.encode(),
        b"CCODE": (reader.coupon_code or "").encode(),
        b"CURL": escape(reader.coupon_url or "").encode(),
    }
    for index, default in enumerate(skeleton.first_name_defaults):
        name = reader.first_name or default
        values[f"FNAMEH{index}".encode()] = escape(name).encode()
        values[f"FNAMET{index}".encode()] = name.encode()
    template = skeleton.without_coupon if reader.coupon_code is None else skeleton.with_coupon
    return fill(template, values)
