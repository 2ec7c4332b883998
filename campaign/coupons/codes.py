"""Coupon codes: typeable, signed, checkable without the database.

A code is 16 Crockford base32 characters in four dashed groups (``7KQ2-M9XD-4TPA-H3CE``),
80 bits in all: a 40-bit body and a 40-bit HMAC tag over it. A mistyped or forged code
fails the tag check (a 1 in 2**40 chance of passing) before any database lookup.

The body is itself an HMAC of a random per-coupon nonce, so the database holds only the
nonce and a digest of the code: without ``SECRET_KEY`` a leaked database yields no
usable code, while the service can still show a subscriber their code again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
BODY_BYTES = 5
TAG_BYTES = 5
CODE_LENGTH = (BODY_BYTES + TAG_BYTES) * 8 // 5  # 16 characters
GROUP = 4
# Crockford's reading rules for what people type: O is zero, I and L are one.
_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_VALUES = {char: value for value, char in enumerate(ALPHABET)}


class InvalidCode(ValueError):
    """Not a code we issued: wrong length, stray characters, or a failed tag."""


@dataclass(frozen=True)
class CouponCode:
    """A verified code in canonical form (16 characters, no dashes)."""

    value: str

    @property
    def display(self) -> str:
        return "-".join(self.value[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))

    def digest(self, secret_key: str) -> str:
        """What the database stores and looks up instead of the code."""
        return hmac.new(
            _key(secret_key, "coupon-code-lookup"), self.value.encode(), "sha256"
        ).hexdigest()


@cache
def _key(secret_key: str, purpose: str) -> bytes:
    # One key per purpose, derived from SECRET_KEY, like itsdangerous' salts.
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(len(data) * 8 // 5):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def _decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = (number << 5) | _VALUES[char]
    return number.to_bytes(len(text) * 5 // 8, "big")


def _tag(secret_key: str, body: bytes) -> bytes:
    return hmac.new(_key(secret_key, "coupon-code-tag"), body, hashlib.sha256).digest()[:TAG_BYTES]


def new_nonce() -> str:
    return secrets.token_hex(16)


def code_for(secret_key: str, nonce: str) -> CouponCode:
    """The code belonging to a coupon's nonce (the same every time)."""
    body = hmac.new(_key(secret_key, "coupon-code-body"), nonce.encode(), hashlib.sha256).digest()
    body = body[:BODY_BYTES]
    return CouponCode(_encode(body + _tag(secret_key, body)))


# What phones and word processors type for "-" (smart punctuation turns "--" into an
# en dash), and the invisible characters a copy from a message can carry along.
_SEPARATORS = dict.fromkeys(
    map(ord, "-\u2010\u2011\u2012\u2013\u2014\u2212\u200b\u200c\u200d\ufeff")
)


def normalize(text: str) -> str:
    """Upper-case, drop dashes and spaces, read O as 0 and I/L as 1.

    Full-width letters and digits (an East Asian keyboard) read as their plain forms.
    """
    if len(text) > 64:
        raise InvalidCode("too long")
    cleaned = _cleaned(text)
    if len(cleaned) != CODE_LENGTH or any(char not in _VALUES for char in cleaned):
        raise InvalidCode("not a coupon code")
    return cleaned


def _cleaned(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_SEPARATORS)
    return "".join(text.split()).upper().translate(_TRANSLATE)


def wrong_length(text: str) -> int | None:
    """How many code characters ``text`` holds, when a wrong count is all that is
    wrong with it (a code cut short or pasted twice); None for anything else."""
    if len(text) > 64:
        return None
    cleaned = _cleaned(text)
    if cleaned and len(cleaned) != CODE_LENGTH and all(c in _VALUES for c in cleaned):
        return len(cleaned)
    return None


def well_formed(text: str) -> bool:
    """Whether ``text`` has a code's form (its length, its letters), signed or not."""
    try:
        normalize(text)
    except InvalidCode:
        return False
    return True


def parse(secret_key: str, text: str) -> CouponCode:
    """Verify typed or scanned text; raise ``InvalidCode`` unless we issued it."""
    value = normalize(text)
    raw = _decode(value)
    body, tag = raw[:BODY_BYTES], raw[BODY_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret_key, body)):
        raise InvalidCode("tag mismatch")
    return CouponCode(value)
