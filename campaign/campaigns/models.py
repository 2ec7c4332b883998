"""Campaigns (the monthly newsletter) and the per-recipient delivery ledger."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.database import utcnow
from campaign.extensions import db


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker; the claim expires after a lease
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # unsubscribed (or bounced) after the audience was snapshotted
    CANCELLED = "cancelled"


class Campaign(db.Model):
    __tablename__ = "campaign"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    preheader: Mapped[str] = mapped_column(String(200), default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT, index=True)
    send_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Frozen when sending starts, so edits cannot change a send in progress.
    html_frozen: Mapped[str | None] = mapped_column(Text)
    text_frozen: Mapped[str | None] = mapped_column(Text)
    text_frozen_without_coupon: Mapped[str | None] = mapped_column(Text)
    audience_size: Mapped[int] = mapped_column(default=0)

    created_by = relationship("Staff")

    @property
    def started_late_by(self) -> float | None:
        """Seconds between the scheduled time and the actual start, when over a minute."""
        if self.send_at is None or self.started_at is None:
            return None
        late = (self.started_at - self.send_at).total_seconds()
        return late if late > 90 else None


class Delivery(db.Model):
    """One recipient of one campaign: the truth for progress, resume and who got what."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id", name="uq_delivery_campaign_subscriber"),
        Index("ix_delivery_campaign_status", "campaign_id", "status"),
        # Few rows: the dashboard counts a campaign's unsubscribes without reading its
        # deliveries.
        Index(
            "ix_delivery_unsubscribes",
            "campaign_id",
            sqlite_where=text("unsubscribed_at IS NOT NULL"),
            postgresql_where=text("unsubscribed_at IS NOT NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    smtp_response: Mapped[str | None] = mapped_column(String(300))
    # When the reader unsubscribed, if this was the newsletter they got last before
    # it and within the window (``receivers.credit_unsubscribe``). Kept on the
    # delivery, so the count stays when the reader comes back or is erased.
    unsubscribed_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()
    subscriber = relationship("Subscriber")


class ClinicSetting(db.Model):
    """Small settings staff edit in the UI (for example the monthly send slot)."""

    __tablename__ = "clinic_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
