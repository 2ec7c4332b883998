"""Two worker processes on one campaign: nobody mailed twice, the shared rate holds."""

from collections import Counter

import pytest
from sqlalchemy import distinct, func, select

from campaign.campaigns.models import Delivery
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.campaigns.helpers import add_confirmed, create_campaign, wait_for_status

pytestmark = pytest.mark.integration

RATE = 40
# Ten seconds of sending at RATE: several 5 s slices, so both processes get work.
READERS = 400


def ledger_of(campaign_id: int, addresses) -> str:
    """The ledger rows of the given readers, to explain a failure."""
    rows = db.session.execute(
        select(
            Subscriber.email,
            Delivery.status,
            Delivery.attempts,
            Delivery.claimed_by,
            Delivery.claimed_at,
            Delivery.sent_at,
            Delivery.smtp_response,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.campaign_id == campaign_id, Subscriber.email.in_(list(addresses)))
    ).all()
    return f"mailed other than once: {addresses}\n" + "\n".join(map(str, rows))


def test_two_workers_share_one_campaign_and_one_rate_limit(
    start_worker, client, ctx, smtp, api_token
):
    marketing = {"Authorization": f"Bearer {api_token('marketing')}"}
    env = {"SEND_RATE_PER_SECOND": str(RATE), "SEND_BATCH_SIZE": "10"}
    # One task at a time each, so the campaign's two senders land on both processes.
    start_worker(concurrency=1, **env)
    start_worker(concurrency=1, **env)
    addresses = add_confirmed(READERS)
    campaign_id = create_campaign(client, marketing, body="Hi {{ first_name }}")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent"}, timeout=120)
    assert final["counts"]["sent"] == READERS

    per_recipient = Counter(m.to for m in smtp.messages)
    twice = {a: per_recipient[a] for a in addresses if per_recipient[a] != 1}
    assert not twice, ledger_of(campaign_id, twice)
    assert sum(per_recipient.values()) == READERS

    workers = db.session.scalar(
        select(func.count(distinct(Delivery.claimed_by))).where(Delivery.campaign_id == campaign_id)
    )
    assert workers >= 2, "both worker processes should have sent part of the campaign"

    sent_times = sorted(
        db.session.scalars(select(Delivery.sent_at).where(Delivery.campaign_id == campaign_id))
    )
    elapsed = (sent_times[-1] - sent_times[0]).total_seconds()
    # A token bucket allows one second's burst (RATE messages), then RATE per second.
    floor = (READERS - 2 * RATE) / RATE
    combined = READERS / elapsed
    print(
        f"\n[two workers] {len(sent_times)} messages in {elapsed:.1f}s: {combined:.1f}/s (limit {RATE}/s)"
    )
    assert elapsed >= floor
