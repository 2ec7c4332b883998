"""The progress shown while a campaign sends: its rate and the time left."""

from datetime import timedelta

import pytest
from sqlalchemy import insert

from campaign.campaigns import services
from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.database import utcnow
from campaign.extensions import db


@pytest.mark.parametrize(("started_ago", "per_minute"), [(10, 120.0), (300, 20.0)])
def test_the_rate_is_over_the_last_minute_or_since_the_start(ctx, started_ago, per_minute):
    now = utcnow()
    campaign = Campaign(
        subject="s", body_markdown="b", status=CampaignStatus.SENDING,
        started_at=now - timedelta(seconds=started_ago),
    )  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    sent = [{"campaign_id": campaign.id, "status": DeliveryStatus.SENT, "sent_at": now}] * 20
    queued = [{"campaign_id": campaign.id, "status": DeliveryStatus.QUEUED}] * 40
    db.session.execute(insert(Delivery), sent + queued)
    progress = services.progress(campaign)
    assert progress.rate_per_minute == pytest.approx(per_minute, rel=0.05)
    assert progress.eta_seconds == pytest.approx(40 / (per_minute / 60), rel=0.05)
