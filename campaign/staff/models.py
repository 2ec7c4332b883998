"""Staff accounts, roles and API tokens."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import IntEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.database import utcnow
from campaign.extensions import db


class Role(IntEnum):
    """Ordered: each role may do everything the roles below it may."""

    RECEPTIONIST = 1
    MARKETING = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> Role:
        return cls[name.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


class Staff(UserMixin, db.Model):
    __tablename__ = "staff"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    role_name: Mapped[str] = mapped_column("role", String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Set after a burst of invalid coupon codes: someone may be guessing.
    locked_until: Mapped[datetime | None]
    # Raised to end every login session and set-password link of the account while
    # its password stays (a deactivation, "log out everywhere else"): both carry it.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="staff", order_by="ApiToken.id", cascade="all, delete-orphan"
    )

    # The login session of this request, kept on the object, not mapped (hence no
    # annotation): its key goes into the cookie, its id tells "this device" from the
    # others on the account page.
    session_key = None
    session_id = None

    @property
    def role(self) -> Role:
        return Role.named(self.role_name)

    @property
    def display_name(self) -> str:
        return self.name or self.email.partition("@")[0]

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def password_fingerprint(self) -> str:
        """Changes whenever the password or the session epoch does: a set-password
        link and every login session carry it, so either change ends both."""
        # Epoch 0 leaves the hash alone: sessions from before the epoch existed stay.
        epoch = f"#{self.session_epoch}" if self.session_epoch else ""
        return hashlib.sha256(f"{self.password_hash}{epoch}".encode()).hexdigest()[:16]

    def get_id(self) -> str:
        # What Flask-Login keeps in the session cookie, read back by ``load_staff``:
        # the account, its fingerprint and the key of this login's ``StaffSession``
        # (set on the object by ``services.start_session`` or by ``load_staff``).
        return f"{self.id}:{self.password_fingerprint}:{self.session_key}"

    def has_role(self, role: Role) -> bool:
        return self.role >= role

    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > utcnow()


class ApiToken(db.Model):
    """A bearer token for scripts. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so people can tell their tokens apart in the list.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    staff: Mapped[Staff] = relationship(back_populates="tokens")


class StaffSession(db.Model):
    """One login on one device. The cookie holds the key; only its SHA-256 is stored.

    Logging out deletes the row, so a copy of the cookie (another tab's, a stolen one)
    ends with it: a signed cookie alone could not be taken back.
    """

    __tablename__ = "staff_session"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
