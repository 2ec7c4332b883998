"""Deleting a draft: only a draft, audited, from the API and from its page."""

import re

import pytest
from sqlalchemy import select

from campaign.audit import ACTION_LABELS, AuditEvent
from campaign.campaigns import services
from campaign.campaigns.models import Campaign, CampaignStatus
from campaign.database import utcnow
from campaign.extensions import db
from campaign.staff.models import Staff
from tests.staff.helpers import csrf_from


def _campaign(status: CampaignStatus = CampaignStatus.DRAFT, subject: str = "June") -> int:
    campaign = Campaign(subject=subject, body_markdown="Hello", status=status)
    if status == CampaignStatus.SCHEDULED:
        campaign.send_at = utcnow()
    db.session.add(campaign)
    db.session.commit()
    return campaign.id


def _exists(campaign_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id) is not None


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


def test_the_api_deletes_a_draft_and_audits_it(app, ctx, marketing):
    campaign_id = _campaign(subject="Not this month")
    with app.test_client() as client:
        answer = client.delete(f"/api/v1/campaigns/{campaign_id}", headers=marketing)
        again = client.delete(f"/api/v1/campaigns/{campaign_id}", headers=marketing)
        read = client.get(f"/api/v1/campaigns/{campaign_id}", headers=marketing)
    assert answer.status_code == 204
    assert answer.get_data() == b""
    assert not _exists(campaign_id)
    assert again.status_code == 404
    assert again.get_json()["error"]["code"] == "not_found"
    assert read.status_code == 404
    (event,) = db.session.scalars(select(AuditEvent).filter_by(action="campaign.deleted")).all()
    assert event.target == f"campaign:{campaign_id}"
    assert event.details["subject"] == "Not this month"
    assert event.staff_id is not None
    assert ACTION_LABELS["campaign.deleted"] == "Draft newsletter deleted"


@pytest.mark.parametrize(
    "status",
    [
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
        CampaignStatus.SENT,
        CampaignStatus.CANCELLED,
        CampaignStatus.FAILED,
    ],
)
def test_the_api_refuses_to_delete_anything_but_a_draft(app, ctx, marketing, status):
    campaign_id = _campaign(status)
    with app.test_client() as client:
        answer = client.delete(f"/api/v1/campaigns/{campaign_id}", headers=marketing)
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "not_a_draft"
    assert error["field"] == "status"
    assert "Only a draft can be deleted" in error["message"]
    assert _exists(campaign_id)
    assert db.session.scalar(select(AuditEvent).filter_by(action="campaign.deleted")) is None


def test_deleting_asks_for_marketing_and_a_campaign_that_exists(app, ctx, api_token):
    campaign_id = _campaign()
    with app.test_client() as client:
        desk = client.delete(
            f"/api/v1/campaigns/{campaign_id}",
            headers={"Authorization": f"Bearer {api_token('receptionist')}"},
        )
        missing = client.delete(
            "/api/v1/campaigns/999999",
            headers={"Authorization": f"Bearer {api_token('marketing')}"},
        )
        anonymous = client.delete(f"/api/v1/campaigns/{campaign_id}")
    assert desk.status_code == 403
    assert missing.status_code == 404
    assert anonymous.status_code == 401
    assert _exists(campaign_id)


def test_a_draft_scheduled_meanwhile_is_not_deleted(app, ctx, make_staff):
    """The service goes by the row, not by a campaign object read before another tab
    scheduled it."""
    staff_id, _, _ = make_staff("marketing")
    campaign_id = _campaign()
    campaign = db.session.get(Campaign, campaign_id)
    assert campaign.status == CampaignStatus.DRAFT
    # Another request schedules it: the row changes, this session's object does not.
    with app.app_context():
        db.session.get(Campaign, campaign_id).status = CampaignStatus.SCHEDULED
        db.session.commit()
    with pytest.raises(services.NotADraft) as refused:
        services.delete_draft(campaign, db.session.get(Staff, staff_id))
    assert refused.value.status == CampaignStatus.SCHEDULED
    assert "cancel this scheduled newsletter instead" in refused.value.message
    db.session.rollback()
    assert _exists(campaign_id)


def test_the_page_deletes_a_draft_and_says_so_on_the_list(ctx, marketing_client):
    campaign_id = _campaign(subject="Not this month")
    page = marketing_client.get(f"/staff/campaigns/{campaign_id}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" class="inline" id="delete-form"', page)
    assert form.group(1) == f"/staff/campaigns/{campaign_id}/delete"
    assert 'data-confirm="Delete the draft “Not this month”? It cannot be undone."' in page
    answer = marketing_client.post(form.group(1), data={"csrf_token": csrf_from(page)})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/staff/campaigns/")
    assert not _exists(campaign_id)
    listing = marketing_client.get("/staff/campaigns/").get_data(as_text=True)
    assert "The draft “Not this month” is deleted." in listing
    assert f"/staff/campaigns/{campaign_id}" not in listing


def test_the_page_offers_delete_for_a_draft_and_cancel_for_the_rest(ctx, marketing_client):
    draft = marketing_client.get(f"/staff/campaigns/{_campaign()}").get_data(as_text=True)
    assert re.search(r'id="delete-form" data-when="draft"\s+data-confirm', draft)
    assert re.search(r'data-action="cancel" data-when="scheduled sending paused" hidden>', draft)
    scheduled_id = _campaign(CampaignStatus.SCHEDULED)
    scheduled = marketing_client.get(f"/staff/campaigns/{scheduled_id}").get_data(as_text=True)
    assert re.search(r'id="delete-form" data-when="draft" hidden', scheduled)
    assert re.search(r'data-action="cancel" data-when="scheduled sending paused">', scheduled)


def test_the_page_refuses_a_scheduled_newsletter_and_a_missing_token(ctx, marketing_client):
    scheduled_id = _campaign(CampaignStatus.SCHEDULED)
    page = marketing_client.get(f"/staff/campaigns/{scheduled_id}").get_data(as_text=True)
    refused = marketing_client.post(
        f"/staff/campaigns/{scheduled_id}/delete", data={"csrf_token": csrf_from(page)}
    )
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith(f"/staff/campaigns/{scheduled_id}")
    assert _exists(scheduled_id)
    shown = marketing_client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Only a draft can be deleted: cancel this scheduled newsletter instead." in shown

    draft_id = _campaign()
    assert marketing_client.post(f"/staff/campaigns/{draft_id}/delete").status_code == 400
    assert _exists(draft_id)


def test_the_page_says_when_the_draft_was_already_deleted(ctx, marketing_client):
    page = marketing_client.get("/staff/campaigns/").get_data(as_text=True)
    answer = marketing_client.post(
        "/staff/campaigns/999999/delete", data={"csrf_token": csrf_from(page)}
    )
    assert answer.status_code == 302
    listing = marketing_client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "That draft was already deleted." in listing
