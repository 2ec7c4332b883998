"""Building and sending the service's emails.

Every header is built here from checked values: addresses that passed validation,
subjects from our own templates or checked by the caller, and settings. A value that
still holds a line break is refused rather than sent, so no input can add a header.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import string
from dataclasses import dataclass, field
from email.charset import Charset
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache
from urllib.parse import quote, urlsplit

import css_inline
import flask_mail
from flask import current_app, render_template

from campaign import clinic
from config import SAMPLE_CLINIC_NAME

logger = logging.getLogger(__name__)
CRLF = "\r\n"
# Every email we send is written by a machine (RFC 3834): holiday auto-replies, which
# went back to the clinic's reply address for each newsletter, are not sent to it.
AUTO_SUBMITTED = "auto-generated"


class VerbatimHeader:
    """A header the email package writes exactly as given: the list headers.

    Folded at 78 like every other header, a long List-Unsubscribe link would be cut
    into RFC 2047 encoded words, which no mail client reads as a link. Their values
    are ASCII and pass ``check_header`` first; a link is far shorter than SMTP's 998.
    """

    max_count = None

    @classmethod
    def parse(cls, value: str, kwds: dict) -> None:
        kwds.update(decoded=value, parse_tree=None, defects=[])

    def fold(self, *, policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def folded(name: str, value: str) -> str:
    """``name: value`` and its line ending, folded within 78 characters.

    Not ASCII, the value is written in encoded words (RFC 2047) that hold its spaces.
    The email package's own folding puts a space between two encoded words now and
    then, where readers drop it (RFC 2047 6.2): 86 of 2,000 accented subjects read
    "Señora Łódź–Massage" or "ClínicaSeñora" in the inbox.
    """
    if value.isascii():
        return SMTP.header_factory(name, value).fold(policy=SMTP_POLICY)
    display_name, address = parseaddr(value) if name.lower() == "from" else ("", "")
    if display_name and address and value.endswith(f"<{address}>"):
        return _fold_words(name, [*_phrase_words(display_name), f"<{address}>"])
    encoded = Header(value, "utf-8", maxlinelen=78, header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}{CRLF}"


_UTF8 = Charset("utf-8")
_ATEXT = set(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
# RFC 2047 allows 75; 70 leaves room for "From: " on the first line (78 in all).
_ENCODED_WORD_MAX = 70


def _phrase_words(phrase: str) -> list[str]:
    """A display name as words: plain where they are plain ASCII, and each run of
    other words as few encoded words as fit, its spaces inside them.

    Two encoded words side by side are kept to runs too long for one: mail clients
    join them (RFC 2047 6.2), but some readers put a space between them (Python's
    own address parser does), so "S" + "ie" could read "S ie".
    """
    words: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        chunk = ""
        for token in run:
            candidate = f"{chunk} {token}" if chunk else token
            if chunk and len(_UTF8.header_encode(candidate)) > _ENCODED_WORD_MAX:
                words.append(_UTF8.header_encode(chunk + " "))  # the space goes inside
                candidate = token
            chunk = candidate
        while len(_UTF8.header_encode(chunk)) > _ENCODED_WORD_MAX:  # one very long word
            cut = max(
                n
                for n in range(1, len(chunk))
                if len(_UTF8.header_encode(chunk[:n])) <= _ENCODED_WORD_MAX
            )
            words.append(_UTF8.header_encode(chunk[:cut]))
            chunk = chunk[cut:]
        if chunk:
            words.append(_UTF8.header_encode(chunk))
        run.clear()

    for token in phrase.split():
        if set(token) <= _ATEXT:
            if run:
                close_run()
            words.append(token)
        else:
            run.append(token)
    if run:
        close_run()
    return words


def _fold_words(name: str, words: list[str]) -> str:
    """``name: `` and the words, a space between each, lines broken within 78."""
    lines = [f"{name}:"]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > 78 and lines[-1].strip() != f"{name}:":
            lines.append("")
        lines[-1] += f" {word}"
    return CRLF.join(lines) + CRLF


class EncodedHeader(VerbatimHeader):
    """Subject and From: kept as given, written by ``folded``."""

    def fold(self, *, policy) -> str:
        return folded(self.name, str(self))


_header_types = HeaderRegistry()
for _name in ("list-id", "list-unsubscribe", "list-unsubscribe-post"):
    _header_types.map_to_type(_name, VerbatimHeader)
for _name in ("subject", "from"):
    _header_types.map_to_type(_name, EncodedHeader)

# Lines of 76: the body parts' quoted-printable and base64 (RFC 2045 asks 76; the
# package encodes them at the policy's length), and headers within RFC 5322's 78, with
# encoded words where they are not ASCII. The list headers verbatim.
SMTP_POLICY = SMTP.clone(header_factory=_header_types, max_line_length=76)


class UnsafeHeader(ValueError):
    """A header value holds a line break or another control character."""


# The refusal a server without SMTPUTF8 (RFC 6531) gives a recipient outside ASCII,
# given without asking it: smtplib cannot even encode such a command. New addresses are
# refused at signup and import (``normalize_address``); this covers older rows.
NOT_ASCII_CODE = 553
NOT_ASCII_ANSWER = "5.6.7 address is not ASCII and SMTPUTF8 is not used: not sent"


def mailable(address: str) -> bool:
    """Whether SMTP, as we speak it, can carry ``address`` at all."""
    return address.isascii()


def refuse_unmailable(address: str) -> None:
    """Raise ``SMTPRecipientsRefused`` (permanent) for an address SMTP cannot carry."""
    if not mailable(address):
        raise smtplib.SMTPRecipientsRefused({address: (NOT_ASCII_CODE, NOT_ASCII_ANSWER.encode())})


def check_header(value: str) -> str:
    """``value``, safe to put into a header; ``UnsafeHeader`` otherwise.

    An RFC 2047 encoded word (``=?utf-8?q?...?=``) is refused too: the email package
    decodes one found in a value and writes what it holds, a line break included, so
    "=?utf-8?q?Hi=0D=0ABcc:_x@evil.example?=" would add a header. We never write
    encoded words into values; the package makes them when it folds.
    """
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or "=?" in value:
        raise UnsafeHeader("header value holds a control character or an encoded word")
    return value


def header_safe(text: str) -> bool:
    """Whether staff text can go into a header (checked where it is typed)."""
    try:
        check_header(text)
    except UnsafeHeader:
        return False
    return True


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def inline_css(html: str) -> str:
    # keep_style_tags leaves the media queries in place for clients that read them.
    return _inliner().inline(html)


def from_header() -> str:
    """Who every email is from: ``MAIL_DEFAULT_SENDER``, whose name follows the
    clinic's, so a clinic renamed on *Clinic details* sends under its new name. A
    name of the sender's own (not ``CLINIC_NAME``, e.g. "Anna at Harbour") is kept.
    The sample clinic's name (the default, and .env.example's) is no name of its own:
    a clinic that changed only the address there sent as "Harbour Massage Clinic"."""
    configured = current_app.config["MAIL_DEFAULT_SENDER"]
    name, address = parseaddr(configured)
    if name and name not in {current_app.config["CLINIC_NAME"], SAMPLE_CLINIC_NAME}:
        return check_header(configured)
    try:
        # Address quotes what a phrase cannot hold (a comma, a quote) as it formats.
        return check_header(str(Address(display_name=clinic.details().name, addr_spec=address)))
    except (HeaderParseError, ValueError, IndexError):
        return check_header(configured)  # an address `flask doctor` reports as broken


def reply_to_header() -> str | None:
    """Where replies go, when the clinic names a mailbox (checked where it is set)."""
    return check_header(clinic.details().reply_to) if clinic.details().reply_to else None


# The logo atop every email fits this box: a wordmark at most 240 px wide, a square
# mark at most 80 px high (the header stays a header on a phone).
LOGO_BOX = (240, 80)


def layout_context() -> dict:
    """What every email's layout shows of the clinic: its name, address, logo and colour."""
    from campaign.images.services import fitted

    found = clinic.details()
    logo = None
    if found.logo:
        width, height = fitted(found.logo, LOGO_BOX)
        logo = {"url": public_url(f"/images/{found.logo}"), "width": width, "height": height}
    return {
        "clinic_name": found.name,
        "clinic_address": found.postal_address,
        "logo": logo,
        "brand_colour": found.colour,
    }


def mail_domain() -> str:
    """The domain our Message-IDs and List-Id live on."""
    _, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    domain = address.rpartition("@")[2]
    if not domain or domain == "localhost":
        domain = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    return check_header(domain)


def public_url(path: str) -> str:
    """An absolute link for an email, rooted at BASE_URL (never the request's host)."""
    return current_app.config["BASE_URL"] + path


def list_headers(unsubscribe_url: str, unsubscribe_token: str) -> dict[str, str]:
    """RFC 2369/8058 headers for mail that a subscriber can opt out of.

    The https link unsubscribes at once (the one-click POST). A ``mailto:`` is added
    only when ``UNSUBSCRIBE_MAILTO`` names a mailbox someone reads: nothing here reads
    mail, and a request sent to a mailbox nobody reads is an unsubscribe ignored.
    """
    domain = mail_domain()
    targets = [f"<{unsubscribe_url}>"]
    if mailbox := current_app.config.get("UNSUBSCRIBE_MAILTO"):
        subject = quote("unsubscribe " + unsubscribe_token)
        targets.append(f"<mailto:{mailbox}?subject={subject}>")
    name = " ".join(clinic.details().name.split())
    # The description is optional (RFC 2919): only a plain ASCII one is quoted in, since
    # a quote, a backslash or a non-ASCII word would make a list id clients cannot read.
    plain = name.isascii() and name.isprintable() and not set(name) & set('"\\')
    return {
        "List-Id": (f'"{name}" ' if plain and name else "") + f"<newsletter.{domain}>",
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@dataclass(frozen=True)
class InlineImage:
    """An image shown inside the HTML part, referenced as ``cid:<cid>``."""

    cid: str
    data: bytes
    subtype: str = "png"


@dataclass
class Email:
    """One email to one person, rendered from ``templates/email/<name>.{html,txt}``."""

    to: str
    subject: str
    template: str
    context: dict = field(default_factory=dict)
    unsubscribe_url: str | None = None
    unsubscribe_token: str | None = None
    images: list[InlineImage] = field(default_factory=list)

    def build(self) -> EmailMessage:
        context = {
            **self.context,
            **layout_context(),
            "unsubscribe_url": self.unsubscribe_url,
            "subject": self.subject,
        }
        html = inline_css(render_template(f"email/{self.template}.html", **context))
        text = render_template(f"email/{self.template}.txt", **context)
        message = EmailMessage(policy=SMTP_POLICY)
        message["Subject"] = check_header(self.subject)
        message["From"] = from_header()
        if reply_to := reply_to_header():
            message["Reply-To"] = reply_to
        message["To"] = check_header(self.to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=mail_domain())
        message["Auto-Submitted"] = AUTO_SUBMITTED
        if self.unsubscribe_url and self.unsubscribe_token:
            for name, value in list_headers(self.unsubscribe_url, self.unsubscribe_token).items():
                message[name] = check_header(value)
        # Quoted-printable keeps every line short and the message 7-bit, as servers
        # without 8BITMIME (RFC 6152) require; the email package would pick 8bit.
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        if self.images:
            html_part = message.get_body(("html",))
            for image in self.images:
                html_part.add_related(
                    image.data, "image", image.subtype, cid=f"<{image.cid}>", disposition="inline"
                )
            html_part.set_param("type", "text/html")  # RFC 2387: what the root part is
        return message


def is_temporary(exc: BaseException) -> bool:
    """True for SMTP trouble worth retrying: 4xx answers, dropped or refused connections."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


def envelope_sender() -> str:
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


class Connection(flask_mail.Connection):
    """Flask-Mail's SMTP connection, bounded by ``MAIL_TIMEOUT``.

    Flask-Mail opens its socket without a timeout, so a mail server that stops
    answering would hold a sender forever (and its readers' claims past their lease).
    smtplib also looks up this host's name for EHLO on every connection, a DNS query
    that can itself stall for seconds: it is looked up once per process here.
    """

    def configure_host(self) -> smtplib.SMTP:
        options = {
            "timeout": current_app.config["MAIL_TIMEOUT"],
            "local_hostname": _local_hostname(),
        }
        smtp = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp(self.mail.server, self.mail.port, **options)
        try:
            host.set_debuglevel(int(self.mail.debug))
            if self.mail.use_tls:
                host.starttls()
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()  # a refused login must not leave the socket open
            raise
        return host


@cache
def _local_hostname() -> str:
    return socket.getfqdn()


def connect() -> Connection:
    """An SMTP connection for ``with``: opened on entry, closed with QUIT on exit."""
    return Connection(current_app.extensions["mail"])


def send_raw(to: str, data: bytes) -> None:
    """Send ready-made message bytes to one address over a fresh connection."""
    refuse_unmailable(to)
    with connect() as connection:
        connection.host.sendmail(envelope_sender(), [check_header(to)], data)


def send(email: Email) -> None:
    """Send one email now, over a fresh connection (transactional mail)."""
    refuse_unmailable(email.to)
    message = email.build()
    with connect() as connection:
        connection.host.sendmail(envelope_sender(), [email.to], message.as_bytes())
    logger.info("sent %s email", email.template)


# Retries of a transactional email, 5 s doubling to 10 min apart: about 21 minutes in all.
MAX_RETRIES = 8


def send_or_retry(task, email: Email) -> bool:
    """Send now from a bound Celery task; on temporary SMTP trouble retry with
    exponential backoff, else give up. True once the server has accepted the email."""
    try:
        send(email)
    except (smtplib.SMTPException, OSError) as exc:
        if is_temporary(exc) and task.request.retries < MAX_RETRIES:
            raise task.retry(exc=exc, countdown=min(600, 5 * 2**task.request.retries)) from exc
        logger.error("giving up on %s email: %s", email.template, exc)
        return False
    return True
