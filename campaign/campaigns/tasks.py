"""Campaign work for the worker. Each task takes an id and is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from flask import current_app

from campaign import emails
from campaign.campaigns import services
from campaign.campaigns.models import Campaign, CampaignStatus
from campaign.campaigns.preview import test_copy
from campaign.campaigns.sending import CampaignSender
from campaign.extensions import db

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def send_campaign(self, campaign_id: int) -> None:
    """Send for a bounded slice of time, then hand over to a fresh task.

    Short slices keep each task well inside the broker's visibility timeout and let
    transactional mail (confirmations) interleave with a big send.
    """
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return
    sender = CampaignSender(campaign)
    db.session.commit()
    result = sender.run(seconds=current_app.config["CAMPAIGN_SLICE_SECONDS"])
    if result.more:
        send_campaign.apply_async(args=[campaign_id], countdown=result.retry_in or 0)


@shared_task(bind=True, max_retries=5)
def send_test_copy(self, campaign_id: int, address: str) -> None:
    from campaign.staff.services import find_staff

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return
    staff = find_staff(address)
    first_name = staff.name.split()[0] if staff is not None and staff.name else None
    emails.send_raw(address, test_copy(campaign, address, first_name))


@shared_task
def dispatch_campaigns(after_restart: bool = False) -> None:
    """Each minute (beat): start due campaigns, revive stalled ones, and settle what a
    cancelled one still holds.

    After a worker (re)starts, every sending campaign gets fresh senders at once:
    a crashed worker's task is gone, and its claims return when their lease ends.
    """
    started = services.start_due_campaigns()
    revived = services.revive_stalled_campaigns(quiet_only=not after_restart)
    services.cancel_unsent()
    db.session.commit()
    if started or revived:
        logger.info("dispatcher started %s, revived %s", started, revived)


@worker_ready.connect
def _resume_after_restart(sender=None, **_: object) -> None:
    dispatch_campaigns.delay(after_restart=True)
