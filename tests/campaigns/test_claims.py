"""Claims are leases: a sender that stalls past its lease sends nothing it lost."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.campaigns import services
from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.campaigns.sending import CampaignSender, claim_batch
from campaign.database import utcnow
from campaign.extensions import db
from tests.campaigns.helpers import add_confirmed, create_campaign


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


def started_campaign(client, marketing, readers: int) -> Campaign:
    add_confirmed(readers)
    campaign_id = create_campaign(client, marketing, body="Hi {{ first_name }}")
    assert services.start(campaign_id, {CampaignStatus.DRAFT})
    # No worker runs in this module to take the queued sender tasks: the test plays
    # both senders itself.
    db.session.commit()
    return db.session.get(Campaign, campaign_id)


def send(campaign: Campaign, batch: list[int], claimed_at) -> None:
    sender = CampaignSender(campaign)
    try:
        sender.send_claimed(batch, claimed_at)
    finally:
        sender.close()


def test_a_sender_whose_lease_lapsed_leaves_the_readers_to_the_new_owner(
    app, client, ctx, smtp, marketing
):
    campaign = started_campaign(client, marketing, readers=3)
    lease = timedelta(seconds=app.config["SEND_LEASE_SECONDS"])

    # Sender A claimed the readers a lease ago and then stalled (a frozen process).
    stalled_at = utcnow() - lease - timedelta(seconds=1)
    stalled_batch = claim_batch(campaign.id, 10, stalled_at)
    # Sender B finds the lapsed claims and takes them over.
    taken_at = utcnow()
    taken_batch = claim_batch(campaign.id, 10, taken_at)
    assert len(taken_batch) == 3
    assert stalled_batch == taken_batch

    send(campaign, stalled_batch, stalled_at)
    assert smtp.messages == []  # A wakes up, sees every claim lost, sends nothing

    send(campaign, taken_batch, taken_at)
    assert len(smtp.messages) == 3
    assert len({m.to for m in smtp.messages}) == 3
    db.session.expire_all()
    statuses = db.session.scalars(select(Delivery.status).filter_by(campaign_id=campaign.id))
    assert set(statuses) == {DeliveryStatus.SENT}

    # And the other way round: once B's marks are in, A's stale batch finds them sent.
    send(campaign, stalled_batch, stalled_at)
    assert len(smtp.messages) == 3
