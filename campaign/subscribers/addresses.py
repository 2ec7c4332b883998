"""Email address checks and the canonical form that identifies one person."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


class InvalidAddress(ValueError):
    """The text is not an address we can send to."""


# Format characters that belong in ordinary text: the zero-width non-joiner of Persian
# and other scripts (علی‌رضا), and the joiner inside emoji sequences (👩‍⚕️).
JOINERS = {"\u200c", "\u200d"}


def has_control_characters(text: str) -> bool:
    """True for CR, LF, NUL and every other control or format character (direction
    overrides included), but for the joiners of ordinary text."""
    return any(
        unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} and ch not in JOINERS for ch in text
    )


def normalize_address(raw: str) -> str:
    """Return the address to mail, or raise ``InvalidAddress``.

    Syntax only: looking up the domain's DNS would put a network call on the signup
    path, and double opt-in proves deliverability anyway. The address is kept as SMTP
    carries it without the SMTPUTF8 extension, which few servers offer: an
    internationalised domain in its ASCII form (``bücher.de`` as ``xn--bcher-kva.de``),
    and a local part of other than ASCII refused here, where the person can still fix
    it, rather than accepted and never delivered.
    """
    text = raw.strip()
    if not text:
        raise InvalidAddress("Please enter your email address.")
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidAddress("Please enter an email address of at most 254 characters.")
    if has_control_characters(text):
        raise InvalidAddress("The email address contains characters that are not allowed.")
    if "=?" in text:
        # Legal before the @ (RFC 5322), but it opens an encoded word, which no header
        # of ours may hold (emails.check_header): such an address was taken and then
        # never mailed, the confirmation failing in the worker.
        raise InvalidAddress('An email address we can mail cannot hold "=?": please check it.')
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        local = text.rpartition("@")[0]
        if "@" in text and not local.isascii():
            # email-validator says "Internationalized characters before the @-sign are
            # not supported": true, and no help to the person typing.
            letters = "".join(dict.fromkeys(ch for ch in local if not ch.isascii()))
            raise InvalidAddress(
                f"Most mail servers cannot deliver to an address with {letters} before "
                "the @: please use one with plain letters (a to z) and digits there."
            ) from None
        raise InvalidAddress(str(exc)) from None
    if len(result.ascii_email) > MAX_EMAIL_LENGTH:
        raise InvalidAddress("Please enter an email address of at most 254 characters.")
    if len(result.local_part) > MAX_LOCAL_PART_LENGTH:
        # RFC 5321's limit, which mail servers enforce (email-validator only when strict).
        raise InvalidAddress("The part before the @ is longer than 64 characters.")
    return result.ascii_email


def canonical_address(address: str) -> str:
    """One key per mailbox: lower-cased, ``+tag`` dropped, Gmail dots removed.

    ``A.Lee+oil@GoogleMail.com`` and ``alee@gmail.com`` reach the same inbox, so they
    must count as one subscriber (and one welcome coupon).
    """
    local, _, domain = address.rpartition("@")
    local = local.lower()
    domain = domain.lower()
    local = local.split("+", 1)[0] or local
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
