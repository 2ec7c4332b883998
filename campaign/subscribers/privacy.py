"""Data rights: everything held about a subscriber, and erasing it.

Erasure deletes the person and their consent records; deliveries and coupons stay
as anonymous rows for the charts (their subscriber link becomes NULL). A keyed hash
of the canonical address goes on a suppression list, so an import cannot mail that
address again without fresh consent through double opt-in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from campaign import audit, database
from campaign.database import insert_unless_exists, utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber


class Suppression(db.Model):
    __tablename__ = "suppression"

    # HMAC of the canonical address: matches a returning address, reveals nothing.
    email_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def export(subscriber: Subscriber) -> dict:
    """Everything held about one person (GDPR access), consent records included."""
    from campaign.campaigns.models import Campaign, Delivery
    from campaign.coupons.models import Coupon, Redemption
    from campaign.coupons.services import code_of

    deliveries = db.session.execute(
        select(Delivery, Campaign.subject)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    ).all()
    coupons = db.session.scalars(select(Coupon).filter_by(subscriber_id=subscriber.id)).all()
    redemptions: dict[int, list[Redemption]] = {}
    for redemption in db.session.scalars(
        select(Redemption)
        .where(Redemption.coupon_id.in_([c.id for c in coupons]))
        .order_by(Redemption.id)
    ):
        redemptions.setdefault(redemption.coupon_id, []).append(redemption)
    return {
        "subscriber": {
            "id": subscriber.id,
            "email": subscriber.email,
            "first_name": subscriber.first_name,
            "status": subscriber.status,
            "source": subscriber.source,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
            "bounce_count": subscriber.bounce_count,
        },
        "consents": [
            {
                "created_at": _iso(c.created_at),
                "email": c.email,  # as that signup typed it
                "first_name": c.first_name,
                "ip": c.ip,
                "user_agent": c.user_agent,
                "wording_version": c.wording_version,
                "source": c.source,
                "confirmed_at": _iso(c.confirmed_at),
                "confirmed_ip": c.confirmed_ip,
            }
            for c in subscriber.consents
        ],
        "deliveries": [
            {
                "campaign": subject,
                "status": d.status,
                "sent_at": _iso(d.sent_at),
                "smtp_response": d.smtp_response,
            }
            for d, subject in deliveries
        ],
        "coupons": [
            {
                "code": code_of(c).display,
                "offer": c.offer_title,
                "status": c.effective_status().value,
                "issued_at": _iso(c.issued_at),
                "expires_at": _iso(c.expires_at),
                "reminder_sent_at": _iso(c.reminder_sent_at),
                "redeemed_at": _iso(c.redeemed_at),
                # Every use at the desk, an undone one too (when, and why).
                "redemptions": [
                    {
                        "redeemed_at": _iso(r.redeemed_at),
                        "undone_at": _iso(r.undone_at),
                        "undo_reason": r.undo_reason,
                    }
                    for r in redemptions.get(c.id, [])
                ],
            }
            for c in coupons
        ],
    }


def erase(subscriber_id: int, staff_id: int | None) -> bool:
    """Delete the person's data; keep anonymous aggregates and the suppression hash.

    False when there is no such person, erased meanwhile (a second click, another
    admin at the same moment): the caller rolls back and answers as for an unknown
    id. Both writes are single statements that tell, so two erasures at once are one.
    """
    from campaign.coupons.services import owner_key
    from campaign.subscribers.imports import discard_waiting_uploads

    subscriber = database.get(Subscriber, subscriber_id)
    if subscriber is None:
        return False
    canonical = subscriber.email_canonical
    db.session.execute(
        insert_unless_exists(Suppression.__table__).values(
            email_key=owner_key(canonical), reason="erased", created_at=utcnow()
        )
    )
    deleted = db.session.execute(
        delete(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not deleted:
        return False
    # The database removes the consent records and unlinks deliveries and coupons.
    db.session.expire_all()
    discard_waiting_uploads()
    audit.record("subscriber.erased", staff_id=staff_id, target=f"subscriber:{subscriber_id}")
    return True


def is_suppressed(canonical_email: str) -> bool:
    from campaign.coupons.services import owner_key

    return db.session.get(Suppression, owner_key(canonical_email)) is not None


def was_erased(subscriber_id: int) -> bool:
    """Whether an erasure of that id is on record (else the id never existed)."""
    return (
        db.session.scalar(
            select(audit.AuditEvent.id)
            .where(
                audit.AuditEvent.action == "subscriber.erased",
                audit.AuditEvent.target == f"subscriber:{subscriber_id}",
            )
            .limit(1)
        )
        is not None
    )
