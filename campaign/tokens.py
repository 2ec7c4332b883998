"""Signed, expiring tokens for links in emails.

Each purpose has its own salt, so a token minted to confirm an address can never be
replayed to unsubscribe one (or the reverse). Reading a token raises a typed error so
callers can tell an expired link (offer a resend) from a forged one (refuse).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from campaign.database import MAX_ID


class Purpose(StrEnum):
    CONFIRM = "subscriber-confirm"
    UNSUBSCRIBE = "subscriber-unsubscribe"
    COUPON = "coupon-view"
    STAFF_PASSWORD = "staff-password"  # noqa: S105 - a salt name, not a secret


class TokenError(Exception):
    """The token cannot be used."""


class TokenInvalid(TokenError):
    """Forged, tampered with, truncated, or minted for another purpose."""


class TokenExpired(TokenError):
    """Genuine but older than its purpose allows; ``payload`` is still trustworthy."""

    def __init__(self, payload: Any) -> None:
        super().__init__("token expired")
        self.payload = payload


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=str(purpose))


def make_token(purpose: Purpose, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: Purpose, token: str, max_age: int | None) -> Any:
    """Return the payload of a token made by ``make_token`` for ``purpose``."""
    serializer = _serializer(purpose)
    if len(token) > 512:
        raise TokenInvalid("token too long")
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        # The signature was valid, so the payload is ours and safe to decode.
        try:
            payload = serializer.load_payload(exc.payload)
        except BadSignature:
            raise TokenInvalid("undecodable payload") from exc
        raise TokenExpired(payload) from exc
    except BadSignature as exc:
        raise TokenInvalid(str(exc)) from exc
    except (OverflowError, OSError, ValueError) as exc:
        # Signed, yet a timestamp no clock holds: only a key holder could make one.
        raise TokenInvalid("timestamp out of range") from exc


def row_id(value: Any) -> int:
    """``value``, a row id read from a token's payload, or ``TokenInvalid``.

    Only the ids we mint pass: to Python ``True`` is the int 1, and an id past the
    database's integers would overflow the driver (a 500, not a refused link).
    """
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise TokenInvalid("unexpected payload")
    return value
