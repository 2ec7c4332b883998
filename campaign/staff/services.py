"""Staff accounts: creation, roles, passwords and their emailed links, API tokens.

These functions add and flush; the caller commits. Emails with a set-password link
are queued to go after the commit (``outbox.after_commit``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Executable, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from campaign import audit, database
from campaign.audit import AuditEvent
from campaign.database import utcnow
from campaign.extensions import db
from campaign.outbox import after_commit
from campaign.staff import login_limits, sessions
from campaign.staff.models import ApiToken, Role, Staff
from campaign.subscribers.addresses import (
    InvalidAddress,
    has_control_characters,
    normalize_address,
)
from campaign.tokens import Purpose, TokenInvalid, make_token, read_token, row_id

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
_ARGON2_PREFIX = "$argon2"
TOKEN_PREFIX = "cmp_"  # noqa: S105 - a marker, not a secret
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
UNSET_PASSWORD = "!unset:"  # noqa: S105 - marks an account whose password is not chosen yet
# A set-password link (a new account's invitation, or a reset) works for three days,
# and only until a password is set with it.
PASSWORD_LINK_MAX_AGE_SECONDS = 3 * 86400
# Anyone may send the "forgot your password?" form, from as many addresses as they
# have: from it, each account is mailed at most this many links an hour.
FORGOT_LINKS_PER_HOUR = 3


class StaffError(ValueError):
    """The staff operation cannot be done; the message says why, and ``field``
    which form field is at fault, where one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LoginRefused(StaffError):
    """Too many failed logins for the address lately: no password is checked."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def create_staff(
    email: str,
    role: Role,
    password: str | None,
    name: str | None = None,
    by: Staff | None = None,
) -> Staff:
    """A new account. ``by`` is the admin who added it (None from the command line).

    With no password the account cannot log in until its owner sets one from a link.
    """
    try:
        address = normalize_address(email).lower()
    except InvalidAddress as exc:
        raise StaffError(str(exc)) from None
    if password is not None:
        check_password(password, address)
    name = clean_name(name)
    if find_staff(address) is not None:
        raise StaffError(f"{address} already has an account.")
    # No hash verifies against the unset marker (argon2 calls it invalid), and its
    # random part gives the account a fingerprint of its own for the first link.
    password_hash = _hasher.hash(password) if password else UNSET_PASSWORD + secrets.token_hex(16)
    staff = Staff(email=address, role_name=role.label, password_hash=password_hash, name=name)
    try:
        with db.session.begin_nested():
            db.session.add(staff)
    except IntegrityError:  # the same address added at the same moment by someone else
        raise StaffError(f"{address} already has an account.") from None
    audit.record(
        "staff.created", staff_id=by.id if by else None, target=f"staff:{staff.id}", role=role.label
    )
    return staff


def invite_staff(email: str, role: Role, name: str | None, by: Staff) -> Staff:
    """Add an account for someone else, who chooses their own password: its owner is
    emailed a set-password link, and until then it cannot log in."""
    staff = create_staff(email, role, None, name=name, by=by)
    after_commit(_password_link_task(), staff.id, "invite")
    return staff


def clean_name(name: str | None) -> str | None:
    """The name shown at the desk and in the audit log, spaces folded; None if blank."""
    if name is None:
        return None
    if any(not ch.isprintable() for ch in name):
        raise StaffError("The name contains characters that are not allowed.")
    name = " ".join(name.split())
    if len(name) > 100:
        raise StaffError("Please keep the name under 100 characters.")
    return name or None


def set_name(staff: Staff, name: str | None, by: Staff) -> None:
    """Change the name shown at the desk (``clean_name``'s rules, as at creation);
    blank shows the start of the email address. ``by`` is the account's owner (My
    account) or an admin (the staff page): the views check which may."""
    name = clean_name(name)
    if staff.name != name:
        audit.record("staff.renamed", staff_id=by.id, target=f"staff:{staff.id}", name=name)
        staff.name = name


def check_password(password: str, email: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffError(
            f"The password must have at most {MAX_PASSWORD_LENGTH} characters.", field="password"
        )
    if not password.strip():
        raise StaffError("The password cannot be only spaces.", field="password")
    # The first guess anyone makes at an account is its own address.
    if email and password.strip().casefold() in {email.casefold(), email.split("@")[0].casefold()}:
        raise StaffError("The password cannot be the account's email address.", field="password")


def _others_account(staff: Staff, by: Staff) -> None:
    """Refuse a change to one's own account, or by someone no longer an active admin.

    An admin who demoted or deactivated themselves could leave the clinic with no admin
    at all; another admin can do it for them. The active admins' rows are locked first
    (PostgreSQL; SQLite has one writer), so two admins demoting each other at the same
    moment cannot both win: the second finds it is no longer an admin.
    """
    if staff.id == by.id:
        raise StaffError("You cannot change your own role or deactivate yourself.")
    if db.engine.dialect.name == "sqlite":
        # No FOR UPDATE in SQLite: a write first makes this a write transaction, which
        # waits for the one writer's turn and then reads the latest rows.
        db.session.execute(update(Staff).where(Staff.id == by.id).values(active=Staff.active))
    admins = db.session.scalars(
        select(Staff.id)
        .where(Staff.role_name == Role.ADMIN.label, Staff.active.is_(True))
        .order_by(Staff.id)  # every caller locks in one order: no deadlock
        .with_for_update()
    ).all()
    if by.id not in admins:
        raise StaffError("Your account is no longer an active admin account.")
    db.session.refresh(staff)  # as it is now, after the lock


def change_role(staff: Staff, role: Role, by: Staff) -> None:
    _others_account(staff, by)
    if staff.role is not role:
        audit.record(
            "staff.role_changed", staff_id=by.id, target=f"staff:{staff.id}", role=role.label
        )
        staff.role_name = role.label


def set_active(staff: Staff, active: bool, by: Staff) -> None:
    """Deactivated staff are logged out at their next request, and their API tokens
    stop working at once. Reactivating restores the tokens, not the sessions or the
    set-password links: those ended with the deactivation."""
    _others_account(staff, by)
    if staff.active != active:
        action = "staff.reactivated" if active else "staff.deactivated"
        audit.record(action, staff_id=by.id, target=f"staff:{staff.id}")
        staff.active = active
        if not active:
            _raise_session_epoch(staff)
            sessions.end_sessions(staff, keep_current=False)


def end_other_sessions(staff: Staff) -> None:
    """Log the account out everywhere else and spend its set-password links; the
    caller logs the current session in again (``login_user``) after the commit, since
    its fingerprint changed too."""
    _raise_session_epoch(staff)
    sessions.end_sessions(staff, keep_current=True)
    audit.record("staff.sessions_ended", staff_id=staff.id, target=f"staff:{staff.id}")


def _raise_session_epoch(staff: Staff) -> None:
    # In SQL, so two requests at once both count.
    staff.session_epoch = Staff.session_epoch + 1
    db.session.flush()
    db.session.refresh(staff, ["session_epoch"])


def set_password(staff: Staff, password: str, keep_session: bool = False) -> None:
    """Replace the password. Every login session of the account ends (they carry the
    old password's fingerprint), but this request's with ``keep_session``, and so does
    every set-password link.

    One conditional UPDATE on the password being replaced: a link used twice at the
    same moment sets one password, and the other use is told the link is spent.
    """
    check_password(password, staff.email)
    new_hash = _hasher.hash(password)
    replaced = db.session.execute(
        update(Staff)
        .where(Staff.id == staff.id, Staff.password_hash == staff.password_hash)
        .values(password_hash=new_hash)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not replaced:
        raise StaffError("The password was changed meanwhile: this link or form is spent.")
    db.session.refresh(staff)
    sessions.end_sessions(staff, keep_current=keep_session)
    audit.record("staff.password_set", staff_id=staff.id, target=f"staff:{staff.id}")


def change_password(staff: Staff, current: str, new: str) -> None:
    try:
        _hasher.verify(staff.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise StaffError("Your current password is not right.", field="current") from None
    set_password(staff, new, keep_session=True)


def send_password_link(staff: Staff, by: Staff) -> None:
    """Email the account's owner a link to set a new password (after the commit), at
    an admin's request; an inactive account is sent none."""
    if not staff.active:
        raise StaffError(f"{staff.email} is deactivated: reactivate them first.")
    audit.record("staff.password_link_sent", staff_id=by.id, target=f"staff:{staff.id}")
    after_commit(_password_link_task(), staff.id, "reset")


def request_password_link(email: str) -> None:
    """A "forgot your password?" request: a link to the account with that address, if
    it is an active one, mailed by the worker.

    The request does the same work whatever the address (an audit row, a task): the
    answer, and the time it takes, tell nobody which addresses have accounts. The
    worker looks the address up.
    """
    from campaign.staff.tasks import send_password_email_to

    address = email.strip()[:254]
    audit.record("staff.password_link_requested", target=_typed_address_target(address))
    after_commit(send_password_email_to, address)


def forgot_link_recipient(address: str) -> Staff | None:
    """The account a "forgot your password?" request for ``address`` mails a link
    to: an active one that has not had ``FORGOT_LINKS_PER_HOUR`` this hour. The
    mailing is recorded here; the caller commits (at once: the account's row stays
    locked until then) and hands the email to its own task."""
    found = find_staff(address)
    if found is None or not found.active:
        return None
    # Two requests at once must not both take the last link. On PostgreSQL the
    # account's row is locked; on SQLite, which has no row locks, the mailing is
    # written before it is counted: a second writer waits for the first one's commit.
    staff = db.session.get(Staff, found.id, with_for_update=True, populate_existing=True)
    target = f"staff:{staff.id}"
    audit.record("staff.password_link_mailed", target=target)
    mailed = db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "staff.password_link_mailed",
            AuditEvent.target == target,
            AuditEvent.at >= utcnow() - timedelta(hours=1),
        )
    )
    if mailed > FORGOT_LINKS_PER_HOUR:  # this one included
        logger.warning("password link not sent to %s: %s this hour", target, mailed - 1)
        return None
    return staff


def password_link_token(staff: Staff) -> str:
    return make_token(Purpose.STAFF_PASSWORD, [staff.id, staff.password_fingerprint])


def staff_for_password_link(token: str) -> Staff:
    """The active account a set-password link is for; ``TokenInvalid`` once a password
    has been set with it (or any other way), ``TokenExpired`` when it is too old."""
    payload = read_token(Purpose.STAFF_PASSWORD, token, PASSWORD_LINK_MAX_AGE_SECONDS)
    if not (isinstance(payload, list) and len(payload) == 2):
        raise TokenInvalid("unexpected payload")
    staff = database.get(Staff, row_id(payload[0]))
    if staff is None or not staff.active or staff.password_fingerprint != payload[1]:
        raise TokenInvalid("link used or account closed")
    return staff


def _password_link_task():
    from campaign.staff.tasks import send_password_email

    return send_password_email


def find_staff(email: str) -> Staff | None:
    typed = email.strip().lower()
    # An internationalised domain is stored in its ASCII form (``normalize_address``);
    # accounts made before that hold it as typed. Either form finds either.
    try:
        forms = {typed, normalize_address(typed).lower()}
    except InvalidAddress:
        forms = {typed}
    return db.session.scalar(select(Staff).where(func.lower(Staff.email).in_(forms)))


def _typed_address_target(typed: str) -> str:
    """An address anyone typed, as an audit target: without control or format
    characters (a right-to-left override would turn the log's line around)."""
    printable = "".join(c for c in typed if not has_control_characters(c))
    return f"email:{printable[:100]}"


def authenticate(email: str, password: str) -> Staff | None:
    """The active staff member with these credentials, or None. Audits failures.

    Raises ``LoginRefused``, without looking at the password, once the address has
    spent its failure budget (``login_limits``), whether it has an account or not.
    """
    if not login_limits.spend_attempt(email):
        audit.record("staff.login_refused", target=_typed_address_target(email))
        raise LoginRefused(
            "Too many failed logins for this address. Please wait up to "
            f"{login_limits.wait_minutes()} minutes and try again, or choose a new "
            "password with “Forgot your password?” below.",
            retry_after=login_limits.seconds_to_wait(email),
        )
    staff = find_staff(email) if len(email) <= 254 else None
    # Only an argon2 hash costs a verification: an account still waiting for its first
    # password (the unset marker) is checked against the dummy too, or its quick
    # answer would tell that the address has an account.
    real = staff is not None and staff.password_hash.startswith(_ARGON2_PREFIX)
    try:
        _hasher.verify(staff.password_hash if real else _DUMMY_HASH, password)
        ok = real and staff.active  # the dummy's own password opens nothing
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit.record("staff.login_failed", target=_typed_address_target(email))
        return None
    login_limits.forget_failures(email)
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    note_login(staff)
    return staff


def note_login(staff: Staff) -> None:
    """A login, by password or by a set-password link: the staff page shows the last."""
    staff.last_login_at = utcnow()
    audit.record("staff.login", staff_id=staff.id)


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
