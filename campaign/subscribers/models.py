"""Subscribers and the consent each signup records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.database import utcnow
from campaign.extensions import db


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class Subscriber(db.Model):
    __tablename__ = "subscriber"
    # Ids travel in signed links; SQLite must never hand an erased person's id to
    # someone new, or their old unsubscribe link would act on a stranger.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    # As the person typed it (domain normalised by email-validator); mail goes here.
    email: Mapped[str] = mapped_column(String(254))
    # Lower-cased, +tag removed, Gmail dots removed: one person, one row.
    email_canonical: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING, index=True)
    source: Mapped[str] = mapped_column(String(64), default="web")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    confirmation_sent_at: Mapped[datetime | None]
    # A confirmation email is owed and no worker has taken it yet (see
    # ``services.take_queued_confirmations``); the signup itself never talks to the broker.
    confirmation_queued_at: Mapped[datetime | None] = mapped_column(index=True)
    # Permanent (5xx) delivery failures; past BOUNCE_LIMIT the status becomes bounced.
    bounce_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The current opt-in round: 1 for a new address; a later round (a signup again, an
    # import) is numbered by the id of the consent record that opened it. A
    # confirmation link names its round, and an unsubscribe ends the round (None), so a
    # link from before an unsubscribe cannot re-subscribe anyone.
    optin_round: Mapped[int | None]

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="subscriber",
        foreign_keys="ConsentRecord.subscriber_id",
        order_by="ConsentRecord.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.status}>"


class ConsentRecord(db.Model):
    """Proof of consent: who asked, when, from where, having read which wording."""

    __tablename__ = "consent_record"
    __table_args__ = (
        Index("ix_consent_record_subscriber_id", "subscriber_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    wording_version: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64))
    # A signup for an address already on the list: the address as typed (the same
    # mailbox, perhaps spelled otherwise) and the first name given. The subscriber's
    # row takes them only when this round is confirmed: until then, anyone could have
    # typed them. NULL for a first signup, whose row holds them from the start.
    email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str | None] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None]
    confirmed_ip: Mapped[str | None] = mapped_column(String(45))

    subscriber: Mapped[Subscriber] = relationship(
        back_populates="consents", foreign_keys=[subscriber_id]
    )
