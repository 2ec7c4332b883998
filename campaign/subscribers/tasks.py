"""Background work of the subscriber lifecycle. Tasks take ids and re-read state,
so a task that runs twice (``acks_late``) or late does the right thing."""

from __future__ import annotations

import logging

from celery import shared_task

from campaign import throttle
from campaign.emails import MAX_RETRIES, send_or_retry
from campaign.extensions import db
from campaign.outbox import hand_over
from campaign.subscribers import mail, services
from campaign.subscribers.models import Subscriber

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_confirmation_email(self, subscriber_id: int) -> None:
    if _still_due(subscriber_id) is None:
        logger.info("confirmation for subscriber %s skipped: no longer due", subscriber_id)
        return
    # An import can owe thousands at once: they go at the mail server's rate, and
    # only those still pending take a turn. Read again after it: it may have been
    # confirmed or erased meanwhile.
    throttle.acquire()
    db.session.expire_all()
    subscriber = _still_due(subscriber_id)
    if subscriber is not None and not send_or_retry(self, mail.confirmation_email(subscriber)):
        services.release_confirmation(subscriber_id, subscriber.confirmation_sent_at)
        db.session.commit()


def _still_due(subscriber_id: int) -> Subscriber | None:
    """The subscriber if their current round still waits for its confirmation."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    return subscriber if subscriber and services.awaits_confirmation(subscriber) else None


@shared_task
def send_queued_confirmations() -> None:
    """Give every owed confirmation its own email task (and so its own retries).

    Woken after signups commit, and each minute by beat as a safety net (a wake-up
    lost while the broker was away).
    """
    from campaign.subscribers import services

    while taken := services.take_queued_confirmations(limit=500):
        db.session.commit()
        if not hand_over(taken, send_confirmation_email, services.owe_confirmations):
            return


@shared_task(acks_late=True)
def analyse_import(job_id: int) -> None:
    """The dry run: counts and per-row errors, nothing written to the list."""
    from campaign.subscribers import imports

    if imports.claim(job_id, "uploaded", "analysing"):
        db.session.commit()
        imports.run(job_id, apply=False)


@shared_task(acks_late=True)
def run_import(job_id: int) -> None:
    from campaign.subscribers import imports

    if imports.claim(job_id, "queued", "importing"):
        db.session.commit()
        imports.run(job_id, apply=True)
