"""kill -9 of a worker in the middle of a send, then a new worker: nobody is skipped."""

from collections import Counter

import pytest

from tests.campaigns.helpers import (
    add_confirmed,
    create_campaign,
    deliveries,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_a_killed_worker_loses_nobody_and_duplicates_at_most_what_was_in_flight(
    start_worker, client, ctx, smtp, api_token
):
    marketing = {"Authorization": f"Bearer {api_token('marketing')}"}
    addresses = add_confirmed(300)
    smtp.delay = 0.03  # a slow server, so the kill lands mid-send
    first = start_worker()
    campaign_id = create_campaign(client, marketing, body="Hi {{ first_name }}")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    wait_until(lambda: len(smtp.messages) >= 60, timeout=60)

    first.kill()
    in_flight = sum(1 for d in deliveries(campaign_id) if d.status == "sending")
    delivered_before_restart = len(smtp.messages)
    assert delivered_before_restart < 300

    start_worker()
    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"}, timeout=180)
    assert final["status"] == "sent"

    per_recipient = Counter(m.to for m in smtp.messages)
    missing = [a for a in addresses if per_recipient[a.lower()] == 0]
    duplicates = sum(count - 1 for count in per_recipient.values() if count > 1)
    print(f"\n[crash] in flight at kill: {in_flight}, duplicates after resume: {duplicates}")
    assert missing == []
    assert duplicates <= in_flight
    assert final["counts"]["sent"] == 300
