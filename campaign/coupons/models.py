"""Offers, the coupons issued for them, and every redemption of one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.database import utcnow
from campaign.extensions import db

WELCOME = "welcome"
# Welcome offers made beside the first one by a race of the first confirmations
# (before uq_offer_one_welcome), still holding coupons their holders may bring.
WELCOME_EXTRA = "welcome_extra"  # offer.kind holds 16 characters
_ONE_WELCOME = text(f"kind = '{WELCOME}'")


class Offer(db.Model):
    """What a coupon gives. One offer is the welcome offer, edited by admins."""

    __tablename__ = "offer"
    __table_args__ = (
        # One welcome offer, even when the first confirmations race to create it.
        Index(
            "uq_offer_one_welcome",
            "kind",
            unique=True,
            sqlite_where=_ONE_WELCOME,
            postgresql_where=_ONE_WELCOME,
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=WELCOME, index=True)
    title: Mapped[str] = mapped_column(String(100))
    terms: Mapped[str] = mapped_column(Text, default="")
    validity_days: Mapped[int] = mapped_column(default=90)
    # Days before a coupon's expiry that its holder is reminded of it (0: never).
    reminder_days: Mapped[int] = mapped_column(default=7, server_default="7")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CouponStatus(StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    VOID = "void"
    # Never stored: an issued coupon past its expiry reads as expired.
    EXPIRED = "expired"


class Coupon(db.Model):
    __tablename__ = "coupon"
    __table_args__ = (
        # One coupon per person and offer, whatever address variant or resubscription:
        # owner_key is a keyed hash of the canonical email, kept even after erasure.
        UniqueConstraint("offer_id", "owner_key", name="uq_coupon_offer_owner"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    owner_key: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(32))
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CouponStatus.ISSUED)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last microsecond of the clinic's day the email states (services.expiry_for):
    # good while ``expires_at > now``, the one comparison every check makes.
    expires_at: Mapped[datetime]
    emailed_at: Mapped[datetime | None]
    # Its reminder (reminders.py): taken for sending (once), then accepted by the server.
    reminder_taken_at: Mapped[datetime | None]
    reminder_sent_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(200))
    # What the coupon gives, as its offer said when it was issued: an admin's later
    # edit of the offer changes what new coupons promise, never what one already does.
    offer_title: Mapped[str] = mapped_column(String(100), server_default="")
    offer_terms: Mapped[str] = mapped_column(Text, server_default="")

    offer: Mapped[Offer] = relationship()
    redeemed_by = relationship("Staff", foreign_keys=[redeemed_by_id])
    subscriber = relationship("Subscriber")

    def effective_status(self, now: datetime | None = None) -> CouponStatus:
        if self.status == CouponStatus.ISSUED and self.expires_at <= (now or utcnow()):
            return CouponStatus.EXPIRED
        return CouponStatus(self.status)


class Redemption(db.Model):
    """Append-only record of each redemption and its undo, if any."""

    __tablename__ = "redemption"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupon.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    redeemed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    undo_reason: Mapped[str | None] = mapped_column(String(200))

    coupon: Mapped[Coupon] = relationship()
    staff = relationship("Staff", foreign_keys=[staff_id])
    undone_by = relationship("Staff", foreign_keys=[undone_by_id])


class OwedWelcome(db.Model):
    """A confirmed subscriber's welcome (coupon and email) not yet handed to a worker.

    Written in the confirmation's own transaction, so a broker that is away at that
    moment loses nothing: the drain (woken after the commit, and swept by beat each
    minute) hands each row to a ``welcome_subscriber`` task and deletes it.
    """

    __tablename__ = "owed_welcome"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
