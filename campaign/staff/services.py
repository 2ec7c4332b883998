"""Staff accounts: creation, password checks, API tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Executable, bindparam, func, select, update

from campaign import audit, database
from campaign.database import utcnow
from campaign.extensions import db
from campaign.staff.models import ApiToken, Role, Staff
from campaign.subscribers.addresses import InvalidAddress, normalize_address

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_PREFIX = "cmp_"  # noqa: S105 - a marker, not a secret
MIN_PASSWORD_LENGTH = 10


class StaffError(ValueError):
    """The staff operation cannot be done; the message says why."""


def create_staff(email: str, role: Role, password: str, name: str | None = None) -> Staff:
    try:
        address = normalize_address(email).lower()
    except InvalidAddress as exc:
        raise StaffError(str(exc)) from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if db.session.scalar(select(Staff).filter_by(email=address)):
        raise StaffError(f"{address} already has an account.")
    staff = Staff(
        email=address, role_name=role.label, password_hash=_hasher.hash(password), name=name
    )
    db.session.add(staff)
    db.session.flush()
    audit.record("staff.created", target=f"staff:{staff.id}", role=role.label)
    return staff


def find_staff(email: str) -> Staff | None:
    typed = email.strip().lower()
    # An internationalised domain is stored in its ASCII form (``normalize_address``);
    # accounts made before that hold it as typed. Either form finds either.
    try:
        forms = {typed, normalize_address(typed).lower()}
    except InvalidAddress:
        forms = {typed}
    return db.session.scalar(select(Staff).where(func.lower(Staff.email).in_(forms)))


def authenticate(email: str, password: str) -> Staff | None:
    """The active staff member with these credentials, or None. Audits failures."""
    staff = find_staff(email) if len(email) <= 254 else None
    try:
        _hasher.verify(staff.password_hash if staff else _DUMMY_HASH, password)
        ok = staff is not None and staff.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit.record("staff.login_failed", target=f"email:{email[:100]}")
        return None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    staff.last_login_at = utcnow()
    audit.record("staff.login", staff_id=staff.id)
    return staff


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(staff: Staff, name: str = "API token") -> str:
    """Make a new bearer token; only its digest is stored, so show it now or never."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(staff=staff, name=name[:100], token_hash=_digest(token), prefix=token[:12])
    )
    db.session.flush()
    audit.record("staff.token_created", staff_id=staff.id, name=name[:100])
    return token


def revoke_api_token(staff: Staff, token_id: int) -> bool:
    token = database.get(ApiToken, token_id)
    if token is None or (token.staff_id != staff.id and not staff.has_role(Role.ADMIN)):
        return False
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("staff.token_revoked", staff_id=staff.id, target=f"token:{token.id}")
    return True


@cache
def _staff_of_token() -> Executable:
    # Built once: every bearer call runs it, and building it cost as much as running it.
    # The staff member as an object (views use it), the token as two plain values:
    # loading it as an object too cost a third of a redemption's time.
    return (
        select(Staff, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.staff_id == Staff.id)
        .where(
            ApiToken.token_hash == bindparam("token_hash"),
            ApiToken.revoked_at.is_(None),
            Staff.active.is_(True),
        )
    )


def staff_for_token(token: str) -> Staff | None:
    """The active staff member a bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    found = db.session.execute(_staff_of_token(), {"token_hash": _digest(token)}).one_or_none()
    if found is None:
        return None
    staff, token_id, last_used_at = found
    now = utcnow()
    # Writing on every call would serialise all API traffic on one row; a minute is enough.
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        _note_use(token_id, now)
    return staff


def _note_use(token_id: int, now: datetime) -> None:
    """Stamp the token's last use (the tokens page shows it) in a transaction of its own.

    In the request's transaction the stamp was lost with every call that commits
    nothing (a lookup), and its row lock was held for the whole request.
    """
    with db.engine.begin() as connection:
        connection.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
