"""Staff login sessions, one row each, so that logging out ends a session for good.

Flask's session cookie is signed, not stored: a copy of it would stay valid after
logout. The cookie carries a random key instead (inside ``Staff.get_id``); the row
holds the key's SHA-256 and what the account page shows about the device.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app, request
from sqlalchemy import delete, select, update

from campaign import audit
from campaign.database import MAX_ID, utcnow
from campaign.extensions import db
from campaign.staff.models import Staff, StaffSession

# Writing on every request would cost each staff page a write; a minute is enough.
_SEEN_EVERY = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _idle_limit() -> datetime:
    return utcnow() - timedelta(days=current_app.config["STAFF_SESSION_IDLE_DAYS"])


def start_session(staff: Staff) -> None:
    """A new login session of ``staff`` from this request's device; the caller commits
    and then calls ``login_user``. Sessions idle past the limit are cleared away."""
    db.session.execute(
        delete(StaffSession).where(
            StaffSession.staff_id == staff.id, StaffSession.last_seen_at < _idle_limit()
        )
    )
    key = secrets.token_urlsafe(24)
    row = StaffSession(
        staff_id=staff.id,
        key_hash=_digest(key),
        ip=(request.remote_addr or "")[:45] or None,
        user_agent=(request.headers.get("User-Agent") or "")[:255] or None,
    )
    db.session.add(row)
    db.session.flush()
    staff.session_key, staff.session_id = key, row.id


def staff_for_session(staff_id: int, key: str) -> Staff | None:
    """The active account whose session has this key, if it is not idle past the limit."""
    found = db.session.execute(
        select(Staff, StaffSession.id, StaffSession.last_seen_at)
        .join(StaffSession, StaffSession.staff_id == Staff.id)
        .where(
            Staff.id == staff_id,
            Staff.active.is_(True),
            StaffSession.key_hash == _digest(key),
        )
    ).one_or_none()
    if found is None:
        return None
    staff, session_id, last_seen_at = found
    now = utcnow()
    if last_seen_at < _idle_limit():
        return None
    if now - last_seen_at > _SEEN_EVERY:
        # In a transaction of its own: a page that commits nothing would lose it.
        with db.engine.begin() as connection:
            connection.execute(
                update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now)
            )
    staff.session_key, staff.session_id = key, session_id
    return staff


def sessions_of(staff: Staff) -> list[StaffSession]:
    """The account's live sessions, the most recently used first."""
    return db.session.scalars(
        select(StaffSession)
        .where(StaffSession.staff_id == staff.id, StaffSession.last_seen_at >= _idle_limit())
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    ).all()


def end_session(staff: Staff, session_id: int | None) -> bool:
    """End one of ``staff``'s own sessions (this one at logout, or another device's).

    False when there is no such session, an id no row can have included: the id
    comes from the URL, and a huge one would overflow the driver's integer (a 500).
    """
    if session_id is None or not 0 < session_id <= MAX_ID:
        return False
    ended = db.session.execute(
        delete(StaffSession).where(StaffSession.id == session_id, StaffSession.staff_id == staff.id)
    ).rowcount
    if ended and session_id != staff.session_id:
        audit.record("staff.session_ended", staff_id=staff.id, target=f"session:{session_id}")
    return bool(ended)


def end_sessions(staff: Staff, keep_current: bool) -> None:
    """End every session of the account, or every one but this request's."""
    condition = StaffSession.staff_id == staff.id
    if keep_current and staff.session_id is not None:
        condition &= StaffSession.id != staff.session_id
    db.session.execute(delete(StaffSession).where(condition))


_BROWSERS = [  # the first that matches names the browser: Edge and Opera say "Chrome" too
    ("Edge", r"\bEdg(e|A|iOS)?/"),
    ("Opera", r"\bOPR/"),
    ("Samsung Internet", r"\bSamsungBrowser/"),
    ("Firefox", r"\b(Firefox|FxiOS)/"),
    ("Chrome", r"\b(Chrome|CriOS|Chromium)/"),
    ("Safari", r"\bSafari/"),
]
_SYSTEMS = [
    ("iPhone", r"\biPhone\b"),
    ("iPad", r"\biPad\b"),
    ("Android", r"\bAndroid\b"),
    ("ChromeOS", r"\bCrOS\b"),
    ("Windows", r"\bWindows\b"),
    ("Mac", r"\bMacintosh\b"),
    ("Linux", r"\bLinux\b"),
]


def device_label(user_agent: str | None) -> str:
    """ "Chrome on Android", from a User-Agent; enough to tell one's devices apart."""
    ua = user_agent or ""
    browser = next((name for name, pattern in _BROWSERS if re.search(pattern, ua)), None)
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"
