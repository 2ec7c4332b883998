"""Background work of the subscriber lifecycle. Tasks take ids and re-read state,
so a task that runs twice (``acks_late``) or late does the right thing."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from campaign import emails
from campaign.extensions import db
from campaign.subscribers import mail
from campaign.subscribers.models import Subscriber, SubscriberStatus

logger = logging.getLogger(__name__)

# Temporary SMTP trouble (a 4xx, a dropped connection) is worth retrying; a 5xx is not.
RETRYABLE = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
)


@shared_task(
    bind=True,
    autoretry_for=RETRYABLE,
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
)
def send_confirmation_email(self, subscriber_id: int) -> None:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.PENDING:
        logger.info("confirmation for subscriber %s skipped: no longer pending", subscriber_id)
        return
    emails.send(mail.confirmation_email(subscriber))


@shared_task(
    bind=True,
    autoretry_for=RETRYABLE,
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
)
def send_welcome_email(self, subscriber_id: int) -> None:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
        logger.info("welcome for subscriber %s skipped: not confirmed", subscriber_id)
        return
    emails.send(mail.welcome_email(subscriber))
