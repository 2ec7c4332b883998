"""Coupon mail: the welcome coupon, issued and mailed by the worker when a subscriber
confirms, and the reminder of a coupon about to expire."""

from __future__ import annotations

import logging

from celery import shared_task

from campaign.coupons import mail, reminders, services
from campaign.coupons.models import Coupon, CouponStatus
from campaign.database import utcnow
from campaign.emails import MAX_RETRIES, send_or_retry
from campaign.extensions import db
from campaign.outbox import hand_over
from campaign.subscribers.models import Subscriber, SubscriberStatus

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def welcome_subscriber(self, subscriber_id: int) -> None:
    """Issue the welcome coupon (idempotent) and send the welcome email.

    The coupon is committed before the email is sent, so a retry after an SMTP
    failure finds it and mails the same code. A returning subscriber is shown the
    coupon they already hold, never a second one.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
        logger.info("welcome for subscriber %s skipped: not confirmed", subscriber_id)
        return
    coupon = services.issue_welcome_coupon(subscriber_id)
    db.session.commit()
    if coupon is not None and coupon.effective_status() != CouponStatus.ISSUED:
        # A returning subscriber whose one welcome coupon is used up gets no other.
        coupon = None
    sent = send_or_retry(self, mail.welcome_email(subscriber, coupon))
    if sent and coupon is not None:
        coupon.emailed_at = utcnow()
        db.session.commit()


@shared_task
def send_owed_welcomes() -> None:
    """Give every owed welcome its own task (and so its own retries).

    Woken after confirmations commit, and each minute by beat as a safety net (a
    wake-up lost while the broker was away).
    """
    while taken := services.take_owed_welcomes(limit=500):
        db.session.commit()
        if not hand_over(taken, welcome_subscriber, services.owe_welcomes):
            return


@shared_task
def send_coupon_reminders() -> None:
    """Give each due reminder its own task, in the clinic's daytime (beat, hourly)."""
    if not reminders.sending_hours():
        return
    while taken := reminders.take_due(limit=500):
        db.session.commit()
        if not hand_over(taken, remind_of_coupon, reminders.not_taken):
            return


@shared_task(bind=True, max_retries=MAX_RETRIES)
def remind_of_coupon(self, coupon_id: int) -> None:
    """Send one taken reminder, if the coupon is still good, its holder subscribed and
    the sweep that took it this hour (each retry checks again).

    Skipped, it is given back (a redemption undone makes it due again; one that waited
    into the evening goes in the morning); a send given up on stays taken, so an
    address that never takes mail is not retried each hour.
    """
    coupon = db.session.get(Coupon, coupon_id)
    if not reminders.still_worth_sending(coupon):
        logger.info("reminder of coupon %s skipped", coupon_id)
        reminders.not_taken([coupon_id])
        db.session.commit()
        return
    if send_or_retry(self, mail.reminder_email(coupon.subscriber, coupon)):
        coupon.reminder_sent_at = utcnow()
        db.session.commit()
