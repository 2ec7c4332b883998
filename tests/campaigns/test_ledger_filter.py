"""The ledger filtered by state: the failed deliveries of a newsletter, without the rest."""

import pytest
from sqlalchemy import select

from campaign.campaigns.models import Delivery
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.campaigns.helpers import add_confirmed, create_campaign

STATES = ["sent", "sent", "failed", "skipped", "queued"]


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


@pytest.fixture
def ledger(client, ctx, marketing) -> tuple[int, list[str]]:
    """A campaign whose ledger holds one delivery in each of STATES, in that order."""
    addresses = add_confirmed(len(STATES))
    campaign_id = create_campaign(client, marketing, body="Hi")
    for address, state in zip(addresses, STATES, strict=True):
        subscriber_id = db.session.scalar(select(Subscriber.id).filter_by(email=address))
        answer = "550 5.1.1 no such user" if state == "failed" else None
        db.session.add(
            Delivery(
                campaign_id=campaign_id,
                subscriber_id=subscriber_id,
                status=state,
                smtp_response=answer,
            )
        )
    db.session.commit()
    return campaign_id, addresses


@pytest.mark.parametrize("asked", ["failed", "FAILED", " failed "])
def test_the_ledger_lists_only_the_state_asked_for(client, marketing, ledger, asked):
    campaign_id, addresses = ledger
    url = f"/api/v1/campaigns/{campaign_id}/deliveries?status={asked}"
    answer = client.get(url, headers=marketing).get_json()
    assert answer["total"] == 1
    (row,) = answer["items"]
    assert (row["email"], row["status"]) == (addresses[2], "failed")
    assert row["smtp_response"] == "550 5.1.1 no such user"

    csv = client.get(url + "&format=csv", headers=marketing).get_data(as_text=True)
    assert csv.strip().splitlines()[1:] == [
        f"{addresses[2]},Reader2,failed,0,,550 5.1.1 no such user"
    ]


def test_no_status_or_an_empty_one_lists_them_all(client, marketing, ledger):
    campaign_id, _ = ledger
    for query in ("", "?status="):
        url = f"/api/v1/campaigns/{campaign_id}/deliveries{query}"
        answer = client.get(url, headers=marketing).get_json()
        assert [row["status"] for row in answer["items"]] == STATES
        assert answer["total"] == len(STATES)
    sent = client.get(f"/api/v1/campaigns/{campaign_id}/deliveries?status=sent", headers=marketing)
    assert sent.get_json()["total"] == 2


@pytest.mark.parametrize("fmt", ["", "&format=csv"])
def test_an_unknown_state_is_a_400_that_names_the_states(client, marketing, ledger, fmt):
    campaign_id, _ = ledger
    url = f"/api/v1/campaigns/{campaign_id}/deliveries?status=bogus{fmt}"
    answer = client.get(url, headers=marketing)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_status", "status")
    assert "queued, sending, sent, failed, skipped, cancelled" in error["message"]
