"""One reminder of a coupon about to expire, while there is time to use it.

A welcome coupon that expires unused is a promise the clinic meant to keep. Once per
coupon, ``Offer.reminder_days`` before its last day ends (0: never), its holder gets a
short email with the code again: only for a coupon that was mailed and is still good,
to a holder who still takes our mail, and never in the coupon's first
``reminder_days`` (a coupon valid for a week is not "about to expire" the day it comes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from campaign import clinic
from campaign.coupons.models import Coupon, CouponStatus, Offer
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus

# Clinic hours for a reminder to arrive in: a coupon's window opens at midnight (its
# expiry is the end of a clinic day), and nobody wants a coupon at half past twelve.
SENDING_HOURS = range(9, 20)


# A reminder goes within the hour of the sweep that took it: later (a worker down all
# evening, a backlog) it would arrive at night, so it is given back for the next
# daytime sweep. The sweep runs at five past, so a reminder goes by the hour's end.
SEND_WITHIN = timedelta(minutes=55)


def sending_hours(now: datetime | None = None) -> bool:
    return clinic.local_time(now or utcnow()).hour in SENDING_HOURS


def take_due(limit: int, now: datetime | None = None) -> list[int]:
    """Take up to ``limit`` due reminders (their coupons' ids), soonest expiry first.

    Taking stamps ``reminder_taken_at`` in one conditional UPDATE, so two sweeps at the
    same moment never both take a coupon: each holder is reminded at most once.
    """
    now = now or utcnow()
    taken: list[int] = []
    reminding = select(Offer.id, Offer.reminder_days).where(Offer.reminder_days > 0)
    for offer_id, days in db.session.execute(reminding).all():
        window = timedelta(days=days)
        due = (
            select(Coupon.id)
            .join(Subscriber, Subscriber.id == Coupon.subscriber_id)
            .where(
                Coupon.offer_id == offer_id,
                Coupon.status == CouponStatus.ISSUED,
                Coupon.reminder_taken_at.is_(None),
                Coupon.emailed_at.is_not(None),
                Coupon.expires_at > now,
                Coupon.expires_at <= now + window,
                Coupon.issued_at <= now - window,
                Subscriber.status == SubscriberStatus.CONFIRMED,
            )
            .order_by(Coupon.expires_at)
            .limit(limit - len(taken))
        )
        taken += db.session.scalars(
            update(Coupon)
            .where(Coupon.id.in_(due.scalar_subquery()), Coupon.reminder_taken_at.is_(None))
            .values(reminder_taken_at=now)
            .returning(Coupon.id)
            .execution_options(synchronize_session=False)
        ).all()
        if len(taken) >= limit:
            break
    return taken


def not_taken(coupon_ids: list[int]) -> None:
    """Give reminders back: the broker went away before it took them, or the coupon
    was not good at send time (redeemed, say: if that is undone, it is due again)."""
    db.session.execute(
        update(Coupon)
        .where(Coupon.id.in_(coupon_ids))
        .values(reminder_taken_at=None)
        .execution_options(synchronize_session=False)
    )


def still_worth_sending(coupon: Coupon | None, now: datetime | None = None) -> bool:
    """At send time: taken this hour, the coupon still good, its holder still taking
    our mail."""
    return (
        coupon is not None
        and coupon.reminder_taken_at is not None
        and (now or utcnow()) - coupon.reminder_taken_at < SEND_WITHIN
        and coupon.effective_status() == CouponStatus.ISSUED
        and coupon.subscriber is not None
        and coupon.subscriber.status == SubscriberStatus.CONFIRMED
    )
