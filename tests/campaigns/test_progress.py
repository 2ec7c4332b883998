"""The progress shown while a campaign sends: its rate and the time left."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from campaign.campaigns import services
from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.database import utcnow
from campaign.extensions import db


@pytest.mark.parametrize(("started_ago", "per_minute"), [(10, 120.0), (300, 20.0)])
def test_the_rate_is_over_the_last_minute_or_since_the_start(ctx, started_ago, per_minute):
    now = utcnow()
    started = now - timedelta(seconds=started_ago)
    campaign = Campaign(
        subject="s", body_markdown="b", status=CampaignStatus.SENDING,
        started_at=started, updated_at=started,
    )  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    sent = [{"campaign_id": campaign.id, "status": DeliveryStatus.SENT, "sent_at": now}] * 20
    queued = [{"campaign_id": campaign.id, "status": DeliveryStatus.QUEUED}] * 40
    db.session.execute(insert(Delivery), sent + queued)
    progress = services.progress(campaign)
    assert progress.rate_per_minute == pytest.approx(per_minute, rel=0.05)
    assert progress.eta_seconds == pytest.approx(40 / (per_minute / 60), rel=0.05)


def test_a_pause_is_not_counted_as_time_spent_sending(ctx, client, api_token, smtp):
    """Paused for 40 s of the last 50, then resumed: 100 sent in the 10 s since is 600 a
    minute. Counted over the whole 50 s it read 120, and "about 2 min left" for a send
    that ended in 17 s."""
    headers = {"Authorization": f"Bearer {api_token('marketing')}"}
    campaign_id = client.post(
        "/api/v1/campaigns", headers=headers, json={"subject": "s", "body_markdown": "Hi"}
    ).get_json()["id"]
    campaign = db.session.get(Campaign, campaign_id)
    campaign.status = CampaignStatus.PAUSED
    db.session.commit()
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=headers).status_code == 200
    )
    db.session.refresh(campaign)
    assert abs((campaign.updated_at - utcnow()).total_seconds()) < 5  # the resume wrote it
    now = utcnow()
    sent = [{"campaign_id": campaign_id, "status": DeliveryStatus.SENT, "sent_at": now}] * 100
    queued = [{"campaign_id": campaign_id, "status": DeliveryStatus.QUEUED}] * 300
    db.session.execute(insert(Delivery), sent + queued)
    # As if resumed 10 s ago, and started 50 s ago.
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(updated_at=now - timedelta(seconds=10), started_at=now - timedelta(seconds=50))
    )
    db.session.commit()
    answer = client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).get_json()
    # 600 a minute over 10 s; a slow machine's few seconds more between the writes and
    # the answer lower it a little, nowhere near the 120 that 50 s would give.
    assert 450 <= answer["rate_per_minute"] <= 600
    assert 30 <= answer["eta_seconds"] <= 40
