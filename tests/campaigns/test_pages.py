"""The newsletter pages show times in the clinic's zone and what has really gone out."""

import re

from sqlalchemy import insert

from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.extensions import db
from tests.staff.helpers import csrf_from


def test_a_scheduled_campaign_shows_its_own_time_in_the_picker_and_the_list(
    app, ctx, marketing_client
):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    created = marketing_client.post(
        "/api/v1/campaigns", headers=headers, json={"subject": "June", "body_markdown": "Hi"}
    ).get_json()
    # Naive: the clinic's time (Europe/London, BST in June: 09:30 local is 08:30 UTC).
    scheduled = marketing_client.post(
        f"/api/v1/campaigns/{created['id']}/schedule",
        headers=headers,
        json={"send_at": "2031-06-03T09:30"},
    )
    assert scheduled.status_code == 200, scheduled.get_json()
    page = marketing_client.get(f"/staff/campaigns/{created['id']}").get_data(as_text=True)
    assert re.search(r'id="send-at-input" type="datetime-local" value="2031-06-03T09:30"', page)
    listing = marketing_client.get("/staff/campaigns/").get_data(as_text=True)
    assert "2031-06-03 09:30" in listing
    assert "08:30" not in listing


def test_the_list_says_how_many_readers_a_send_has_reached(ctx, marketing_client):
    campaign = Campaign(
        subject="Halfway", body_markdown="b", status=CampaignStatus.CANCELLED, audience_size=3
    )
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(
        insert(Delivery),
        [
            {"campaign_id": campaign.id, "status": DeliveryStatus.SENT},
            {"campaign_id": campaign.id, "status": DeliveryStatus.CANCELLED},
            {"campaign_id": campaign.id, "status": DeliveryStatus.CANCELLED},
        ],
    )
    db.session.commit()
    listing = marketing_client.get("/staff/campaigns/").get_data(as_text=True)
    assert re.search(r"Halfway</a></td>.*?<td>1 of 3</td>", listing, re.S)


def test_the_page_lists_the_readers_a_send_did_not_reach(ctx, marketing_client):
    from campaign.database import utcnow
    from campaign.subscribers.models import Subscriber

    readers = [
        Subscriber(email=f"{name}@example.com", email_canonical=f"{name}@example.com")
        for name in ("gone", "fine")
    ]
    db.session.add_all(readers)
    campaign = Campaign(
        subject="May", body_markdown="b", status=CampaignStatus.SENT, started_at=utcnow()
    )
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(
        insert(Delivery),
        [
            {
                "campaign_id": campaign.id,
                "subscriber_id": readers[0].id,
                "status": DeliveryStatus.FAILED,
                "attempts": 1,
                "smtp_response": "550 5.1.1 <gone@example.com>: no such user",
            },
            {"campaign_id": campaign.id, "subscriber_id": readers[1].id, "status": "sent"},
            {"campaign_id": campaign.id, "status": DeliveryStatus.FAILED, "attempts": 5},
        ],
    )
    db.session.commit()
    page = marketing_client.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    rows = re.findall(
        r"<tr><td class=\"address\">(.*?)</td><td>(.*?)</td><td>(\d+)</td></tr>", page
    )
    assert rows == [
        ("gone@example.com", "550 5.1.1 &lt;gone@example.com&gt;: no such user", "1"),
        ("(erased)", "—", "5"),
    ]


def test_a_send_that_reached_everyone_lists_nobody(ctx, marketing_client):
    campaign = Campaign(subject="June", body_markdown="b", status=CampaignStatus.DRAFT)
    db.session.add(campaign)
    db.session.commit()
    page = marketing_client.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Not delivered" not in page


def test_a_sent_newsletters_page_says_when_it_went_out_in_the_clinics_time(ctx, marketing_client):
    from datetime import datetime

    campaign = Campaign(
        subject="June",
        body_markdown="b",
        status=CampaignStatus.SENT,
        started_at=datetime(2026, 6, 2, 8, 0),  # 09:00 in London (summer time)
        finished_at=datetime(2026, 6, 2, 8, 12),
    )
    db.session.add(campaign)
    db.session.commit()
    page = marketing_client.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Started 2 June 2026, 09:00, finished 2 June 2026, 09:12." in page


def test_drafts_of_one_subject_are_told_apart_by_when_they_were_edited(ctx, marketing_client):
    """Copies keep the subject: three "December news" drafts read alike with no time."""
    from datetime import datetime

    for day in (1, 2):
        edited = datetime(2031, 12, day, 10, 0)
        db.session.add(
            Campaign(
                subject="December news", body_markdown="b", created_at=edited, updated_at=edited
            )
        )
    db.session.commit()
    listing = marketing_client.get("/staff/campaigns/").get_data(as_text=True)
    assert "edited 2031-12-01 10:00" in listing  # Europe/London: GMT in December
    assert "edited 2031-12-02 10:00" in listing
